"""Background jobs a person waits for: start one, report progress, show it on a page.

A job row holds what the page polls (htmx); the work itself runs as a django-tasks task in the
`db_worker` process, so the worker needs nothing but the database.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone
from django_tasks import task

from vigil.core.audit import current_ip, reset_request_ip, set_request_ip
from vigil.core.models import Body, Job, JobStatus

logger = logging.getLogger(__name__)

_RUNNERS: dict[str, Any] = {}


def job_runner(kind: str):  # type: ignore[no-untyped-def]
    """Register the function that does the work of one kind of job: f(job) -> result dict."""

    def register(func):  # type: ignore[no-untyped-def]
        _RUNNERS[kind] = func
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
    caller is not inside a transaction)."""
    fields: dict[str, Any] = {"progress_done": done}
    job.progress_done = done
    if total is not None:
        fields["progress_total"] = total
        job.progress_total = total
    if message:
        fields["message"] = message[:500]
        job.message = message[:500]
    Job.objects.filter(pk=job.pk).update(**fields)


@task()
def run_job(job_id: int) -> None:
    job = Job.objects.select_related("body", "created_by").get(pk=job_id)
    if job.is_finished:
        return
    runner = _RUNNERS[job.kind]
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, started_at=timezone.now())
    job.status = JobStatus.RUNNING
    # The worker's audit entries carry the address of the request that started the job.
    ip_token = set_request_ip(job.ip_address)
    try:
        result = runner(job) or {}
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
