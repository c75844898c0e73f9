"""Visibility rules and reusable reads of visits, interviews and observations."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from django.db import connection, models, transaction
from django.db.models import Count, Q

from vigil.core.access import granted_ids, scope_to_body, visible
from vigil.core.models import Membership, Role
from vigil.visits.models import (
    Answer,
    Draft,
    Evidence,
    Interview,
    Observation,
    Obstruction,
    Question,
    Questionnaire,
    TeamMember,
    Visit,
    VisitSettings,
)

# Roles of the body that know of its secret (unannounced, not yet started) visits.
SECRET_KEEPERS = frozenset({Role.HEAD, Role.VISIT_LEADER})
# Roles of the body that read every interview of its visits.
INTERVIEW_READERS = frozenset({Role.HEAD})


def _in_scope(membership: Membership, queryset: models.QuerySet[Any], prefix: str = "") -> Any:
    """The body's visits, and member bodies' visits to places that are not confidential."""
    return scope_to_body(
        queryset,
        membership,
        body_field=f"{prefix}body",
        confidential_field=f"{prefix}place__is_confidential",
    )


def _secret_visit_condition(membership: Membership) -> Q:
    """Visits the member may know of although they are secret: their team's, their grants',
    and, for the body's own heads and visit leaders, all of the body's.

    Said as conditions on the visit itself (the member's own team places are a small indexed
    subquery), not as one subquery of visits joined to every team: at 50,000 visits that
    subquery cost more than the rest of any page listing visits or their findings."""
    allowed = Q(pk__in=TeamMember.objects.filter(membership=membership).values("visit_id")) | Q(
        pk__in=granted_ids(membership, Visit)
    )
    if membership.role in SECRET_KEEPERS:
        allowed |= Q(body_id=membership.body_id)
    return allowed


def visit_rule(membership: Membership, queryset: models.QuerySet[Visit]) -> models.QuerySet[Visit]:
    """An unannounced visit is secret until it starts."""
    secret = Q(is_announced=False, started_at__isnull=True)
    return _in_scope(membership, queryset).filter(~secret | _secret_visit_condition(membership))


def _visible_visit_ids(membership: Membership) -> Any:
    return visit_rule(membership, Visit.objects.all()).values("pk")


def child_rule(membership: Membership, queryset: models.QuerySet[Any]) -> models.QuerySet[Any]:
    """Team members and observations exist for those who see their visit."""
    return queryset.filter(visit_id__in=_visible_visit_ids(membership))


def rule_through(path: str) -> Callable[[Membership, models.QuerySet[Any]], models.QuerySet[Any]]:
    """The rule of a record that belongs to a visit through its parent (`path` leads to the
    visit's id: "register_check__visit_id" for a discrepancy)."""

    def rule(membership: Membership, queryset: models.QuerySet[Any]) -> models.QuerySet[Any]:
        return queryset.filter(**{f"{path}__in": _visible_visit_ids(membership)})

    rule.__doc__ = f"Exists for those who see the visit it belongs to (through {path})."
    return rule


def interview_content_rule(
    membership: Membership, queryset: models.QuerySet[Interview]
) -> models.QuerySet[Interview]:
    """What was said is read by the visit's team, the body's heads and grant holders; others
    may know an interview took place (counts, pseudonyms), never what it says."""
    if membership.role in INTERVIEW_READERS:
        readers = Q(visit__body_id=membership.body_id)
    else:
        readers = Q(pk__in=[])
    readers |= Q(visit__team__membership=membership)
    readers |= Q(pk__in=granted_ids(membership, Interview))
    readers |= Q(visit_id__in=granted_ids(membership, Visit))
    return queryset.filter(pk__in=Interview.objects.filter(readers).values("pk"))


def answer_rule(
    membership: Membership, queryset: models.QuerySet[Answer]
) -> models.QuerySet[Answer]:
    """Answers exist for those who see their visit; an answer given in an interview only for
    those who may read that interview (what was said there is need-to-know)."""
    readable = interview_content_rule(membership, Interview.objects.all()).values("pk")
    return child_rule(membership, queryset).filter(
        Q(interview__isnull=True) | Q(interview_id__in=readable)
    )


def evidence_rule(
    membership: Membership, queryset: models.QuerySet[Evidence]
) -> models.QuerySet[Evidence]:
    """Evidence of a finding exists for those who see the visit; evidence of an interview only
    for those who may read the interview (a photo or a recording says as much as the notes).
    Files taken off their record are gone for everyone."""
    readable = interview_content_rule(membership, Interview.objects.all()).values("pk")
    return child_rule(membership, queryset.filter(deleted_at__isnull=True)).filter(
        Q(interview__isnull=True) | Q(interview_id__in=readable)
    )


def draft_rule(membership: Membership, queryset: models.QuerySet[Draft]) -> models.QuerySet[Draft]:
    """A draft is its author's alone, in the body they wrote it in."""
    return queryset.filter(user_id=membership.user_id, body_id=membership.body_id)


def question_rule(
    membership: Membership, queryset: models.QuerySet[Question]
) -> models.QuerySet[Question]:
    return queryset.filter(questionnaire__body_id=membership.body_id)


def questionnaires_for(visit: Visit) -> models.QuerySet[Questionnaire]:
    """The questionnaire versions in use for the type of the visit's place."""
    return (
        Questionnaire.objects.filter(
            body_id=visit.body_id, is_active=True, place_types=visit.place.place_type_id
        )
        .distinct()
        .order_by("title", "pk")
    )


def is_on_team(membership: Membership, visit: Visit, *, confirmed: bool = False) -> bool:
    team = visit.team.filter(membership=membership)
    if confirmed:
        team = team.filter(conduct_confirmed_at__isnull=False)
    return team.exists()


def anonymity_k(body_id: int) -> int:
    settings = VisitSettings.objects.filter(body_id=body_id).first()
    return (
        settings.anonymity_k if settings else VisitSettings._meta.get_field("anonymity_k").default
    )


def private_interviews_by_unit(visit: Visit) -> dict[str, int]:
    from vigil.visits.rules import normalise_unit

    counts: dict[str, int] = {}
    for unit, count in (
        visit.interviews.filter(kind="private")
        .values("unit")
        .annotate(count=Count("pk"))
        .values_list("unit", "count")
    ):
        key = normalise_unit(unit)
        counts[key] = counts.get(key, 0) + count
    return counts


def obstructions_in_period(
    membership: Membership, start: datetime.date, end: datetime.date
) -> models.QuerySet[Obstruction]:
    """The obstructions and difficulties the member may see that happened between `start` and
    `end` (both days included, in the site's time zone), oldest first: the annual report's
    account of the cooperation of the authorities."""
    return (
        visible(membership, Obstruction)
        .filter(occurred_at__date__gte=start, occurred_at__date__lte=end)
        .select_related("visit", "visit__place", "visit__body")
        .order_by("occurred_at", "id")
    )


# ---------- Findings across visits ----------


def visible_observations(membership: Membership) -> models.QuerySet[Observation]:
    """The findings of every visit the member may see (the visit's rule, unwidened: a secret
    visit's findings stay with those who know of it), with what the list and export show."""
    return visible(membership, Observation).select_related(
        "theme", "visit", "visit__place", "visit__place__place_type"
    )


def year_bounds(year: int) -> tuple[datetime.datetime, datetime.datetime]:
    """The first instant of `year` and of the next, in the site's time zone: a range the
    created_at indexes serve, where `__year` would wrap the column in a function."""
    from django.utils import timezone

    zone = timezone.get_current_timezone()
    return (
        datetime.datetime(year, 1, 1, tzinfo=zone),
        datetime.datetime(year + 1, 1, 1, tzinfo=zone),
    )


def observation_counts(
    membership: Membership, observations: models.QuerySet[Observation] | None = None
) -> list[tuple[int, int | None, int, int]]:
    """(theme id, place type id, year, findings) over the findings the member may see (or the
    filtered `observations`): the analytics behind "which problems, where, and when". One
    GROUP BY on the database; the year is the year the finding was recorded, in the site's
    time zone."""
    from django.db.models.functions import ExtractYear

    if observations is None:
        observations = visible(membership, Observation)
    grouped = (
        observations.order_by()
        .annotate(year=ExtractYear("created_at"))
        .values_list("theme_id", "visit__place__place_type_id", "year")
        .annotate(findings=Count("pk"))
        .order_by("theme_id", "visit__place__place_type_id", "year")
    )
    if connection.vendor != "postgresql":
        return list(grouped)
    # PostgreSQL compiles a query this costly to machine code first (JIT): at 500,000 findings
    # that took longer than the work it was meant to speed up.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        return list(grouped)
