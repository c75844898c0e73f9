"""Obstruction and operational difficulties met during a visit: recorded by the team, a serious
one escalated to the heads at once, and the period query the annual report reads."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import MembershipFactory, PlaceFactory, UserFactory
from tests.visits.conftest import staff, start
from vigil.core.models import AuditEntry, Role
from vigil.core.notify import Notification
from vigil.visits import queries, services
from vigil.visits.models import Obstruction, VisitStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def running(visit, leader):
    visit = start(visit, leader)
    staff(visit, leader)
    return visit


def obstruct(visit, membership, *, escalate=False, **data):
    values = {
        "kind": "interview_overheard",
        "occurred_at": timezone.now() - datetime.timedelta(minutes=5),
        "officials": "Duty officer",
        "description": "A guard stood at the door during private interviews in Unit A.",
        "explanation": "Security rules, said the deputy director.",
        "severity": "hampered",
        **data,
    }
    return services.obstruction_create(
        membership=membership, visit=visit, data=values, escalate=escalate
    )


def test_a_difficulty_is_recorded_and_audited(running, leader):
    obstruction = obstruct(running, leader)
    assert obstruction.get_kind_display() == "A private interview overheard by staff"
    assert obstruction.escalated_at is None
    entry = AuditEntry.objects.get(action="visits.obstruction.create")
    assert entry.body_id == running.body_id
    assert entry.changes["officials"] == [None, "Duty officer"]


def test_a_team_kept_at_the_gate_records_it_before_the_visit_starts(visit, leader):
    """The visit may never start: a refusal at the gate is recorded on the planned visit."""
    staff(visit, leader)
    obstruction = obstruct(visit, leader, kind="member_refused", severity="serious")
    assert obstruction.visit.status == VisitStatus.PLANNED


def test_bad_difficulties_are_refused_field_by_field(running, leader):
    with pytest.raises(ValidationError) as error:
        obstruct(
            running,
            leader,
            kind="weather",
            occurred_at=timezone.now() + datetime.timedelta(hours=2),
            description="  ",
            severity="catastrophic",
        )
    errors = error.value.message_dict
    assert errors["kind"] == ["Choose what kind of difficulty it was."]
    assert errors["occurred_at"] == ["Record a difficulty once it happened: this time is ahead."]
    assert errors["description"] == ["Describe what happened."]
    assert errors["severity"] == ["Choose a severity."]
    with pytest.raises(ValidationError) as error:
        obstruct(running, leader, severity="minor", escalate=True)
    assert error.value.message_dict["escalate"] == [
        "Only a serious obstruction goes to the heads at once."
    ]
    assert not Obstruction.objects.exists()


def test_only_the_team_records_difficulties(running, persona):
    with pytest.raises(PermissionDenied):
        obstruct(running, persona(Role.HEAD))
    with pytest.raises(PermissionDenied):
        obstruct(running, persona(Role.ANALYST))


def test_a_serious_obstruction_reaches_the_heads_once_the_record_commits(
    running, leader, persona, django_capture_on_commit_callbacks
):
    head = persona(Role.HEAD)
    head.user.email = "head@example.org"
    head.user.save()
    monitor = persona(Role.MONITOR)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        obstruction = obstruct(running, leader, severity="serious", escalate=True)
        # Nothing is sent while the transaction may still roll back.
        assert not Notification.objects.exists()
    assert callbacks
    for callback in callbacks:
        callback()
    notices = Notification.objects.filter(kind="visits.obstruction.serious")
    assert set(notices.values_list("recipient_id", flat=True)) == {head.pk}
    assert monitor.pk not in set(notices.values_list("recipient_id", flat=True))
    notice = notices.get()
    assert notice.url == reverse("visits:detail", args=[running.pk]) + "#obstructions"
    assert "Northgate Remand Prison" in notice.text
    # Neither the notice nor the email carries what happened.
    assert "guard stood" not in notice.text
    assert [message.to for message in mail.outbox] == [["head@example.org"]]
    assert "guard stood" not in mail.outbox[0].body
    obstruction.refresh_from_db()
    assert obstruction.escalated_at is not None and obstruction.escalated_by == leader.user
    entry = AuditEntry.objects.get(action="visits.obstruction.escalate")
    assert entry.changes["heads"] == 1


def test_escalating_later_once_and_only_a_serious_one(
    running, leader, persona, django_capture_on_commit_callbacks
):
    persona(Role.HEAD)
    minor = obstruct(running, leader, severity="minor")
    with pytest.raises(ValidationError, match="Only a serious obstruction"):
        services.obstruction_escalate(membership=leader, obstruction=minor)
    serious = obstruct(running, leader, kind="area_refused", severity="serious")
    with pytest.raises(PermissionDenied):
        services.obstruction_escalate(membership=persona(Role.MONITOR), obstruction=serious)
    with django_capture_on_commit_callbacks(execute=True):
        services.obstruction_escalate(membership=leader, obstruction=serious)
    with pytest.raises(ValidationError, match="already told"):
        services.obstruction_escalate(membership=leader, obstruction=serious)
    assert Notification.objects.filter(kind="visits.obstruction.serious").count() == 1


def test_a_rolled_back_escalation_tells_nobody(running, leader, persona):
    from django.db import transaction

    persona(Role.HEAD)
    with pytest.raises(RuntimeError), transaction.atomic():
        obstruct(running, leader, severity="serious", escalate=True)
        raise RuntimeError("the request failed after the record")
    assert not Obstruction.objects.exists()
    assert not Notification.objects.exists()


# ---------- The annual report's query ----------


def test_obstructions_in_period_counts_what_the_member_may_see(
    running, leader, persona, outsider_membership, place
):
    now = timezone.now()
    january = obstruct(running, leader, occurred_at=now - datetime.timedelta(days=300))
    recent = obstruct(running, leader, occurred_at=now - datetime.timedelta(days=2))
    # A secret visit's difficulty: the team was kept at the gate before the visit started.
    secret = services.visit_create(
        membership=leader,
        data={
            "place": PlaceFactory(body=place.body, name="Eastgate Police Station"),
            "planned_start": timezone.localdate(),
            "planned_end": timezone.localdate(),
        },
    )
    staff(secret, leader)
    hidden = obstruct(secret, leader, occurred_at=now - datetime.timedelta(days=1))
    start_day = timezone.localdate() - datetime.timedelta(days=30)
    end_day = timezone.localdate()
    assert list(queries.obstructions_in_period(leader, start_day, end_day)) == [recent, hidden]
    monitor = persona(Role.MONITOR)
    assert list(queries.obstructions_in_period(monitor, start_day, end_day)) == [recent]
    year = queries.obstructions_in_period(monitor, end_day - datetime.timedelta(days=365), end_day)
    assert list(year) == [january, recent]
    assert not queries.obstructions_in_period(outsider_membership, start_day, end_day).exists()


# ---------- Pages and API ----------


def test_the_team_records_and_escalates_on_the_pages(
    client_for, running, leader, persona, django_capture_on_commit_callbacks
):
    head = persona(Role.HEAD)
    client = client_for(leader)
    form_page = client.get(reverse("visits:obstruction_create", args=[running.pk]))
    assert form_page.status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("visits:obstruction_create", args=[running.pk]),
            {
                "kind": "register_refused",
                "occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
                "officials": "Deputy director",
                "description": "The disciplinary register was refused to the team.",
                "severity": "serious",
            },
        )
    assert response.status_code == 302, response.content.decode()[:3000]
    obstruction = Obstruction.objects.get()
    page = client.get(reverse("visits:detail", args=[running.pk])).content.decode()
    assert "The disciplinary register was refused to the team." in page
    escalate = reverse("visits:obstruction_escalate", args=[running.pk, obstruction.pk])
    assert escalate in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(escalate)
    assert Notification.objects.filter(recipient=head, kind="visits.obstruction.serious").exists()
    page = client.get(reverse("visits:detail", args=[running.pk])).content.decode()
    assert escalate not in page and "the heads were told" in page


def test_a_bad_difficulty_form_keeps_what_was_typed(client_for, running, leader):
    response = client_for(leader).post(
        reverse("visits:obstruction_create", args=[running.pk]),
        {
            "kind": "gate_delay",
            "occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            "description": "Kept words",
            "severity": "minor",
            "escalate": "on",
        },
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Only a serious obstruction goes to the heads at once." in html
    assert "Kept words" in html
    assert not Obstruction.objects.exists()


def test_the_api_records_and_escalates_obstructions(
    running, leader, persona, django_capture_on_commit_callbacks
):
    head = persona(Role.HEAD)
    api = APIClient()
    api.force_authenticate(leader.user)
    payload = {
        "visit": running.pk,
        "kind": "gate_delay",
        "occurred_at": timezone.now().isoformat(),
        "description": "Ninety minutes at the gate.",
        "severity": "serious",
    }
    created = api.post("/api/v1/obstructions/", payload, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["escalated_at"] is None
    with django_capture_on_commit_callbacks(execute=True):
        escalated = api.post(f"/api/v1/obstructions/{created.json()['id']}/escalate/")
    assert escalated.status_code == 200 and escalated.json()["escalated_at"]
    assert Notification.objects.filter(recipient=head).count() == 1
    again = api.post(f"/api/v1/obstructions/{created.json()['id']}/escalate/")
    assert again.status_code == 400
    listed = api.get("/api/v1/obstructions/", {"severity": "serious"}).json()["results"]
    assert [row["description"] for row in listed] == ["Ninety minutes at the gate."]
    bad = api.post("/api/v1/obstructions/", {**payload, "kind": "weather"}, format="json")
    assert bad.status_code == 400 and "kind" in bad.json()
    stranger = MembershipFactory(
        user=UserFactory(username="api-stranger"), body=running.body, role=Role.ANALYST
    )
    other = APIClient()
    other.force_authenticate(stranger.user)
    assert other.post("/api/v1/obstructions/", payload, format="json").status_code == 403
