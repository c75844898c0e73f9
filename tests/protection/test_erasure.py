"""Retention and erasure: a person's request erases everything linked to them in one go (no
table keeps their data, checked column by column), a legal hold stops it and changes nothing,
and the retention job erases closed records past the body's period."""

from __future__ import annotations

import datetime

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone

from tests.protection.conftest import IDENTITY, NARRATIVE
from vigil.core.models import AuditEntry, Role
from vigil.protection import services
from vigil.protection.erasure import erasure_execute, erasure_scope, retention_run
from vigil.protection.models import Case, ProtectedPerson

pytestmark = pytest.mark.django_db

SECRETS = [
    IDENTITY,
    "Jonas",
    NARRATIVE,
    "Fractured",
    "555 0101",
    "Named the",
    "Zephyrine",
    "Said in the interview",
    "Answer in the interview",
]


def _everything_as_text() -> str:
    """Every text column of every table, read through the ORM (so decrypted)."""
    found = []
    for model in apps.get_models():
        if model._meta.proxy:
            continue
        names = [
            f.attname
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField | models.JSONField)
        ]
        if not names:
            continue
        for row in model._default_manager.values_list(*names):
            found.append(repr(row))
    return "\n".join(found)


@pytest.fixture
def linked(started_visit, persona, place):
    """An interview (with notes, identity and an answer), its case, its person at risk with an
    incident and a contact: everything one person told and everything about them."""
    from vigil.visits import services as visit_services

    leader = persona(Role.VISIT_LEADER)
    interview = visit_services.interview_create(
        membership=leader,
        visit=started_visit,
        data={
            "kind": "private",
            "category": "detainee",
            "notes": "Said in the interview",
            "identity": IDENTITY,
        },
    )
    case = services.case_create(
        membership=leader,
        interview=interview,
        data={
            "narrative": NARRATIVE,
            "identity": IDENTITY,
            "contact": "+000 555 0101",
            "medical_details": "Fractured left wrist",
        },
    )
    person = services.person_create(
        membership=leader, case=case, data={"risk_reason": "Named the guards"}
    )
    services.reprisal_create(
        membership=leader,
        person=person,
        data={"kind": "threats", "description": "Guard Zephyrine threatened him"},
    )
    return interview, case, person


def test_erasure_finds_everything_and_leaves_no_trace(linked, head_membership):
    interview, case, person = linked
    assert any(secret in _everything_as_text() for secret in SECRETS)
    scope = erasure_scope(membership=head_membership, person=person)
    assert [c.pk for c in scope.cases] == [case.pk]
    assert [i.pk for i in scope.interviews] == [interview.pk]
    assert scope.incidents == 1 and scope.follow_ups == 1
    counts = erasure_execute(membership=head_membership, person=person)
    assert counts["cases"] == 1 and counts["interviews"] == 1
    text = _everything_as_text()
    for secret in SECRETS:
        assert secret not in text, secret
    entry = AuditEntry.objects.get(action="protection.erasure.execute")
    assert entry.changes["erased"][1]["persons"] == 1
    case.refresh_from_db()
    assert case.anonymised_at is not None and case.pseudonym == interview.pseudonym


def test_a_legal_hold_stops_the_erasure_and_changes_nothing(linked, head_membership):
    _interview, case, person = linked
    Case.objects.filter(pk=case.pk).update(legal_hold=True)
    with pytest.raises(ValidationError) as error:
        erasure_execute(membership=head_membership, person=person)
    assert "legal hold" in str(error.value)
    case.refresh_from_db()
    assert case.narrative == NARRATIVE
    assert not AuditEntry.objects.filter(action="protection.erasure.execute").exists()


def test_only_heads_erase(linked, client_for, persona):
    _interview, case, _person = linked
    leader = client_for(persona(Role.VISIT_LEADER))
    assert leader.get(reverse("protection:case_erase", args=[case.pk])).status_code == 403
    head = client_for(persona(Role.HEAD))
    page = head.get(reverse("protection:case_erase", args=[case.pk]))
    assert page.status_code == 200 and IDENTITY not in page.content.decode()
    assert head.post(reverse("protection:case_erase", args=[case.pk])).status_code == 400
    done = head.post(reverse("protection:case_erase", args=[case.pk]), {"confirm": "erase"})
    assert done.status_code == 302
    assert Case.objects.get(pk=case.pk).identity == ""


def test_retention_erases_closed_records_past_their_period_unless_held(case, person, holder):
    services.case_update(membership=holder, case=case, data={"status": "closed"})
    services.person_update(membership=holder, person=person, data={"is_active": False})
    held = services.case_create(
        membership=holder,
        data={
            "source": "letter",
            "identity": "Held Person",
            "status": "closed",
            "legal_hold": True,
        },
    )
    later = timezone.now() + datetime.timedelta(days=365 * 11)
    assert retention_run(now=later) == {"cases": 1, "persons": 1}
    case.refresh_from_db()
    person.refresh_from_db()
    held.refresh_from_db()
    assert case.identity == "" and case.narrative == "" and case.anonymised_at
    assert person.identity == "" and person.risk_reason == ""
    assert held.identity == "Held Person"
    assert retention_run(now=later) == {"cases": 0, "persons": 0}
    assert ProtectedPerson.objects.get().anonymised_at is not None


def test_a_head_sets_the_retention_periods(client_for, persona):
    from vigil.protection.erasure import settings_for

    head = persona(Role.HEAD)
    client = client_for(head)
    url = reverse("protection:retention")
    assert client.get(url).status_code == 200
    assert (
        client.post(url, {"case_retention_years": 0, "person_retention_years": 3}).status_code
        == 400
    )
    assert (
        client.post(url, {"case_retention_years": 7, "person_retention_years": 3}).status_code
        == 302
    )
    assert settings_for(head.body).case_retention_years == 7
    assert AuditEntry.objects.filter(action="protection.settings.update").exists()
    assert client_for(persona(Role.MONITOR)).get(url).status_code == 403
