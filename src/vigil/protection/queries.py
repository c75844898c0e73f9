"""Visibility rules and reusable reads of cases and persons at risk.

A case and a person at risk exist only for their holders, the body's heads and members a head
granted them to (core's need-to-know); their referrals, transfers, incidents and follow-ups exist
for those who see the case or the person. A coordinating body sees none of its member bodies'."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q

from vigil.core.access import need_to_know, own_body
from vigil.core.models import Membership
from vigil.protection.models import Case, ProtectedPerson

# Past this many, a list says "more than N" instead of counting every row of the register.
COUNT_CAP = 1000


def case_rule(membership: Membership, queryset: models.QuerySet[Case]) -> models.QuerySet[Case]:
    return need_to_know(
        membership,
        own_body(membership, queryset),
        restricted=Q(pk__isnull=False),
        holders=Q(holders=membership),
    )


def person_rule(
    membership: Membership, queryset: models.QuerySet[ProtectedPerson]
) -> models.QuerySet[ProtectedPerson]:
    return need_to_know(
        membership,
        own_body(membership, queryset),
        restricted=Q(pk__isnull=False),
        holders=Q(holders=membership),
    )


def referral_rule(membership: Membership, queryset: models.QuerySet[Any]) -> models.QuerySet[Any]:
    return queryset.filter(case__in=case_rule(membership, Case.objects.all()).values("pk"))


def person_child_rule(
    membership: Membership, queryset: models.QuerySet[Any]
) -> models.QuerySet[Any]:
    return queryset.filter(
        person__in=person_rule(membership, ProtectedPerson.objects.all()).values("pk")
    )


def capped_count(queryset: models.QuerySet[Any], cap: int = COUNT_CAP) -> tuple[int, bool]:
    """(count, whether there are more): counts at most `cap` + 1 rows."""
    found = queryset.order_by().values("pk")[: cap + 1].count()
    return min(found, cap), found > cap
