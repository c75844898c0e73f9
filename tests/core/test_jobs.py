"""Background jobs and their worker's sign of life: a job left running by a dead worker is
marked failed (by its page, by a starting worker, by `vigil jobs sweep`), and a run declared
lost never writes afterwards."""

from __future__ import annotations

import datetime
import io
import time
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone

from tests.factories import BodyFactory
from vigil.core import imports, tasks
from vigil.core.audit import build_entry
from vigil.core.models import AuditEntry, Job, JobStatus, Membership, Role, TabularImport
from vigil.core.tasks import JobAbandoned, run_job


def make_job(body, *, status=JobStatus.RUNNING, heartbeat_minutes_ago=None, kind="sleepy") -> Job:
    now = timezone.now()
    return Job.objects.create(
        body=body,
        kind=kind,
        title="A job",
        status=status,
        started_at=now - datetime.timedelta(hours=1),
        heartbeat_at=None
        if heartbeat_minutes_ago is None
        else now - datetime.timedelta(minutes=heartbeat_minutes_ago),
    )


@pytest.fixture
def stale_after_five_minutes(settings):
    settings.VIGIL_JOB_STALE_SECONDS = 300


def test_progress_is_a_sign_of_life(db):
    job = make_job(BodyFactory(), heartbeat_minutes_ago=30)
    tasks.report_progress(job, 10, 100)
    job.refresh_from_db()
    assert timezone.now() - job.heartbeat_at < datetime.timedelta(seconds=5)
    assert (job.progress_done, job.progress_total) == (10, 100)


def test_sweep_marks_only_running_jobs_without_a_sign_of_life(db, stale_after_five_minutes):
    body = BodyFactory()
    lost = make_job(body, heartbeat_minutes_ago=6)
    lost_before_any_beat = make_job(body)  # started an hour ago, never beat
    alive = make_job(body, heartbeat_minutes_ago=4)
    queued = make_job(body, status=JobStatus.QUEUED, heartbeat_minutes_ago=60)
    done = make_job(body, status=JobStatus.SUCCEEDED, heartbeat_minutes_ago=60)

    out = io.StringIO()
    call_command("vigil", "jobs", "sweep", stdout=out)

    assert "2 job(s) had no sign of life and were marked failed" in out.getvalue()
    statuses = dict(Job.objects.values_list("pk", "status"))
    assert statuses == {
        lost.pk: JobStatus.FAILED,
        lost_before_any_beat.pk: JobStatus.FAILED,
        alive.pk: JobStatus.RUNNING,
        queued.pk: JobStatus.QUEUED,
        done.pk: JobStatus.SUCCEEDED,
    }
    lost.refresh_from_db()
    assert lost.message.startswith(
        "The worker stopped while this job was running (no sign of life since "
    )
    assert lost.finished_at is not None
    out = io.StringIO()
    call_command("vigil", "jobs", "sweep", stdout=out)
    assert out.getvalue().strip() == "No lost jobs."


class SlowCounterImporter(imports.Importer):
    """Counts rows; on its second row, another process finds the job silent and declares it
    lost (the sweep runs for real, on the database)."""

    kind = "slow_counters"
    title = "Slow counters"
    fields = {"title": imports.ImportField("Title", ("title",), required=True)}
    declare_lost_on_row: int | None = 2

    def can_import(self, membership: Membership | None) -> bool:
        return membership is not None and membership.role == Role.HEAD

    def validate_row(self, context, values):
        if context.row_number == self.declare_lost_on_row:
            job = Job.objects.get(tabularimport__pk=context.data["import_id"])
            Job.objects.filter(pk=job.pk).update(
                heartbeat_at=timezone.now() - datetime.timedelta(hours=1)
            )
            assert tasks.fail_abandoned(job.pk)
        return {"title": values["title"]}, []

    def prepare(self, body):
        context = super().prepare(body)
        context.data["import_id"] = TabularImport.objects.filter(body=body).latest("pk").pk
        return context

    def commit(self, *, job, imp, valid_rows, actor) -> dict[str, Any]:
        AuditEntry.objects.bulk_create(
            build_entry(actor=actor, action="tests.counter.count", changes=cleaned, body=imp.body)
            for _row, cleaned in valid_rows
        )
        return {"created": len(valid_rows)}


@pytest.fixture
def slow_importer():
    importer = imports.register_importer(SlowCounterImporter())
    yield importer
    imports._IMPORTERS.pop(importer.kind)


@pytest.fixture
def head_membership(persona):
    return persona(Role.HEAD)


def start(membership, text: str) -> TabularImport:
    imp = imports.import_upload(
        membership=membership,
        kind="slow_counters",
        upload=SimpleUploadedFile("c.csv", text.encode()),
    )
    return imports.import_start(membership=membership, imp=imp, mode="all")


def test_a_run_declared_lost_writes_nothing_afterwards(
    slow_importer, head_membership, stale_after_five_minutes
):
    imp = start(head_membership, "Title\r\nA\r\nB\r\nC\r\n")
    with pytest.raises(JobAbandoned):
        run_job.call(imp.job_id)
    imp.refresh_from_db()
    job = Job.objects.get(pk=imp.job_id)
    assert imp.status == TabularImport.Status.FAILED
    assert "abandoned_since" in imp.summary
    assert job.status == JobStatus.FAILED
    assert job.message.startswith("The worker stopped while this job was running")
    assert not AuditEntry.objects.filter(action="tests.counter.count").exists()
    assert not AuditEntry.objects.filter(action="core.import.finish").exists()

    # Started again, the same file goes through; the old run's job stays failed.
    slow_importer.declare_lost_on_row = None
    imp = imports.import_retry(membership=head_membership, imp=imp)
    run_job.call(imp.job_id)
    imp.refresh_from_db()
    assert imp.status == TabularImport.Status.DONE
    assert AuditEntry.objects.filter(action="tests.counter.count").count() == 3
    assert Job.objects.get(pk=job.pk).status == JobStatus.FAILED
    # A late task of the lost job finds the import someone else's and does nothing.
    run_job.call(job.pk)
    assert AuditEntry.objects.filter(action="tests.counter.count").count() == 3


def test_a_starting_worker_marks_the_jobs_a_dead_worker_left(
    slow_importer, head_membership, stale_after_five_minutes
):
    slow_importer.declare_lost_on_row = None
    left_behind = start(head_membership, "Title\r\nA\r\n")
    Job.objects.filter(pk=left_behind.job_id).update(
        status=JobStatus.RUNNING, heartbeat_at=timezone.now() - datetime.timedelta(minutes=10)
    )
    TabularImport.objects.filter(pk=left_behind.pk).update(status=TabularImport.Status.RUNNING)
    other = imports.import_upload(
        membership=head_membership,
        kind="slow_counters",
        upload=SimpleUploadedFile("d.csv", b"Title\r\nZ\r\n"),
    )
    other = imports.import_start(membership=head_membership, imp=other, mode="all")

    run_job.call(other.job_id)

    left_behind.refresh_from_db()
    assert left_behind.status == TabularImport.Status.FAILED
    assert Job.objects.get(pk=left_behind.job_id).status == JobStatus.FAILED
    other.refresh_from_db()
    assert other.status == TabularImport.Status.DONE


@tasks.job_runner("wait_for_heartbeat")
def _wait_for_heartbeat(job: Job) -> dict[str, Any]:
    """Works until its own heartbeat thread has said it is alive twice (or 20 s pass)."""
    first = Job.objects.get(pk=job.pk).heartbeat_at
    beats = set()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(beats) < 2:
        beat = Job.objects.get(pk=job.pk).heartbeat_at
        if beat != first:
            beats.add(beat)
        time.sleep(0.1)
    return {"beats": len(beats)}


@pytest.mark.django_db(transaction=True)
def test_a_running_job_beats_without_reporting_progress(settings):
    settings.VIGIL_JOB_STALE_SECONDS = 3  # a beat every second
    job = Job.objects.create(body=BodyFactory(), kind="wait_for_heartbeat", title="Waiting")
    run_job.call(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert job.result == {"beats": 2}
