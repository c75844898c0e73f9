"""The recommendations dashboard: implementation by authority, theme and source, overdue
counts and the median time to a response, each as a table (readable by screen readers and on
phones). Counts are computed in the database, one grouped query per table."""

from __future__ import annotations

import statistics
from typing import Any

from django.db.models import Count, Q, QuerySet

from vigil.recommendations.models import (
    CLOSED_ASSESSMENTS,
    Assessment,
    Position,
    Recommendation,
    SourceKind,
)

# Days to a response are read for at most this many answered recommendations (the latest).
MEDIAN_SAMPLE = 20_000


def _rate(done: int, total: int) -> int | None:
    return round(100 * done / total) if total else None


def _grouped(queryset: QuerySet[Recommendation], field: str) -> list[dict[str, Any]]:
    rows = (
        queryset.order_by()
        .values(field)
        .annotate(
            total=Count("pk", distinct=True),
            implemented=Count("pk", filter=Q(assessment=Assessment.IMPLEMENTED), distinct=True),
            partly=Count(
                "pk", filter=Q(assessment=Assessment.PARTIALLY_IMPLEMENTED), distinct=True
            ),
            overdue=Count("pk", filter=Q(overdue_since__isnull=False), distinct=True),
            unanswered=Count("pk", filter=Q(position=Position.NO_RESPONSE), distinct=True),
        )
        .order_by("-total")
    )
    result = []
    for row in rows:
        row["rate"] = _rate(row["implemented"], row["total"])
        result.append(row)
    return result


def build(queryset: QuerySet[Recommendation]) -> dict[str, Any]:
    totals = queryset.order_by().aggregate(
        total=Count("pk"),
        open=Count("pk", filter=~Q(assessment__in=CLOSED_ASSESSMENTS)),
        implemented=Count("pk", filter=Q(assessment=Assessment.IMPLEMENTED)),
        overdue=Count("pk", filter=Q(overdue_since__isnull=False)),
        escalated=Count("pk", filter=Q(escalated_on__isnull=False)),
        repeated=Count("pk", filter=Q(repetition_count__gt=1)),
    )
    by_authority = _grouped(queryset, "authority__name")
    by_theme = _grouped(queryset.filter(themes__isnull=False), "themes__label")
    by_source = _grouped(queryset, "source_kind")
    labels = dict(SourceKind.choices)
    for row in by_source:
        row["label"] = labels.get(row["source_kind"], row["source_kind"])
    answered = (
        queryset.filter(position_on__isnull=False)
        .order_by("-issued_on")
        .values_list("issued_on", "position_on")[:MEDIAN_SAMPLE]
    )
    days = [(given - issued).days for issued, given in answered if given is not None]
    return {
        "totals": totals,
        "rate": _rate(totals["implemented"], totals["total"]),
        "by_authority": by_authority[:30],
        "by_theme": by_theme[:30],
        "by_source": by_source,
        "median_days_to_response": statistics.median(days) if days else None,
    }
