"""Rows of the places export, streamed in chunks so any number of places fits in flat memory."""

from __future__ import annotations

import tempfile
from collections import defaultdict
from collections.abc import Iterator
from itertools import islice

from django.db.models import QuerySet
from django.http import FileResponse, HttpResponseBase, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from vigil.core.tabular import stream_csv, write_xlsx
from vigil.places.models import Place, PlaceIdentifier, PlaceStatus
from vigil.places.spec import COLUMNS, GROUPS_HEADER, IDENTIFIERS_HEADER

CHUNK = 2000


def EXPORT_HEADERS() -> list[str]:
    return [
        *(str(column.header) for column in COLUMNS),
        str(GROUPS_HEADER),
        str(IDENTIFIERS_HEADER),
    ]


def export_rows(queryset: QuerySet[Place]) -> Iterator[list[object]]:
    """One list per place; population groups are fetched per chunk, never per row."""
    translated: dict[str, str] = {}  # type and group labels, translated once per export

    def label(text: str) -> str:
        if text not in translated:
            translated[text] = _(text)
        return translated[text]

    lookups = {
        "statuses": {value: str(text) for value, text in PlaceStatus.choices},
        "label": label,
    }
    renders = [(index, column.render) for index, column in enumerate(COLUMNS) if column.render]
    rows = queryset.values_list(*(column.name for column in COLUMNS)).iterator(chunk_size=CHUNK)
    while True:
        chunk = list(islice(rows, CHUNK))
        if not chunk:
            return
        groups: dict[int, list[str]] = defaultdict(list)
        through = Place.population_groups.through.objects.filter(
            place_id__in=[row[0] for row in chunk]
        ).values_list("place_id", "taxonomyterm__label")
        for place_id, group_label in through:
            groups[place_id].append(label(group_label))
        identifiers: dict[int, list[str]] = defaultdict(list)
        for place_id, scheme, value in PlaceIdentifier.objects.filter(
            place_id__in=[row[0] for row in chunk]
        ).values_list("place_id", "scheme", "value"):
            identifiers[place_id].append(f"{scheme}: {value}")
        for row in chunk:
            values = list(row)
            for index, render in renders:
                values[index] = render(values[index], lookups)  # type: ignore[misc]
            found = groups.get(row[0])
            values.append("; ".join(sorted(found)) if found else "")
            values.append("; ".join(sorted(identifiers.get(row[0], []))))
            yield values


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def export_response(queryset: QuerySet[Place], fmt: str) -> HttpResponseBase:
    """The whole filtered list as a streamed CSV, or an Excel file written row by row."""
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    if fmt == "csv":
        response = StreamingHttpResponse(
            stream_csv(EXPORT_HEADERS(), export_rows(queryset)),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="places-{stamp}.csv"'
        return response
    # openpyxl's write-only mode writes to a temporary file, so memory stays flat.
    spool = tempfile.TemporaryFile()  # noqa: SIM115  (FileResponse closes it)
    write_xlsx(EXPORT_HEADERS(), export_rows(queryset), spool, sheet_title=_("Places"))
    spool.seek(0)
    return FileResponse(
        spool, as_attachment=True, filename=f"places-{stamp}.xlsx", content_type=XLSX_TYPE
    )
