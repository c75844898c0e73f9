"""Recording a visit: the team and its code of conduct, interviews (encrypted, pseudonymous),
findings with their sources, triangulation, the anonymity guard and the urgent alert."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from tests.factories import MembershipFactory, UserFactory
from tests.visits.conftest import staff, start, theme
from vigil.core.models import AuditEntry, Role
from vigil.core.notify import Notification
from vigil.visits import rules, services
from vigil.visits.models import (
    Interview,
    InterviewKind,
    Observation,
    SourceKind,
    VisitSettings,
    VisitStatus,
)

pytestmark = pytest.mark.django_db


def record_interview(visit, membership, *, kind="private", unit="Unit A", notes="", identity=""):
    return services.interview_create(
        membership=membership,
        visit=visit,
        data={
            "kind": kind,
            "category": "detainee",
            "unit": unit,
            "notes": notes,
            "identity": identity,
            "group_size": 4 if kind == "group" else None,
        },
    )


def record_finding(
    visit, membership, *, interviews=(), sources=(), unit="Unit A", severity="concern"
):
    return services.observation_create(
        membership=membership,
        visit=visit,
        data={
            "theme": theme(visit.body),
            "unit": unit,
            "description": "Four people in a cell built for two.",
            "severity": severity,
            "other_sources": list(sources),
        },
        interviews=interviews,
    )


@pytest.fixture
def running(visit, leader):
    visit = start(visit, leader)
    staff(visit, leader)
    return visit


# ---------- Visits and their status ----------


def test_a_visit_that_ends_before_it_starts_is_refused(leader, place):
    with pytest.raises(ValidationError) as error:
        services.visit_create(
            membership=leader,
            data={
                "place": place,
                "planned_start": datetime.date(2026, 12, 5),
                "planned_end": datetime.date(2026, 12, 1),
            },
        )
    assert error.value.message_dict["planned_end"] == ["The visit ends before it starts."]


def test_status_moves_one_step_and_records_times(visit, leader):
    with pytest.raises(ValidationError, match="cannot become"):
        services.visit_set_status(membership=leader, visit=visit, status=VisitStatus.CLOSED)
    visit = start(visit, leader)
    assert visit.started_at is not None and not visit.is_secret
    visit = services.visit_set_status(membership=leader, visit=visit, status=VisitStatus.DEBRIEFED)
    assert visit.ended_at is not None
    actions = AuditEntry.objects.filter(object_id=str(visit.pk), object_type="visits.visit")
    assert actions.filter(action="visits.visit.set_status").count() == 2


def test_only_planners_plan(persona, place):
    with pytest.raises(PermissionDenied):
        services.visit_create(
            membership=persona(Role.MONITOR),
            data={
                "place": place,
                "planned_start": datetime.date(2026, 12, 1),
                "planned_end": datetime.date(2026, 12, 1),
            },
        )


# ---------- The team ----------


def test_a_team_member_must_belong_to_the_body(visit, leader, outsider_membership):
    with pytest.raises(ValidationError) as error:
        services.team_add(membership=leader, visit=visit, member=outsider_membership)
    assert "member" in error.value.message_dict
    assert visit.team.count() == 1


def test_team_warnings_follow_the_methodology(visit, leader, body):
    from vigil.core.models import TaxonomyTerm

    place = visit.place
    place.population_groups.add(TaxonomyTerm.objects.get(body=body, code="women"))
    warnings = services.team_warnings(visit)
    assert any("mixed-gender" in warning for warning in warnings)
    services.team_add(membership=leader, visit=visit, external_name="Dr Synthetic", gender="female")
    leader_row = visit.team.get(membership=leader)
    leader_row.gender = "male"
    leader_row.save()
    assert not any("mixed-gender" in w for w in services.team_warnings(visit))


def test_nothing_is_recorded_before_the_code_of_conduct(visit, leader, persona):
    visit = start(visit, leader)
    monitor = persona(Role.MONITOR)
    services.team_add(membership=leader, visit=visit, member=monitor)
    with pytest.raises(PermissionDenied, match="code of conduct"):
        record_interview(visit, monitor)
    services.team_confirm_conduct(membership=monitor, visit=visit)
    assert record_interview(visit, monitor).pseudonym.startswith("P-")


def test_someone_off_the_team_cannot_record(running, persona):
    with pytest.raises(PermissionDenied, match="team"):
        record_interview(running, persona(Role.HEAD))
    assert not Interview.objects.exists()


# ---------- Interviews ----------


def test_notes_and_identity_are_encrypted_and_every_read_is_recorded(running, leader, persona):
    interview = record_interview(
        running, leader, notes="He was kicked at the gate.", identity="Synthetic Person 12"
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT notes, identity FROM visits_interview WHERE id = %s", [interview.pk])
        notes, identity = cursor.fetchone()
    assert "kicked" not in notes and "Synthetic Person" not in identity
    entry = AuditEntry.objects.get(action="visits.interview.create")
    assert "kicked" not in str(entry.changes) and "Synthetic" not in str(entry.changes)
    assert services.interview_read_notes(membership=leader, interview=interview).startswith("He")
    assert AuditEntry.objects.filter(action="visits.interview.read", sensitive=True).count() == 1
    with pytest.raises(ValidationError, match="why"):
        services.interview_reveal_identity(membership=leader, interview=interview, purpose="")
    assert (
        services.interview_reveal_identity(
            membership=leader, interview=interview, purpose="Referral to the prosecutor"
        )
        == "Synthetic Person 12"
    )
    read = AuditEntry.objects.filter(action="visits.interview.read").latest("id")
    assert read.changes == {"fields": ["identity"], "purpose": "Referral to the prosecutor"}
    # A monitor of the body off the team: no identity.
    with pytest.raises(PermissionDenied):
        services.interview_reveal_identity(
            membership=persona(Role.MONITOR), interview=interview, purpose="curious"
        )


def test_a_group_interview_records_no_identity(running, leader):
    with pytest.raises(ValidationError) as error:
        record_interview(running, leader, kind="group", identity="Somebody")
    assert "identity" in error.value.message_dict


def test_the_api_never_returns_identities_or_notes(running, leader):
    interview = record_interview(running, leader, notes="Secret words", identity="Name X")
    api = APIClient()
    api.force_authenticate(leader.user)
    body = api.get(f"/api/v1/interviews/{interview.pk}/").json()
    assert "identity" not in body and "notes" not in body
    assert "Secret words" not in str(api.get("/api/v1/interviews/").json())
    assert api.post(f"/api/v1/interviews/{interview.pk}/notes/").json() == {"notes": "Secret words"}


# ---------- Findings, triangulation, the anonymity guard ----------


def test_a_finding_needs_a_source(running, leader):
    with pytest.raises(ValidationError) as error:
        record_finding(running, leader)
    assert "other_sources" in error.value.message_dict


def test_triangulation_and_corroboration(running, leader, client_for):
    interview = record_interview(running, leader)
    single = record_finding(running, leader, interviews=[interview])
    double = record_finding(
        running, leader, interviews=[interview], sources=[SourceKind.DIRECT_OBSERVATION]
    )
    kinds = services.observation_kinds
    assert not rules.is_corroborated(kinds(single), confirmed=False)
    assert rules.is_corroborated(kinds(double), confirmed=False)
    html = client_for(leader).get(reverse("visits:detail", args=[running.pk])).content.decode()
    assert html.count("not corroborated") == 1
    with pytest.raises(ValidationError):
        services.observation_corroborate(membership=leader, observation=single, reason=" ")
    services.observation_corroborate(
        membership=leader, observation=single, reason="Seen in the register too"
    )
    html = client_for(leader).get(reverse("visits:detail", args=[running.pk])).content.decode()
    assert "not corroborated" not in html


def test_the_guard_blocks_a_finding_from_too_few_private_interviews(running, leader, persona):
    interviews = [record_interview(running, leader, unit="Unit B") for _ in range(2)]
    finding = record_finding(running, leader, interviews=interviews, unit="Unit B")
    with pytest.raises(ValidationError) as error:
        services.require_cleared(finding)
    assert "Only 2 private interviews in Unit B; k = 5" in error.value.messages[0]
    assert finding not in services.cleared_observations(running)
    # Three more people interviewed privately in the same unit: now it may leave the team.
    for _ in range(3):
        record_interview(running, leader, unit="unit b")
    services.require_cleared(finding)
    # The body may ask for more.
    services.visit_settings_update(membership=persona(Role.HEAD), anonymity_k=8)
    with pytest.raises(ValidationError, match="k = 8"):
        services.require_cleared(finding)


def test_held_back_findings_never_leave(running, leader, persona):
    persona(Role.HEAD)
    finding = record_finding(running, leader, sources=[SourceKind.DIRECT_OBSERVATION])
    services.observation_hold_back(membership=leader, observation=finding, held_back=True)
    assert finding not in services.cleared_observations(running)


@settings(max_examples=300, deadline=None)
@given(
    interviews=st.lists(
        st.tuples(st.sampled_from(["private", "group"]), st.sampled_from(["A", "B", " a ", ""])),
        max_size=12,
    ),
    linked=st.lists(st.integers(min_value=0, max_value=11), max_size=6),
    other=st.lists(st.sampled_from([str(s) for s in SourceKind]), max_size=3),
    unit=st.sampled_from(["A", "B", "a", ""]),
    k=st.integers(min_value=1, max_value=8),
    held_back=st.booleans(),
)
def test_no_combination_lets_a_blocked_finding_through(
    interviews, linked, other, unit, k, held_back
):
    """Property: a finding supported only by private interviews leaves the team only when at
    least k private interviews were held in its unit; a held-back finding never leaves."""
    linked_kinds = [interviews[i][0] for i in linked if i < len(interviews)]
    other = [s for s in other if s not in {"private_interview", "group_interview"}]
    kinds = rules.source_kinds(linked_kinds, other)
    in_unit = sum(
        1
        for kind, where in interviews
        if kind == InterviewKind.PRIVATE
        and rules.normalise_unit(where) == rules.normalise_unit(unit)
    )
    verdict = rules.clearance(
        kinds=kinds, held_back=held_back, unit=unit, private_in_unit=in_unit, k=k
    )
    if verdict.allowed:
        assert not held_back and kinds
        if kinds == {"private_interview"}:
            assert in_unit >= k
    if kinds == {"private_interview"} and in_unit < k:
        assert not verdict.allowed
        if not held_back:
            assert f"k = {k}" in verdict.reason


def test_the_guard_counts_interviews_through_the_database(running, leader):
    """The service counts private interviews of the same unit only, whatever their spelling."""
    VisitSettings.objects.create(body=running.body, anonymity_k=2)
    group = record_interview(running, leader, kind="group", unit="Unit C")
    elsewhere = record_interview(running, leader, unit="Unit D")
    finding = record_finding(running, leader, interviews=[elsewhere], unit="Unit C")
    assert not services.observation_clearance(finding).allowed  # 0 private in Unit C
    record_interview(running, leader, unit=" unit  c")
    record_interview(running, leader, unit="UNIT C")
    assert services.observation_clearance(finding).allowed
    mixed = record_finding(running, leader, interviews=[group], unit="Unit Z")
    assert services.observation_clearance(mixed).allowed  # not source-sensitive


# ---------- The urgent alert ----------


def test_an_urgent_finding_alerts_the_heads_and_the_leader_at_once(
    running, leader, persona, django_capture_on_commit_callbacks
):
    head = persona(Role.HEAD)
    monitor = persona(Role.MONITOR)
    head.user.email = "head@example.org"
    head.user.save()
    with django_capture_on_commit_callbacks(execute=True):
        finding = record_finding(
            running, leader, sources=[SourceKind.MEDICAL, SourceKind.PHOTOS], severity="urgent"
        )
    recipients = set(
        Notification.objects.filter(kind="visits.observation.urgent").values_list(
            "recipient_id", flat=True
        )
    )
    assert recipients == {head.pk, leader.pk}
    assert monitor.pk not in recipients
    assert any("urgent finding" in message.body.lower() for message in mail.outbox)
    assert all(finding.description not in message.body for message in mail.outbox)


# ---------- Pages ----------


def test_a_monitor_records_a_visit_through_the_pages(client_for, leader, persona, place):
    monitor = persona(Role.MONITOR)
    planner = client_for(leader)
    response = planner.post(
        reverse("visits:create"),
        {
            "place": place.pk,
            "kind": "regular",
            "planned_start": "2026-12-03",
            "planned_end": "2026-12-04",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    visit = place.visits.get()
    planner.post(
        reverse("visits:team_add", args=[visit.pk]),
        {"member": monitor.pk, "team_role": "member", "gender": "male"},
    )
    planner.post(reverse("visits:confirm_conduct", args=[visit.pk]))
    planner.post(reverse("visits:status", args=[visit.pk]), {"status": "in_progress"})
    client = client_for(monitor)
    client.post(reverse("visits:confirm_conduct", args=[visit.pk]))
    response = client.post(
        reverse("visits:interview_create", args=[visit.pk]),
        {
            "kind": "private",
            "category": "detainee",
            "unit": "Unit A",
            "consent_use": "anonymous",
            "notes": "Cold cells",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    interview = visit.interviews.get()
    response = client.post(
        reverse("visits:observation_create", args=[visit.pk]),
        {
            "theme": theme(visit.body).pk,
            "unit": "Unit A",
            "description": "No heating in Unit A.",
            "severity": "serious",
            "interviews": [interview.pk],
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    page = client.get(reverse("visits:detail", args=[visit.pk])).content.decode()
    assert "No heating in Unit A." in page
    assert "Only 1 private interviews in Unit A; k = 5" in page
    assert Observation.objects.get().recorded_by == monitor.user


def test_a_bad_interview_keeps_what_was_typed(client_for, running, leader):
    response = client_for(leader).post(
        reverse("visits:interview_create", args=[running.pk]),
        {
            "kind": "group",
            "category": "detainee",
            "group_size": "1",
            "consent_use": "anonymous",
            "notes": "Kept words",
        },
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "A group interview has at least two people." in html
    assert "Kept words" in html
    assert not Interview.objects.exists()


def test_the_place_dossier_shows_its_visits(client_for, running, leader, persona):
    record_finding(running, leader, sources=[SourceKind.DIRECT_OBSERVATION])
    html = (
        client_for(persona(Role.MONITOR))
        .get(reverse("places:detail", args=[running.place.pk]))
        .content.decode()
    )
    assert reverse("visits:detail", args=[running.pk]) in html
    assert "Four people in a cell built for two." in html


@pytest.mark.parametrize("role", list(Role))
def test_visit_pages_by_role(client_for, persona, running, role):
    expected_list = 404 if role == Role.AUTHORITY_FOCAL_POINT else 200
    client = client_for(persona(role))
    assert client.get(reverse("visits:list")).status_code == expected_list
    assert client.get(reverse("visits:detail", args=[running.pk])).status_code == expected_list
    plan = client.get(reverse("visits:create")).status_code
    if role == Role.AUTHORITY_FOCAL_POINT:
        assert plan == 404
    else:
        assert plan == (200 if role in {Role.HEAD, Role.VISIT_LEADER} else 403)


def test_someone_outside_the_body_is_refused_as_team_member_on_the_page(client_for, leader, visit):
    stranger = MembershipFactory(
        user=UserFactory(username="stranger"), body=visit.body, role=Role.MONITOR
    )
    stranger.is_active = False
    stranger.save()
    response = client_for(leader).post(
        reverse("visits:team_add", args=[visit.pk]),
        {"member": stranger.pk, "team_role": "member", "gender": "male"},
    )
    assert response.status_code == 200
    assert visit.team.count() == 1


def test_entries_about_interviews_and_findings_belong_to_the_body(running, leader):
    interview = record_interview(running, leader)
    finding = record_finding(running, leader, interviews=[interview])
    for obj, action in (
        (interview, "visits.interview.create"),
        (finding, "visits.observation.create"),
    ):
        entry = AuditEntry.objects.get(action=action, object_id=str(obj.pk))
        assert entry.body_id == running.body_id
