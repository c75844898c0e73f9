"""The visits app's card on the overview and its section of the place dossier."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q
from django.http import HttpRequest
from django.utils import timezone

from vigil.core.access import visible
from vigil.core.models import Membership
from vigil.places.models import Place
from vigil.visits.models import Observation, Visit, VisitStatus
from vigil.visits.permissions import VISITS

DOSSIER_VISITS = 10


def visits_card(request: HttpRequest, membership: Membership) -> dict[str, Any] | None:
    if not VISITS.can(membership, "view"):
        return None
    counts = visible(membership, Visit).aggregate(
        upcoming=Count(
            "pk",
            filter=Q(
                planned_start__gte=timezone.localdate(),
                status__in=[VisitStatus.PLANNED, VisitStatus.PREPARING],
            ),
        ),
        in_progress=Count("pk", filter=Q(status=VisitStatus.IN_PROGRESS)),
    )
    return {
        "count": counts["upcoming"],
        "in_progress": counts["in_progress"],
        "can_plan": VISITS.can(membership, "plan"),
    }


def dossier(request: HttpRequest, membership: Membership, place: Place) -> dict[str, Any] | None:
    """The place's visits and their findings, as far as the member may see them."""
    if not VISITS.can(membership, "view"):
        return None
    visits = list(
        visible(membership, Visit)
        .filter(place=place)
        .order_by("-planned_start", "-id")[:DOSSIER_VISITS]
    )
    findings = (
        visible(membership, Observation)
        .filter(visit__place=place)
        .select_related("theme", "visit")
        .order_by("-created_at")[:DOSSIER_VISITS]
    )
    return {
        "visits": visits,
        "findings": list(findings),
        "can_plan": VISITS.can(membership, "plan"),
        "place": place,
    }
