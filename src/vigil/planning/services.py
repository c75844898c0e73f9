"""Writes of the planner: generate a programme, lock or move a visit, take a member off, re-plan,
approve (the entries become planned visits). Each is one transaction with its audit entry."""

from __future__ import annotations

import datetime
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from vigil.core.audit import audit
from vigil.core.concurrency import bump_version, check_version
from vigil.core.models import Membership, Role
from vigil.places.models import Place
from vigil.planning import solver
from vigil.planning.models import (
    MonitorProfile,
    PlaceRisk,
    Programme,
    ProgrammeStatus,
    ProgrammeTeamMember,
    ProgrammeVisit,
    month_start,
)
from vigil.planning.permissions import PLANNING
from vigil.planning.risk import compute_risks, months_between, planned_places, settings_for
from vigil.visits.models import Expertise, Gender, VisitKind

DEFAULT_DAYS_PER_MONTH = 6
WEEKS_PER_MONTH = 4
DAYS_PER_WEEK = 5
MEDICAL_TYPES = {"psychiatric-hospital", "social-care-home"}
CHILD_TYPES = {"juvenile-institution"}
MIXED_GROUPS = {"women", "children"}
MAX_MONTHS = 12


def visit_size(capacity: int | None) -> tuple[int, int]:
    """Days and team size of a visit, by the size of the place."""
    if not capacity or capacity <= 100:
        return 1, 2
    if capacity <= 500:
        return 2, 3
    return 3, 4


@dataclass
class Monitor:
    membership: Membership
    gender: str
    expertise: str
    days_per_month: int
    conflicts: set[int]


def monitors_of(body: Any) -> list[Monitor]:
    """The members who go on visits, with what the planner needs to know of them."""
    memberships = Membership.objects.filter(
        body=body, role__in=[Role.VISIT_LEADER, Role.MONITOR], is_active=True
    ).select_related("user")
    profiles = {
        profile.membership_id: profile
        for profile in MonitorProfile.objects.filter(membership__in=memberships).prefetch_related(
            "conflicts"
        )
    }
    monitors = []
    for membership in memberships.order_by("pk"):
        profile = profiles.get(membership.pk)
        monitors.append(
            Monitor(
                membership,
                profile.gender if profile else Gender.UNSPECIFIED,
                profile.expertise if profile else "",
                profile.days_per_month if profile else DEFAULT_DAYS_PER_MONTH,
                {place.pk for place in profile.conflicts.all()} if profile else set(),
            )
        )
    return monitors


@dataclass
class PlanInputs:
    problem: solver.Problem
    places: dict[int, Place]
    risks: dict[int, PlaceRisk]
    sizes: dict[int, tuple[int, int]]
    monitors: list[Monitor]


def _inputs(programme: Programme, locked: Mapping[int, int]) -> PlanInputs:
    body = programme.body
    settings = settings_for(body)
    if not PlaceRisk.objects.filter(body=body).exists():
        compute_risks(body)
    places = {
        place.pk: place
        for place in planned_places(body)
        .select_related("place_type", "region")
        .prefetch_related("population_groups")
    }
    risks = {risk.place_id: risk for risk in PlaceRisk.objects.filter(body=body)}
    monitors = monitors_of(body)
    reserve = 1 - settings.reserve_percent / 100
    member_days = sum(monitor.days_per_month for monitor in monitors)
    capacity = tuple(int(member_days * reserve) for _month in range(programme.months))
    demands, sizes = [], {}
    for pk, place in places.items():
        risk = risks.get(pk)
        days, team = visit_size(place.official_capacity)
        sizes[pk] = (days, team)
        interval = settings.interval_for(place.place_type.code if place.place_type else "")
        since = risk.months_since_visit if risk else None
        if since is None:
            due: int | None = 0
        else:
            months_left = (
                interval - since - months_between(timezone.localdate(), programme.starts_on)
            )
            due = max(0, months_left) if months_left < programme.months else None
        demands.append(
            solver.Demand(
                pk,
                risk.score if risk else 0.0,
                due,
                days * team,
                place.region_id,
            )
        )
    problem = solver.Problem(tuple(demands), capacity, dict(locked))
    return PlanInputs(problem, places, risks, sizes, monitors)


def _lates(problem: solver.Problem, months: Mapping[int, int]) -> int:
    return sum(solver.is_late(d, months.get(d.place_id)) for d in problem.demands)


def _weeks(entries: list[ProgrammeVisit], places: Mapping[int, Place]) -> None:
    """Spread each month's visits over its weeks: a region's visits in the same week while that
    week has room (one trip), the busiest regions first, the rest to the lightest week."""
    by_month: dict[int, list[ProgrammeVisit]] = defaultdict(list)
    for entry in entries:
        by_month[entry.month].append(entry)
    for month_entries in by_month.values():
        regions: dict[Any, list[ProgrammeVisit]] = defaultdict(list)
        for entry in month_entries:
            regions[places[entry.place_id].region_id].append(entry)
        room = math.ceil(sum(e.days * e.team_size for e in month_entries) / WEEKS_PER_MONTH)
        load = [0] * WEEKS_PER_MONTH
        for group in sorted(regions.values(), key=lambda g: -sum(e.days * e.team_size for e in g)):
            week = load.index(min(load))
            for entry in group:
                cost = entry.days * entry.team_size
                if load[week] + cost > room:
                    week = load.index(min(load))
                entry.week = week
                load[week] += cost


def _requirements(place: Place) -> set[str]:
    needs = set()
    groups = {term.code for term in place.population_groups.all()}
    if groups & MIXED_GROUPS:
        needs.add("mixed")
    code = place.place_type.code if place.place_type else ""
    if code in MEDICAL_TYPES:
        needs.add("medical")
    if code in CHILD_TYPES:
        needs.add("child")
    return needs


def _meets(need: str, monitor: Monitor, team: list[Monitor]) -> bool:
    if need == "medical":
        return monitor.expertise in (Expertise.DOCTOR, Expertise.PSYCHIATRIST)
    if need == "child":
        return monitor.expertise == Expertise.CHILD_SPECIALIST
    if need == "mixed":
        genders = {member.gender for member in team}
        return monitor.gender in (Gender.FEMALE, Gender.MALE) and monitor.gender not in genders
    return False


def _met(need: str, team: list[Monitor]) -> bool:
    if need == "mixed":
        return {Gender.FEMALE, Gender.MALE} <= {member.gender for member in team}
    return any(_meets(need, member, []) for member in team)


NEED_WARNINGS = {
    "mixed": "no_mixed_team",
    "medical": "no_medical_member",
    "child": "no_child_specialist",
    "size": "team_short",
}


def _assign_teams(
    entries: list[ProgrammeVisit],
    places: Mapping[int, Place],
    monitors: list[Monitor],
    keep: Mapping[int, list[int]] | None = None,
) -> dict[int, list[int]]:
    """Give each visit a team of its size within each member's days of the month, never a
    member at a place they declared a conflict with, meeting the composition rules where the
    members allow (a warning names each rule that could not be met). Returns membership ids by
    entry id; `keep` holds teams already chosen."""
    keep = keep or {}
    by_id = {monitor.membership.pk: monitor for monitor in monitors}
    left: dict[tuple[int, int], int] = {}
    # Days each member already gives in a week of a month: at most a working week.
    week_days: dict[tuple[int, int, int], int] = defaultdict(int)
    teams: dict[int, list[int]] = {}

    def remaining(monitor: Monitor, month: int) -> int:
        return left.setdefault((monitor.membership.pk, month), monitor.days_per_month)

    for entry in entries:
        for member_id in keep.get(entry.pk, []):
            if member_id in by_id:
                left[(member_id, entry.month)] = (
                    remaining(by_id[member_id], entry.month) - entry.days
                )
                week_days[member_id, entry.month, entry.week] += entry.days
    ordered = sorted(
        entries, key=lambda e: (-len(_requirements(places[e.place_id])), e.month, e.pk)
    )
    for entry in ordered:
        place = places[entry.place_id]
        team = [by_id[pk] for pk in keep.get(entry.pk, []) if pk in by_id]

        def free(
            monitor: Monitor, entry: ProgrammeVisit = entry, team: list[Monitor] = team
        ) -> bool:
            return (
                monitor not in team
                and entry.place_id not in monitor.conflicts
                and remaining(monitor, entry.month) >= entry.days
                and week_days[monitor.membership.pk, entry.month, entry.week] + entry.days
                <= DAYS_PER_WEEK
            )

        for need in sorted(_requirements(place)):
            if _met(need, team) or len(team) >= entry.team_size:
                continue
            candidates = [m for m in monitors if free(m) and _meets(need, m, team)]
            if candidates:
                team.append(max(candidates, key=lambda m: remaining(m, entry.month)))
        while len(team) < entry.team_size:
            candidates = [m for m in monitors if free(m)]
            if not candidates:
                break
            team.append(
                max(candidates, key=lambda m: (remaining(m, entry.month), -m.membership.pk))
            )
        for member in team:
            if entry.pk not in keep or member.membership.pk not in keep[entry.pk]:
                left[(member.membership.pk, entry.month)] = (
                    remaining(member, entry.month) - entry.days
                )
                week_days[member.membership.pk, entry.month, entry.week] += entry.days
        warnings = [
            NEED_WARNINGS[need] for need in sorted(_requirements(place)) if not _met(need, team)
        ]
        if len(team) < entry.team_size:
            warnings.append(NEED_WARNINGS["size"])
        entry.warnings = warnings
        teams[entry.pk] = [member.membership.pk for member in team]
    return teams


def _store(
    programme: Programme,
    inputs: PlanInputs,
    solution: solver.Solution,
    kept: Mapping[int, ProgrammeVisit],
    kept_teams: Mapping[int, list[int]],
) -> None:
    """Replace the programme's unlocked entries by the solution's, and give them teams."""
    programme.entries.exclude(pk__in=[entry.pk for entry in kept.values()]).delete()
    new = []
    for place_id, month in solution.months.items():
        if place_id in kept:
            continue
        days, team_size = inputs.sizes[place_id]
        new.append(
            ProgrammeVisit(
                programme=programme,
                place_id=place_id,
                month=month,
                days=days,
                team_size=team_size,
                value=inputs.risks[place_id].score if place_id in inputs.risks else 0.0,
            )
        )
    ProgrammeVisit.objects.bulk_create(new, batch_size=2000)
    entries = list(programme.entries.all())
    _weeks([entry for entry in entries if not entry.locked], inputs.places)
    teams = _assign_teams(entries, inputs.places, inputs.monitors, kept_teams)
    ProgrammeVisit.objects.bulk_update(entries, ["week", "warnings"], batch_size=2000)
    ProgrammeTeamMember.objects.filter(entry__programme=programme).delete()
    ProgrammeTeamMember.objects.bulk_create(
        [
            ProgrammeTeamMember(entry_id=entry_id, membership_id=member_id)
            for entry_id, members in teams.items()
            for member_id in members
        ],
        batch_size=2000,
    )
    programme.objective = solution.objective
    programme.bound = solution.bound
    programme.solve_seconds = round(solution.seconds, 3)
    programme.solver_status = solution.status
    programme.diagnosis = solution.diagnosis
    programme.capacity = list(inputs.problem.capacity)


def _validate_period(starts_on: Any, months: Any) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not isinstance(starts_on, datetime.date):
        errors["starts_on"] = [_("Give the programme's first month.")]
    if not isinstance(months, int) or not 1 <= months <= MAX_MONTHS:
        errors["months"] = [_("A programme covers 1 to 12 months.")]
    return errors


@transaction.atomic
def programme_generate(
    *,
    membership: Membership,
    title: str,
    starts_on: datetime.date,
    months: int,
    time_limit: int = 10,
) -> Programme:
    """Propose a programme for the period: the planner's visits, weeks and teams."""
    PLANNING.require(membership, "plan")
    errors = _validate_period(starts_on, months)
    title = " ".join((title or "").split())
    if not title:
        errors["title"] = [_("Give the programme a title.")]
    if not 1 <= int(time_limit or 0) <= 600:
        errors["time_limit"] = [_("Give the planner 1 to 600 seconds.")]
    if errors:
        raise ValidationError(errors)
    programme = Programme.objects.create(
        body=membership.body,
        title=title,
        starts_on=starts_on.replace(day=1),
        months=months,
        time_limit=time_limit,
        created_by=membership.user,
    )
    compute_risks(membership.body)
    inputs = _inputs(programme, {})
    solution = solver.solve(inputs.problem, time_limit=time_limit)
    _store(programme, inputs, solution, {}, {})
    programme.save()
    audit(
        actor=membership.user,
        action="planning.programme.generate",
        obj=programme,
        changes={
            "title": [None, title],
            "starts_on": [None, programme.starts_on.isoformat()],
            "months": [None, months],
            "visits": [None, len(solution.months)],
        },
    )
    return programme


def _editable(membership: Membership, programme: Programme) -> Programme:
    PLANNING.require(membership, "plan", programme)
    programme = Programme.objects.select_for_update().get(pk=programme.pk)
    if programme.status != ProgrammeStatus.DRAFT:
        raise ValidationError(_("This programme is approved: make a new one to change it."))
    return programme


def _check_version(programme: Programme, version: int | None) -> None:
    """Refuse a change based on a version of the programme someone has changed since (who,
    when and what, from the audit trail)."""
    check_version(programme, version)


@transaction.atomic
def entry_set_locked(
    *, membership: Membership, entry: ProgrammeVisit, locked: bool, version: int | None = None
) -> ProgrammeVisit:
    """Lock a visit where it is (re-planning keeps it), or let the planner move it again."""
    programme = _editable(membership, entry.programme)
    _check_version(programme, version)
    entry = ProgrammeVisit.objects.select_for_update().get(pk=entry.pk)
    if entry.locked != locked:
        entry.locked = locked
        entry.save(update_fields=["locked"])
        audit(
            actor=membership.user,
            action="planning.entry.lock" if locked else "planning.entry.unlock",
            obj=programme,
            changes={
                "place": [None, str(entry.place)],
                "locked": [not locked, locked],
                **_bump(programme),
            },
        )
    return entry


@transaction.atomic
def entry_move(
    *,
    membership: Membership,
    entry: ProgrammeVisit,
    month: int,
    week: int,
    version: int | None = None,
) -> ProgrammeVisit:
    """Move a visit to another month and week; a moved visit is locked there."""
    programme = _editable(membership, entry.programme)
    _check_version(programme, version)
    errors: dict[str, list[str]] = {}
    if not isinstance(month, int) or not 0 <= month < programme.months:
        errors["month"] = [_("Choose a month of the programme.")]
    if not isinstance(week, int) or not 0 <= week < WEEKS_PER_MONTH:
        errors["week"] = [_("Choose a week from 1 to 4.")]
    if errors:
        raise ValidationError(errors)
    entry = ProgrammeVisit.objects.select_for_update().get(pk=entry.pk)
    before = [entry.month, entry.week]
    entry.month, entry.week, entry.locked = month, week, True
    entry.save(update_fields=["month", "week", "locked"])
    audit(
        actor=membership.user,
        action="planning.entry.move",
        obj=programme,
        changes={
            "place": [None, str(entry.place)],
            "month_week": [before, [month, week]],
            **_bump(programme),
        },
    )
    return entry


@transaction.atomic
def entry_remove_member(
    *,
    membership: Membership,
    entry: ProgrammeVisit,
    member: Membership,
    version: int | None = None,
) -> ProgrammeVisit:
    """Take a member off a visit; the planner finds someone else for the seat when it can."""
    programme = _editable(membership, entry.programme)
    _check_version(programme, version)
    seat = ProgrammeTeamMember.objects.filter(entry=entry, membership=member).first()
    if seat is None:
        raise ValidationError({"member": [_("This person is not on this visit's team.")]})
    seat.delete()
    inputs = _inputs(programme, {})
    entries = list(programme.entries.all())
    kept = _current_teams(programme)
    kept[entry.pk] = [pk for pk in kept.get(entry.pk, []) if pk != member.pk]
    # The removed member stays off this visit: treat them as in conflict with its place.
    for monitor in inputs.monitors:
        if monitor.membership.pk == member.pk:
            monitor.conflicts.add(entry.place_id)
    teams = _assign_teams(entries, inputs.places, inputs.monitors, kept)
    ProgrammeVisit.objects.bulk_update(entries, ["warnings"])
    ProgrammeTeamMember.objects.filter(entry__programme=programme).delete()
    ProgrammeTeamMember.objects.bulk_create(
        [ProgrammeTeamMember(entry_id=e, membership_id=m) for e, ms in teams.items() for m in ms]
    )
    audit(
        actor=membership.user,
        action="planning.entry.remove_member",
        obj=programme,
        changes={
            "place": [None, str(entry.place)],
            "member": [str(member), None],
            **_bump(programme),
        },
    )
    return entry


def _current_teams(programme: Programme) -> dict[int, list[int]]:
    teams: dict[int, list[int]] = defaultdict(list)
    for entry_id, member_id in ProgrammeTeamMember.objects.filter(
        entry__programme=programme
    ).values_list("entry_id", "membership_id"):
        teams[entry_id].append(member_id)
    return dict(teams)


def _bump(programme: Programme) -> dict[str, Any]:
    """Raise the programme's version; returns the change for the audit entry."""
    changes = bump_version(programme)
    programme.save(update_fields=["version"])
    return changes


@transaction.atomic
def programme_replan(
    *, membership: Membership, programme: Programme, version: int | None = None
) -> Programme:
    """Re-optimise every visit that is not locked, keeping the locked ones and their teams, and
    record what got worse."""
    programme = _editable(membership, programme)
    _check_version(programme, version)
    locked_entries = {entry.place_id: entry for entry in programme.entries.filter(locked=True)}
    before_months = dict(programme.entries.values_list("place_id", "month"))
    inputs = _inputs(programme, {pk: entry.month for pk, entry in locked_entries.items()})
    before = solver.objective(inputs.problem, before_months)
    solution = solver.solve(inputs.problem, time_limit=programme.time_limit)
    kept_teams = {
        entry_id: members
        for entry_id, members in _current_teams(programme).items()
        if entry_id in {entry.pk for entry in locked_entries.values()}
    }
    _store(programme, inputs, solution, locked_entries, kept_teams)
    programme.last_change = {
        "objective": [round(before, 3), round(solution.objective, 3)],
        "late": [_lates(inputs.problem, before_months), _lates(inputs.problem, solution.months)],
        "visits": [len(before_months), len(solution.months)],
        "moved": sum(
            1 for pk, month in solution.months.items() if before_months.get(pk) not in (None, month)
        ),
    }
    changes = bump_version(
        programme,
        {"objective": programme.last_change["objective"], "late": programme.last_change["late"]},
    )
    programme.save()
    audit(actor=membership.user, action="planning.programme.replan", obj=programme, changes=changes)
    return programme


@transaction.atomic
def programme_approve(
    *, membership: Membership, programme: Programme, version: int | None = None
) -> Programme:
    """Approve the programme: each of its visits becomes a planned, unannounced visit with its
    team (the first member leads it)."""
    from vigil.visits import services as visit_services

    PLANNING.require(membership, "approve", programme)
    programme = _editable(membership, programme)
    _check_version(programme, version)
    teams = _current_teams(programme)
    members = {
        m.pk: m
        for m in Membership.objects.filter(pk__in={pk for ms in teams.values() for pk in ms})
    }
    profiles = {
        profile.membership_id: profile
        for profile in MonitorProfile.objects.filter(membership_id__in=members)
    }
    created = 0
    for entry in programme.entries.select_related("place").order_by("month", "week", "pk"):
        start = month_start(programme, entry.month) + datetime.timedelta(days=7 * entry.week)
        start += datetime.timedelta(days=(7 - start.weekday()) % 7)  # a Monday
        visit = visit_services.visit_create(
            membership=membership,
            data={
                "place": entry.place,
                "kind": VisitKind.REGULAR,
                "is_announced": False,
                "planned_start": start,
                "planned_end": start + datetime.timedelta(days=entry.days - 1),
            },
            lead=False,
        )
        for position, member_id in enumerate(teams.get(entry.pk, [])):
            profile = profiles.get(member_id)
            visit_services.team_add(
                membership=membership,
                visit=visit,
                member=members[member_id],
                team_role="leader" if position == 0 else "member",
                gender=profile.gender if profile else Gender.UNSPECIFIED,
                expertise=profile.expertise if profile else "",
                languages=profile.languages if profile else "",
            )
        entry.visit = visit
        entry.save(update_fields=["visit"])
        created += 1
    programme.status = ProgrammeStatus.APPROVED
    programme.approved_at = timezone.now()
    changes = bump_version(
        programme,
        {"status": [ProgrammeStatus.DRAFT, ProgrammeStatus.APPROVED], "visits": [None, created]},
    )
    programme.save()
    audit(
        actor=membership.user, action="planning.programme.approve", obj=programme, changes=changes
    )
    return programme


@transaction.atomic
def risks_recompute(*, membership: Membership) -> int:
    PLANNING.require(membership, "plan")
    count = compute_risks(membership.body)
    audit(
        actor=membership.user,
        action="planning.risk.recompute",
        body=membership.body,
        changes={"places": [None, count]},
    )
    return count


# ---------- Reads: projection, resource gap, explanation ----------


def projection(programme: Programme) -> dict[str, Any]:
    """If the programme is carried out: the places beyond their maximum interval at the end of
    the period, by type and region, and the visit-days full coverage would need."""
    months = dict(programme.entries.values_list("place_id", "month"))
    inputs = _inputs(programme, {})
    late_by_type: dict[str, int] = defaultdict(int)
    late_by_region: dict[str, int] = defaultdict(int)
    late = 0
    for demand in inputs.problem.demands:
        if solver.is_late(demand, months.get(demand.place_id)):
            late += 1
            place = inputs.places[demand.place_id]
            late_by_type[str(place.place_type) if place.place_type else "—"] += 1
            late_by_region[str(place.region) if place.region else "—"] += 1
    needed = sum(d.days for d in inputs.problem.demands if d.due_month is not None)
    available = sum(inputs.problem.capacity)
    settings = settings_for(programme.body)
    per_monitor = (
        (
            sum(m.days_per_month for m in inputs.monitors) / len(inputs.monitors)
            if inputs.monitors
            else DEFAULT_DAYS_PER_MONTH
        )
        * (1 - settings.reserve_percent / 100)
        * programme.months
    )
    return {
        "late": late,
        "late_by_type": sorted(late_by_type.items(), key=lambda item: -item[1]),
        "late_by_region": sorted(late_by_region.items(), key=lambda item: -item[1]),
        "needed_days": needed,
        "available_days": available,
        "gap_days": max(0, needed - available),
        "monitors": len(inputs.monitors),
        "monitors_needed": math.ceil(needed / per_monitor) if per_monitor else 0,
    }


def explain_place(programme: Programme, place: Place) -> dict[str, Any]:
    """Why the place is, or is not, in the programme: its score and the binding constraint."""
    inputs = _inputs(programme, {})
    demand = next((d for d in inputs.problem.demands if d.place_id == place.pk), None)
    entry = programme.entries.filter(place=place).first()
    risk = inputs.risks.get(place.pk)
    if demand is None:
        return {"risk": risk, "entry": None, "reason": "not_planned_place"}
    if entry is not None:
        reason = "locked" if entry.locked else ("due" if demand.due_month is not None else "risk")
        return {"risk": risk, "entry": entry, "reason": reason, "due_month": demand.due_month}
    values = list(programme.entries.values_list("value", flat=True))
    lowest = min(values) if values else None
    reason = "capacity_before_due" if demand.due_month is not None else "lower_value"
    return {
        "risk": risk,
        "entry": None,
        "reason": reason,
        "due_month": demand.due_month,
        "lowest_value": lowest,
    }


def member_entries(membership: Membership) -> Iterable[ProgrammeVisit]:
    """The programme visits a member is on (for their calendar)."""
    return (
        ProgrammeVisit.objects.filter(team__membership=membership)
        .select_related("programme", "place")
        .order_by("programme__starts_on", "month", "week")
    )


@transaction.atomic
def settings_update(
    *,
    membership: Membership,
    reserve_percent: int,
    default_interval_months: int,
    intervals: Mapping[str, int],
    weights: Mapping[str, float],
) -> Any:
    PLANNING.require(membership, "settings")
    errors: dict[str, list[str]] = {}
    if not 0 <= reserve_percent <= 90:
        errors["reserve_percent"] = [_("Hold back between none and nine tenths of the capacity.")]
    if not 1 <= default_interval_months <= 120:
        errors["default_interval_months"] = [_("Give 1 to 120 months.")]
    bad = [code for code, months in intervals.items() if not 1 <= int(months) <= 120]
    if bad:
        errors["__all__"] = [_("Give 1 to 120 months for each type of place.")]
    if any(not 0 <= float(weight) <= 100 for weight in weights.values()):
        errors.setdefault("__all__", []).append(_("Give each weight from 0 to 100."))
    if errors:
        raise ValidationError(errors)
    settings = settings_for(membership.body)
    before = {
        "reserve_percent": settings.reserve_percent,
        "default_interval_months": settings.default_interval_months,
        "intervals": dict(settings.intervals),
        "weights": dict(settings.weights),
    }
    settings.reserve_percent = reserve_percent
    settings.default_interval_months = default_interval_months
    settings.intervals = {**settings.intervals, **{k: int(v) for k, v in intervals.items()}}
    settings.weights = {**settings.weights, **{k: float(v) for k, v in weights.items()}}
    settings.updated_at = timezone.now()
    settings.save()
    after = {
        "reserve_percent": settings.reserve_percent,
        "default_interval_months": settings.default_interval_months,
        "intervals": settings.intervals,
        "weights": settings.weights,
    }
    changes = {key: [before[key], after[key]] for key in after if before[key] != after[key]}
    if changes:
        audit(
            actor=membership.user, action="planning.settings.update", obj=settings, changes=changes
        )
    return settings


@transaction.atomic
def profile_update(
    *, membership: Membership, member: Membership, data: Mapping[str, Any]
) -> MonitorProfile:
    """What the planner knows of a member who goes on visits: the planners set it, and each
    monitor their own."""
    if member.pk != membership.pk:
        PLANNING.require(membership, "plan", member)
    if member.body_id != membership.body_id or member.role not in (Role.VISIT_LEADER, Role.MONITOR):
        raise ValidationError({"member": [_("Choose a visit leader or monitor of this body.")]})
    profile, _created = MonitorProfile.objects.select_for_update().get_or_create(membership=member)
    fields = ["gender", "expertise", "languages", "days_per_month"]
    before = {name: getattr(profile, name) for name in fields}
    for name in fields:
        if name in data:
            setattr(profile, name, data[name])
    if not 0 <= int(profile.days_per_month) <= 31:
        raise ValidationError({"days_per_month": [_("Give 0 to 31 days a month.")]})
    if profile.gender not in Gender.values:
        raise ValidationError({"gender": [_("Choose a gender.")]})
    if profile.expertise not in Expertise.values:
        raise ValidationError({"expertise": [_("Choose an expertise.")]})
    profile.save()
    changes = {
        name: [before[name], getattr(profile, name)]
        for name in fields
        if before[name] != getattr(profile, name)
    }
    if changes:
        audit(actor=membership.user, action="planning.profile.update", obj=profile, changes=changes)
    return profile
