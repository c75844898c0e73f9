"""The debriefing with the authorities: only findings the anonymity guard clears are presented,
the management's commitments with their dates, the visit moved on, and the debriefing note."""

from __future__ import annotations

import datetime
import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader
from rest_framework.test import APIClient

from tests.visits.conftest import staff, start, theme
from tests.visits.test_fieldwork import record_finding, record_interview
from vigil.core.models import AuditEntry, Role
from vigil.visits import services
from vigil.visits.models import Debriefing, Observation, SourceKind, VisitStatus

pytestmark = pytest.mark.django_db

ATTENDEES = "Mr J. Synthetic, director\nMs K. Example, head of security"


@pytest.fixture
def running(visit, leader):
    visit = start(visit, leader)
    staff(visit, leader)
    return visit


@pytest.fixture
def cleared(running, leader) -> Observation:
    observation = services.observation_create(
        membership=leader,
        visit=running,
        data={
            "theme": theme(running.body),
            "unit": "Unit A",
            "description": "Six people in a cell built for two.",
            "severity": "serious",
            "other_sources": [SourceKind.DIRECT_OBSERVATION, SourceKind.DOCUMENTS],
        },
    )
    services.require_cleared(observation)
    return observation


@pytest.fixture
def blocked(running, leader) -> Observation:
    """Rests only on two private interviews in Unit B: the guard keeps it in the team."""
    interviews = [record_interview(running, leader, unit="Unit B") for _ in range(2)]
    observation = services.observation_create(
        membership=leader,
        visit=running,
        data={
            "theme": theme(running.body),
            "unit": "Unit B",
            "description": "Beaten in the corridor at night by the guards.",
            "severity": "urgent",
        },
        interviews=interviews,
    )
    assert not services.observation_clearance(observation).allowed
    return observation


def debrief(visit, membership, findings=(), **kwargs):
    data = {"held_at": timezone.now(), "attendees": ATTENDEES, "summary": "Heard."}
    data.update(kwargs.pop("data", {}))
    return services.debriefing_save(
        membership=membership, visit=visit, data=data, findings=findings, **kwargs
    )


def pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)


# ---------- The anonymity guard ----------


def test_a_blocked_finding_is_refused_with_the_guards_reason(running, leader, cleared, blocked):
    with pytest.raises(ValidationError) as error:
        debrief(running, leader, findings=[cleared, blocked])
    [message] = error.value.message_dict["findings"]
    assert message.startswith(
        "“Beaten in the corridor at night by the guards.” cannot be presented"
    )
    assert "Only 2 private interviews in Unit B; k = 5" in message
    assert not Debriefing.objects.exists()
    debriefing = debrief(running, leader, findings=[cleared])
    assert list(debriefing.findings.all()) == [cleared]


def test_a_held_back_finding_is_refused_too(running, leader, cleared):
    services.observation_hold_back(membership=leader, observation=cleared, held_back=True)
    with pytest.raises(ValidationError, match="holds this finding back"):
        debrief(running, leader, findings=[cleared])


def test_a_finding_of_another_visit_is_refused(running, leader, cleared, place):
    other = services.visit_create(
        membership=leader,
        data={
            "place": place,
            "planned_start": running.planned_start,
            "planned_end": running.planned_end,
        },
    )
    services.team_confirm_conduct(membership=leader, visit=other)
    with pytest.raises(ValidationError) as error:
        debrief(other, leader, findings=[cleared])
    errors = error.value.message_dict
    assert errors["findings"] == ["Choose findings of this visit."]
    assert errors["__all__"] == ["A debriefing is recorded once the visit is in progress."]


# ---------- Recording, correcting, moving the visit on ----------


def test_recording_the_debriefing_moves_the_visit_to_debriefed(running, leader, cleared):
    held = running.started_at + datetime.timedelta(seconds=1)
    debriefing = debrief(
        running, leader, findings=[cleared], mark_debriefed=True, data={"held_at": held}
    )
    running.refresh_from_db()
    assert running.status == VisitStatus.DEBRIEFED
    assert running.ended_at == held
    assert debriefing.visit.status == VisitStatus.DEBRIEFED
    entry = AuditEntry.objects.get(action="visits.debriefing.create")
    assert entry.body_id == running.body_id
    assert entry.changes["findings"] == [None, [cleared.pk]]
    assert AuditEntry.objects.filter(action="visits.visit.set_status").count() == 2


def test_a_monitor_records_it_but_only_a_leader_moves_the_visit_on(
    running, leader, persona, cleared
):
    monitor = persona(Role.MONITOR)
    staff(running, leader, monitor)
    with pytest.raises(ValidationError) as error:
        debrief(running, monitor, mark_debriefed=True)
    assert "mark_debriefed" in error.value.message_dict
    assert not Debriefing.objects.exists()
    debrief(running, monitor, findings=[cleared])
    running.refresh_from_db()
    assert running.status == VisitStatus.IN_PROGRESS


def test_correcting_the_debriefing_replaces_what_was_presented(running, leader, cleared):
    first = debrief(running, leader, findings=[cleared])
    other = record_finding(running, leader, sources=[SourceKind.STAFF, SourceKind.PHOTOS])
    second = debrief(
        running, leader, findings=[other], data={"attendees": "Ms Z. Sample, director"}
    )
    assert second.pk == first.pk and Debriefing.objects.count() == 1
    assert list(second.findings.all()) == [other]
    update = AuditEntry.objects.get(action="visits.debriefing.update")
    assert update.changes["findings"] == [[cleared.pk], [other.pk]]
    assert update.changes["attendees"][1] == "Ms Z. Sample, director"


def test_missing_or_impossible_values_are_refused(running, leader, visit, persona):
    with pytest.raises(ValidationError) as error:
        services.debriefing_save(
            membership=leader,
            visit=running,
            data={"held_at": timezone.now() + datetime.timedelta(hours=3), "attendees": " "},
        )
    errors = error.value.message_dict
    assert errors["held_at"] == ["Record a debriefing once it was held: this time is ahead."]
    assert errors["attendees"] == ["Say who attended for the authorities."]
    with pytest.raises(PermissionDenied):
        debrief(running, persona(Role.HEAD))  # not on the team


# ---------- Commitments ----------


def test_commitments_have_a_due_date_from_the_debriefing_on(running, leader):
    debriefing = debrief(running, leader)
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    with pytest.raises(ValidationError) as error:
        services.commitment_create(
            membership=leader, debriefing=debriefing, text="Repair the heating", due_on=yesterday
        )
    assert "due_on" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        services.commitment_create(membership=leader, debriefing=debriefing, text=" ", due_on=None)
    assert set(error.value.message_dict) == {"text", "due_on"}
    due = timezone.localdate() + datetime.timedelta(days=30)
    commitment = services.commitment_create(
        membership=leader, debriefing=debriefing, text="Repair the heating", due_on=due
    )
    assert list(debriefing.commitments.all()) == [commitment]
    entry = AuditEntry.objects.get(action="visits.commitment.create")
    assert entry.changes["due_on"] == [None, due.isoformat()]


# ---------- The debriefing note ----------


def test_the_note_holds_the_cleared_findings_and_never_a_blocked_one(
    running, leader, persona, cleared, blocked
):
    services.team_add(membership=leader, visit=running, external_name="Dr Amina Synthetic")
    late = record_finding(running, leader, sources=[SourceKind.PHOTOS, SourceKind.MEDICAL])
    late.description = "Mould on the walls of the showers."
    late.save()
    debriefing = debrief(running, leader, findings=[cleared, late])
    services.commitment_create(
        membership=leader,
        debriefing=debriefing,
        text="Open a second exercise yard",
        due_on=datetime.date(2027, 3, 31),
    )
    # Held back after the debriefing: it no longer leaves the team, not even in the note.
    services.observation_hold_back(membership=leader, observation=late, held_back=True)
    pdf = services.debriefing_note(membership=leader, debriefing=debriefing)
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf)
    assert "Confidential — debriefing note" in text
    assert "Northgate Remand Prison" in text
    assert "Six people in a cell built for two." in text
    assert "SERIOUS" in text and str(theme(running.body)) in text  # badges are in capitals
    assert "Beaten in the corridor" not in text
    assert "Mould on the walls" not in text
    assert "Mr J. Synthetic, director" in text and "Ms K. Example, head of security" in text
    assert "Dr Amina Synthetic" in text
    assert "Open a second exercise yard" in text and "March 31, 2027" in text
    assert "Page 1 of 1" in text
    export = AuditEntry.objects.get(action="visits.debriefing.export")
    assert export.changes == {"findings": 1, "withheld": 1}


def test_the_note_follows_the_language_and_loads_nothing_remote(running, leader, cleared):
    from django.utils import translation

    debriefing = debrief(
        running,
        leader,
        findings=[cleared],
        data={"summary": '<img src="http://example.org/x.png">'},
    )
    with translation.override("fr"):
        text = pdf_text(services.debriefing_note(membership=leader, debriefing=debriefing))
    assert "Confidentiel" in text and "Page 1 sur 1" in text
    # The summary's markup is text, escaped, never an image fetched from elsewhere.
    assert '<img src="http://example.org/x.png">' in text


# ---------- Pages ----------


def test_the_debriefing_pages_offer_only_cleared_findings(
    client_for, running, leader, cleared, blocked
):
    client = client_for(leader)
    edit = reverse("visits:debriefing_edit", args=[running.pk])
    html = client.get(edit).content.decode()
    assert f'name="findings" value="{cleared.pk}"' in html
    assert f'name="findings" value="{blocked.pk}"' not in html
    assert "Only 2 private interviews in Unit B; k = 5" in html
    form = {
        "held_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "attendees": ATTENDEES,
        "findings": [cleared.pk, blocked.pk],
        "mark_debriefed": "on",
    }
    # A blocked finding sent anyway is refused with the guard's reason; what was typed stays.
    response = client.post(edit, form)
    assert response.status_code == 200
    html = response.content.decode()
    assert "cannot be presented" in html and "Only 2 private interviews in Unit B" in html
    assert "Ms K. Example, head of security" in html
    assert not Debriefing.objects.exists()
    form["findings"] = [cleared.pk]
    response = client.post(edit, form)
    assert response.status_code == 302, response.content.decode()[:3000]
    running.refresh_from_db()
    assert running.status == VisitStatus.DEBRIEFED
    page = client.get(reverse("visits:debriefing", args=[running.pk])).content.decode()
    assert "Six people in a cell built for two." in page and "Beaten" not in page
    response = client.post(
        reverse("visits:commitment_create", args=[running.pk]),
        {"text": "Repair the heating in Unit A", "due_on": "2027-01-15"},
    )
    assert response.status_code == 302
    detail = client.get(reverse("visits:detail", args=[running.pk])).content.decode()
    assert "1 finding presented" in detail and "1 commitment" in detail
    note = client.get(reverse("visits:debriefing_note", args=[running.pk]))
    assert note["Content-Type"] == "application/pdf"
    assert "attachment" in note["Content-Disposition"]
    assert "Repair the heating in Unit A" in pdf_text(note.content)


def test_a_bad_commitment_keeps_what_was_typed(client_for, running, leader):
    debrief(running, leader)
    response = client_for(leader).post(
        reverse("visits:commitment_create", args=[running.pk]),
        {"text": "Kept words", "due_on": "2001-01-01"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "A commitment falls due on the day of the debriefing or later." in html
    assert "Kept words" in html


@pytest.mark.parametrize(
    ("role", "page", "edit", "note"),
    [
        (Role.HEAD, 200, 403, 200),
        (Role.ANALYST, 200, 403, 200),
        (Role.ADMIN, 200, 403, 403),
        (Role.AUTHORITY_FOCAL_POINT, 404, 404, 404),
    ],
)
def test_debriefing_pages_by_role(
    client_for, persona, running, leader, cleared, role, page, edit, note
):
    debrief(running, leader, findings=[cleared])
    client = client_for(persona(role))
    assert client.get(reverse("visits:debriefing", args=[running.pk])).status_code == page
    assert client.get(reverse("visits:debriefing_edit", args=[running.pk])).status_code == edit
    assert client.get(reverse("visits:debriefing_note", args=[running.pk])).status_code == note


# ---------- API ----------


def test_the_api_records_a_debriefing_and_refuses_a_blocked_finding(
    running, leader, cleared, blocked
):
    api = APIClient()
    api.force_authenticate(leader.user)
    payload = {
        "visit": running.pk,
        "held_at": timezone.now().isoformat(),
        "attendees": ATTENDEES,
        "findings": [cleared.pk, blocked.pk],
    }
    refused = api.post("/api/v1/debriefings/", payload, format="json")
    assert refused.status_code == 400
    assert "Only 2 private interviews in Unit B; k = 5" in refused.json()["findings"][0]
    payload["findings"] = [cleared.pk]
    created = api.post("/api/v1/debriefings/", payload, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["findings"] == [cleared.pk]
    again = api.post("/api/v1/debriefings/", payload, format="json")
    assert again.status_code == 400 and "visit" in again.json()
    changed = api.patch(
        f"/api/v1/debriefings/{body['id']}/", {"summary": "Frank exchange."}, format="json"
    )
    assert changed.status_code == 200, changed.json()
    assert changed.json()["summary"] == "Frank exchange."
    assert changed.json()["findings"] == [cleared.pk]
    commitment = api.post(
        f"/api/v1/debriefings/{body['id']}/commitments/",
        {"text": "Repair the heating", "due_on": "2027-01-15"},
        format="json",
    )
    assert commitment.status_code == 201
    listed = api.get("/api/v1/debriefings/", {"visit": running.pk}).json()["results"]
    assert listed[0]["commitments"][0]["text"] == "Repair the heating"


def test_officials_names_hide_nothing(client_for, running, leader):
    """A right-to-left override in a name shown to others is refused, on the page and the API."""
    edit = reverse("visits:debriefing_edit", args=[running.pk])
    response = client_for(leader).post(
        edit,
        {
            "held_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            "attendees": "Mr J. \u202eSynthetic",
        },
    )
    assert response.status_code == 200
    assert "U+202E" in response.content.decode()
    api = APIClient()
    api.force_authenticate(leader.user)
    refused = api.post(
        "/api/v1/debriefings/",
        {"visit": running.pk, "held_at": timezone.now().isoformat(), "attendees": "A\u200bB"},
        format="json",
    )
    assert refused.status_code == 400 and "attendees" in refused.json()
    assert not Debriefing.objects.exists()
