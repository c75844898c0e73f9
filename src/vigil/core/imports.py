"""The generic tabular import pipeline: a registry of importers by kind, the services that take an
upload through mapping and validation, and the background job that commits it.

An app describes what it imports with an `Importer` (its fields, how one row is checked, how the
valid rows are written in bulk) and registers it; pages, API and tasks then call the services here.

What is kept of an uploaded file, always encrypted (`TabularImport.data`, `samples`, `preview`,
`errors`), and for how long:
- from the upload until the import runs, the whole file, since the person may still change which
  columns are imported; and the first values of every column, for the mapping page;
- when the import starts, the first values are dropped (the mapping can no longer change);
- when it ends, the file goes: only its rejected rows are kept, with just the imported columns,
  for the "rejected rows" download; when no row was rejected, nothing is kept;
- when its run is lost with the worker (a crash, a restart), it has not ended: the file stays so
  that the same import can be started again (`import_retry`);
- the body's `import_retention_days` after the upload, whatever is left is deleted
  (`import_purge_expired`, run by `manage.py vigil imports purge` and at the start of each import
  job); an import that never ran is then marked "File deleted".
"""

from __future__ import annotations

import datetime as dt
import decimal
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import models, transaction
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from vigil.core import tabular
from vigil.core.access import visible
from vigil.core.audit import audit
from vigil.core.models import Body, Job, Membership, TabularImport
from vigil.core.notify import notify
from vigil.core.tasks import (
    JobAbandoned,
    abandoned_message,
    job_runner,
    on_job_abandoned,
    report_progress,
    start_job,
)

logger = logging.getLogger(__name__)

# Notification kinds (registered in core.apps): the person who started an import hears how it
# ended, in Vigil and (unless they chose otherwise) by email.
FINISHED_NOTIFICATION = "core.import.finished"
FAILED_NOTIFICATION = "core.import.failed"

JOB_KIND = "tabular_import"
CHECK_JOB_KIND = "tabular_check"
# Files with more rows are checked in the background: about 10 s of work on a busy server.
SYNC_CHECK_ROWS = 20_000
# Files with more text than this (a workbook: uncompressed) are read whole only in the
# background; the upload reads their header and first rows: about 2 s of work for a workbook.
SYNC_READ_BYTES = 10 * 1024 * 1024
PROGRESS_EVERY = 200
PREVIEW_ROWS = 20
SAMPLE_ROWS = 3
# The mapping page shows the first values of each column cut to this length (the page shows 60
# characters of them), so that its size stays bounded whatever the cells hold.
SAMPLE_CHARS = 100

# What validate_row may put in a cleaned row to say what committing it will do.
ACTION_KEY = "_action"
CREATE, UPDATE, UNCHANGED = "create", "update", "unchanged"


@dataclass(frozen=True)
class ImportField:
    """A target field of an import, with the header words that suggest it."""

    label: Any  # a lazy translation string
    synonyms: tuple[str, ...] = ()
    required: bool = False
    help: Any = ""


@dataclass
class ImportContext:
    """What an importer prepares once per import so that rows validate without queries.

    `row_number` is set by the pipeline before each row (the spreadsheet row number), so that
    importers can say which earlier row a row repeats."""

    body: Any
    row_number: int = 0
    data: dict[str, Any] = field(default_factory=dict)


class Importer(ABC):
    """One kind of import (places, authorities...). Subclass and `register_importer()` it."""

    kind: str = ""
    title: Any = ""
    fields: dict[str, ImportField] = {}

    def can_view(self, membership: Membership | None) -> bool:
        """Whether the records this imports exist for the member at all (else 404)."""
        return self.can_import(membership)

    @abstractmethod
    def can_import(self, membership: Membership | None) -> bool:
        """Whether the member may import this kind of record."""

    def prepare(self, body: Any) -> ImportContext:
        """Load every lookup the rows need (terms, regions, existing records) in a few queries."""
        return ImportContext(body=body)

    @abstractmethod
    def validate_row(
        self, context: ImportContext, values: dict[str, str]
    ) -> tuple[dict[str, Any] | None, list[tuple[str, str]]]:
        """Check one row: (cleaned values or None, [(field, message), ...])."""

    @abstractmethod
    def commit(
        self,
        *,
        job: Job,
        imp: TabularImport,
        valid_rows: list[tuple[int, dict[str, Any]]],
        actor: Any,
    ) -> dict[str, Any]:
        """Write the valid rows in bulk, inside the caller's transaction; return counts."""

    def state_token(self, body: Any) -> Any:
        """Something that changes whenever records the rows are matched against change, so the
        job can tell that its validation is stale (e.g. counts and latest change times)."""
        return None

    def result_links(self, imp: TabularImport) -> list[tuple[str, str]]:
        """(label, url) pairs the result page offers once the import is done."""
        return []

    def display(self, value: Any, field_name: str = "") -> str:
        """A cleaned value as the preview shows it."""
        if value is None:
            return ""
        if isinstance(value, bool):
            return _("yes") if value else _("no")
        if isinstance(value, dt.datetime):
            return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")
        if isinstance(value, dt.date):
            return formats.date_format(value, "DATE_FORMAT")
        if isinstance(value, list | tuple | set):
            return "; ".join(self.display(item) for item in value)
        if isinstance(value, decimal.Decimal):
            return format(value.normalize(), "f")
        return str(value)

    # An import into one record (answers into a visit) has a target: the importer checks it at
    # the upload (`check_target`), and its fields, column matching and lookups may depend on
    # it. Imports into the body as a whole (places, authorities) take none.

    def check_target(
        self, membership: Membership, target: Mapping[str, Any] | None
    ) -> dict[str, Any] | None:
        """The target to keep on the import, checked for this member; raises ValidationError
        or PermissionDenied."""
        if target:
            raise ValidationError(_("This kind of import goes into no particular record."))
        return None

    def can_use(self, membership: Membership | None, imp: TabularImport) -> bool:
        """Whether the member may see and carry on this import, beyond their role (an import
        into a visit is its team's); an import they may not use does not exist for them."""
        return True

    def fields_for(self, target: Mapping[str, Any] | None) -> dict[str, ImportField]:
        return self.fields

    def check_headers(self, target: Mapping[str, Any] | None, headers: list[str]) -> None:
        """Refuse, with a ValidationError saying why, a file whose columns cannot be imported
        at all; nothing of it is kept then."""
        return None

    def guess_mapping(
        self, target: Mapping[str, Any] | None, headers: list[str]
    ) -> dict[int, str | None]:
        return tabular.guess_mapping(headers, self.header_keys(target))

    def prepare_import(self, imp: TabularImport) -> ImportContext:
        """`prepare` for this import (an importer with targets reads `target_of(imp)`)."""
        return self.prepare(imp.body)

    def header_keys(self, target: Mapping[str, Any] | None = None) -> dict[str, list[str]]:
        """Words that suggest each field: its name, synonyms and label in every language."""
        keys: dict[str, list[str]] = {}
        for name, import_field in self.fields_for(target).items():
            words = [*import_field.synonyms, str(import_field.label)]
            for code, _language in settings.LANGUAGES:
                with translation.override(code):
                    words.append(str(import_field.label))
            keys[name] = list(dict.fromkeys(words))
        return keys

    def template_headers(self) -> list[str]:
        return [str(import_field.label) for import_field in self.fields.values()]


_IMPORTERS: dict[str, Importer] = {}


def register_importer(importer: Importer) -> Importer:
    _IMPORTERS[importer.kind] = importer
    return importer


def get_importer(kind: str) -> Importer:
    """The importer of `kind`; raises KeyError for an unknown kind."""
    return _IMPORTERS[kind]


def importer_kinds() -> list[str]:
    return sorted(_IMPORTERS)


def target_of(imp: TabularImport) -> dict[str, Any] | None:
    """What the import goes into, as its importer checked it at the upload (None: the body)."""
    return (imp.summary or {}).get("target")


# --- Validation ------------------------------------------------------------------------------


@dataclass
class Validation:
    rows: list[tuple[int, dict[str, Any]]]
    errors: list[dict[str, Any]]
    counts: dict[str, int]
    preview: list[dict[str, Any]]


def _mapped_fields(imp: TabularImport) -> list[tuple[int, str]]:
    """(column index, field) pairs, in column order."""
    pairs = [(int(column), name) for column, name in (imp.mapping or {}).items() if name]
    return sorted(pairs)


def _validate_table(
    importer: Importer,
    imp: TabularImport,
    table: tabular.Table,
    *,
    on_progress: Callable[[int], None] | None = None,
) -> Validation:
    mapped = _mapped_fields(imp)
    column_of_field = {name: table.headers[column] for column, name in mapped}
    context = importer.prepare_import(imp)
    valid: list[tuple[int, dict[str, Any]]] = []
    errors: list[dict[str, Any]] = []
    counts = {"rows": len(table.rows), CREATE: 0, UPDATE: 0, UNCHANGED: 0, "invalid": 0}
    preview: list[dict[str, Any]] = []
    for index, cells in enumerate(table.rows):
        row_number = table.row_number(index)
        context.row_number = row_number
        values = {name: cells[column] for column, name in mapped}
        cleaned, row_errors = importer.validate_row(context, values)
        if row_errors or cleaned is None:
            counts["invalid"] += 1
            for field_name, message in row_errors:
                errors.append(
                    {
                        "row": row_number,
                        "column": column_of_field.get(field_name, ""),
                        "field": field_name,
                        "message": str(message),
                    }
                )
        else:
            action = cleaned.get(ACTION_KEY, CREATE)
            counts[action] = counts.get(action, 0) + 1
            valid.append((row_number, cleaned))
        if len(preview) < PREVIEW_ROWS:
            preview.append(
                {
                    "row": row_number,
                    "action": "error"
                    if row_errors or cleaned is None
                    else cleaned.get(ACTION_KEY, CREATE),
                    "values": [
                        importer.display(cleaned.get(name), name)
                        if cleaned
                        else values.get(name, "")
                        for _column, name in mapped
                    ],
                }
            )
        if on_progress is not None and (index + 1) % PROGRESS_EVERY == 0:
            on_progress(index + 1)
    return Validation(rows=valid, errors=errors, counts=counts, preview=preview)


def format_error(error: Mapping[str, Any]) -> str:
    """ "Row 7, column 'Capacity': must be a whole number"."""
    if error.get("column"):
        return _("Row %(row)d, column ‘%(column)s’: %(message)s") % error
    return _("Row %(row)d: %(message)s") % error


# --- Services --------------------------------------------------------------------------------


def _require(importer: Importer, membership: Membership | None) -> None:
    if not importer.can_import(membership):
        raise PermissionDenied(_("Your role does not allow this."))


def _check_access(imp: TabularImport, membership: Membership) -> None:
    """The import is the member's body's, and one they may use (`Importer.can_use`)."""
    if imp.body_id != membership.body_id:
        raise PermissionDenied(_("This import belongs to another body."))
    if not get_importer(imp.kind).can_use(membership, imp):
        raise PermissionDenied(_("Your role does not allow this."))


def _check_file_kept(imp: TabularImport) -> None:
    if imp.status == TabularImport.Status.EXPIRED:
        raise ValidationError(
            _(
                "The file of this import was deleted %(days)d days after it was uploaded, as "
                "your body's settings ask; upload it again."
            )
            % {"days": imp.body.import_retention_days}
        )


def _cut(text: str) -> str:
    return text if len(text) <= SAMPLE_CHARS else text[: SAMPLE_CHARS - 1] + "…"


def _samples(table: tabular.Table) -> list[list[str]]:
    """The first values of each column, cut short: what the mapping page shows."""
    return [
        [_cut(row[column]) for row in table.rows[:SAMPLE_ROWS]]
        for column in range(len(table.headers))
    ]


def _read(imp: TabularImport) -> tabular.Table:
    """The whole file of an import, or a ValidationError saying what stops it being read."""
    try:
        return tabular.read_table(bytes(imp.data), imp.file_name)
    except tabular.TabularError as exc:
        raise ValidationError(str(exc), code="unreadable") from exc


@transaction.atomic
def import_upload(
    *,
    membership: Membership,
    kind: str,
    upload: UploadedFile,
    target: Mapping[str, Any] | None = None,
) -> TabularImport:
    """Check an uploaded file and keep it with its headers and a guessed column mapping."""
    try:
        importer = get_importer(kind)
    except KeyError as exc:
        raise ValidationError(_("Unknown kind of import.")) from exc
    _require(importer, membership)
    target = importer.check_target(membership, target)
    name = upload.name or "upload"
    limit = settings.VIGIL_MAX_IMPORT_BYTES
    if upload.size is not None and upload.size > limit:
        raise ValidationError(
            _("“%(name)s” is too large (%(size)s); the limit is %(limit)s.")
            % {
                "name": name,
                "size": tabular.size_text(upload.size),
                "limit": tabular.size_text(limit),
            },
            code="too_large",
        )
    data = b"".join(upload.chunks())
    if len(data) > limit:
        raise ValidationError(
            _("“%(name)s” is too large (%(size)s); the limit is %(limit)s.")
            % {
                "name": name,
                "size": tabular.size_text(len(data)),
                "limit": tabular.size_text(limit),
            },
            code="too_large",
        )
    try:
        # A large file is read whole by the background check, never while the person waits:
        # here only its header and first rows (every limit still applies to what is read).
        large = tabular.parse_size(data, name) > SYNC_READ_BYTES
        table = tabular.read_table(data, name, head_rows=SAMPLE_ROWS if large else None)
    except tabular.TabularError as exc:
        raise ValidationError(str(exc), code="unreadable") from exc
    importer.check_headers(target, table.headers)
    guessed = importer.guess_mapping(target, table.headers)
    imp = TabularImport.objects.create(
        body=membership.body,
        kind=kind,
        created_by=membership.user,
        file_name=name[:255],
        data=data,
        headers=table.headers,
        mapping={str(column): name for column, name in guessed.items() if name},
        row_count=len(table.rows) if table.complete else 0,
        rows_counted=table.complete,
        samples=_samples(table),
        summary={
            "format": table.source_format,
            "encoding": table.encoding,
            "delimiter": table.delimiter,
            **({"target": target} if target else {}),
        },
    )
    audit(
        actor=membership.user,
        action="core.import.upload",
        obj=imp,
        changes={
            "file": [None, imp.file_name],
            "rows": [None, imp.row_count if imp.rows_counted else None],
        },
    )
    return imp


@transaction.atomic
def import_set_mapping(
    *, membership: Membership, imp: TabularImport, mapping: Mapping[Any, str | None]
) -> TabularImport:
    """Choose which column feeds which field: each field at most once, every required one."""
    importer = get_importer(imp.kind)
    _require(importer, membership)
    _check_access(imp, membership)
    imp = (
        TabularImport.objects.select_for_update(of=("self",)).select_related("body").get(pk=imp.pk)
    )
    _check_file_kept(imp)
    if imp.status not in {TabularImport.Status.UPLOADED, TabularImport.Status.VALIDATED}:
        raise ValidationError(_("This import has already started; upload the file again."))
    fields = importer.fields_for(target_of(imp))
    cleaned: dict[str, str] = {}
    columns_of_field: dict[str, list[str]] = {}
    for column, name in mapping.items():
        if not name:
            continue
        index = int(column)
        if not 0 <= index < len(imp.headers):
            raise ValidationError(_("The file has no column %(column)d.") % {"column": index + 1})
        if name not in fields:
            raise ValidationError(_("“%(name)s” is not a field of this import.") % {"name": name})
        cleaned[str(index)] = name
        columns_of_field.setdefault(name, []).append(imp.headers[index])
    problems = []
    for name, headers in columns_of_field.items():
        if len(headers) > 1:
            problems.append(
                _("“%(field)s” is chosen for several columns (%(columns)s); choose one.")
                % {
                    "field": fields[name].label,
                    "columns": ", ".join(f"‘{header}’" for header in headers),
                }
            )
    missing = [
        str(import_field.label)
        for name, import_field in fields.items()
        if import_field.required and name not in columns_of_field
    ]
    if missing:
        problems.append(
            ngettext(
                "Choose a column for the required field %(fields)s.",
                "Choose a column for each of the required fields %(fields)s.",
                len(missing),
            )
            % {"fields": ", ".join(f"“{label}”" for label in missing)}
        )
    if problems:
        raise ValidationError(problems)
    before = dict(imp.mapping or {})
    imp.mapping = cleaned
    imp.status = TabularImport.Status.UPLOADED
    imp.save(update_fields=["mapping", "status"])
    if before != cleaned:
        audit(
            actor=membership.user,
            action="core.import.map",
            obj=imp,
            changes={"mapping": [before, cleaned]},
        )
    return imp


def import_validate(
    imp: TabularImport,
    *,
    on_progress: Callable[[int], None] | None = None,
    on_read: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Check every row against the current state of the body and store the preview.

    Returns the summary: counts of rows to create, update, leave unchanged and of invalid rows.
    The first rows as they will be imported are stored on `imp.preview`, the errors on
    `imp.errors`. Raises ValidationError when the file itself breaks a limit: a large file is
    read whole only here."""
    importer = get_importer(imp.kind)
    table = _read(imp)
    if on_read is not None:
        on_read(len(table.rows))  # a large file's rows are counted only now
    validation = _validate_table(importer, imp, table, on_progress=on_progress)
    imp.summary = {
        **_file_facts(imp.summary),
        "counts": validation.counts,
        "preview_fields": [name for _column, name in _mapped_fields(imp)],
    }
    imp.preview = validation.preview
    imp.errors = validation.errors
    imp.row_count = len(table.rows)
    imp.rows_counted = True
    if imp.status == TabularImport.Status.UPLOADED:
        imp.status = TabularImport.Status.VALIDATED
    imp.save(update_fields=["summary", "preview", "errors", "row_count", "rows_counted", "status"])
    return imp.summary


def is_checking(imp: TabularImport) -> bool:
    """Whether the rows of a large file are being checked in the background."""
    job = imp.job
    return (
        imp.status == TabularImport.Status.UPLOADED
        and job is not None
        and job.kind == CHECK_JOB_KIND
        and not job.is_finished
    )


@transaction.atomic
def import_check(*, membership: Membership, imp: TabularImport) -> TabularImport:
    """Check the rows for the preview: at once for a small file, in the background for a
    large one (the page then shows progress instead of timing out)."""
    importer = get_importer(imp.kind)
    _require(importer, membership)
    _check_access(imp, membership)
    imp = (
        TabularImport.objects.select_for_update(of=("self",))
        .select_related("job", "body")
        .get(pk=imp.pk)
    )
    _check_file_kept(imp)
    if imp.status not in {TabularImport.Status.UPLOADED, TabularImport.Status.VALIDATED}:
        raise ValidationError(_("This import has already started."))
    if imp.rows_counted and imp.row_count <= SYNC_CHECK_ROWS:
        import_validate(imp)
        return imp
    if is_checking(imp):
        return imp
    imp.job = start_job(
        actor=membership.user,
        body=imp.body,
        kind=CHECK_JOB_KIND,
        title=(_("Check of %(file)s") % {"file": imp.file_name})[:200],
    )
    imp.status = TabularImport.Status.UPLOADED
    imp.save(update_fields=["job", "status"])
    return imp


def _file_facts(summary: Mapping[str, Any] | None) -> dict[str, Any]:
    keep = ("format", "encoding", "delimiter", "target")
    return {key: value for key, value in (summary or {}).items() if key in keep}


@transaction.atomic
def import_start(*, membership: Membership, imp: TabularImport, mode: str) -> TabularImport:
    """Queue the import; the job re-reads and re-validates the file, then commits it."""
    importer = get_importer(imp.kind)
    _require(importer, membership)
    _check_access(imp, membership)
    if mode not in TabularImport.Mode.values:
        raise ValidationError(_("Choose what to do with rows that have errors."))
    imp = (
        TabularImport.objects.select_for_update(of=("self",))
        .select_related("job", "body")
        .get(pk=imp.pk)
    )
    _check_file_kept(imp)
    if imp.status not in {TabularImport.Status.UPLOADED, TabularImport.Status.VALIDATED}:
        raise ValidationError(_("This import has already started."))
    if is_checking(imp):
        raise ValidationError(_("The rows are still being checked; wait for the result."))
    job = start_job(
        actor=membership.user,
        body=imp.body,
        kind=JOB_KIND,
        title=(_("Import of %(file)s") % {"file": imp.file_name})[:200],
    )
    imp.mode = mode
    imp.job = job
    imp.status = TabularImport.Status.QUEUED
    # The columns are chosen for good: the first values of every column (those not imported
    # included) are no longer needed.
    imp.samples = None
    imp.save(update_fields=["mode", "job", "status", "samples"])
    audit(
        actor=membership.user, action="core.import.start", obj=imp, changes={"mode": [None, mode]}
    )
    return imp


# What a stopped run leaves in the summary, and a new run starts without.
_RUN_KEYS = ("failure", "abandoned_since", "result")


def can_retry(imp: TabularImport) -> bool:
    """Whether the same file can be imported again as it is: its run was lost with its worker
    (so nothing of it was imported: a run commits all at once or nothing) and the file is still
    kept. A run that failed by itself deletes the file, so that one is uploaded again."""
    return (
        imp.status == TabularImport.Status.FAILED
        and bool((imp.summary or {}).get("abandoned_since"))
        and imp.data_deleted_at is None
    )


@transaction.atomic
def import_retry(*, membership: Membership, imp: TabularImport) -> TabularImport:
    """Queue a failed import again: the same uploaded file, the same columns, the same choice for
    rows with errors. The rows are checked again against the records as they are now."""
    importer = get_importer(imp.kind)
    _require(importer, membership)
    _check_access(imp, membership)
    imp = TabularImport.objects.select_for_update(of=("self",)).select_related("job").get(pk=imp.pk)
    _check_file_kept(imp)
    if imp.status != TabularImport.Status.FAILED:
        raise ValidationError(
            _("Only an import that failed can be started again; this one is “%(status)s”.")
            % {"status": imp.get_status_display()}
        )
    if not can_retry(imp):
        raise ValidationError(
            _(
                "The file of this import is no longer kept, so it cannot be started again; "
                "upload the file again."
            )
        )
    failed_job = imp.job
    job = start_job(
        actor=membership.user,
        body=imp.body,
        kind=JOB_KIND,
        title=(_("Import of %(file)s") % {"file": imp.file_name})[:200],
    )
    imp.job = job
    imp.status = TabularImport.Status.QUEUED
    imp.summary = {key: value for key, value in (imp.summary or {}).items() if key not in _RUN_KEYS}
    imp.save(update_fields=["job", "status", "summary"])
    audit(
        actor=membership.user,
        action="core.import.retry",
        obj=imp,
        changes={"job": [failed_job.pk if failed_job else None, job.pk]},
    )
    return imp


def failure_text(imp: TabularImport) -> str:
    """Why an import failed, in the reader's language."""
    summary = imp.summary or {}
    since = summary.get("abandoned_since")
    if since:
        try:
            moment = dt.datetime.fromisoformat(since)
        except ValueError:
            moment = None
        if moment is not None:
            return " ".join(
                [
                    abandoned_message(moment),
                    _(
                        "Nothing was imported: an import saves all its rows at once or none. "
                        "You can start it again."
                    ),
                ]
            )
    return str(summary.get("failure") or "")


@transaction.atomic
def import_rejected_rows(*, membership: Membership, imp: TabularImport) -> bytes:
    """The rejected rows as a CSV to correct and upload again; recorded, as the rows are the
    uploaded data itself."""
    importer = get_importer(imp.kind)
    _require(importer, membership)
    _check_access(imp, membership)
    content = rejected_rows_csv(imp)
    audit(
        actor=membership.user,
        action="core.import.download_rejected",
        obj=imp,
        changes={"rows": len({error["row"] for error in imp.errors})},
    )
    return content


def rejected_rows_csv(imp: TabularImport) -> bytes:
    """The rows with errors, with their row number and every problem found: once the import has
    run, as kept then (the imported columns only); before, from the uploaded file."""
    if imp.status in {TabularImport.Status.DONE, TabularImport.Status.REJECTED}:
        return bytes(imp.data or b"")
    return _rejected_rows(imp, _read(imp), imp.errors or [], imported_columns_only=False)


def _rejected_rows(
    imp: TabularImport,
    table: tabular.Table,
    errors: list[dict[str, Any]],
    *,
    imported_columns_only: bool,
) -> bytes:
    if imported_columns_only:
        columns = [column for column, _name in _mapped_fields(imp)]
    else:
        columns = list(range(len(table.headers)))
    problems: dict[int, list[str]] = {}
    for error in errors:
        text = f"{error['column']}: {error['message']}" if error.get("column") else error["message"]
        problems.setdefault(error["row"], []).append(text)
    rows = []
    for index, cells in enumerate(table.rows):
        row_number = table.row_number(index)
        if row_number in problems:
            rows.append(
                [
                    *(cells[column] for column in columns),
                    row_number,
                    "; ".join(problems[row_number]),
                ]
            )
    headers = [table.headers[column] for column in columns]
    return tabular.rows_to_csv_bytes([*headers, _("Row"), _("Problem")], rows)


# --- The background job ----------------------------------------------------------------------


def _set_status(imp: TabularImport, status: str, **fields: Any) -> None:
    imp.status = status
    for name, value in fields.items():
        setattr(imp, name, value)
    TabularImport.objects.filter(pk=imp.pk).update(status=status, **fields)


def _finish(
    importer: Importer,
    job: Job,
    imp: TabularImport,
    table: tabular.Table,
    validation: Validation,
    actor: Any,
) -> dict[str, Any]:
    """Reject the whole file or commit its valid rows; inside the runner's transaction.

    The file goes: only the rejected rows are kept, with the imported columns, for their
    download (and nothing once the retention sweep has passed meanwhile)."""
    summary = {
        **_file_facts(imp.summary),
        "counts": validation.counts,
        "preview_fields": [name for _column, name in _mapped_fields(imp)],
    }
    rejected = validation.counts["invalid"]
    if rejected and imp.mode == TabularImport.Mode.ALL_OR_NOTHING:
        result = {"created": 0, "updated": 0, "unchanged": 0, "rejected": rejected}
        status = TabularImport.Status.REJECTED
    else:
        outcome = importer.commit(job=job, imp=imp, valid_rows=validation.rows, actor=actor)
        result = {"created": 0, "updated": 0, "unchanged": 0, **outcome, "rejected": rejected}
        status = TabularImport.Status.DONE
    purged = TabularImport.objects.filter(pk=imp.pk, data_deleted_at__isnull=False).exists()
    errors = None if purged else validation.errors
    kept = b""
    if errors:
        kept = _rejected_rows(imp, table, errors, imported_columns_only=True)
    _set_status(
        imp,
        status,
        errors=errors,
        summary={**summary, "result": result},
        data=kept,
        samples=None,
        preview=None,
    )
    audit(
        actor=actor,
        action="core.import.finish",
        obj=imp,
        changes={
            "status": [None, status],
            **{key: [None, value] for key, value in result.items()},
        },
    )
    notify(FINISHED_NOTIFICATION, imp, _starter(imp))
    return result


@job_runner(JOB_KIND)
def run_tabular_import(job: Job) -> dict[str, Any]:
    import_purge_expired()
    imp = TabularImport.objects.select_related("body", "created_by").filter(job=job).first()
    if imp is None:
        # The import was started again with another job.
        return {"status": "superseded"}
    if imp.status not in {TabularImport.Status.QUEUED, TabularImport.Status.RUNNING}:
        return {"status": imp.status}
    importer = get_importer(imp.kind)
    actor = imp.created_by
    try:
        # The role may have changed since the import was queued.
        membership = (
            Membership.objects.filter(user=actor, body=imp.body, is_active=True)
            .select_related("body")
            .first()
        )
        if not importer.can_import(membership) or not importer.can_use(membership, imp):
            raise PermissionDenied(_("Your role no longer allows this import."))
        started = TabularImport.objects.filter(
            pk=imp.pk,
            job=job,
            status__in=[TabularImport.Status.QUEUED, TabularImport.Status.RUNNING],
        ).update(status=TabularImport.Status.RUNNING)
        if not started:
            raise JobAbandoned(f"Import {imp.pk} no longer belongs to job {job.pk}.")
        imp.status = TabularImport.Status.RUNNING
        table = _read(imp)
        total = len(table.rows)
        report_progress(job, 0, total, _("Checking the rows"))
        state = importer.state_token(imp.body)
        # Validated outside any transaction so that each progress update is seen by the page.
        validation = _validate_table(
            importer, imp, table, on_progress=lambda done: report_progress(job, done)
        )
        report_progress(job, total, total, _("Saving and looking for possible duplicates"))
        with transaction.atomic():
            # One import of a body at a time: two imports of the same file running side by side
            # would otherwise both create the places the other is creating.
            Body.objects.select_for_update().filter(pk=imp.body_id).exists()
            # This run may have been declared lost while it checked the rows (a long pause, a
            # frozen worker) and the import failed or started again: then it writes nothing.
            owner = (
                TabularImport.objects.select_for_update()
                .filter(pk=imp.pk)
                .values_list("status", "job_id")
                .first()
            )
            if owner != (TabularImport.Status.RUNNING, job.pk):
                raise JobAbandoned(f"Import {imp.pk} no longer belongs to job {job.pk}.")
            if importer.state_token(imp.body) != state:
                # Records changed while the rows were checked: check them again, under the lock.
                validation = _validate_table(importer, imp, table)
            result = _finish(importer, job, imp, table, validation, actor)
        return {"status": imp.status, **result}
    except JobAbandoned:
        raise  # the import is someone else's now: leave it as it is
    except Exception as exc:
        message = ""
        if isinstance(exc, PermissionDenied):
            message = str(exc)
        elif isinstance(exc, ValidationError):
            message = " ".join(exc.messages)
        # Nothing was imported, and the import cannot be run again: nothing of the file is kept.
        # Only while the import is still this job's: a run declared lost and started again
        # belongs to the new job.
        still_ours = TabularImport.objects.filter(pk=imp.pk, job=job).update(
            status=TabularImport.Status.FAILED,
            summary={**(imp.summary or {}), "failure": message},
            data=b"",
            samples=None,
            preview=None,
            errors=None,
        )
        if still_ours:
            imp.status = TabularImport.Status.FAILED
            _notify_failure(imp)
        raise


def _notify_failure(imp: TabularImport) -> None:
    try:
        notify(FAILED_NOTIFICATION, imp, _starter(imp))
    except Exception:
        # Telling the person must not hide why the import failed.
        logger.exception("Could not notify the failure of import %s", imp.pk)


@on_job_abandoned(JOB_KIND)
def _import_abandoned(job: Job, since: dt.datetime) -> bool:
    """The worker of an import was lost: the import failed and nothing of it was imported (its
    rows are committed in one transaction, which a lost worker never commits). Its file stays
    until the body's retention period ends, so that the same import can be started again."""
    imp = (
        # Locked by a worker that is committing it: that worker is alive.
        TabularImport.objects.select_for_update(skip_locked=True)
        .filter(job=job)
        .only("pk", "status", "summary")
        .first()
    )
    if imp is None:
        # Locked, or started again with another job: nothing to mark here.
        return not TabularImport.objects.filter(job=job).exists()
    if imp.status in {TabularImport.Status.QUEUED, TabularImport.Status.RUNNING}:
        _set_status(
            imp,
            TabularImport.Status.FAILED,
            summary={**(imp.summary or {}), "abandoned_since": since.isoformat()},
        )
        _notify_failure(imp)
    return True


@job_runner(CHECK_JOB_KIND)
def run_tabular_check(job: Job) -> dict[str, Any]:
    import_purge_expired()
    imp = TabularImport.objects.select_related("body").get(job=job)
    if imp.status != TabularImport.Status.UPLOADED:
        return {"status": imp.status}
    mapping = dict(imp.mapping)
    report_progress(job, 0, imp.row_count, _("Checking the rows"))
    try:
        summary = import_validate(
            imp,
            on_progress=lambda done: report_progress(job, done),
            on_read=lambda total: report_progress(job, 0, total),
        )
    except ValidationError as exc:
        # A large file read whole for the first time, and refused (a limit, a broken row):
        # the import cannot go on, and nothing of the file is kept.
        message = " ".join(exc.messages)
        _set_status(
            imp,
            TabularImport.Status.FAILED,
            summary={**(imp.summary or {}), "failure": message},
            data=b"",
            samples=None,
            preview=None,
            errors=None,
        )
        return {"status": TabularImport.Status.FAILED, "failure": message}
    # Saved as checked only if nobody changed the column matching meanwhile.
    imp.refresh_from_db(fields=["mapping", "status"])
    if imp.mapping != mapping:
        TabularImport.objects.filter(pk=imp.pk).update(status=TabularImport.Status.UPLOADED)
    return {"counts": summary["counts"]}


# --- Notifications ---------------------------------------------------------------------------


def _starter(imp: TabularImport) -> models.QuerySet[Membership]:
    """The membership, in the import's body, of the person who started it."""
    if imp.created_by_id is None:  # their account was deleted since
        return Membership.objects.none()
    return Membership.objects.filter(user_id=imp.created_by_id, body_id=imp.body_id)


def describe_import(imp: TabularImport) -> tuple[str, str]:
    """The notice of how an import ended: its file (the starter's own) and the counts."""
    url = reverse("import_detail", args=[imp.pk])
    names = {"file": imp.file_name}
    result = (imp.summary or {}).get("result") or {}
    if imp.status == TabularImport.Status.FAILED:
        return _("Your import of “%(file)s” failed: nothing was imported.") % names, url
    rejected = int(result.get("rejected", 0))
    if imp.status == TabularImport.Status.REJECTED:
        text = ngettext(
            "Your import of “%(file)s” imported nothing: %(count)d row has errors.",
            "Your import of “%(file)s” imported nothing: %(count)d rows have errors.",
            rejected,
        )
        return text % {**names, "count": rejected}, url
    parts = []
    created = int(result.get("created", 0))
    updated = int(result.get("updated", 0))
    unchanged = int(result.get("unchanged", 0))
    if created:
        parts.append(
            ngettext("%(count)d record created", "%(count)d records created", created)
            % {"count": created}
        )
    if updated:
        parts.append(
            ngettext("%(count)d record updated", "%(count)d records updated", updated)
            % {"count": updated}
        )
    if unchanged:
        parts.append(
            ngettext("%(count)d record unchanged", "%(count)d records unchanged", unchanged)
            % {"count": unchanged}
        )
    if rejected:
        parts.append(
            ngettext("%(count)d row rejected", "%(count)d rows rejected", rejected)
            % {"count": rejected}
        )
    if not parts:
        return _("Your import of “%(file)s” finished: there was nothing to import.") % names, url
    text = _("Your import of “%(file)s” finished: %(counts)s.")
    return text % {**names, "counts": ", ".join(parts)}, url


# --- Retention -------------------------------------------------------------------------------


def import_purge_expired(*, now: dt.datetime | None = None) -> int:
    """Delete what is kept of the files of imports uploaded longer ago than their body's
    `import_retention_days`; return how many imports were purged. An import that never ran is
    marked "File deleted"; its counts and result stay."""
    now = now or timezone.now()
    purged = 0
    for body in Body.objects.only("pk", "import_retention_days"):
        expired = TabularImport.objects.filter(
            body=body,
            created_at__lt=now - dt.timedelta(days=body.import_retention_days),
            data_deleted_at__isnull=True,
        )
        for imp in expired.only("pk", "file_name", "status", "created_at", "body_id"):
            fields: dict[str, Any] = {
                "data": b"",
                "samples": None,
                "preview": None,
                "errors": None,
                "data_deleted_at": now,
            }
            if imp.status in {
                TabularImport.Status.UPLOADED,
                TabularImport.Status.VALIDATED,
                TabularImport.Status.QUEUED,
            }:
                fields["status"] = TabularImport.Status.EXPIRED
            with transaction.atomic():
                # Only if no one purged it meanwhile (two jobs starting together).
                if not TabularImport.objects.filter(pk=imp.pk, data_deleted_at__isnull=True).update(
                    **fields
                ):
                    continue
                audit(
                    actor=None,
                    action="core.import.purge",
                    obj=imp,
                    body=body,
                    changes={
                        "file": [imp.file_name, None],
                        "retention_days": body.import_retention_days,
                    },
                )
            purged += 1
    if purged:
        logger.info("Deleted the files of %d imports past their retention period.", purged)
    return purged


def import_deletion_date(imp: TabularImport) -> dt.datetime:
    """When what is kept of the import's file will be deleted."""
    return imp.created_at + dt.timedelta(days=imp.body.import_retention_days)


def visible_imports(membership: Membership | None) -> models.QuerySet[TabularImport]:
    """Imports of the member's own body (a coordinating body does not see its members')."""
    return visible(membership, TabularImport)
