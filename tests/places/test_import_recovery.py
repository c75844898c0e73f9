"""An import whose worker died: the page says so and why, and the same file starts again."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import formats, timezone

from vigil.core import imports
from vigil.core.models import (
    AuditEntry,
    Job,
    JobStatus,
    Membership,
    Notification,
    Role,
    TabularImport,
)
from vigil.core.tasks import run_job
from vigil.places.models import Place

FILE = (
    "ID,Name,Type,Capacity\r\n"
    "P-1,Central Prison,prison,500\r\n"
    "P-2,Harbour Police Station,police-custody,20\r\n"
    "P-3,St Anne Psychiatric Hospital,psychiatric-hospital,\r\n"
)


def started_import(membership) -> TabularImport:
    imp = imports.import_upload(
        membership=membership, kind="places", upload=SimpleUploadedFile("places.csv", FILE.encode())
    )
    return imports.import_start(membership=membership, imp=imp, mode="all")


def worker_died(imp: TabularImport, *, minutes_ago: int) -> datetime.datetime:
    """What a worker killed at 39% leaves behind: the job and the import running, progress
    frozen, and a last sign of life `minutes_ago`."""
    last = timezone.now() - datetime.timedelta(minutes=minutes_ago)
    Job.objects.filter(pk=imp.job_id).update(
        status=JobStatus.RUNNING,
        started_at=last - datetime.timedelta(minutes=1),
        heartbeat_at=last,
        progress_done=39,
        progress_total=100,
        message="Checking the rows",
    )
    TabularImport.objects.filter(pk=imp.pk).update(status=TabularImport.Status.RUNNING)
    return last


@pytest.fixture
def head_membership(persona):
    return persona(Role.HEAD)


def test_a_lost_worker_is_noticed_and_the_same_file_starts_again(
    body, head_membership, client_for, settings, django_capture_on_commit_callbacks
):
    settings.VIGIL_JOB_STALE_SECONDS = 300
    imp = started_import(head_membership)
    lost_job = imp.job_id
    last = worker_died(imp, minutes_ago=6)
    client = client_for(head_membership)

    with django_capture_on_commit_callbacks(execute=True):
        html = client.get(reverse("import_progress", args=[imp.pk])).content.decode()

    since = formats.date_format(timezone.localtime(last), "H:i")
    assert (
        f"The worker stopped while this job was running (no sign of life since {since}). "
        "Nothing was imported: an import saves all its rows at once or none. "
        "You can start it again."
    ) in html
    assert "hx-trigger" not in html  # the page stops polling
    assert reverse("import_retry", args=[imp.pk]) in html
    assert "Start again" in html
    imp.refresh_from_db()
    assert imp.status == TabularImport.Status.FAILED
    job = Job.objects.get(pk=lost_job)
    assert job.status == JobStatus.FAILED
    assert job.finished_at is not None
    assert job.message.startswith("The worker stopped while this job was running")
    assert not Place.objects.exists()
    # The person who started it hears that it failed.
    notice = Notification.objects.get(recipient=head_membership, kind="core.import.failed")
    assert "failed: nothing was imported" in notice.text
    # The full page says the same.
    assert (
        "no sign of life since"
        in client.get(reverse("import_detail", args=[imp.pk])).content.decode()
    )

    response = client.post(reverse("import_retry", args=[imp.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("import_detail", args=[imp.pk])
    imp.refresh_from_db()
    assert imp.status == TabularImport.Status.QUEUED
    assert imp.job_id != lost_job
    assert "abandoned_since" not in imp.summary
    entry = AuditEntry.objects.get(action="core.import.retry", object_id=str(imp.pk))
    assert entry.changes == {"job": [lost_job, imp.job_id]}
    assert entry.actor == head_membership.user

    run_job.call(imp.job_id)

    imp.refresh_from_db()
    assert imp.status == TabularImport.Status.DONE, imp.summary
    assert imp.summary["result"]["created"] == 3
    assert sorted(Place.objects.values_list("external_id", flat=True)) == ["P-1", "P-2", "P-3"]
    assert Job.objects.get(pk=imp.job_id).status == JobStatus.SUCCEEDED
    assert Job.objects.get(pk=lost_job).status == JobStatus.FAILED
    html = client.get(reverse("import_detail", args=[imp.pk])).content.decode()
    assert 'data-count="created">3<' in html
    assert "Start again" not in html


def test_a_job_with_a_recent_sign_of_life_keeps_running(body, head_membership, client_for):
    imp = started_import(head_membership)
    worker_died(imp, minutes_ago=1)
    html = client_for(head_membership).get(reverse("import_progress", args=[imp.pk])).content
    assert b'hx-trigger="every 1s"' in html
    assert b"39%" in html
    imp.refresh_from_db()
    assert imp.status == TabularImport.Status.RUNNING
    assert Job.objects.get(pk=imp.job_id).status == JobStatus.RUNNING


def test_only_a_failed_import_starts_again_and_only_for_who_may_import(
    body, head_membership, persona, personas, client_for
):
    imp = started_import(head_membership)
    with pytest.raises(Exception, match="Only an import that failed"):
        imports.import_retry(membership=head_membership, imp=imp)
    worker_died(imp, minutes_ago=30)
    retry = reverse("import_retry", args=[imp.pk])
    assert client_for(persona(Role.MONITOR)).post(retry).status_code == 403
    assert client_for(personas("outsider")).post(retry).status_code == 404
    assert client_for(head_membership).get(retry).status_code == 405
    imp.refresh_from_db()
    assert imp.status == TabularImport.Status.RUNNING  # nobody's request touched it


def test_a_check_of_a_large_file_lost_with_its_worker_starts_again_on_its_own(
    body, head_membership, client_for, monkeypatch
):
    """The check writes nothing, so a lost check is simply run again when the page comes back
    to it; the person keeps their column matching."""
    monkeypatch.setattr(imports, "SYNC_CHECK_ROWS", 2)
    imp = imports.import_upload(
        membership=head_membership, kind="places", upload=SimpleUploadedFile("p.csv", FILE.encode())
    )
    imp = imports.import_check(membership=head_membership, imp=imp)
    lost_check = imp.job_id
    assert imp.job.kind == imports.CHECK_JOB_KIND
    worker_died(imp, minutes_ago=30)
    TabularImport.objects.filter(pk=imp.pk).update(status=TabularImport.Status.UPLOADED)
    client = client_for(head_membership)

    progress = client.get(reverse("import_progress", args=[imp.pk]))
    assert progress["HX-Redirect"] == reverse("import_preview", args=[imp.pk])
    assert Job.objects.get(pk=lost_check).status == JobStatus.FAILED

    page = client.get(reverse("import_preview", args=[imp.pk])).content.decode()
    assert "Checking the rows" in page
    imp.refresh_from_db()
    assert imp.job_id != lost_check and imp.job.kind == imports.CHECK_JOB_KIND
    run_job.call(imp.job_id)
    imp.refresh_from_db()
    assert imp.status == TabularImport.Status.VALIDATED
    assert imp.summary["counts"]["create"] == 3


def test_an_import_that_failed_by_itself_keeps_no_file_to_start_again(
    body, head_membership, client_for
):
    imp = started_import(head_membership)
    Membership.objects.filter(pk=head_membership.pk).update(role=Role.MONITOR)
    with pytest.raises(PermissionDenied):
        run_job.call(imp.job_id)
    Membership.objects.filter(pk=head_membership.pk).update(role=Role.HEAD)
    imp.refresh_from_db()
    assert imp.status == TabularImport.Status.FAILED
    assert not imports.can_retry(imp)
    html = client_for(head_membership).get(reverse("import_detail", args=[imp.pk])).content
    assert b"Start again" not in html
    with pytest.raises(ValidationError, match="no longer kept"):
        imports.import_retry(membership=head_membership, imp=imp)
