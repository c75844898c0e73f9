"""The rules of cases and persons at risk: consent bounds referrals, transfers follow the
person, no follow-up in the past, every identity read is recorded with its purpose, and an
outside warning of reprisal reaches the holders and the heads at once."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import Http404

from tests.protection.conftest import IDENTITY, NARRATIVE, today
from vigil.core.audit import action_label, registered_actions
from vigil.core.models import AuditEntry, Notification, Role
from vigil.places.models import PlaceStatus
from vigil.protection import services
from vigil.protection.models import Case, Consent, FollowUp, ProtectedPerson, Referral

pytestmark = pytest.mark.django_db(transaction=False)


def _refer(membership, case, target="prosecutor", **extra):
    return services.referral_create(
        membership=membership, case=case, data={"target": target, **extra}
    )


# ---------- Consent ----------


def test_a_case_goes_where_the_person_agreed(case, holder):
    referral = _refer(holder, case, reference="PR-2026-17")
    assert referral.case == case
    entry = AuditEntry.objects.get(action="protection.referral.create")
    assert entry.changes["target"] == [None, "prosecutor"]


def test_nothing_is_referred_beyond_the_consent(case, holder):
    with pytest.raises(ValidationError) as error:
        _refer(holder, case, target="lawyer")
    assert "agreed to a referral to Prosecutor only, not to Lawyer" in str(error.value)
    assert not Referral.objects.exists()


@pytest.mark.parametrize(
    ("consent", "message"),
    [
        (Consent.NONE, "gave no consent"),
        (Consent.ANONYMOUS, "anonymous use only"),
    ],
)
def test_no_referral_without_consent_to_refer(case, holder, consent, message):
    services.case_update(
        membership=holder, case=case, data={"consent": consent, "consent_targets": []}
    )
    with pytest.raises(ValidationError) as error:
        _refer(holder, case)
    assert message in str(error.value)
    assert not Referral.objects.exists()


def test_withdrawn_consent_stops_referrals(case, holder):
    services.case_update(membership=holder, case=case, data={"consent_withdrawn_on": today()})
    with pytest.raises(ValidationError) as error:
        _refer(holder, case)
    assert "withdrew their consent" in str(error.value)


def test_a_referral_before_the_consent_is_refused(case, holder):
    with pytest.raises(ValidationError) as error:
        _refer(holder, case, referred_on=today() - datetime.timedelta(days=5))
    assert "before the person gave their consent" in str(error.value)


def test_consent_to_refer_names_the_bodies(holder):
    with pytest.raises(ValidationError) as error:
        services.case_create(
            membership=holder,
            data={"source": "letter", "consent": Consent.REFERRAL, "consent_date": today()},
        )
    assert "consent_targets" in error.value.error_dict


def test_changing_a_referral_to_another_body_respects_consent(case, holder):
    referral = _refer(holder, case)
    with pytest.raises(ValidationError):
        services.referral_update(membership=holder, referral=referral, data={"target": "lawyer"})
    services.referral_update(
        membership=holder,
        referral=referral,
        data={"answered_on": today(), "investigation": "opened", "investigation_by": "Office"},
        expected_version=1,
    )
    referral.refresh_from_db()
    assert referral.version == 2 and referral.investigation == "opened"


# ---------- Optimistic locking ----------


def test_a_case_saved_from_an_old_version_is_refused(case, holder):
    from vigil.core.concurrency import StaleVersion

    services.case_update(
        membership=holder, case=case, data={"has_injuries": True}, expected_version=1
    )
    with pytest.raises(StaleVersion):
        services.case_update(
            membership=holder,
            case=case,
            data={"perpetrator_category": "police"},
            expected_version=1,
        )


# ---------- Cases from interviews ----------


def test_a_case_from_an_interview_keeps_its_pseudonym(started_visit, persona, place):
    from vigil.visits import services as visit_services

    leader = persona(Role.VISIT_LEADER)
    interview = visit_services.interview_create(
        membership=leader,
        visit=started_visit,
        data={"kind": "private", "category": "detainee", "consent_referral": True},
    )
    case = services.case_create(
        membership=leader, data={"perpetrator_category": "police"}, interview=interview
    )
    assert case.pseudonym == interview.pseudonym
    assert case.source == "visit_interview"
    assert case.current_place == place
    assert list(case.holders.all()) == [leader]


def test_only_who_reads_an_interview_opens_a_case_from_it(started_visit, persona):
    from vigil.visits import services as visit_services

    interview = visit_services.interview_create(
        membership=persona(Role.VISIT_LEADER),
        visit=started_visit,
        data={"kind": "private", "category": "detainee"},
    )
    with pytest.raises(ValidationError):
        services.case_create(membership=persona(Role.MONITOR), data={}, interview=interview)


# ---------- Identity reads ----------


def test_every_identity_read_is_recorded_with_its_purpose(case, holder):
    with pytest.raises(ValidationError):
        services.case_reveal_identity(membership=holder, case=case, purpose="  ")
    revealed = services.case_reveal_identity(
        membership=holder, case=case, purpose="Referral to the prosecutor"
    )
    assert revealed["identity"] == IDENTITY
    entry = AuditEntry.objects.get(action="protection.case.read")
    assert entry.actor == holder.user
    assert entry.sensitive
    assert entry.changes == {
        "fields": ["contact", "identity", "medical_details"],
        "purpose": "Referral to the prosecutor",
    }
    assert IDENTITY not in str(AuditEntry.objects.values_list("changes", "object_repr"))


def test_a_head_sees_who_read_what(case, holder, head_membership):
    from vigil.core.audit import visible_audit_entries

    services.case_reveal_identity(membership=holder, case=case, purpose="Call the lawyer")
    entries = visible_audit_entries(head_membership).filter(action="protection.case.read")
    assert [(e.actor_id, e.changes["purpose"]) for e in entries] == [
        (holder.user_id, "Call the lawyer")
    ]


def test_an_analyst_holder_reads_the_case_but_never_the_identity(case, holder, persona):
    from django.core.exceptions import PermissionDenied

    analyst = persona(Role.ANALYST)
    with pytest.raises(Http404):
        services.case_read_narrative(membership=analyst, case=case)
    services.case_set_holders(membership=persona(Role.HEAD), case=case, holders=[holder, analyst])
    assert services.case_read_narrative(membership=analyst, case=case) == NARRATIVE
    with pytest.raises(PermissionDenied):
        services.case_reveal_identity(membership=analyst, case=case, purpose="curious")


# ---------- Encryption at rest ----------


def _raw_rows(table: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")
        return repr(cursor.fetchall())


def test_no_identity_or_narrative_is_stored_in_plain_text(case, person, holder):
    services.reprisal_create(
        membership=holder,
        person=person,
        data={"kind": "threats", "description": "Guard Zephyrine threatened him"},
    )
    raw = "".join(
        _raw_rows(table)
        for table in (
            "protection_case",
            "protection_protectedperson",
            "protection_reprisalincident",
            "core_auditentry",
        )
    )
    for secret in (IDENTITY, "Jonas", NARRATIVE, "Zephyr", "Fractured", "555 0101", "Named the"):
        assert secret not in raw
    assert "fernet:" in raw


# ---------- Persons at risk: transfers and follow-ups ----------


def test_a_transfer_moves_the_follow_up_with_the_person(person, holder, other_place):
    pending = FollowUp.objects.get(person=person)
    services.transfer_create(membership=holder, person=person, to_place=other_place)
    person.refresh_from_db()
    pending.refresh_from_db()
    assert person.current_place == other_place
    assert pending.place == other_place
    assert person.version == 2
    entry = AuditEntry.objects.get(action="protection.transfer.create")
    assert entry.changes["current_place"] == ["Northgate Remand Prison", "Southmoor Prison"]


def test_a_transfer_to_a_closed_place_is_refused(person, holder, other_place):
    other_place.status = PlaceStatus.CLOSED
    other_place.save()
    with pytest.raises(ValidationError) as error:
        services.transfer_create(membership=holder, person=person, to_place=other_place)
    assert "is closed: a person cannot be transferred there" in str(error.value)
    person.refresh_from_db()
    assert person.current_place.name == "Northgate Remand Prison"


def test_a_follow_up_in_the_past_is_refused(person, holder):
    with pytest.raises(ValidationError) as error:
        services.follow_up_schedule(
            membership=holder, person=person, due_on=today() - datetime.timedelta(days=1)
        )
    assert "cannot be planned in the past" in str(error.value)
    with pytest.raises(ValidationError):
        services.person_update(
            membership=holder,
            person=person,
            data={"next_follow_up_on": today() - datetime.timedelta(days=1)},
        )


def test_recording_a_contact_plans_the_next(person, holder):
    pending = FollowUp.objects.get(person=person)
    services.follow_up_record(membership=holder, follow_up=pending, notes="He is well")
    upcoming = FollowUp.objects.get(person=person, done_on__isnull=True)
    assert upcoming.due_on == today() + datetime.timedelta(days=person.follow_up_days)


def test_an_outside_concern_alerts_the_holders_and_heads_at_once(
    person, holder, head_membership, persona, django_capture_on_commit_callbacks
):
    analyst = persona(Role.ANALYST)
    with django_capture_on_commit_callbacks(execute=True):
        incident = services.reprisal_create(
            membership=holder,
            person=person,
            data={"kind": "intimidation", "reported_by": "ngo", "actions": ["spt_informed"]},
        )
    assert incident.is_external_concern
    told = set(Notification.objects.values_list("recipient_id", flat=True))
    assert told == {holder.pk, head_membership.pk}
    assert analyst.pk not in told


def test_overdue_follow_ups_and_unanswered_referrals_alert_once(
    person, case, holder, head_membership, django_capture_on_commit_callbacks
):
    FollowUp.objects.filter(person=person).update(due_on=today() - datetime.timedelta(days=1))
    Case.objects.filter(pk=case.pk).update(consent_date=today() - datetime.timedelta(days=90))
    case.refresh_from_db()
    _refer(holder, case, referred_on=today() - datetime.timedelta(days=70))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.alert_overdue() == {"follow_ups": 1, "referrals": 1}
    assert services.alert_overdue() == {"follow_ups": 0, "referrals": 0}
    assert Notification.objects.filter(recipient=head_membership).count() == 2


def test_a_person_from_a_case_keeps_its_pseudonym(case, holder):
    person = services.person_create(membership=holder, data={}, case=case)
    assert person.pseudonym == case.pseudonym
    assert person.current_place == case.current_place
    assert ProtectedPerson.objects.count() == 1


# ---------- Labels ----------


def test_every_action_has_a_label():
    protection = [name for name in registered_actions() if name.startswith("protection.")]
    assert len(protection) >= 15
    for name in protection:
        assert action_label(name) != name
