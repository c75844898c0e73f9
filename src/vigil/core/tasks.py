"""Background jobs a person waits for: start one, report progress, show it on a page.

A job row holds what the page polls (htmx); the work itself runs as a django-tasks task in the
`db_worker` process, so the worker needs nothing but the database.

A running job sends a heartbeat (with each progress report, and from a thread of the worker
while the job runs). A worker that dies (a crash, a kill, a restart) leaves its job running with
a heartbeat that stops: after VIGIL_JOB_STALE_SECONDS such a job is marked failed, with the
reason, when its page is polled, when a worker starts a job and by `vigil jobs sweep`; the kind
of job then tidies up what it owned (an import becomes failed and can be started again).
"""

from __future__ import annotations

import datetime
import logging
import threading
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tasks import task

from vigil.core.audit import current_ip, format_moment, reset_request_ip, set_request_ip
from vigil.core.models import Body, Job, JobStatus

logger = logging.getLogger(__name__)

_RUNNERS: dict[str, Any] = {}
# Per kind of job: what to do when a job of that kind is found abandoned by its worker,
# f(job, last_sign_of_life) -> bool; False says the job is still alive after all (keep it).
_ON_ABANDONED: dict[str, Callable[[Job, datetime.datetime], bool]] = {}


class JobAbandoned(Exception):
    """Raised in a worker whose job was declared lost meanwhile: it must not write anything."""


def job_runner(kind: str):  # type: ignore[no-untyped-def]
    """Register the function that does the work of one kind of job: f(job) -> result dict."""

    def register(func):  # type: ignore[no-untyped-def]
        _RUNNERS[kind] = func
        return func

    return register


def on_job_abandoned(kind: str):  # type: ignore[no-untyped-def]
    """Register what to do, in the sweep's transaction, when a job of `kind` is found lost with
    its worker: f(job, last_sign_of_life) -> bool (False: it is alive after all)."""

    def register(func):  # type: ignore[no-untyped-def]
        _ON_ABANDONED[kind] = func
        return func

    return register


def start_job(*, actor: Any, body: Body, kind: str, title: str) -> Job:
    """Create a job and enqueue it once the current transaction commits."""
    job = Job.objects.create(
        body=body, created_by=actor, kind=kind, title=title[:200], ip_address=current_ip()
    )

    def enqueue() -> None:
        result = run_job.enqueue(job.pk)
        Job.objects.filter(pk=job.pk).update(task_result_id=str(result.id))

    transaction.on_commit(enqueue)
    return job


def report_progress(job: Job, done: int, total: int | None = None, message: str = "") -> None:
    """Store progress where the page can read it (an UPDATE committed straight away when the
    caller is not inside a transaction); it is also a sign of life.

    Raises JobAbandoned when the job was declared lost (or finished) meanwhile: the work must
    stop, its result would belong to nobody."""
    now = timezone.now()
    fields: dict[str, Any] = {"progress_done": done, "heartbeat_at": now}
    job.progress_done = done
    job.heartbeat_at = now
    if total is not None:
        fields["progress_total"] = total
        job.progress_total = total
    if message:
        fields["message"] = message[:500]
        job.message = message[:500]
    updated = (
        Job.objects.filter(pk=job.pk)
        .exclude(status__in=[JobStatus.FAILED, JobStatus.SUCCEEDED])
        .update(**fields)
    )
    if not updated:
        raise JobAbandoned(f"Job {job.pk} is no longer running.")


# ---------- Lost jobs ----------


def _stale_after() -> datetime.timedelta:
    return datetime.timedelta(seconds=settings.VIGIL_JOB_STALE_SECONDS)


def _silent_since(cutoff: datetime.datetime) -> Q:
    """Running jobs whose last sign of life (heartbeat, else start, else creation) is older
    than `cutoff`."""
    return Q(status=JobStatus.RUNNING) & (
        Q(heartbeat_at__lt=cutoff)
        | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
        | Q(heartbeat_at__isnull=True, started_at__isnull=True, created_at__lt=cutoff)
    )


def last_sign_of_life(job: Job) -> datetime.datetime:
    return job.heartbeat_at or job.started_at or job.created_at


def abandoned_message(since: datetime.datetime) -> str:
    return _("The worker stopped while this job was running (no sign of life since %(time)s).") % {
        "time": format_moment(since)
    }


def is_abandoned(job: Job, now: datetime.datetime | None = None) -> bool:
    """Whether a running job has shown no sign of life for VIGIL_JOB_STALE_SECONDS."""
    now = now or timezone.now()
    return job.status == JobStatus.RUNNING and last_sign_of_life(job) < now - _stale_after()


def fail_abandoned(job_id: int, *, now: datetime.datetime | None = None) -> bool:
    """Mark one job failed if it is running without a sign of life; True if it was.

    The job row is locked, skipping it when locked (its worker is busy with it, so alive), and
    the kind's handler tidies up inside the same transaction."""
    now = now or timezone.now()
    try:
        with transaction.atomic():
            job = (
                Job.objects.select_for_update(skip_locked=True)
                .filter(_silent_since(now - _stale_after()), pk=job_id)
                .first()
            )
            if job is None:
                return False
            since = last_sign_of_life(job)
            handler = _ON_ABANDONED.get(job.kind)
            if handler is not None and not handler(job, since):
                return False
            Job.objects.filter(pk=job.pk).update(
                status=JobStatus.FAILED, finished_at=now, message=abandoned_message(since)[:500]
            )
    except DatabaseError:
        # SQLite answers "database is locked" while a worker writes: the worker is alive.
        logger.warning("Could not check job %s for a lost worker", job_id, exc_info=True)
        return False
    logger.warning("Job %s had no sign of life since %s: marked failed", job_id, since)
    return True


def fail_abandoned_jobs(*, now: datetime.datetime | None = None) -> list[int]:
    """Mark every running job without a sign of life failed; the ids of those marked."""
    now = now or timezone.now()
    candidates = list(
        Job.objects.filter(_silent_since(now - _stale_after())).values_list("pk", flat=True)
    )
    return [job_id for job_id in candidates if fail_abandoned(job_id, now=now)]


# ---------- Running a job ----------


class _Heartbeat:
    """While a job runs, a thread of the worker says it is alive every so often, on its own
    database connection, so the sign of life is seen even while the job's work sits in one long
    transaction."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self.interval = max(1.0, settings.VIGIL_JOB_STALE_SECONDS / 6)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"vigil-job-{job_id}-heartbeat", daemon=True
        )

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                try:
                    Job.objects.filter(pk=self.job_id, status=JobStatus.RUNNING).update(
                        heartbeat_at=timezone.now()
                    )
                except DatabaseError:
                    # SQLite is locked while the job itself writes; the next beat tries again.
                    logger.info("Heartbeat of job %s skipped", self.job_id, exc_info=True)
        finally:
            connections.close_all()  # this thread's connections only

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval)


@task()
def run_job(job_id: int) -> None:
    # A worker starting work is the moment to notice jobs that a dead worker left running.
    fail_abandoned_jobs()
    job = Job.objects.select_related("body", "created_by").get(pk=job_id)
    if job.is_finished:
        return
    runner = _RUNNERS[job.kind]
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, started_at=now, heartbeat_at=now)
    job.status = JobStatus.RUNNING
    job.started_at = job.heartbeat_at = now
    # The worker's audit entries carry the address of the request that started the job.
    ip_token = set_request_ip(job.ip_address)
    try:
        with _Heartbeat(job.pk):
            result = runner(job) or {}
    except JobAbandoned:
        # Declared lost while it ran: the job row already says so and why.
        logger.warning("Job %s (%s) stopped: it was declared lost meanwhile", job.pk, job.kind)
        raise
    except Exception as exc:
        logger.exception("Job %s (%s) failed", job.pk, job.kind)
        Job.objects.filter(pk=job.pk).update(
            status=JobStatus.FAILED,
            finished_at=timezone.now(),
            message=f"{type(exc).__name__}: {exc}"[:500],
        )
        raise
    finally:
        reset_request_ip(ip_token)
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.SUCCEEDED, finished_at=timezone.now(), result=result
    )
