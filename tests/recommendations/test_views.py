"""The recommendation pages and the portal, signed in as the personas."""

from __future__ import annotations

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.recommendations.conftest import issue, theme
from vigil.core.models import Role
from vigil.recommendations import services
from vigil.recommendations.models import Assessment, Position, Recommendation

pytestmark = pytest.mark.django_db


def signed_in(membership) -> Client:
    client = Client()
    client.force_login(membership.user)
    session = client.session
    session["vigil_body_id"] = membership.body_id
    session.save()
    return client


def test_list_filters_and_costs_the_same_with_more_rows(
    writer, directory, place, django_assert_max_num_queries
):
    client = signed_in(writer)
    for number in range(3):
        issue(writer, directory["prison"], places=[place], text=f"Fix the roof {number}.")
    issue(writer, directory["health"], systemic=True, text="Hire doctors.")
    url = reverse("recommendations:list")
    with django_assert_max_num_queries(20) as few:
        page = client.get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert "Fix the roof 0." in text and "Hire doctors." in text
    for number in range(30):
        issue(writer, directory["prison"], places=[place], text=f"Paint cell {number}.")
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(url)
    filtered = client.get(url, {"authority": directory["health"].pk}).content.decode()
    assert "Hire doctors." in filtered and "Fix the roof" not in filtered
    by_place = client.get(url, {"place": place.pk, "q": "roof"}).content.decode()
    assert "Fix the roof 1." in by_place and "Paint cell" not in by_place
    assert client.get(url, {"overdue": "on"}).status_code == 200
    assert client.get(url, {"page": "100000", "sort": "due"}).status_code == 200


def test_issue_from_the_form_with_a_default_deadline(writer, directory, place):
    client = signed_in(writer)
    assert client.get(reverse("recommendations:create")).status_code == 200
    response = client.post(
        reverse("recommendations:create"),
        {
            "text": "Install call buttons in every cell.",
            "authority": directory["prison"].pk,
            "places": [place.pk],
            "themes": [theme(writer.body).pk],
            "priority": "urgent",
            "source_kind": "visit",
            "issued_on": timezone.localdate().isoformat(),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    recommendation = Recommendation.objects.get()
    assert recommendation.response_due == timezone.localdate() + datetime.timedelta(days=7)


def test_deadline_before_issue_gets_a_specific_message(writer, directory, place):
    client = signed_in(writer)
    today = timezone.localdate()
    response = client.post(
        reverse("recommendations:create"),
        {
            "text": "Install call buttons.",
            "authority": directory["prison"].pk,
            "places": [place.pk],
            "priority": "normal",
            "source_kind": "visit",
            "issued_on": today.isoformat(),
            "response_due": (today - datetime.timedelta(days=3)).isoformat(),
        },
    )
    assert response.status_code == 400
    assert "The response cannot be due before the issue date." in response.content.decode()


def test_similar_earlier_ones_are_offered_before_issuing(writer, directory, place):
    earlier = issue(
        writer,
        directory["prison"],
        places=[place],
        text="Reduce the population of Northgate to its official capacity.",
    )
    client = signed_in(writer)
    data = {
        "text": "Reduce the population of Northgate to the official capacity.",
        "authority": directory["prison"].pk,
        "places": [place.pk],
        "priority": "normal",
        "source_kind": "visit",
        "issued_on": timezone.localdate().isoformat(),
    }
    shown = client.post(reverse("recommendations:create"), data)
    assert shown.status_code == 200
    assert "Similar earlier recommendations" in shown.content.decode()
    assert Recommendation.objects.count() == 1
    data.update({"similar_checked": "1", "repeats": str(earlier.pk)})
    assert client.post(reverse("recommendations:create"), data).status_code == 302
    repeated = Recommendation.objects.exclude(pk=earlier.pk).get()
    assert repeated.repeats == earlier and repeated.repetition_count == 2


def test_detail_shows_both_tracks_and_the_dialogue(writer, focal, directory, place):
    recommendation = issue(writer, directory["service"], places=[place])
    services.recommendation_set_position(
        membership=focal,
        recommendation=recommendation,
        position=Position.PARTIALLY_ACCEPTED,
        note="Only in the new wing.",
        action_plan="Works in spring.",
    )
    services.recommendation_assess(
        membership=writer,
        recommendation=recommendation,
        assessment=Assessment.IN_PROGRESS,
        evidence_text="Works started.",
    )
    services.exchange_create(
        membership=writer,
        authority=directory["service"],
        data={"kind": "meeting", "subject": "Meeting on works", "participants": "Director"},
        recommendations=[recommendation],
    )
    page = signed_in(writer).get(reverse("recommendations:detail", args=[recommendation.pk]))
    text = page.content.decode()
    assert page.status_code == 200
    for expected in ("Only in the new wing.", "Works in spring.", "Works started.", "Meeting on"):
        assert expected in text


def test_a_stale_position_form_says_so_and_saves_nothing(writer, directory, place):
    recommendation = issue(writer, directory["prison"], places=[place])
    client = signed_in(writer)
    url = reverse("recommendations:position", args=[recommendation.pk])
    assert client.get(url).status_code == 200
    services.recommendation_update(
        membership=writer, recommendation=recommendation, data={"rationale": "Overcrowding."}
    )
    response = client.post(url, {"position": "accepted", "version": "1"})
    assert response.status_code == 409
    assert "analyst" in response.content.decode()
    recommendation.refresh_from_db()
    assert recommendation.position == Position.NO_RESPONSE
    again = client.post(url, {"position": "accepted", "version": str(recommendation.version)})
    assert again.status_code == 302


def test_implemented_without_evidence_is_refused_on_the_page(writer, directory, place):
    recommendation = issue(writer, directory["prison"], places=[place])
    client = signed_in(writer)
    url = reverse("recommendations:assess", args=[recommendation.pk])
    response = client.post(url, {"assessment": "implemented", "version": "1"})
    assert response.status_code == 400
    assert "needs evidence" in response.content.decode()
    response = client.post(
        url,
        {
            "assessment": "implemented",
            "version": "1",
            "verified_on": timezone.localdate().isoformat(),
            "verification_method": "follow_up_visit",
            "evidence": SimpleUploadedFile("photo-report.txt", b"Seen on the follow-up visit."),
        },
    )
    assert response.status_code == 302
    recommendation.refresh_from_db()
    assert recommendation.assessment == Assessment.IMPLEMENTED


def test_the_portal_answer(focal, writer, directory, place):
    recommendation = issue(writer, directory["service"], places=[place], text="Publish rules.")
    client = signed_in(focal)
    url = reverse("portal:detail", args=[recommendation.pk])
    page = client.get(url)
    assert page.status_code == 200 and "Publish rules." in page.content.decode()
    refused = client.post(url, {"position": "rejected", "version": "1"})
    assert refused.status_code == 400
    response = client.post(
        url,
        {
            "position": "accepted",
            "version": "1",
            "action_plan": "Publish on the website by June.",
            "planned_by": (timezone.localdate() + datetime.timedelta(days=60)).isoformat(),
            "evidence": SimpleUploadedFile("draft.txt", b"Draft rules."),
        },
    )
    assert response.status_code == 302
    change = recommendation.position_changes.get()
    assert change.through_portal and change.evidence is not None
    recommendation.refresh_from_db()
    assert recommendation.assessment == Assessment.NOT_STARTED
    # A stale answer names nobody of the body.
    stale = client.post(url, {"position": "accepted", "version": "1"})
    assert stale.status_code == 409
    assert "analyst" not in stale.content.decode()


def test_authorities_directory_pages(head_membership, directory, focal):
    client = signed_in(head_membership)
    listing = client.get(reverse("recommendations:authority_list")).content.decode()
    assert "Northgate management" in listing and "Ministry of Health" in listing
    detail = client.get(reverse("recommendations:authority_detail", args=[directory["service"].pk]))
    assert detail.status_code == 200 and "focal" in detail.content.decode()
    response = client.post(
        reverse("recommendations:authority_create"),
        {"name": "Police Directorate", "kind": "agency", "parent": directory["ministry"].pk},
    )
    assert response.status_code == 302
    response = client.post(
        reverse("recommendations:authority_focal_point", args=[directory["health"].pk]),
        {"member": focal.pk, "include_subordinates": "on"},
    )
    assert response.status_code == 302
    focal.focal_point.refresh_from_db()
    assert focal.focal_point.authority == directory["health"]
    edit = reverse("recommendations:authority_edit", args=[directory["health"].pk])
    assert client.get(edit).status_code == 200
    assert client.get(reverse("recommendations:settings")).status_code == 200
    assert (
        client.post(
            reverse("recommendations:settings"),
            {
                "response_days": 30,
                "urgent_response_days": 5,
                "review_months": 6,
                "reminder_days": 7,
                "escalation_days": 14,
            },
        ).status_code
        == 302
    )


def test_record_a_letter_about_two(writer, directory, place):
    first = issue(writer, directory["prison"], places=[place])
    second = issue(writer, directory["prison"], places=[place], text="Second one.")
    client = signed_in(writer)
    url = reverse("recommendations:exchange_create", args=[directory["prison"].pk])
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "kind": "letter",
            "subject": "Letter of 3 March",
            "recommendations": [first.pk, second.pk],
            "file": SimpleUploadedFile("letter.txt", b"We accept."),
        },
    )
    assert response.status_code == 302, response.content.decode()[-3000:]
    exchange = first.exchanges.get()
    assert set(exchange.recommendations.all()) == {first, second}
    download = client.get(reverse("recommendations:exchange_file", args=[exchange.pk]))
    assert download.status_code == 200


def test_roles_that_may_not_write_get_403(persona, directory, place, writer):
    recommendation = issue(writer, directory["prison"], places=[place])
    for role in (Role.ADMIN, Role.AUDITOR):
        client = signed_in(persona(role))
        assert client.get(reverse("recommendations:create")).status_code == 403
        assert (
            client.get(reverse("recommendations:assess", args=[recommendation.pk])).status_code
            == 403
        )


def test_place_dossier_lists_its_recommendations(writer, directory, place):
    issue(writer, directory["prison"], places=[place], text="Open the yard daily.")
    page = signed_in(writer).get(reverse("places:detail", args=[place.pk]))
    assert "Open the yard daily." in page.content.decode()


def test_issue_from_a_visit_and_verify_on_the_follow_up(writer, directory, finding, persona):
    client = signed_in(writer)
    visit = finding.visit
    form = client.get(reverse("recommendations:create"), {"visit": visit.pk})
    assert form.status_code == 200 and "Four people in a cell" in form.content.decode()
    response = client.post(
        reverse("recommendations:create") + f"?visit={visit.pk}",
        {
            "text": "Close the overcrowded wing.",
            "authority": directory["prison"].pk,
            "observations": [finding.pk],
            "priority": "high",
            "source_kind": "visit",
            "issued_on": timezone.localdate().isoformat(),
        },
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    recommendation = Recommendation.objects.get()
    assert recommendation.visit == visit and list(recommendation.observations.all()) == [finding]
    # The preparation pack of a visit to the place lists it, with the way to verify it.
    leader = signed_in(persona(Role.VISIT_LEADER))
    pack = leader.get(reverse("visits:preparation", args=[visit.pk])).content.decode()
    assert "Close the overcrowded wing." in pack
    verify = reverse("recommendations:assess", args=[recommendation.pk]) + f"?visit={visit.pk}"
    assert leader.get(verify).status_code == 200
    response = leader.post(
        verify,
        {
            "assessment": "implemented",
            "version": str(recommendation.version),
            "changed_on": timezone.localdate().isoformat(),
            "verified_on": timezone.localdate().isoformat(),
            "verification_method": "follow_up_visit",
            "evidence_text": "The wing is closed.",
        },
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    change = recommendation.assessment_changes.get()
    assert change.visit == visit and change.assessment == Assessment.IMPLEMENTED


def test_portal_list_costs_the_same_with_more_rows(
    focal, writer, directory, place, django_assert_max_num_queries
):
    client = signed_in(focal)
    issue(writer, directory["service"], places=[place], text="First to answer.")
    with django_assert_max_num_queries(25) as few:
        page = client.get(reverse("portal:list"))
    assert "First to answer." in page.content.decode()
    for number in range(25):
        issue(writer, directory["service"], places=[place], text=f"Answer {number}.")
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse("portal:list"))


def test_authority_directory_costs_the_same_with_more_rows(
    head_membership, directory, django_assert_max_num_queries
):
    client = signed_in(head_membership)
    with django_assert_max_num_queries(25) as few:
        client.get(reverse("recommendations:authority_list"))
    for number in range(20):
        services.authority_create(
            membership=head_membership,
            data={"name": f"Unit {number}", "parent": directory["prison"]},
        )
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(reverse("recommendations:authority_list"))
    assert "Unit 19" in page.content.decode()


def test_dashboard_counts_implementation(writer, directory, place):
    done = issue(writer, directory["prison"], places=[place])
    issue(writer, directory["prison"], places=[place], text="Second.")
    issue(writer, directory["health"], systemic=True, text="Third.")
    services.recommendation_set_position(
        membership=writer, recommendation=done, position=Position.ACCEPTED
    )
    services.recommendation_assess(
        membership=writer,
        recommendation=done,
        assessment=Assessment.IMPLEMENTED,
        verified_on=timezone.localdate(),
        verification_method="document",
        evidence_text="Letter.",
    )
    page = signed_in(writer).get(reverse("recommendations:dashboard"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Northgate management" in text and "Ministry of Health" in text
    assert "50 %" in text  # one of the management's two is implemented
    assert "33 %" in text  # one of three overall


def test_export_streams_the_filtered_list(writer, directory, place, persona):
    issue(writer, directory["prison"], places=[place], text="Fix the roof.")
    issue(writer, directory["health"], systemic=True, text="Hire doctors.")
    client = signed_in(writer)
    response = client.get(
        reverse("recommendations:export", args=["csv"]), {"authority": directory["prison"].pk}
    )
    assert response.status_code == 200 and response.streaming
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert "Fix the roof." in text and "Northgate Remand Prison" in text
    assert "Hire doctors." not in text
    assert client.get(reverse("recommendations:export", args=["xlsx"])).status_code == 200
    assert (
        signed_in(persona(Role.ADMIN))
        .get(reverse("recommendations:export", args=["csv"]))
        .status_code
        == 403
    )
