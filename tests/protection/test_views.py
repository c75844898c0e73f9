"""The pages: the register, a case with its timeline, opening a case from an interview, the
reveal of an identity with a purpose, persons at risk, transfers and the preparation pack."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse

from tests.protection.conftest import IDENTITY, NARRATIVE, today
from vigil.core.models import AuditEntry, Role
from vigil.protection import services
from vigil.protection.models import Case, FollowUp, Referral

pytestmark = pytest.mark.django_db


def test_the_register_lists_the_holders_cases(client_for, holder, case):
    response = client_for(holder).get(reverse("protection:case_list"))
    assert response.status_code == 200
    assert case.reference in response.content.decode()
    assert 'class="data stacked"' in response.content.decode()


def test_the_register_costs_the_same_with_more_cases(
    client_for, holder, case, place, django_assert_max_num_queries
):
    client = client_for(holder)
    client.get(reverse("protection:case_list"))
    with django_assert_max_num_queries(14) as few:
        client.get(reverse("protection:case_list"))
    for _ in range(6):
        services.case_create(membership=holder, data={"source": "hotline", "current_place": place})
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("protection:case_list"))
    assert response.content.decode().count('data-label="Reference"') == 7


def test_a_case_page_shows_the_timeline_and_records_the_reading(client_for, holder, case):
    services.referral_create(membership=holder, case=case, data={"target": "prosecutor"})
    response = client_for(holder).get(case.get_absolute_url())
    text = response.content.decode()
    assert NARRATIVE in text
    assert "Referred to Prosecutor" in text
    assert IDENTITY not in text
    assert AuditEntry.objects.filter(
        action="protection.case.read", changes__fields=["narrative"]
    ).exists()


def test_the_identity_shows_only_with_a_purpose(client_for, holder, case):
    client = client_for(holder)
    url = reverse("protection:case_reveal", args=[case.pk])
    refused = client.post(url, {"purpose": ""})
    assert refused.status_code == 400 and IDENTITY not in refused.content.decode()
    shown = client.post(url, {"purpose": "Prepare the referral"})
    assert IDENTITY in shown.content.decode()
    assert AuditEntry.objects.get(
        action="protection.case.read", changes__purpose="Prepare the referral"
    )


def test_a_referral_beyond_consent_is_refused_on_the_page(client_for, holder, case):
    response = client_for(holder).post(
        reverse("protection:referral_create", args=[case.pk]),
        {"target": "lawyer", "referred_on": today().isoformat()},
    )
    assert response.status_code == 400
    assert "not to Lawyer" in response.content.decode()
    assert not Referral.objects.exists()


def test_editing_from_an_old_version_shows_the_conflict(client_for, holder, case):
    services.case_update(membership=holder, case=case, data={"has_injuries": True})
    data = {
        "version": 1,
        "source": "letter",
        "perpetrator_category": "police",
        "consent": "referral",
        "consent_targets": ["prosecutor"],
        "consent_date": case.consent_date.isoformat(),
        "status": "open",
    }
    response = client_for(holder).post(reverse("protection:case_edit", args=[case.pk]), data)
    assert response.status_code == 409
    case.refresh_from_db()
    assert case.perpetrator_category == "prison_staff"


def test_a_monitor_opens_a_case_from_an_interview_page(client_for, persona, started_visit):
    from vigil.visits import services as visit_services

    leader = persona(Role.VISIT_LEADER)
    interview = visit_services.interview_create(
        membership=leader,
        visit=started_visit,
        data={"kind": "private", "category": "detainee", "consent_referral": True},
    )
    client = client_for(leader)
    page = client.get(
        reverse("visits:interview_detail", args=[started_visit.pk, interview.pk])
    ).content.decode()
    link = reverse("protection:case_create") + f"?interview={interview.pk}"
    assert link in page
    response = client.post(
        link,
        {
            "interview": interview.pk,
            "perpetrator_category": "prison_staff",
            "consent": "referral",
            "consent_targets": ["prosecutor"],
            "consent_date": today().isoformat(),
            "narrative": "Kicked during the transfer",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    case = Case.objects.get()
    assert case.pseudonym == interview.pseudonym


def test_transfer_page_and_preparation_pack(client_for, holder, person, other_place, persona):
    client = client_for(holder)
    response = client.post(
        reverse("protection:transfer_create", args=[person.pk]),
        {"to_place": other_place.pk, "transferred_on": today().isoformat()},
    )
    assert response.status_code == 302
    assert FollowUp.objects.get(person=person).place == other_place
    from vigil.visits import services as visit_services

    leader = persona(Role.VISIT_LEADER)
    visit = visit_services.visit_create(
        membership=leader,
        data={
            "place": other_place,
            "kind": "follow_up",
            "is_announced": True,
            "planned_start": today() + datetime.timedelta(days=2),
            "planned_end": today() + datetime.timedelta(days=2),
        },
    )
    visit_services.team_add(membership=leader, visit=visit, member=holder)
    pack = client.get(reverse("visits:preparation", args=[visit.pk])).content.decode()
    assert person.pseudonym in pack
    assert "Persons to follow up" in pack
    assert IDENTITY not in pack
    # The visit leader, who does not follow this person, sees no such section.
    other = client_for(leader).get(reverse("visits:preparation", args=[visit.pk]))
    assert person.pseudonym not in other.content.decode()


def test_a_follow_up_in_the_past_is_refused_on_the_page(client_for, holder, person):
    response = client_for(holder).post(
        reverse("protection:follow_up_create", args=[person.pk]),
        {"due_on": (today() - datetime.timedelta(days=3)).isoformat(), "contact_kind": "visit"},
    )
    assert response.status_code == 400
    assert "cannot be planned in the past" in response.content.decode()


def test_the_place_dossier_counts_for_holders_only(
    client_for, holder, case, person, place, persona
):
    text = client_for(holder).get(place.get_absolute_url()).content.decode()
    assert "1 open case of a person held here" in text
    other = client_for(persona(Role.ANALYST)).get(place.get_absolute_url()).content.decode()
    assert "Protection of persons" not in other


@pytest.mark.parametrize(
    "name",
    ["case_list", "case_create", "person_list", "person_create"],
)
def test_pages_without_id_answer(client_for, holder, name):
    assert client_for(holder).get(reverse(f"protection:{name}")).status_code == 200


def test_person_pages_answer(client_for, holder, person):
    client = client_for(holder)
    follow_up = FollowUp.objects.get(person=person)
    for name, args in [
        ("person_detail", [person.pk]),
        ("person_edit", [person.pk]),
        ("transfer_create", [person.pk]),
        ("reprisal_create", [person.pk]),
        ("follow_up_create", [person.pk]),
        ("follow_up_record", [person.pk, follow_up.pk]),
    ]:
        assert client.get(reverse(f"protection:{name}", args=args)).status_code == 200, name
