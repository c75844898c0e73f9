"""The export of findings across visits: CSV streamed (on PostgreSQL straight out of `COPY`,
neutralised in SQL, so half a million findings leave at the speed of the database) and XLSX
written row by row to a temporary file. Memory stays flat either way."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import Any

from django.db import connections
from django.db.models import QuerySet
from django.http import FileResponse, HttpResponseBase, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from vigil.core.models import TaxonomyTerm
from vigil.core.tabular import (
    FORMULA_PREFIXES,
    UTF8_BOM,
    neutralise_cell,
    stream_csv,
    write_xlsx,
)
from vigil.visits.models import Observation, Severity

CHUNK = 2000
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# What each row holds, in order: the database value read for it.
FIELDS = (
    "pk",
    "visit_id",
    "visit__planned_start",
    "visit__place__name",
    "visit__place__place_type__label",
    "theme__label",
    "unit",
    "severity",
    "is_good_practice",
    "is_systemic",
    "held_back",
    "description",
    "created_at",
)


def export_headers() -> list[str]:
    return [
        _("Finding"),
        _("Visit"),
        _("Visit start"),
        _("Place"),
        _("Type of place"),
        _("Theme"),
        _("Unit or area"),
        _("Severity"),
        _("Good practice"),
        _("Systemic"),
        _("Held back"),
        _("Description"),
        _("Recorded"),
    ]


def _labels() -> tuple[dict[str, str], dict[str, str]]:
    """Term labels and severities as the member reads them, translated once per export."""
    terms = {
        label: str(TaxonomyTerm(label=label))
        for label in TaxonomyTerm.objects.filter(kind__in=["theme", "place_type"])
        .values_list("label", flat=True)
        .distinct()
    }
    return terms, {value: str(label) for value, label in Severity.choices}


def export_rows(queryset: QuerySet[Observation]) -> Iterator[list[object]]:
    """One list per finding, read in chunks through a server-side cursor."""
    terms, severities = _labels()
    for row in queryset.values_list(*FIELDS).iterator(chunk_size=CHUNK):
        values = list(row)
        values[4] = terms.get(values[4], values[4]) if values[4] else ""
        values[5] = terms.get(values[5], values[5])
        values[7] = severities.get(values[7], values[7])
        # The time the member's clock showed, as PostgreSQL's export writes it.
        values[12] = timezone.make_naive(values[12]) if values[12] else None
        yield values


def _neutralised(column: str) -> str:
    """SQL that prefixes text starting with a formula character with an apostrophe, as
    core/tabular.py's neutralise_cell does."""
    prefixes = ", ".join(f"chr({ord(character)})" for character in FORMULA_PREFIXES)
    return f"CASE WHEN left({column}, 1) IN ({prefixes}) THEN '''' || {column} ELSE {column} END"


def _mapped(column: str, mapping: dict[str, str], params: list[Any], *, neutralise: bool) -> str:
    """SQL translating the stored values of `column` into labels, passed as parameters and
    neutralised here (a body's own theme may be named anything)."""
    otherwise = _neutralised(column) if neutralise else column
    if not mapping:
        return otherwise
    cases = []
    for stored, label in mapping.items():
        cases.append("WHEN %s THEN %s")
        params.extend([stored, neutralise_cell(label) if neutralise else label])
    return f"(CASE {column} {' '.join(cases)} ELSE {otherwise} END)"


def copy_statement(queryset: QuerySet[Observation]) -> tuple[str, list[Any]]:
    """`COPY (SELECT …) TO STDOUT WITH CSV` around the filtered queryset's own SQL, with the
    labels, the local time and the formula neutralising done by PostgreSQL."""
    inner, inner_params = queryset.values_list(*FIELDS).query.sql_with_params()
    terms, severities = _labels()
    params: list[Any] = []
    boolean = "CASE WHEN {0} THEN 'TRUE' ELSE 'FALSE' END"
    zone = timezone.get_current_timezone_name()
    columns = [
        "f.c0",
        "f.c1",
        "to_char(f.c2, 'YYYY-MM-DD')",
        _neutralised("f.c3"),
        _mapped("f.c4", terms, params, neutralise=True),
        _mapped("f.c5", terms, params, neutralise=True),
        _neutralised("f.c6"),
        _mapped("f.c7", severities, params, neutralise=False),
        boolean.format("f.c8"),
        boolean.format("f.c9"),
        boolean.format("f.c10"),
        _neutralised("f.c11"),
        "to_char(f.c12 AT TIME ZONE %s, 'YYYY-MM-DD HH24:MI:SS')",
    ]
    params.append(zone)
    aliases = ", ".join(f"c{index}" for index in range(len(FIELDS)))
    statement = (
        f"COPY (SELECT {', '.join(columns)} FROM ({inner}) AS f({aliases})) "  # noqa: S608
        "TO STDOUT WITH (FORMAT csv)"
    )
    # The select list's parameters come before the inner query's in the text.
    return statement, [*params, *inner_params]


def copy_csv(queryset: QuerySet[Observation]) -> Iterator[bytes]:
    """The CSV export as PostgreSQL writes it, block by block."""
    import csv
    import io

    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(export_headers())
    yield UTF8_BOM + buffer.getvalue().encode("utf-8")
    statement, params = copy_statement(queryset)
    connection = connections[queryset.db]
    with connection.cursor() as cursor, cursor.cursor.copy(statement, params) as copy:
        for block in copy:
            yield bytes(block)


def csv_chunks(queryset: QuerySet[Observation]) -> Iterator[bytes]:
    if connections[queryset.db].vendor == "postgresql":
        return copy_csv(queryset)
    return stream_csv(export_headers(), export_rows(queryset))


def export_response(queryset: QuerySet[Observation], fmt: str) -> HttpResponseBase:
    """The whole filtered list as a streamed CSV, or an Excel file written row by row."""
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    queryset = queryset.select_related(None).prefetch_related(None)
    if fmt == "csv":
        response = StreamingHttpResponse(
            csv_chunks(queryset), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="findings-{stamp}.csv"'
        return response
    spool = tempfile.TemporaryFile()  # noqa: SIM115  (FileResponse closes it)
    write_xlsx(export_headers(), export_rows(queryset), spool, sheet_title=_("Findings"))
    spool.seek(0)
    return FileResponse(
        spool, as_attachment=True, filename=f"findings-{stamp}.xlsx", content_type=XLSX_TYPE
    )
