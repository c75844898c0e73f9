"""The filtered recommendations as a streamed CSV or an Excel file written row by row."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

from django.db.models import Prefetch, QuerySet
from django.http import FileResponse, HttpResponseBase, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from vigil.core.tabular import stream_csv, write_xlsx
from vigil.places.models import Place
from vigil.recommendations.models import Recommendation

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def export_headers() -> list[str]:
    return [
        _("Reference"),
        _("Recommendation"),
        _("Addressed to"),
        _("Places"),
        _("National or systemic"),
        _("Priority"),
        _("Source"),
        _("Source reference"),
        _("Issued on"),
        _("Response due"),
        _("Implementation due"),
        _("Authority's position"),
        _("Implementation"),
        _("Last verified on"),
        _("Overdue since"),
        _("Times made"),
    ]


def export_rows(queryset: QuerySet[Recommendation]) -> Iterator[list[object]]:
    rows = queryset.select_related("authority").prefetch_related(
        Prefetch("places", queryset=Place.objects.only("pk", "name"))
    )
    for recommendation in rows.iterator(chunk_size=2000):
        yield [
            recommendation.reference,
            recommendation.text,
            recommendation.authority.name,
            "; ".join(place.name for place in recommendation.places.all()),
            _("yes") if recommendation.is_systemic else "",
            recommendation.get_priority_display(),
            recommendation.get_source_kind_display(),
            recommendation.source_reference,
            recommendation.issued_on,
            recommendation.response_due,
            recommendation.implementation_due,
            recommendation.get_position_display(),
            recommendation.get_assessment_display(),
            recommendation.verified_on,
            recommendation.overdue_since,
            recommendation.repetition_count,
        ]


def export_response(queryset: QuerySet[Recommendation], fmt: str) -> HttpResponseBase:
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    if fmt == "csv":
        response = StreamingHttpResponse(
            stream_csv(export_headers(), export_rows(queryset)),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="recommendations-{stamp}.csv"'
        return response
    spool = tempfile.TemporaryFile()  # noqa: SIM115  (FileResponse closes it)
    write_xlsx(export_headers(), export_rows(queryset), spool, sheet_title=_("Recommendations"))
    spool.seek(0)
    return FileResponse(
        spool,
        as_attachment=True,
        filename=f"recommendations-{stamp}.xlsx",
        content_type=XLSX_TYPE,
    )
