"""Visibility of the programme: it is secret. Heads and visit leaders see all of their body's;
a monitor sees the programme visits they are on; everyone else, nothing."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q

from vigil.core.models import Membership, Role
from vigil.planning.models import ProgrammeVisit

PLANNERS = frozenset({Role.HEAD, Role.VISIT_LEADER})


def _own_entries(membership: Membership) -> Any:
    return ProgrammeVisit.objects.filter(
        programme__body_id=membership.body_id, team__membership=membership
    ).values("pk")


def programme_rule(membership: Membership, queryset: models.QuerySet[Any]) -> models.QuerySet[Any]:
    mine = queryset.filter(body_id=membership.body_id)
    if membership.role in PLANNERS:
        return mine
    return mine.filter(
        pk__in=ProgrammeVisit.objects.filter(pk__in=_own_entries(membership)).values("programme_id")
    )


def entry_rule(membership: Membership, queryset: models.QuerySet[Any]) -> models.QuerySet[Any]:
    mine = queryset.filter(programme__body_id=membership.body_id)
    if membership.role in PLANNERS:
        return mine
    return mine.filter(pk__in=_own_entries(membership))


def team_rule(membership: Membership, queryset: models.QuerySet[Any]) -> models.QuerySet[Any]:
    mine = queryset.filter(entry__programme__body_id=membership.body_id)
    if membership.role in PLANNERS:
        return mine
    return mine.filter(entry_id__in=_own_entries(membership))


def planners_only(membership: Membership, queryset: models.QuerySet[Any]) -> models.QuerySet[Any]:
    """Risk scores and settings: the planners of the body."""
    if membership.role not in PLANNERS:
        return queryset.none()
    return queryset.filter(body_id=membership.body_id)


def profile_rule(membership: Membership, queryset: models.QuerySet[Any]) -> models.QuerySet[Any]:
    """A monitor's profile: the planners of the body, and the monitor."""
    mine = queryset.filter(membership__body_id=membership.body_id)
    if membership.role in PLANNERS:
        return mine
    return mine.filter(Q(membership=membership))
