"""The place dossier's section of recommendations."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from vigil.core.access import visible
from vigil.core.models import Membership
from vigil.recommendations.models import Recommendation
from vigil.recommendations.permissions import RECOMMENDATIONS

DOSSIER_LIMIT = 20


def dossier(request: HttpRequest, membership: Membership, place: Any) -> dict[str, Any] | None:
    if not RECOMMENDATIONS.can(membership, "view"):
        return None
    found = visible(membership, Recommendation).filter(places=place)
    recommendations = list(found.select_related("authority")[: DOSSIER_LIMIT + 1])
    if not recommendations:
        return None
    return {
        "recommendations": recommendations[:DOSSIER_LIMIT],
        "more": len(recommendations) > DOSSIER_LIMIT,
        "place": place,
    }


PREPARATION_LIMIT = 50


def preparation(request: HttpRequest, membership: Membership, visit: Any) -> dict[str, Any] | None:
    """The visit's place's open recommendations, to verify during the visit; and the way to
    issue new ones from the visit's findings."""
    from vigil.recommendations.models import CLOSED_ASSESSMENTS

    if not RECOMMENDATIONS.can(membership, "view"):
        return None
    open_ones = list(
        visible(membership, Recommendation)
        .filter(places=visit.place_id)
        .exclude(assessment__in=CLOSED_ASSESSMENTS)
        .select_related("authority")
        .order_by("response_due", "id")[: PREPARATION_LIMIT + 1]
    )
    return {
        "recommendations": open_ones[:PREPARATION_LIMIT],
        "more": len(open_ones) > PREPARATION_LIMIT,
        "visit": visit,
        "can_create": RECOMMENDATIONS.can(membership, "create"),
        "can_assess": RECOMMENDATIONS.can(membership, "assess"),
    }
