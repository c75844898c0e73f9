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
