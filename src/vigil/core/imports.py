"""The generic tabular import pipeline: a registry of importers by kind, the services that take an
upload through mapping and validation, and the background job that commits it.

An app describes what it imports with an `Importer` (its fields, how one row is checked, how the
valid rows are written in bulk) and registers it; pages, API and tasks then call the services here.

What is kept of an uploaded file, always encrypted (`TabularImport.data`, `samples`, `preview`,
`errors`), and for how long:
- from the upload until the import runs, the whole file, since the person may still change which
  columns are imported; and the first values of every column, for the mapping page; and how
  the file is read and its fields filled (`options`: the sheet, constant values, joined
  columns, missing-value tokens, the value mapping, the values found);
- when the import starts, the first values are dropped (the mapping can no longer change);
- when it ends, the file goes: only its rejected rows are kept, with just the imported columns,
  for the "rejected rows" download; when no row was rejected, nothing is kept; except when it
  was refused whole for its errors: then the file stays, so that its valid rows can be imported
  without uploading it again (`import_valid_rows`);
- when its run is lost with the worker (a crash, a restart), it has not ended: the file stays so
  that the same import can be started again (`import_retry`);
- the body's `import_retention_days` after the upload, whatever is left is deleted
  (`import_purge_expired`, run by `manage.py vigil imports purge` and at the start of each import
  job); an import that never ran is then marked "File deleted".
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import logging
import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
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
from vigil.core.models import Body, ImportValueMapping, Job, Membership, TabularImport
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

# Cells that mean "no value" in public data; each import may change the list. An empty cell is
# always empty.
DEFAULT_MISSING_TOKENS = ("-999", "NA", "N/A", "NOT AVAILABLE", "NULL", "none", "-", "—", "--")
# How many distinct values of a field the value-mapping step lists (the most frequent first).
MAX_DISTINCT_VALUES = 500
# How many example rows each group of problems shows.
EXAMPLES_PER_GROUP = 5
JOIN_SEPARATOR_CHARS = 10

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


@dataclass(frozen=True)
class ValueChoice:
    """A term, region or status a file's value may be mapped to: `key` is what the page posts
    and the body's memory keeps, `text` what the importer reads in a cell to mean it."""

    key: str
    label: str
    text: str


class Importer(ABC):
    """One kind of import (places, authorities...). Subclass and `register_importer()` it."""

    kind: str = ""
    title: Any = ""
    fields: dict[str, ImportField] = {}
    # Fields that identify a record: never guessed for a column whose values repeat.
    identifier_fields: tuple[str, ...] = ()
    # Fields whose file values are mapped to the body's terms, regions or statuses.
    value_fields: tuple[str, ...] = ()

    def value_choices(self, body: Any, field_name: str) -> list[ValueChoice]:
        """What a value of `field_name` may be mapped to, for this body only."""
        return []

    def recognise_values(self, body: Any, field_name: str, texts: list[str]) -> dict[str, str]:
        """{text: the label of what it already means for the body}, for the texts it knows."""
        return {}

    def can_create_value(self, membership: Membership | None, field_name: str) -> bool:
        """Whether the member may create a new term (region...) from a file's value."""
        return False

    def create_value(self, *, membership: Membership, field_name: str, label: str) -> ValueChoice:
        """Create a term (region...) named `label` through its own service."""
        raise PermissionDenied(_("Your role does not allow this."))

    def fields_involved(self, field_name: str, message: str) -> tuple[str, ...]:
        """Every field a problem is about: a rule between two fields names both columns."""
        return (field_name,)

    def resolve_records(
        self, context: ImportContext, model: type[models.Model], pks: set[Any]
    ) -> dict[Any, models.Model]:
        """The records the validated rows point to, when the import commits rows the check
        validated (an importer may give them from the lookups `prepare` made)."""
        return dict(model._default_manager.in_bulk(list(pks)))

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
    missing_counts: dict[str, int] = field(default_factory=dict)
    distinct: dict[str, list[list[Any]]] = field(default_factory=dict)


def _mapped_fields(imp: TabularImport) -> list[tuple[int, str]]:
    """(column index, field) pairs, in column order."""
    pairs = [(int(column), name) for column, name in (imp.mapping or {}).items() if name]
    return sorted(pairs)


def _sources(imp: TabularImport) -> dict[str, dict[str, Any]]:
    """Fields filled otherwise than from one column: {"constant": text} or {"join": [columns],
    "separator": text}."""
    return dict((imp.options or {}).get("sources") or {})


def imported_fields(imp: TabularImport) -> list[str]:
    """Every field the import fills, those from one column first, in column order."""
    names = [name for _column, name in _mapped_fields(imp)]
    return names + [name for name in _sources(imp) if name not in names]


def missing_tokens(imp: TabularImport) -> list[str]:
    tokens = (imp.options or {}).get("missing")
    return list(DEFAULT_MISSING_TOKENS if tokens is None else tokens)


def value_key(text: str) -> str:
    """A file's value as the value mapping compares it: case, accents and spacing aside."""
    return " ".join(tabular.fold(text).split())


def source_description(imp: TabularImport, field_name: str, headers: list[str]) -> str:
    """Where a field's values come from, as the messages name it: the column's header, the
    headers joined, or "the same value for every row"."""
    for column, name in _mapped_fields(imp):
        if name == field_name and column < len(headers):
            return headers[column]
    source = _sources(imp).get(field_name)
    if source and "join" in source:
        return " + ".join(headers[column] for column in source["join"] if column < len(headers))
    if source and "constant" in source:
        return _("the same value for every row")
    return ""


class _RowBuilder:
    """Turns a file's cells into the values of the import's fields: one column, a constant, or
    columns joined; missing-value tokens emptied (and counted); file values mapped to terms."""

    def __init__(
        self,
        importer: Importer,
        imp: TabularImport,
        context: ImportContext,
        *,
        collect_distinct: bool = True,
    ) -> None:
        self.mapped = _mapped_fields(imp)
        self.sources = _sources(imp)
        tokens = missing_tokens(imp)
        self.missing = {value_key(token): token for token in tokens if token.strip()}
        self.missing_counts: dict[str, int] = dict.fromkeys(tokens, 0)
        fields = {name for _column, name in self.mapped} | set(self.sources)
        self.value_fields = [name for name in importer.value_fields if name in fields]
        self.replacements: dict[str, dict[str, str]] = {}
        chosen = (imp.options or {}).get("values") or {}
        # What the body said earlier, then what was chosen for this import.
        remembered: dict[str, dict[str, str]] = {}
        if self.value_fields:
            for name, value, target in ImportValueMapping.objects.filter(
                body_id=imp.body_id, kind=imp.kind, field__in=self.value_fields
            ).values_list("field", "value", "target"):
                remembered.setdefault(name, {})[value] = target
        for name in self.value_fields:
            targets = {**remembered.get(name, {}), **(chosen.get(name) or {})}
            texts = {}
            if any(targets.values()):
                texts = {
                    choice.key: choice.text for choice in importer.value_choices(imp.body, name)
                }
            self.replacements[name] = {
                raw: "" if target == "" else texts[target]
                for raw, target in targets.items()
                if target == "" or target in texts
            }
        self.collect_distinct = collect_distinct
        self.distinct: dict[str, dict[str, list[Any]]] = {name: {} for name in self.value_fields}

    def _clear(self, text: str) -> str:
        if not text:
            return text
        token = self.missing.get(value_key(text))
        if token is None:
            return text
        self.missing_counts[token] = self.missing_counts.get(token, 0) + 1
        return ""

    def build(self, cells: list[str]) -> tuple[dict[str, str], dict[str, str]]:
        """(values to validate, the file's text of each field, for the messages)."""
        raw: dict[str, str] = {}
        values: dict[str, str] = {}
        for column, name in self.mapped:
            raw[name] = cells[column]
            values[name] = self._clear(cells[column])
        for name, source in self.sources.items():
            if "constant" in source:
                raw[name] = values[name] = str(source["constant"])
            else:
                parts = [self._clear(cells[column]) for column in source.get("join", [])]
                separator = str(source.get("separator", ", "))
                raw[name] = separator.join(cells[column] for column in source.get("join", []))
                values[name] = separator.join(part for part in parts if part)
        for name in self.value_fields:
            text = values.get(name, "")
            if not text:
                continue
            key = value_key(text)
            if self.collect_distinct:
                seen = self.distinct[name].get(key)
                if seen is not None:
                    seen[1] += 1
                elif len(self.distinct[name]) < MAX_DISTINCT_VALUES:
                    self.distinct[name][key] = [text, 1]
            replacement = self.replacements[name].get(key)
            if replacement is not None:
                values[name] = replacement
        return values, raw

    def distinct_values(self) -> dict[str, list[list[Any]]]:
        return {
            name: sorted(found.values(), key=lambda item: (-item[1], item[0]))
            for name, found in self.distinct.items()
        }


def _validate_table(
    importer: Importer,
    imp: TabularImport,
    table: tabular.Table,
    *,
    on_progress: Callable[[int], None] | None = None,
) -> Validation:
    fields = imported_fields(imp)
    context = importer.prepare_import(imp)
    builder = _RowBuilder(importer, imp, context)
    column_of_field = {name: source_description(imp, name, table.headers) for name in fields}
    valid: list[tuple[int, dict[str, Any]]] = []
    errors: list[dict[str, Any]] = []
    counts = {"rows": len(table.rows), CREATE: 0, UPDATE: 0, UNCHANGED: 0, "invalid": 0}
    preview: list[dict[str, Any]] = []
    for index, cells in enumerate(table.rows):
        row_number = table.row_number(index)
        context.row_number = row_number
        values, raw = builder.build(cells)
        cleaned, row_errors = importer.validate_row(context, values)
        if row_errors or cleaned is None:
            counts["invalid"] += 1
            for field_name, message in row_errors:
                involved = [
                    name
                    for name in importer.fields_involved(field_name, str(message))
                    if column_of_field.get(name)
                ]
                errors.append(
                    {
                        "row": row_number,
                        "column": column_of_field.get(field_name, ""),
                        "columns": [column_of_field[name] for name in involved],
                        "field": field_name,
                        "value": _cut(raw.get(field_name, "")),
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
                        for name in fields
                    ],
                }
            )
        if on_progress is not None and (index + 1) % PROGRESS_EVERY == 0:
            on_progress(index + 1)
    return Validation(
        rows=valid,
        errors=errors,
        counts=counts,
        preview=preview,
        missing_counts={token: n for token, n in builder.missing_counts.items() if n},
        distinct=builder.distinct_values(),
    )


def _quoted(value: str) -> str:
    return f"“{value}”"


def error_text(error: Mapping[str, Any]) -> str:
    """The message with the value at fault: "“-999” must not be negative"."""
    message = str(error.get("message", ""))
    value = str(error.get("value") or "")
    if not value or _quoted(value) in message or value in message:
        return message
    if message[:1].islower():
        return f"{_quoted(value)} {message}"
    return f"{message} ({_quoted(value)})"


def _columns_text(error: Mapping[str, Any]) -> str:
    columns = list(error.get("columns") or ([error["column"]] if error.get("column") else []))
    return ", ".join(f"‘{column}’" for column in columns)


def format_error(error: Mapping[str, Any]) -> str:
    """ "Row 7, column ‘Population’: “-999” must not be negative"; a rule between fields names
    every column involved."""
    values = {"row": error["row"], "message": error_text(error)}
    columns = list(error.get("columns") or ([error["column"]] if error.get("column") else []))
    if len(columns) > 1:
        return _("Row %(row)d, columns %(columns)s: %(message)s") % {
            **values,
            "columns": _columns_text(error),
        }
    if columns:
        return _("Row %(row)d, column ‘%(column)s’: %(message)s") % {
            **values,
            "column": columns[0],
        }
    return _("Row %(row)d: %(message)s") % values


@dataclass
class ProblemGroup:
    """Problems of one reason, in one column or set of columns."""

    key: str
    columns: str
    reason: str
    count: int = 0
    rows: int = 0
    examples: list[str] = field(default_factory=list)


def group_errors(errors: list[Mapping[str, Any]]) -> list[ProblemGroup]:
    """Problems grouped by reason (the message, its value aside) and columns, the largest group
    first, each with a few example rows showing their values."""
    groups: dict[tuple[str, str], ProblemGroup] = {}
    rows_of: dict[tuple[str, str], set[int]] = {}
    for error in errors:
        message = str(error.get("message", ""))
        value = str(error.get("value") or "")
        reason = message.replace(_quoted(value), "“…”") if value else message
        columns = _columns_text(error)
        key = (columns, reason)
        group = groups.get(key)
        if group is None:
            digest = hashlib.sha256(f"{columns}\n{reason}".encode()).hexdigest()[:12]
            group = groups[key] = ProblemGroup(key=digest, columns=columns, reason=reason)
            rows_of[key] = set()
        group.count += 1
        rows_of[key].add(int(error["row"]))
        if len(group.examples) < EXAMPLES_PER_GROUP:
            group.examples.append(format_error(error))
    for key, group in groups.items():
        group.rows = len(rows_of[key])
    return sorted(groups.values(), key=lambda group: (-group.count, group.columns, group.reason))


# --- Validated once ------------------------------------------------------------------------
#
# The check validates every row; the import then commits the rows the check validated, unless
# the choices (columns, constants, tokens, values) or the records rows are matched against
# changed since: those the fingerprint and the importer's state token tell.


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def _fingerprint(imp: TabularImport) -> str:
    remembered = list(
        ImportValueMapping.objects.filter(body_id=imp.body_id, kind=imp.kind)
        .order_by("field", "value")
        .values_list("field", "value", "target")
    )
    options = imp.options or {}
    return _digest(
        {
            "mapping": imp.mapping,
            "options": {
                key: options.get(key)
                for key in ("sheet", "header_row", "sources", "missing", "values")
            },
            "remembered": remembered,
            "target": target_of(imp),
        }
    )


def _freeze(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, decimal.Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, models.Model):
        return {"$record": value._meta.label_lower, "pk": value.pk}
    if isinstance(value, list | tuple):
        return [_freeze(item) for item in value]
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return {key: _freeze(item) for key, item in value.items()}
    raise TypeError(f"Cannot keep a {type(value).__name__} of a validated row.")


def _records_of(value: Any, found: dict[str, set[Any]]) -> None:
    if isinstance(value, list):
        for item in value:
            _records_of(item, found)
    elif isinstance(value, dict):
        if "$record" in value:
            found.setdefault(value["$record"], set()).add(value["pk"])
        else:
            for item in value.values():
                _records_of(item, found)


def _thaw(value: Any, records: Mapping[tuple[str, Any], Any]) -> Any:
    if isinstance(value, list):
        return [_thaw(item, records) for item in value]
    if isinstance(value, dict):
        if "$decimal" in value:
            return decimal.Decimal(value["$decimal"])
        if "$datetime" in value:
            return dt.datetime.fromisoformat(value["$datetime"])
        if "$date" in value:
            return dt.date.fromisoformat(value["$date"])
        if "$record" in value:
            return records[(value["$record"], value["pk"])]
        return {key: _thaw(item, records) for key, item in value.items()}
    return value


def _keep_validated(
    imp: TabularImport, validation: Validation, fingerprint: str, state: str
) -> bytes:
    """The validated rows, compressed, for the import to commit; nothing when they cannot be
    kept (a value the freezer does not know: the import then checks the rows again)."""
    try:
        rows = [[row, _freeze(cleaned)] for row, cleaned in validation.rows]
    except TypeError:
        logger.info("Import %s: its validated rows cannot be kept; they are checked again.", imp.pk)
        return b""
    payload = {"fingerprint": fingerprint, "state": state, "rows": rows}
    return zlib.compress(json.dumps(payload, separators=(",", ":")).encode(), 3)


def _kept(imp: TabularImport) -> dict[str, Any]:
    try:
        return dict(json.loads(zlib.decompress(bytes(imp.validated or b""))))
    except (zlib.error, ValueError, TypeError):
        return {}


def _validated_rows(
    importer: Importer, imp: TabularImport, state: str
) -> list[tuple[int, dict[str, Any]]] | None:
    """The rows the check validated, if nothing they depend on changed since; else None."""
    payload = _kept(imp)
    if not payload:
        return None
    if payload.get("state") != state or payload.get("fingerprint") != _fingerprint(imp):
        return None
    found: dict[str, set[Any]] = {}
    _records_of(payload["rows"], found)
    records: dict[tuple[str, Any], Any] = {}
    if found:
        context = importer.prepare_import(imp)
        for label, pks in found.items():
            model = apps.get_model(label)
            resolved = importer.resolve_records(context, model, pks)
            if len(resolved) != len(pks):
                return None  # a record went meanwhile: check again
            records.update({(label, pk): record for pk, record in resolved.items()})
    return [(int(row), _thaw(cleaned, records)) for row, cleaned in payload["rows"]]


def _checked_validation(
    importer: Importer, imp: TabularImport, table: tabular.Table, state: str
) -> Validation | None:
    """The check's validation, when its rows can be committed as they are."""
    summary = imp.summary or {}
    if "counts" not in summary or imp.errors is None:
        return None
    counts = dict(summary["counts"])
    if counts.get("rows") != len(table.rows):
        return None
    rows: list[tuple[int, dict[str, Any]]] | None
    if counts.get("invalid") and imp.mode == TabularImport.Mode.ALL_OR_NOTHING:
        # Refused whole: no row is needed, only that the choices are those of the check.
        rows = [] if _kept(imp).get("fingerprint") == _fingerprint(imp) else None
    else:
        rows = _validated_rows(importer, imp, state)
    if rows is None:
        return None
    return Validation(
        rows=rows,
        errors=list(imp.errors or []),
        counts=counts,
        preview=[],
        missing_counts=dict(summary.get("missing_counts") or {}),
    )


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
    options = imp.options or {}
    try:
        return tabular.read_table(
            bytes(imp.data),
            imp.file_name,
            sheet=options.get("sheet"),
            header_row=options.get("header_row"),
        )
    except tabular.TabularError as exc:
        raise ValidationError(str(exc), code="unreadable") from exc


def headers_key(headers: list[str]) -> str:
    """The same for two files with the same columns (case, accents and spacing aside)."""
    text = "\n".join(value_key(header) for header in headers)
    return hashlib.sha256(text.encode()).hexdigest()


def _repeats(table: tabular.Table) -> dict[str, list[Any]]:
    """For each column whose values repeat, its first repeated value and the two rows."""
    found: dict[str, list[Any]] = {}
    for column in range(len(table.headers)):
        seen: dict[str, int] = {}
        for index, cells in enumerate(table.rows):
            value = cells[column]
            if not value:
                continue
            key = value.casefold()
            if key in seen:
                found[str(column)] = [_cut(value), seen[key], table.row_number(index)]
                break
            seen[key] = table.row_number(index)
    return found


def _guess(
    importer: Importer,
    target: Mapping[str, Any] | None,
    table: tabular.Table,
    repeats: Mapping[str, Any],
) -> dict[int, str | None]:
    """The importer's guess, never an identifier for a column whose values repeat (a constant,
    a category): the next best column is tried instead."""
    guessed = importer.guess_mapping(target, table.headers)
    excluded: dict[str, set[int]] = {}
    for _attempt in range(len(table.headers)):
        wrong = [
            (column, name)
            for column, name in guessed.items()
            if name in importer.identifier_fields and str(column) in repeats
        ]
        if not wrong:
            break
        for column, name in wrong:
            excluded.setdefault(name, set()).add(column)
        guessed = tabular.guess_mapping(
            table.headers, importer.header_keys(target), excluded=excluded
        )
    return guessed


def _earlier_matching(imp: TabularImport) -> TabularImport | None:
    """The latest import of the body and kind with the same columns that was started."""
    return (
        TabularImport.objects.filter(
            body_id=imp.body_id, kind=imp.kind, headers_key=imp.headers_key
        )
        .exclude(pk=imp.pk)
        .exclude(status__in=[TabularImport.Status.UPLOADED, TabularImport.Status.VALIDATED])
        .exclude(mapping={})
        .only("pk", "file_name", "created_at", "mapping", "options", "headers")
        .first()
    )


def _layout(table: tabular.Table) -> dict[str, Any]:
    return {
        "sheet": table.sheet,
        "header_row": table.header_row,
        "sheets": [list(sheet) for sheet in table.sheets],
        "repeats": _repeats(table),
    }


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
    layout = _layout(table)
    guessed = _guess(importer, target, table, layout["repeats"])
    imp = TabularImport.objects.create(
        body=membership.body,
        kind=kind,
        created_by=membership.user,
        file_name=name[:255],
        data=data,
        headers=table.headers,
        headers_key=headers_key(table.headers),
        mapping={str(column): name for column, name in guessed.items() if name},
        row_count=len(table.rows) if table.complete else 0,
        rows_counted=table.complete,
        samples=_samples(table),
        options=layout,
        summary={
            "format": table.source_format,
            "encoding": table.encoding,
            "delimiter": table.delimiter,
            **({"target": target} if target else {}),
        },
    )
    _reuse_earlier_matching(imp)
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


def _reuse_earlier_matching(imp: TabularImport) -> None:
    """A file with the columns of an earlier import gets that import's matching, constant
    values, joins and missing-value tokens; the mapping page says so and offers the guess."""
    earlier = _earlier_matching(imp)
    if earlier is None:
        return
    fields = get_importer(imp.kind).fields_for(target_of(imp))
    mapping = {
        column: name
        for column, name in (earlier.mapping or {}).items()
        if name in fields and int(column) < len(imp.headers)
    }
    earlier_options = earlier.options or {}
    options = dict(imp.options or {})
    for key in ("sources", "missing"):
        if key in earlier_options:
            options[key] = earlier_options[key]
    options["guessed"] = dict(imp.mapping)
    imp.mapping = mapping
    imp.options = options
    imp.summary = {
        **(imp.summary or {}),
        "reused": {
            "file": earlier.file_name,
            "date": earlier.created_at.isoformat(),
            "import": earlier.pk,
        },
    }
    imp.save(update_fields=["mapping", "options", "summary"])


@transaction.atomic
def import_use_guess(*, membership: Membership, imp: TabularImport) -> TabularImport:
    """Drop the matching taken from an earlier import for Vigil's own guess."""
    imp = _locked_open_import(imp, membership)
    options = dict(imp.options or {})
    guessed = options.pop("guessed", None)
    if guessed is None:
        return imp
    options.pop("sources", None)
    options.pop("missing", None)
    imp.mapping = guessed
    imp.options = options
    imp.summary = {key: value for key, value in (imp.summary or {}).items() if key != "reused"}
    imp.status = TabularImport.Status.UPLOADED
    imp.save(update_fields=["mapping", "options", "summary", "status"])
    return imp


def _locked_open_import(imp: TabularImport, membership: Membership) -> TabularImport:
    importer = get_importer(imp.kind)
    _require(importer, membership)
    _check_access(imp, membership)
    imp = (
        TabularImport.objects.select_for_update(of=("self",))
        .select_related("body", "job")
        .get(pk=imp.pk)
    )
    _check_file_kept(imp)
    if imp.status not in {TabularImport.Status.UPLOADED, TabularImport.Status.VALIDATED}:
        raise ValidationError(_("This import has already started; upload the file again."))
    return imp


@transaction.atomic
def import_set_layout(
    *, membership: Membership, imp: TabularImport, sheet: str | None, header_row: int | None
) -> TabularImport:
    """Read the file from another sheet or header row: its columns are matched again."""
    imp = _locked_open_import(imp, membership)
    importer = get_importer(imp.kind)
    if header_row is not None and header_row < 1:
        raise ValidationError(_("The header row is a row number, 1 or more."))
    data = bytes(imp.data)
    try:
        large = tabular.parse_size(data, imp.file_name) > SYNC_READ_BYTES
        table = tabular.read_table(
            data,
            imp.file_name,
            head_rows=SAMPLE_ROWS if large else None,
            sheet=sheet or None,
            header_row=header_row,
        )
    except tabular.TabularError as exc:
        raise ValidationError(str(exc), code="unreadable") from exc
    target = target_of(imp)
    importer.check_headers(target, table.headers)
    layout = _layout(table)
    if header_row is not None:
        layout["header_row"] = header_row
    guessed = _guess(importer, target, table, layout["repeats"])
    before = {key: (imp.options or {}).get(key) for key in ("sheet", "header_row")}
    imp.headers = table.headers
    imp.headers_key = headers_key(table.headers)
    imp.mapping = {str(column): name for column, name in guessed.items() if name}
    imp.options = {
        **layout,
        **{key: (imp.options or {})[key] for key in ("missing",) if key in (imp.options or {})},
    }
    imp.row_count = len(table.rows) if table.complete else 0
    imp.rows_counted = table.complete
    imp.samples = _samples(table)
    imp.status = TabularImport.Status.UPLOADED
    imp.summary = {key: value for key, value in (imp.summary or {}).items() if key != "reused"}
    imp.save()
    _reuse_earlier_matching(imp)
    audit(
        actor=membership.user,
        action="core.import.map",
        obj=imp,
        changes={
            key: [before[key], layout[key]]
            for key in ("sheet", "header_row")
            if before[key] != layout[key]
        },
    )
    return imp


def _clean_sources(
    imp: TabularImport,
    fields: Mapping[str, ImportField],
    sources: Mapping[str, Mapping[str, Any]],
) -> dict[str, dict[str, Any]]:
    cleaned: dict[str, dict[str, Any]] = {}
    for name, source in sources.items():
        if name not in fields:
            raise ValidationError(_("“%(name)s” is not a field of this import.") % {"name": name})
        label = fields[name].label
        if "constant" in source:
            value = str(source["constant"]).strip()
            if not value:
                continue
            if len(value) > SAMPLE_CHARS * 10:
                raise ValidationError(
                    _("The value for every row of “%(field)s” is too long.") % {"field": label}
                )
            cleaned[name] = {"constant": value}
        elif "join" in source:
            columns = []
            for column in source["join"]:
                index = int(column)
                if not 0 <= index < len(imp.headers):
                    raise ValidationError(
                        _("The file has no column %(column)d.") % {"column": index + 1}
                    )
                if index not in columns:
                    columns.append(index)
            if not columns:
                continue
            if len(columns) < 2:
                raise ValidationError(
                    _("Choose at least two columns to join for “%(field)s”.") % {"field": label}
                )
            separator = str(source.get("separator", ", "))
            if len(separator) > JOIN_SEPARATOR_CHARS:
                raise ValidationError(
                    _("The separator of “%(field)s” has more than %(limit)d characters.")
                    % {"field": label, "limit": JOIN_SEPARATOR_CHARS}
                )
            cleaned[name] = {"join": columns, "separator": separator}
    return cleaned


@transaction.atomic
def import_set_mapping(
    *,
    membership: Membership,
    imp: TabularImport,
    mapping: Mapping[Any, str | None],
    sources: Mapping[str, Mapping[str, Any]] | None = None,
    missing: list[str] | None = None,
) -> TabularImport:
    """Choose which column feeds which field: each field at most once, every required one.

    `sources` fills a field otherwise: the same value for every row ({"constant": text}) or
    several columns joined ({"join": [columns], "separator": ", "}); `missing` lists the cell
    values that mean "no value" (None keeps the import's list)."""
    importer = get_importer(imp.kind)
    imp = _locked_open_import(imp, membership)
    fields = importer.fields_for(target_of(imp))
    options = dict(imp.options or {})
    if sources is not None:
        options["sources"] = _clean_sources(imp, fields, sources)
    if missing is not None:
        tokens = [token.strip() for token in missing if token.strip()]
        options["missing"] = list(dict.fromkeys(tokens))
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
    for name, source in (options.get("sources") or {}).items():
        described = (
            _("the same value for every row")
            if "constant" in source
            else " + ".join(imp.headers[column] for column in source["join"])
        )
        columns_of_field.setdefault(name, []).append(described)
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
    before_fields = imported_fields(imp)
    imp.mapping = cleaned
    imp.options = options
    imp.status = TabularImport.Status.UPLOADED
    imp.save(update_fields=["mapping", "options", "status"])
    if before != cleaned or before_fields != imported_fields(imp):
        audit(
            actor=membership.user,
            action="core.import.map",
            obj=imp,
            # Which fields are filled, not the constant values themselves (they may quote data).
            changes={"mapping": [before, cleaned], "fields": [before_fields, imported_fields(imp)]},
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
    # Taken before the rows are checked, so that a change made meanwhile makes them stale.
    state = _digest(importer.state_token(imp.body))
    validation = _validate_table(importer, imp, table, on_progress=on_progress)
    imp.validated = _keep_validated(imp, validation, _fingerprint(imp), state)
    imp.summary = {
        **_file_facts(imp.summary),
        "counts": validation.counts,
        "missing_counts": validation.missing_counts,
        "preview_fields": imported_fields(imp),
    }
    imp.preview = validation.preview
    imp.errors = validation.errors
    imp.options = {**(imp.options or {}), "distinct": validation.distinct}
    imp.row_count = len(table.rows)
    imp.rows_counted = True
    if imp.status == TabularImport.Status.UPLOADED:
        imp.status = TabularImport.Status.VALIDATED
    imp.save(
        update_fields=[
            "summary",
            "preview",
            "errors",
            "options",
            "validated",
            "row_count",
            "rows_counted",
            "status",
        ]
    )
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
    keep = ("format", "encoding", "delimiter", "target", "reused")
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


@transaction.atomic
def import_valid_rows(*, membership: Membership, imp: TabularImport) -> TabularImport:
    """After a refusal whole ("import nothing if any row has an error"), import the valid rows
    of the same file with the same choices, without uploading or matching it again."""
    importer = get_importer(imp.kind)
    _require(importer, membership)
    _check_access(imp, membership)
    imp = TabularImport.objects.select_for_update(of=("self",)).select_related("job").get(pk=imp.pk)
    if imp.status != TabularImport.Status.REJECTED or imp.data_deleted_at is not None:
        raise ValidationError(
            _(
                "Only an import refused for its errors, whose file is still kept, can import "
                "its valid rows."
            )
        )
    job = start_job(
        actor=membership.user,
        body=imp.body,
        kind=JOB_KIND,
        title=(_("Import of %(file)s") % {"file": imp.file_name})[:200],
    )
    imp.mode = TabularImport.Mode.VALID_ROWS
    imp.job = job
    imp.status = TabularImport.Status.QUEUED
    imp.summary = {key: value for key, value in (imp.summary or {}).items() if key not in _RUN_KEYS}
    imp.save(update_fields=["mode", "job", "status", "summary"])
    audit(
        actor=membership.user,
        action="core.import.start",
        obj=imp,
        changes={"mode": [TabularImport.Mode.ALL_OR_NOTHING, TabularImport.Mode.VALID_ROWS]},
    )
    return imp


def can_import_valid_rows(imp: TabularImport) -> bool:
    result = (imp.summary or {}).get("result") or {}
    return (
        imp.status == TabularImport.Status.REJECTED
        and imp.data_deleted_at is None
        and int((imp.summary or {}).get("counts", {}).get("rows", 0))
        > int(result.get("rejected", 0))
    )


# --- The value mapping ------------------------------------------------------------------------

# What the value-mapping page posts for one value: keep it as the file has it, treat it as empty,
# map it to an existing choice ("=" + its key), or create a new term from it.
AS_IN_FILE, AS_EMPTY, AS_NEW, AS_CHOICE = "", "-", "+", "="


@dataclass
class ValueRow:
    """One distinct value of a field in the file, with what it means and what was chosen."""

    value: str
    key: str
    count: int
    recognised: str | None
    chosen: str  # AS_IN_FILE, AS_EMPTY or "=" + a choice key


def mapped_value_fields(imp: TabularImport) -> list[str]:
    importer = get_importer(imp.kind)
    fields = set(imported_fields(imp))
    return [name for name in importer.value_fields if name in fields]


def _distinct_values(imp: TabularImport) -> dict[str, list[list[Any]]] | None:
    """The values of each value field found in the file, or None while a large file has not
    been read whole yet."""
    options = imp.options or {}
    if imp.status == TabularImport.Status.VALIDATED and "distinct" in options:
        return options["distinct"]
    if not imp.rows_counted:
        return None
    importer = get_importer(imp.kind)
    table = _read(imp)
    builder = _RowBuilder(importer, imp, ImportContext(body=imp.body))
    for cells in table.rows:
        builder.build(cells)
    return builder.distinct_values()


def import_values(imp: TabularImport) -> dict[str, list[ValueRow]] | None:
    """For each field with a value mapping, the distinct values of the file (most frequent
    first), what the body already calls them, and the choice made (this import's, else the one
    the body remembers)."""
    distinct = _distinct_values(imp)
    if distinct is None:
        return None
    importer = get_importer(imp.kind)
    chosen = (imp.options or {}).get("values") or {}
    result: dict[str, list[ValueRow]] = {}
    for name in mapped_value_fields(imp):
        found = distinct.get(name, [])
        valid = {choice.key for choice in importer.value_choices(imp.body, name)}
        remembered = {
            mapping.value: mapping.target
            for mapping in ImportValueMapping.objects.filter(
                body_id=imp.body_id, kind=imp.kind, field=name
            )
            if mapping.target == "" or mapping.target in valid
        }
        recognised = importer.recognise_values(imp.body, name, [text for text, _n in found])
        rows = []
        for text, count in found:
            key = value_key(text)
            target = (chosen.get(name) or {}).get(key, remembered.get(key))
            choice = (
                AS_IN_FILE if target is None else AS_EMPTY if target == "" else AS_CHOICE + target
            )
            rows.append(ValueRow(text, key, count, recognised.get(text), choice))
        result[name] = rows
    return result


def needs_value_mapping(imp: TabularImport) -> bool:
    """Whether some value of the file means nothing to the body yet and nothing was chosen."""
    values = import_values(imp)
    return values is not None and any(
        row.recognised is None and row.chosen == AS_IN_FILE
        for rows in values.values()
        for row in rows
    )


@transaction.atomic
def import_set_values(
    *, membership: Membership, imp: TabularImport, choices: Mapping[str, Mapping[str, str]]
) -> TabularImport:
    """Say what the file's values mean: {field: {value key: choice}}, a choice being AS_IN_FILE,
    AS_EMPTY, AS_NEW or AS_CHOICE + the key of one of the body's terms (regions, statuses).
    A key that is not one of the body's own is refused. The choices are remembered for the
    body's next imports of this kind."""
    importer = get_importer(imp.kind)
    imp = _locked_open_import(imp, membership)
    allowed = mapped_value_fields(imp)
    values = dict((imp.options or {}).get("values") or {})
    created = 0
    remembered = 0
    for name, field_choices in choices.items():
        if name not in allowed:
            raise ValidationError(_("“%(name)s” is not a field of this import.") % {"name": name})
        valid = {choice.key for choice in importer.value_choices(imp.body, name)}
        label = importer.fields_for(target_of(imp))[name].label
        field_values = dict(values.get(name) or {})
        for raw_key, choice in field_choices.items():
            key = value_key(raw_key)
            if not key:
                continue
            if choice == AS_IN_FILE:
                field_values.pop(key, None)
                ImportValueMapping.objects.filter(
                    body_id=imp.body_id, kind=imp.kind, field=name, value=key[:255]
                ).delete()
                continue
            if choice == AS_EMPTY:
                target = ""
            elif choice == AS_NEW:
                new = importer.create_value(membership=membership, field_name=name, label=raw_key)
                target = new.key
                valid.add(target)
                created += 1
            elif choice.startswith(AS_CHOICE) and choice[1:] in valid:
                target = choice[1:]
            else:
                raise ValidationError(
                    _("“%(value)s” is not a choice of your body for “%(field)s”.")
                    % {"value": choice.lstrip(AS_CHOICE), "field": label}
                )
            field_values[key] = target
            ImportValueMapping.objects.update_or_create(
                body_id=imp.body_id,
                kind=imp.kind,
                field=name,
                value=key[:255],
                defaults={
                    "target": target,
                    "updated_by": membership.user,
                    "updated_at": timezone.now(),
                },
            )
            remembered += 1
        values[name] = field_values
    imp.options = {**(imp.options or {}), "values": values}
    imp.status = TabularImport.Status.UPLOADED
    imp.save(update_fields=["options", "status"])
    audit(
        actor=membership.user,
        action="core.import.map",
        obj=imp,
        # How many values were mapped, not the values (they quote the file).
        changes={"values_mapped": remembered, "terms_created": created},
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
    if imp.status == TabularImport.Status.DONE:
        return bytes(imp.data or b"")
    if imp.status == TabularImport.Status.REJECTED:
        return _rejected_rows(imp, _read(imp), imp.errors or [], imported_columns_only=True)
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
        for source in _sources(imp).values():
            columns += [column for column in source.get("join", []) if column not in columns]
    else:
        columns = list(range(len(table.headers)))
    problems: dict[int, list[str]] = {}
    for error in errors:
        named = ", ".join(
            error.get("columns") or ([error["column"]] if error.get("column") else [])
        )
        text = f"{named}: {error['message']}" if named else error["message"]
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


# What of `options` stays once the file goes: the choices (reused for a file with the same
# columns), not what was read from the file.
_LASTING_OPTIONS = ("sheet", "header_row", "sources", "missing")


def _lasting_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    return {key: value for key, value in (options or {}).items() if key in _LASTING_OPTIONS}


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
        "missing_counts": validation.missing_counts,
        "preview_fields": imported_fields(imp),
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
    if status == TabularImport.Status.REJECTED and not purged:
        # Refused whole: the file stays, so that its valid rows can be imported as it is.
        kept = bytes(imp.data)
    elif errors:
        kept = _rejected_rows(imp, table, errors, imported_columns_only=True)
    _set_status(
        imp,
        status,
        errors=errors,
        summary={**summary, "result": result},
        data=kept,
        samples=None,
        preview=None,
        validated=b"",
        options=imp.options
        if status == TabularImport.Status.REJECTED
        else _lasting_options(imp.options),
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
        # The check's rows, when nothing changed since it; else every row is checked now.
        validation = _checked_validation(importer, imp, table, _digest(state))
        if validation is None:
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
            validated=b"",
            options=_lasting_options(imp.options),
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
            validated=b"",
            options=_lasting_options(imp.options),
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
        for imp in expired.only("pk", "file_name", "status", "created_at", "body_id", "options"):
            fields: dict[str, Any] = {
                "data": b"",
                "samples": None,
                "preview": None,
                "errors": None,
                "options": _lasting_options(imp.options),
                "validated": b"",
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
