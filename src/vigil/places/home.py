"""The places app's cards on the overview page."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from vigil.core.access import visible
from vigil.core.models import Membership
from vigil.places.models import PossibleDuplicate
from vigil.places.permissions import PLACES
from vigil.places.queries import visible_places


def places_card(request: HttpRequest, membership: Membership) -> dict[str, Any] | None:
    if not PLACES.can(membership, "view"):
        return None
    return {"count": visible_places(membership).count()}


def duplicates_card(request: HttpRequest, membership: Membership) -> dict[str, Any] | None:
    # A card shows only where its link works: reviewing pairs means merging or dismissing them,
    # so roles that may not merge would see a count they can do nothing about.
    if not PLACES.can(membership, "merge"):
        return None
    count = (
        visible(membership, PossibleDuplicate)
        .filter(
            status=PossibleDuplicate.Status.OPEN,
            place__deleted_at__isnull=True,
            other__deleted_at__isnull=True,
        )
        .count()
    )
    return {"count": count}
