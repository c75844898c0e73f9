"""The places export: the list's places, in the list's order, as CSV or Excel.

Its columns are the import's fields (vigil.places.spec.COLUMNS), so an unchanged export imports
as unchanged. On PostgreSQL the CSV is PostgreSQL's own `COPY … CSV` of one query, with the
labels joined and formula characters neutralised in SQL (several times faster than writing
rows in Python); elsewhere, and for Excel, rows are written in Python from the same lookups,
in chunks, so any number of places fits in flat memory. Both writers give the same bytes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from django.db import connections
from django.db.models import Q, QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from vigil.core.models import Body, Membership, TaxonomyTerm
from vigil.core.tabular import CSV_CHUNK_SIZE, FORMULA_PREFIXES, stream_csv
from vigil.places.models import OperatorKind, Place, PlaceIdentifier, PlaceStatus, Region
from vigil.places.spec import COLUMNS

CHUNK = 2000
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def export_headers() -> list[str]:
    """The import's labels of the exported fields, in the active language."""
    from vigil.places.importer import PlaceImporter

    fields = PlaceImporter.fields
    return [str(fields[column.field].label) for column in COLUMNS]


@dataclass
class Lookups:
    """The labels an export writes instead of ids and codes, read once per export."""

    bodies: dict[int, str]
    types: dict[int, str]
    regions: dict[int, str]
    statuses: dict[str, str]
    operators: dict[str, str]
    groups: dict[int, str]

    def table(self, name: str) -> dict[Any, str]:
        table: dict[Any, str] = getattr(self, name)
        return table


def scope_body_ids(membership: Membership) -> list[int]:
    """The member's body and the bodies it coordinates: whose places the list may show."""
    return list(
        Body.objects.filter(
            Q(pk=membership.body_id) | Q(coordinator_id=membership.body_id)
        ).values_list("pk", flat=True)
    )


def region_paths(body_ids: list[int]) -> dict[int, str]:
    """Each region as the importer reads it back: "Region > District > Municipality"."""
    rows = {
        pk: (name, parent_id)
        for pk, name, parent_id in Region.objects.filter(body_id__in=body_ids).values_list(
            "pk", "name", "parent_id"
        )
    }
    paths: dict[int, str] = {}

    def path(pk: int) -> str:
        if pk not in paths:
            name, parent_id = rows[pk]
            paths[pk] = f"{path(parent_id)} > {name}" if parent_id in rows else name
        return paths[pk]

    for pk in rows:
        path(pk)
    return paths


def build_lookups(body_ids: list[int]) -> Lookups:
    terms = TaxonomyTerm.objects.filter(
        body_id__in=body_ids, kind__in=["place_type", "vulnerable_group"]
    ).values_list("pk", "kind", "label")
    translated: dict[str, str] = {}

    def label(text: str) -> str:
        if text not in translated:
            translated[text] = _(text) if text else ""
        return translated[text]

    types: dict[int, str] = {}
    groups: dict[int, str] = {}
    for pk, kind, text in terms:
        (types if kind == "place_type" else groups)[pk] = label(text)
    return Lookups(
        bodies=dict(Body.objects.filter(pk__in=body_ids).values_list("pk", "name")),
        types=types,
        regions=region_paths(body_ids),
        statuses={value: str(text) for value, text in PlaceStatus.choices},
        operators={value: str(text) for value, text in OperatorKind.choices},
        groups=groups,
    )


# ---------- Rows written in Python (SQLite, Excel) ----------


def _lines(value: str | None) -> str:
    if not value:
        return ""
    return "; ".join(line.strip() for line in value.splitlines() if line.strip())


def export_rows(queryset: QuerySet[Place], lookups: Lookups) -> Iterator[list[object]]:
    """One list per place, in COLUMNS' order; population groups and identifiers are read per
    chunk."""
    sources = list(dict.fromkeys(column.source for column in COLUMNS))
    position = {source: index for index, source in enumerate(sources)}
    plan = [(column, position[column.source]) for column in COLUMNS]
    tables = {column.lookup: lookups.table(column.lookup) for column in COLUMNS if column.lookup}
    rows = queryset.values_list(*sources).iterator(chunk_size=CHUNK)
    through = Place.population_groups.through
    while True:
        chunk = list(islice(rows, CHUNK))
        if not chunk:
            return
        place_ids = [row[position["id"]] for row in chunk]
        groups: dict[int, list[str]] = defaultdict(list)
        for place_id, term_id in through.objects.filter(place_id__in=place_ids).values_list(
            "place_id", "taxonomyterm_id"
        ):
            if term_id in lookups.groups:
                groups[place_id].append(lookups.groups[term_id])
        identifiers: dict[int, list[str]] = defaultdict(list)
        for place_id, scheme, text in PlaceIdentifier.objects.filter(
            place_id__in=place_ids
        ).values_list("place_id", "scheme", "value"):
            identifiers[place_id].append(f"{scheme}: {text}")
        for row in chunk:
            values: list[object] = []
            for column, index in plan:
                value = row[index]
                if column.kind == "lookup":
                    value = tables[column.lookup].get(value, "") if value is not None else ""
                elif column.kind == "lines":
                    value = _lines(value)
                elif column.kind == "groups":
                    value = "; ".join(sorted(groups.get(value, [])))
                elif column.kind == "identifiers":
                    value = "; ".join(sorted(identifiers.get(value, [])))
                values.append(value)
            yield values


# ---------- CSV through PostgreSQL's COPY ----------


def _neutralised(sql: str) -> str:
    """`sql`'s text with a leading apostrophe where a spreadsheet would see a formula (as
    core.tabular.neutralise_cell), and empty text as NULL, which COPY writes as an empty cell."""
    firsts = ", ".join(
        f"chr({ord(prefix)})" if not prefix.isprintable() else f"'{prefix}'"
        for prefix in FORMULA_PREFIXES
    )
    return (
        f"NULLIF(CASE WHEN substr({sql}, 1, 1) IN ({firsts}) THEN '''' || {sql} ELSE {sql} END, '')"
    )


def _lookup_cte(name: str, table: dict[Any, str], key_type: str) -> tuple[str, list[Any]]:
    if not table:
        return f"l_{name}(k, v) AS (SELECT NULL::{key_type}, NULL::text WHERE false)", []
    values = ", ".join(f"(%s::{key_type}, %s::text)" for _ in table)
    params = [item for pair in table.items() for item in pair]
    return f"l_{name}(k, v) AS (VALUES {values})", params


def _column_sql(column: Any) -> tuple[str, str]:
    """The select expression of one column, and the join it needs (if any)."""
    source = f"p.{column.source}"
    if column.kind == "text":
        return _neutralised(source), ""
    if column.kind == "number":
        return f"{source}::text", ""
    if column.kind == "decimal":
        return f"trim_scale({source})::text", ""
    if column.kind == "date":
        return f"to_char({source}, 'YYYY-MM-DD')", ""
    if column.kind == "lines":
        # One name per line, trimmed, blank lines left out, written separated by "; ".
        trimmed = "btrim(line, ' ' || chr(9) || chr(11) || chr(12))"
        lines = (
            f"array_to_string(ARRAY(SELECT {trimmed} FROM regexp_split_to_table("  # noqa: S608
            f"{source}, '\\r\\n|[\\n\\r]') AS line WHERE {trimmed} <> ''), '; ')"
        )
        return _neutralised(f"({lines})"), ""
    if column.kind == "lookup":
        alias = f"j_{column.lookup}"
        join = f"LEFT JOIN l_{column.lookup} {alias} ON {alias}.k = {source}"
        return _neutralised(f"{alias}.v"), join
    if column.kind == "groups":
        groups = (
            "(SELECT string_agg(g.v, '; ' ORDER BY g.v COLLATE \"C\") "  # noqa: S608
            f"FROM {Place.population_groups.through._meta.db_table} t "
            "JOIN l_groups g ON g.k = t.taxonomyterm_id WHERE t.place_id = p.id)"
        )
        return _neutralised(groups), ""
    if column.kind == "identifiers":
        identifiers = (
            "(SELECT string_agg(i.scheme || ': ' || i.value, '; ' "  # noqa: S608
            "ORDER BY (i.scheme || ': ' || i.value) COLLATE \"C\") "
            f"FROM {PlaceIdentifier._meta.db_table} i WHERE i.place_id = p.id)"
        )
        return _neutralised(identifiers), ""
    raise ValueError(f"Unknown export column kind {column.kind!r}")


def copy_sql(queryset: QuerySet[Place], lookups: Lookups) -> tuple[str, list[Any]]:
    """The `COPY (SELECT …) TO STDOUT` of the export of `queryset`, in its order, and its
    parameters."""
    ctes, params = [], []
    for name, key_type in (
        ("bodies", "bigint"),
        ("types", "bigint"),
        ("regions", "bigint"),
        ("statuses", "text"),
        ("operators", "text"),
        ("groups", "bigint"),
    ):
        cte, cte_params = _lookup_cte(name, lookups.table(name), key_type)
        ctes.append(cte)
        params += cte_params
    selects, joins = [], []
    for column in COLUMNS:
        select, join = _column_sql(column)
        selects.append(select)
        if join and join not in joins:
            joins.append(join)
    inner, inner_params = queryset.values_list("pk").query.sql_with_params()
    # The list's query, numbered in its own order, decides which places and in what order.
    sql = (
        # Built from COLUMNS and Django's own query; every value is a bound parameter.
        f"COPY (WITH {', '.join(ctes)} "  # noqa: S608
        f"SELECT {', '.join(selects)} "
        f"FROM (SELECT q.id, row_number() OVER () AS n FROM ({inner}) AS q(id)) o "
        f"JOIN {Place._meta.db_table} p ON p.id = o.id {' '.join(joins)} "
        "ORDER BY o.n) TO STDOUT WITH (FORMAT csv)"
    )
    return sql, [*params, *inner_params]


def copy_csv(queryset: QuerySet[Place], lookups: Lookups) -> Iterator[bytes]:
    """The export as CSV bytes straight from PostgreSQL, header and BOM first, in ~64 KB
    chunks, lines ending in CRLF as Python's writer ends them."""
    import psycopg

    yield from stream_csv(export_headers(), [])
    connection = connections[queryset.db]
    connection.ensure_connection()
    sql, params = copy_sql(queryset, lookups)
    # COPY takes no server-side parameters: they are bound here, by psycopg, as literals.
    statement = psycopg.ClientCursor(connection.connection).mogrify(sql, params)
    buffer: list[bytes] = []
    size = 0
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        # PostgreSQL sends one row per message: its "\n" becomes "\r\n".
        for row in copy:
            line = bytes(row[:-1]) + b"\r\n"
            buffer.append(line)
            size += len(line)
            if size >= CSV_CHUNK_SIZE:
                yield b"".join(buffer)
                buffer, size = [], 0
    if buffer:
        yield b"".join(buffer)


def csv_chunks(queryset: QuerySet[Place], membership: Membership) -> Iterator[bytes]:
    lookups = build_lookups(scope_body_ids(membership))
    if connections[queryset.db].vendor == "postgresql":
        return copy_csv(queryset, lookups)
    return stream_csv(export_headers(), export_rows(queryset, lookups))


def csv_response(queryset: QuerySet[Place], membership: Membership) -> StreamingHttpResponse:
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(
        csv_chunks(queryset, membership), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="places-{stamp}.csv"'
    return response


def export_filename(fmt: str) -> str:
    return f"places-{timezone.localtime().strftime('%Y%m%d-%H%M')}.{fmt}"
