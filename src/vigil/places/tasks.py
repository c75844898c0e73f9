"""The Excel export of the places list, written by the task worker.

An Excel file of a national registry takes minutes to build: in a request it would hit the
server's timeout and end in an error. The person gets a page with the progress instead, a
notification when the file is ready, and the file, encrypted, for them alone."""

from __future__ import annotations

import tempfile
from typing import Any

from django.http import QueryDict
from django.urls import reverse
from django.utils.translation import gettext as _

from vigil.core.files import store_generated_file
from vigil.core.models import Job, Membership
from vigil.core.notify import notify
from vigil.core.tabular import write_xlsx
from vigil.core.tasks import job_runner, report_progress, start_job
from vigil.places.exports import (
    XLSX_TYPE,
    build_lookups,
    export_filename,
    export_headers,
    export_rows,
    scope_body_ids,
)
from vigil.places.filters import filtered_places

EXPORT_JOB_KIND = "places.export"
READY_NOTIFICATION = "places.export.ready"
FAILED_NOTIFICATION = "places.export.failed"
PROGRESS_EVERY = 2000


def start_xlsx_export(*, membership: Membership, filters: str) -> Job:
    """Queue the Excel export of the list as filtered by `filters` (a query string)."""
    job = start_job(
        actor=membership.user,
        body=membership.body,
        kind=EXPORT_JOB_KIND,
        title=_("Excel export of the places"),
    )
    Job.objects.filter(pk=job.pk).update(result={"filters": filters})
    job.result = {"filters": filters}
    return job


def _membership(job: Job) -> Membership:
    if job.created_by_id is None:
        raise Membership.DoesNotExist("The person who asked for this export was deleted.")
    return Membership.objects.select_related("body", "user").get(
        user_id=job.created_by_id, body_id=job.body_id, is_active=True
    )


@job_runner(EXPORT_JOB_KIND)
def run_xlsx_export(job: Job) -> dict[str, Any]:
    filters = (job.result or {}).get("filters", "")
    membership = _membership(job)
    try:
        # The places as the person who asked sees them now, in the list's order.
        _filter, queryset = filtered_places(membership, QueryDict(filters))
        total = queryset.count()
        report_progress(job, 0, total, _("Writing the Excel file"))
        lookups = build_lookups(scope_body_ids(membership))

        def rows_with_progress() -> Any:
            for done, row in enumerate(export_rows(queryset, lookups), start=1):
                if done % PROGRESS_EVERY == 0:
                    report_progress(job, done, total)
                yield row

        # openpyxl's write-only mode streams rows to a temporary file: memory stays flat.
        with tempfile.TemporaryFile() as spool:
            rows = write_xlsx(
                export_headers(), rows_with_progress(), spool, sheet_title=_("Places")
            )
            spool.seek(0)
            stored = store_generated_file(
                actor=membership.user,
                body=membership.body,
                name=export_filename("xlsx"),
                content_type=XLSX_TYPE,
                data=spool.read(),
            )
        report_progress(job, rows, total)
    except Exception:
        notify(FAILED_NOTIFICATION, job, [membership])
        raise
    notify(READY_NOTIFICATION, job, [membership])
    return {"filters": filters, "file": stored.pk, "rows": rows}


def describe_ready(job: Job) -> tuple[str, str]:
    return _("The Excel export of the places is ready."), reverse(
        "places:export_job", args=[job.pk]
    )


def describe_failed(job: Job) -> tuple[str, str]:
    return _("The Excel export of the places failed."), reverse("places:export_job", args=[job.pk])
