"""What the protection app adds to other apps' pages: the visit preparation pack (persons to
follow up at the place, without identity) and the place dossier (how many cases and open
follow-ups there). Both show only what the member may see, and nothing at all otherwise."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.http import HttpRequest

from vigil.core.access import visible
from vigil.core.models import Membership
from vigil.places.models import Place
from vigil.protection.models import Case, FollowUp, ProtectedPerson
from vigil.protection.permissions import PROTECTION


def preparation_persons(
    request: HttpRequest, membership: Membership, visit: Any
) -> dict[str, Any] | None:
    """Persons at risk held at the visit's place whom the member follows up: pseudonym, risk
    and the contacts due; never who they are."""
    if not PROTECTION.sees_area(membership):
        return None
    persons = list(
        visible(membership, ProtectedPerson)
        .filter(current_place_id=visit.place_id, is_active=True)
        .only("id", "pseudonym", "risk_level", "next_follow_up_on", "follow_up_every_visit")
        .order_by("next_follow_up_on", "id")
    )
    if not persons:
        return None
    due: dict[int, list[FollowUp]] = {person.pk: [] for person in persons}
    for follow_up in (
        visible(membership, FollowUp)
        .filter(person_id__in=list(due), done_on__isnull=True)
        .only("id", "person_id", "due_on", "contact_kind")
    ):
        due[follow_up.person_id].append(follow_up)
    return {"persons": [(person, due[person.pk]) for person in persons]}


def place_dossier(
    request: HttpRequest, membership: Membership, place: Any
) -> dict[str, Any] | None:
    """How many open cases, persons at risk and planned contacts there are at the place, among
    those the member may see, in one query; nothing at all when there are none."""
    if not PROTECTION.sees_area(membership):
        return None

    def counted(queryset: Any, field: str) -> Subquery:
        return Subquery(
            queryset.filter(**{field: OuterRef("pk")})
            .order_by()
            .values(field)
            .annotate(n=Count("pk"))
            .values("n")[:1],
            output_field=IntegerField(),
        )

    row = (
        Place.objects.filter(pk=place.pk)
        .annotate(
            cases=counted(visible(membership, Case).filter(status="open"), "current_place_id"),
            persons=counted(
                visible(membership, ProtectedPerson).filter(is_active=True), "current_place_id"
            ),
            follow_ups=counted(
                visible(membership, FollowUp).filter(done_on__isnull=True), "place_id"
            ),
        )
        .values("cases", "persons", "follow_ups")
        .first()
    ) or {}
    counts = {key: row.get(key) or 0 for key in ("cases", "persons", "follow_ups")}
    if not any(counts.values()):
        return None
    return counts
