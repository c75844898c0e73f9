"""The visit programme for a real body: risk scores, generation with teams, locking, moving,
re-planning, approval into planned visits, its secrecy, the calendar, settings and the API."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import MembershipFactory, PlaceFactory
from tests.invisibility import assert_invisible
from vigil.core.concurrency import StaleVersion
from vigil.core.models import AuditEntry, Role, TaxonomyTerm
from vigil.planning import services
from vigil.planning.models import (
    MonitorProfile,
    PlaceRisk,
    ProgrammeStatus,
    ProgrammeTeamMember,
    ProgrammeVisit,
)
from vigil.planning.risk import compute_risks
from vigil.visits import services as visit_services
from vigil.visits.models import Visit, VisitStatus

pytestmark = pytest.mark.django_db


def term(body, kind: str, code: str) -> TaxonomyTerm:
    return TaxonomyTerm.objects.get(body=body, kind=kind, code=code)


@pytest.fixture
def leader(persona):
    return persona(Role.VISIT_LEADER)


@pytest.fixture
def team(body, leader, persona):
    """Four people who go on visits, with their profiles: two women, two men, one doctor."""
    monitor = persona(Role.MONITOR)
    extra = [MembershipFactory(body=body, role=Role.MONITOR) for _ in range(2)]
    people = [leader, monitor, *extra]
    for member, (gender, expertise) in zip(
        people,
        [("female", ""), ("male", ""), ("female", "doctor"), ("male", "")],
        strict=True,
    ):
        MonitorProfile.objects.create(
            membership=member, gender=gender, expertise=expertise, days_per_month=6
        )
    return people


@pytest.fixture
def places(body):
    women = term(body, "vulnerable_group", "women")
    prisons = [
        PlaceFactory(body=body, name=f"Prison {n}", official_capacity=80, population=120)
        for n in range(4)
    ]
    prisons[0].population_groups.add(women)
    hospital = PlaceFactory(
        body=body,
        name="Hillside Psychiatric Hospital",
        place_type=term(body, "place_type", "psychiatric-hospital"),
        official_capacity=60,
    )
    custody = [
        PlaceFactory(
            body=body,
            name=f"Police Station {n}",
            place_type=term(body, "place_type", "police-custody"),
        )
        for n in range(3)
    ]
    return [*prisons, hospital, *custody]


def generate(leader, months: int = 3, **kwargs):
    return services.programme_generate(
        membership=leader,
        title="First quarter",
        starts_on=datetime.date(2027, 1, 1),
        months=months,
        **kwargs,
    )


# ---------- Risk ----------


def test_risk_scores_say_why(body, places, leader, persona):
    prison = places[0]
    visit = visit_services.visit_create(
        membership=leader,
        data={
            "place": places[1],
            "planned_start": timezone.localdate(),
            "planned_end": timezone.localdate(),
        },
    )
    visit_services.visit_set_status(membership=leader, visit=visit, status=VisitStatus.IN_PROGRESS)
    assert compute_risks(body) == len(places)
    never = PlaceRisk.objects.get(place=prison)
    # Never visited, 150 % full, women held.
    assert never.factors == {
        "overdue": 1.5,
        "never_visited": 1.0,
        "occupancy": 1.75,
        "vulnerable": 0.25,
    }
    assert never.score == pytest.approx(3 * 1.5 + 1.0 + 2 * 1.75 + 0.25)
    recent = PlaceRisk.objects.get(place=places[1])
    assert recent.months_since_visit == 0 and recent.factors["overdue"] == 0
    assert recent.score < never.score


def test_risk_computation_costs_the_same_queries_for_many_places(
    body, places, django_assert_max_num_queries
):
    compute_risks(body)
    with django_assert_max_num_queries(12):
        compute_risks(body)
    for n in range(30):
        PlaceFactory(body=body, name=f"Extra {n}", official_capacity=10, population=11)
    with django_assert_max_num_queries(12):
        assert compute_risks(body) == len(places) + 30


# ---------- Generating ----------


def test_a_generated_programme_visits_places_with_teams_within_their_days(
    body, leader, team, places
):
    programme = generate(leader)
    entries = list(programme.entries.select_related("place"))
    assert entries, "the planner proposed no visit"
    assert programme.objective is not None and programme.bound is not None
    assert programme.gap is not None and programme.gap < 0.01
    # Each member within their days in each month, and a working week at most in any week.
    used: dict[tuple[int, int], int] = {}
    weeks: dict[tuple[int, int, int], int] = {}
    for entry in entries:
        seats = list(entry.team.values_list("membership_id", flat=True))
        assert len(seats) <= entry.team_size
        for member_id in seats:
            used[member_id, entry.month] = used.get((member_id, entry.month), 0) + entry.days
            key = (member_id, entry.month, entry.week)
            weeks[key] = weeks.get(key, 0) + entry.days
    assert all(days <= 6 for days in used.values())
    assert all(days <= 5 for days in weeks.values())
    entry = AuditEntry.objects.get(action="planning.programme.generate")
    assert entry.changes["visits"] == [None, len(entries)]


def test_team_composition_rules_are_met_or_named(body, leader, team, places):
    programme = generate(leader)
    by_place = {entry.place.name: entry for entry in programme.entries.select_related("place")}
    hospital = by_place.get("Hillside Psychiatric Hospital")
    assert hospital is not None  # never visited: due at once
    doctors = set(
        MonitorProfile.objects.filter(expertise="doctor").values_list("membership", flat=True)
    )
    members = set(hospital.team.values_list("membership_id", flat=True))
    assert members & doctors or "no_medical_member" in hospital.warnings
    women_prison = by_place.get("Prison 0")
    assert women_prison is not None
    genders = set(
        MonitorProfile.objects.filter(
            membership__in=women_prison.team.values("membership")
        ).values_list("gender", flat=True)
    )
    assert {"female", "male"} <= genders or "no_mixed_team" in women_prison.warnings


def test_a_member_is_never_sent_where_they_declared_a_conflict(body, leader, team, places):
    for member in team:
        member.monitor_profile.conflicts.add(places[4])
    programme = generate(leader)
    entry = programme.entries.get(place=places[4])
    assert not entry.team.exists()
    assert "team_short" in entry.warnings


def test_bad_settings_are_refused_with_their_reason(leader, places):
    with pytest.raises(ValidationError) as error:
        services.programme_generate(
            membership=leader, title=" ", starts_on=datetime.date(2027, 1, 1), months=13
        )
    assert set(error.value.message_dict) == {"title", "months"}


def test_more_due_places_than_capacity_is_said_with_the_shortfall(body, leader, places):
    # Only the visit leader, with 2 days a month: far too little.
    MonitorProfile.objects.create(membership=leader, days_per_month=2)
    programme = generate(leader, months=1)
    kinds = [note.split(":")[0] for note in programme.diagnosis]
    assert "coverage" in kinds


def test_only_planners_generate(persona, places):
    with pytest.raises(PermissionDenied):
        generate(persona(Role.MONITOR))
    with pytest.raises(PermissionDenied):
        generate(persona(Role.ANALYST))


# ---------- Changing and re-planning ----------


def test_locked_and_moved_visits_stay_where_they_are_on_re_plan(body, leader, team, places):
    programme = generate(leader)
    first, second = list(programme.entries.order_by("pk"))[:2]
    services.entry_set_locked(membership=leader, entry=first, locked=True, version=1)
    target = (first.month + 1) % programme.months
    services.entry_move(membership=leader, entry=second, month=target, week=3, version=2)
    team_before = set(first.team.values_list("membership_id", flat=True))
    programme.refresh_from_db()
    programme = services.programme_replan(
        membership=leader, programme=programme, version=programme.version
    )
    first_after = programme.entries.get(place=first.place)
    second_after = programme.entries.get(place=second.place)
    assert (first_after.month, first_after.locked) == (first.month, True)
    assert (second_after.month, second_after.week, second_after.locked) == (target, 3, True)
    assert set(first_after.team.values_list("membership_id", flat=True)) == team_before
    assert set(programme.last_change) == {"objective", "late", "visits", "moved"}
    assert AuditEntry.objects.filter(action="planning.programme.replan").count() == 1


def test_a_change_based_on_an_old_version_is_refused_with_who_changed_it(leader, team, places):
    programme = generate(leader)
    entry = programme.entries.first()
    services.entry_set_locked(membership=leader, entry=entry, locked=True, version=1)
    with pytest.raises(StaleVersion) as error:
        services.entry_move(membership=leader, entry=entry, month=0, week=0, version=1)
    assert error.value.current_version == 2
    entry.refresh_from_db()
    assert entry.week != 0 or entry.month != 0 or entry.locked  # nothing moved by the refusal


def test_a_move_outside_the_period_is_refused(leader, team, places):
    programme = generate(leader)
    entry = programme.entries.first()
    with pytest.raises(ValidationError) as error:
        services.entry_move(membership=leader, entry=entry, month=7, week=5)
    assert set(error.value.message_dict) == {"month", "week"}


def test_a_member_taken_off_is_replaced_by_someone_free(leader, team, places):
    programme = generate(leader)
    entry = next(e for e in programme.entries.all() if e.team.exists())
    removed = entry.team.first().membership
    services.entry_remove_member(membership=leader, entry=entry, member=removed)
    assert not entry.team.filter(membership=removed).exists()
    assert AuditEntry.objects.filter(action="planning.entry.remove_member").exists()


# ---------- Approval ----------


def test_approval_makes_planned_unannounced_visits_with_their_teams(leader, team, places):
    programme = generate(leader)
    count = programme.entries.count()
    programme = services.programme_approve(
        membership=leader, programme=programme, version=programme.version
    )
    assert programme.status == ProgrammeStatus.APPROVED
    visits = Visit.objects.filter(place__in=places)
    assert visits.count() == count
    for entry in programme.entries.select_related("visit"):
        visit = entry.visit
        assert visit is not None and not visit.is_announced
        assert visit.status == VisitStatus.PLANNED
        assert visit.planned_start.weekday() == 0
        assert set(visit.team.values_list("membership_id", flat=True)) == set(
            entry.team.values_list("membership_id", flat=True)
        )
    with pytest.raises(ValidationError):
        services.programme_replan(membership=leader, programme=programme)


# ---------- Secrecy ----------


def test_a_monitor_sees_only_the_programme_visits_they_are_on(
    leader, team, places, client_for, persona
):
    programme = generate(leader)
    monitor = persona(Role.MONITOR)
    mine = ProgrammeVisit.objects.filter(programme=programme, team__membership=monitor)
    others = ProgrammeVisit.objects.filter(programme=programme).exclude(team__membership=monitor)
    assert mine.exists() and others.exists()
    page = client_for(monitor).get(programme.get_absolute_url())
    assert page.status_code == 200
    text = page.content.decode()
    for entry in mine:
        assert entry.place.name in text
    for entry in others:
        assert f">{entry.place.name}<" not in text
    assert "Re-plan" not in text
    api = APIClient()
    api.force_authenticate(monitor.user)
    answer = api.get("/api/v1/programme-visits/")
    assert {row["id"] for row in answer.json()["results"]} == set(mine.values_list("pk", flat=True))
    assert api.get("/api/v1/place-risks/").status_code == 403


# Internal non-planner, external role, another body, member body (assert_invisible walks every
# surface: a few personas cover each kind of boundary).
@pytest.mark.parametrize("username", ["analyst", "focal", "outsider", "regional"])
def test_the_programme_does_not_exist_for_anyone_else(username, leader, team, places, personas):
    programme = generate(leader)
    member = personas(username)
    assert assert_invisible(member, programme) > 0
    entry = programme.entries.first()
    assert assert_invisible(member, entry) > 0


def test_a_monitor_on_no_visit_of_it_does_not_know_the_programme(leader, team, places, body):
    programme = generate(leader)
    outsider_monitor = MembershipFactory(body=body, role=Role.MONITOR)
    ProgrammeTeamMember.objects.filter(membership=outsider_monitor).delete()
    assert assert_invisible(outsider_monitor, programme) > 0


# ---------- Pages ----------


def test_the_pages_show_the_programme_and_why(leader, team, places, client_for):
    client = client_for(leader)
    response = client.post(
        "/planning/",
        {"title": "Spring", "starts_on": "2027-04-01", "months": "3", "time_limit": "5"},
    )
    assert response.status_code == 302
    programme = leader.body.programmes.get(title="Spring")
    page = client.get(programme.get_absolute_url())
    assert page.status_code == 200
    assert "Places beyond their maximum interval at the end" in page.content.decode()
    planned = programme.entries.first()
    explain = client.get(f"/planning/{programme.pk}/places/{planned.place_id}/")
    assert "Planned" in explain.content.decode()
    assert "Risk score" in explain.content.decode()
    risk = client.get("/planning/risk/")
    assert places[0].name in risk.content.decode()


def test_a_stale_page_action_says_so_and_changes_nothing(leader, team, places, client_for):
    programme = generate(leader)
    entry = programme.entries.first()
    client = client_for(leader)
    url = f"/planning/{programme.pk}/visits/{entry.pk}/lock/"
    assert client.post(url, {"version": 1, "locked": "1"}).status_code == 302
    response = client.post(url, {"version": 1, "locked": "0"}, follow=True)
    assert (
        "since you opened it" in response.content.decode() or "changed" in response.content.decode()
    )
    entry.refresh_from_db()
    assert entry.locked


def test_the_calendar_names_no_place_unless_asked(leader, team, places, client_for, persona):
    generate(leader)
    monitor = persona(Role.MONITOR)
    client = client_for(monitor)
    neutral = client.get("/planning/calendar.ics").content.decode()
    mine = ProgrammeVisit.objects.filter(team__membership=monitor)
    assert neutral.count("BEGIN:VEVENT") == mine.count() > 0
    assert "Visit (unannounced)" in neutral
    assert not any(entry.place.name in neutral for entry in ProgrammeVisit.objects.all())
    named = client.get("/planning/calendar.ics?names=1").content.decode()
    assert all(entry.place.name in named for entry in mine)


def test_settings_are_the_heads_and_bad_values_are_refused(head_membership, leader, client_for):
    client = client_for(head_membership)
    page = client.get("/planning/settings/")
    assert page.status_code == 200
    data = {
        "reserve_percent": "95",
        "default_interval_months": "24",
        **{name: "12" for name in page.context["form"].fields if name.startswith("interval_")},
        **{name: "1" for name in page.context["form"].fields if name.startswith("weight_")},
    }
    refused = client.post("/planning/settings/", data)
    assert refused.status_code == 200 and "reserve_percent" in refused.context["form"].errors
    data["reserve_percent"] = "30"
    assert client.post("/planning/settings/", data).status_code == 302
    assert head_membership.body.planning_settings.reserve_percent == 30
    assert AuditEntry.objects.filter(action="planning.settings.update").exists()
    assert client_for(leader).get("/planning/settings/").status_code == 403


# ---------- API ----------


def test_the_api_generates_and_honours_if_match(leader, team, places):
    api = APIClient()
    api.force_authenticate(leader.user)
    created = api.post(
        "/api/v1/programmes/",
        {"title": "API quarter", "starts_on": "2027-01-01", "months": 3, "time_limit": 5},
        format="json",
    )
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    detail = api.get(f"/api/v1/programmes/{pk}/")
    etag = detail["ETag"]
    entry = created.json()
    visits = api.get("/api/v1/programme-visits/", {"programme": pk}).json()["results"]
    assert len(visits) > 0
    locked = api.post(
        f"/api/v1/programme-visits/{visits[0]['id']}/lock/", {"locked": True}, format="json"
    )
    assert locked.status_code == 200 and locked.json()["locked"] is True
    stale = api.post(f"/api/v1/programmes/{pk}/replan/", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412
    fresh = api.post(
        f"/api/v1/programmes/{pk}/replan/",
        HTTP_IF_MATCH=api.get(f"/api/v1/programmes/{pk}/")["ETag"],
    )
    assert fresh.status_code == 200
    assert entry["status"] == "draft"


def test_the_nightly_command_recomputes_every_body(body, other_body, places):
    from io import StringIO

    from django.core.management import call_command

    PlaceFactory(body=other_body, name="Elsewhere Jail")
    out = StringIO()
    call_command("recompute_risks", stdout=out)
    assert PlaceRisk.objects.filter(body=body).count() == len(places)
    assert PlaceRisk.objects.filter(body=other_body).count() == 1
    assert f"{body}: {len(places)} places" in out.getvalue()
