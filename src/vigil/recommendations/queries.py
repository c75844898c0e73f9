"""Visibility rules and reusable reads of authorities and recommendations."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q

from vigil.core.access import scope_to_body
from vigil.core.models import Body, Membership, Role
from vigil.recommendations.models import Authority, FocalPoint, Recommendation

# Deep enough for ministry > service > region > institution > unit; a cycle cannot loop.
MAX_DEPTH = 12


def authority_rule(
    membership: Membership, queryset: models.QuerySet[Authority]
) -> models.QuerySet[Authority]:
    """The body's authorities and those of the bodies it coordinates."""
    return scope_to_body(queryset, membership, confidential_field=None)


def subordinate_ids(authority_ids: list[int]) -> list[int]:
    """The authorities and every unit under them, level by level (one query per level)."""
    found = list(dict.fromkeys(authority_ids))
    level = found
    for _depth in range(MAX_DEPTH):
        if not level:
            break
        level = [
            pk
            for pk in Authority.objects.filter(parent_id__in=level).values_list("pk", flat=True)
            if pk not in found
        ]
        found.extend(level)
    return found


def focal_point_authority_ids(membership: Membership) -> list[int]:
    """The authorities a focal point answers for (their own, and its units if granted)."""
    link = (
        FocalPoint.objects.filter(membership=membership, authority__body_id=membership.body_id)
        .values_list("authority_id", "include_subordinates")
        .first()
    )
    if link is None:
        return []
    authority_id, include_subordinates = link
    return subordinate_ids([authority_id]) if include_subordinates else [authority_id]


def recommendation_rule(
    membership: Membership, queryset: models.QuerySet[Recommendation]
) -> models.QuerySet[Recommendation]:
    """Staff see their body's recommendations and those of the bodies it coordinates (except
    ones about a confidential place); a focal point sees only those addressed to their
    authority (and its units if granted)."""
    if membership.role == Role.AUTHORITY_FOCAL_POINT:
        return queryset.filter(
            body_id=membership.body_id, authority_id__in=focal_point_authority_ids(membership)
        )
    confidential = Recommendation.objects.filter(places__is_confidential=True).values("pk")
    return queryset.filter(
        Q(body_id=membership.body_id)
        | (Q(body__coordinator_id=membership.body_id) & ~Q(pk__in=confidential))
    )


def _visible_recommendation_ids(membership: Membership) -> Any:
    return recommendation_rule(membership, Recommendation.objects.all()).values("pk")


def child_rule(membership: Membership, queryset: models.QuerySet[Any]) -> models.QuerySet[Any]:
    """History entries and messages exist for the staff who see their recommendation."""
    return queryset.filter(recommendation_id__in=_visible_recommendation_ids(membership))


def exchange_rule(membership: Membership, queryset: models.QuerySet[Any]) -> models.QuerySet[Any]:
    return scope_to_body(queryset, membership, confidential_field=None)


def settings_for(body: Body) -> Any:
    from vigil.recommendations.models import RecommendationSettings

    found, _created = RecommendationSettings.objects.get_or_create(body=body)
    return found


def focal_point_rule(
    membership: Membership, queryset: models.QuerySet[FocalPoint]
) -> models.QuerySet[FocalPoint]:
    return queryset.filter(authority__body_id=membership.body_id)


# ---------- The list ----------

# Past this many matches the list says "more than 1,000" instead of counting them all.
COUNT_CAP = 1000
# Pages go this deep; past it, narrowing the filters is the way on (an OFFSET grows with depth).
MAX_PAGE = 100
PAGE_SIZE = 50

SORTS = {
    "-issued": ("-issued_on", "-id"),
    "issued": ("issued_on", "id"),
    "due": ("response_due", "id"),
}


def filter_recommendations(
    queryset: models.QuerySet[Recommendation], data: dict[str, Any], *, today: Any
) -> models.QuerySet[Recommendation]:
    """Narrow by the list's filters; each is a column of one of the list's indexes."""
    if data.get("position"):
        queryset = queryset.filter(position=data["position"])
    assessment = data.get("assessment")
    if assessment == "open":
        from vigil.recommendations.models import CLOSED_ASSESSMENTS

        queryset = queryset.exclude(assessment__in=CLOSED_ASSESSMENTS)
    elif assessment:
        queryset = queryset.filter(assessment=assessment)
    if data.get("authority"):
        queryset = queryset.filter(authority=data["authority"])
    if data.get("place"):
        queryset = queryset.filter(places=data["place"])
    if data.get("theme"):
        queryset = queryset.filter(themes=data["theme"])
    if data.get("source_kind"):
        queryset = queryset.filter(source_kind=data["source_kind"])
    if data.get("priority"):
        queryset = queryset.filter(priority=data["priority"])
    if data.get("overdue"):
        queryset = queryset.filter(overdue_since__isnull=False)
    if data.get("q"):
        from vigil.places.queries import normalise_text

        for word in normalise_text(data["q"]).split()[:8]:
            queryset = queryset.filter(search_text__contains=word)
    return queryset.order_by(*SORTS.get(data.get("sort") or "-issued", SORTS["-issued"]))


def capped_count(queryset: models.QuerySet[Any], cap: int = COUNT_CAP) -> tuple[int, bool]:
    """(count, whether it is more than that): counts at most `cap` + 1 rows."""
    found = queryset.order_by().values("pk")[: cap + 1].count()
    return min(found, cap), found > cap
