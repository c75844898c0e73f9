"""The lifecycle rules of recommendations, through the services every surface calls."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import Http404
from django.utils import timezone

from tests.recommendations.conftest import issue, link
from vigil.core.concurrency import StaleVersion
from vigil.core.models import AuditEntry, Notification, Role
from vigil.recommendations import services
from vigil.recommendations.models import (
    Assessment,
    Position,
    Priority,
    Recommendation,
    RecommendationSettings,
)

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate


def messages(error: ValidationError) -> dict[str, list[str]]:
    return error.message_dict


def test_response_is_due_after_the_body_s_default(writer, directory, place):
    recommendation = issue(writer, directory["prison"], places=[place])
    assert recommendation.response_due == recommendation.issued_on + datetime.timedelta(days=28)
    urgent = issue(writer, directory["prison"], places=[place], priority=Priority.URGENT)
    assert urgent.response_due == urgent.issued_on + datetime.timedelta(days=7)
    assert urgent.position == Position.NO_RESPONSE
    assert urgent.assessment == Assessment.NOT_STARTED
    entry = AuditEntry.objects.filter(action="recommendations.recommendation.create").first()
    assert entry is not None and entry.object_id == str(urgent.pk)


def test_the_body_s_own_deadlines_apply(writer, head_membership, directory, place):
    services.settings_update(
        membership=head_membership, data={"response_days": 60, "urgent_response_days": 3}
    )
    recommendation = issue(writer, directory["prison"], places=[place])
    assert recommendation.response_due == recommendation.issued_on + datetime.timedelta(days=60)
    assert RecommendationSettings.objects.get(body=writer.body).urgent_response_days == 3


def test_deadlines_before_the_issue_date_are_refused(writer, directory, place):
    issued = TODAY() - datetime.timedelta(days=10)
    with pytest.raises(ValidationError) as caught:
        issue(
            writer,
            directory["prison"],
            places=[place],
            issued_on=issued,
            response_due=issued - datetime.timedelta(days=1),
            implementation_due=issued - datetime.timedelta(days=2),
        )
    assert "before the issue date" in messages(caught.value)["response_due"][0]
    assert "before the issue date" in messages(caught.value)["implementation_due"][0]
    assert not Recommendation.objects.exists()


def test_a_recommendation_concerns_places_or_is_systemic(writer, directory):
    with pytest.raises(ValidationError) as caught:
        issue(writer, directory["ministry"])
    assert "national or systemic" in messages(caught.value)["places"][0]
    assert issue(writer, directory["ministry"], systemic=True).is_systemic


def test_another_body_s_authority_or_place_is_refused(writer, outsider_membership, directory):
    from tests.factories import PlaceFactory

    foreign = services.authority_create(
        membership=outsider_membership, data={"name": "Foreign ministry"}
    )
    foreign_place = PlaceFactory(body=outsider_membership.body)
    with pytest.raises(ValidationError) as caught:
        issue(writer, foreign, places=[foreign_place])
    assert set(messages(caught.value)) >= {"authority", "places"}


def test_roles_that_may_not_write_are_refused(persona, directory, place):
    for role in (Role.MONITOR, Role.ADMIN, Role.AUDITOR):
        with pytest.raises(PermissionDenied):
            issue(persona(role), directory["prison"], places=[place])


def test_rejection_needs_reasons_and_never_touches_the_assessment(writer, directory, place):
    recommendation = issue(writer, directory["prison"], places=[place])
    with pytest.raises(ValidationError) as caught:
        services.recommendation_set_position(
            membership=writer, recommendation=recommendation, position=Position.REJECTED
        )
    assert "reasons" in messages(caught.value)["note"][0]
    services.recommendation_set_position(
        membership=writer,
        recommendation=recommendation,
        position=Position.REJECTED,
        note="No budget this year.",
    )
    recommendation.refresh_from_db()
    assert recommendation.position == Position.REJECTED
    assert recommendation.assessment == Assessment.NOT_STARTED
    assert recommendation.version == 2


def test_no_response_is_not_a_position_to_give(writer, directory, place):
    recommendation = issue(writer, directory["prison"], places=[place])
    with pytest.raises(ValidationError):
        services.recommendation_set_position(
            membership=writer, recommendation=recommendation, position=Position.NO_RESPONSE
        )


def test_implemented_needs_evidence_a_date_and_a_method(writer, directory, place):
    recommendation = issue(writer, directory["prison"], places=[place])
    with pytest.raises(ValidationError) as caught:
        services.recommendation_assess(
            membership=writer, recommendation=recommendation, assessment=Assessment.IMPLEMENTED
        )
    errors = messages(caught.value)
    assert "needs the date it was verified" in errors["verified_on"][0]
    assert "how it was verified" in errors["verification_method"][0]
    assert "needs evidence" in errors["evidence_text"][0]
    change = services.recommendation_assess(
        membership=writer,
        recommendation=recommendation,
        assessment=Assessment.IMPLEMENTED,
        verified_on=TODAY(),
        verification_method="document",
        evidence=SimpleUploadedFile("letter.txt", b"Population is now 120 for 120 places."),
    )
    recommendation.refresh_from_db()
    assert recommendation.assessment == Assessment.IMPLEMENTED
    assert recommendation.verified_on == TODAY()
    assert recommendation.next_review_on is None
    assert change.evidence.original_name == "letter.txt"


def test_dates_in_the_future_or_before_issue_are_refused(writer, directory, place):
    recommendation = issue(writer, directory["prison"], places=[place])
    with pytest.raises(ValidationError) as caught:
        services.recommendation_set_position(
            membership=writer,
            recommendation=recommendation,
            position=Position.ACCEPTED,
            changed_on=TODAY() + datetime.timedelta(days=1),
        )
    assert "future" in messages(caught.value)["changed_on"][0]
    with pytest.raises(ValidationError) as caught:
        services.recommendation_assess(
            membership=writer,
            recommendation=recommendation,
            assessment=Assessment.IN_PROGRESS,
            changed_on=recommendation.issued_on - datetime.timedelta(days=1),
        )
    assert "before the recommendation was issued" in messages(caught.value)["changed_on"][0]


def test_focal_point_answers_only_what_is_addressed_to_them(
    writer, focal, health_focal, directory, place, django_capture_on_commit_callbacks
):
    recommendation = issue(writer, directory["service"], places=[place])
    with pytest.raises(Http404):
        services.recommendation_set_position(
            membership=health_focal, recommendation=recommendation, position=Position.ACCEPTED
        )
    with django_capture_on_commit_callbacks(execute=True):
        change = services.recommendation_set_position(
            membership=focal,
            recommendation=recommendation,
            position=Position.ACCEPTED,
            action_plan="Open the new wing by March.",
            planned_by=TODAY() + datetime.timedelta(days=90),
        )
    assert change.through_portal
    recommendation.refresh_from_db()
    assert recommendation.position == Position.ACCEPTED
    # The writer hears of it.
    assert Notification.objects.filter(
        recipient=writer, kind="recommendations.recommendation.responded"
    ).exists()


def test_a_focal_point_never_assesses(writer, focal, directory, place):
    recommendation = issue(writer, directory["service"], places=[place])
    with pytest.raises(Http404):
        services.recommendation_assess(
            membership=focal,
            recommendation=recommendation,
            assessment=Assessment.IMPLEMENTED,
            verified_on=TODAY(),
            verification_method="statement",
            evidence_text="We did it.",
        )
    recommendation.refresh_from_db()
    assert recommendation.assessment == Assessment.NOT_STARTED


def test_subordinate_units_only_when_granted(writer, focal, head_membership, directory, place):
    to_prison = issue(writer, directory["prison"], places=[place])
    with pytest.raises(Http404):
        services.recommendation_set_position(
            membership=focal, recommendation=to_prison, position=Position.ACCEPTED
        )
    link(head_membership, focal, directory["service"], include_subordinates=True)
    services.recommendation_set_position(
        membership=focal, recommendation=to_prison, position=Position.ACCEPTED
    )


def test_a_stale_edit_is_refused(writer, directory, place):
    recommendation = issue(writer, directory["prison"], places=[place])
    services.recommendation_update(
        membership=writer,
        recommendation=recommendation,
        data={"text": "Reduce the population within six months."},
        expected_version=1,
    )
    with pytest.raises(StaleVersion):
        services.recommendation_update(
            membership=writer,
            recommendation=recommendation,
            data={"rationale": "Overcrowding."},
            expected_version=1,
        )
    with pytest.raises(StaleVersion):
        services.recommendation_set_position(
            membership=writer,
            recommendation=recommendation,
            position=Position.ACCEPTED,
            expected_version=1,
        )


def test_authority_hierarchy_cannot_loop(head_membership, directory):
    with pytest.raises(ValidationError) as caught:
        services.authority_update(
            membership=head_membership,
            authority=directory["ministry"],
            data={"parent": directory["prison"]},
        )
    assert "own units" in messages(caught.value)["parent"][0]


def test_a_focal_point_link_needs_the_role(head_membership, writer, directory):
    with pytest.raises(ValidationError):
        services.focal_point_set(
            membership=head_membership, target=writer, authority=directory["ministry"]
        )


def test_issued_from_a_visit_s_findings(writer, directory, finding):
    recommendation = services.recommendation_create(
        membership=writer,
        data={"text": "Close the overcrowded wing.", "authority": directory["prison"]},
        observations=[finding],
    )
    assert list(recommendation.observations.all()) == [finding]
    assert recommendation.visit_id == finding.visit_id
    assert list(recommendation.places.all()) == [finding.visit.place]
    assert list(recommendation.themes.all()) == [finding.theme]


def test_a_held_back_finding_cannot_support_one(writer, directory, finding):
    finding.held_back = True
    finding.save(update_fields=["held_back"])
    with pytest.raises(ValidationError) as caught:
        services.recommendation_create(
            membership=writer,
            data={"text": "Close the wing.", "authority": directory["prison"]},
            observations=[finding],
        )
    assert "held back" in messages(caught.value)["observations"][0]


def test_a_dialogue_entry_about_several_recommendations(writer, directory, place):
    first = issue(writer, directory["prison"], places=[place])
    second = issue(writer, directory["prison"], places=[place], text="Repair the showers.")
    other = issue(writer, directory["health"], systemic=True)
    with pytest.raises(ValidationError) as caught:
        services.exchange_create(
            membership=writer,
            authority=directory["prison"],
            data={"kind": "meeting", "subject": "Follow-up meeting"},
            recommendations=[first, other],
        )
    errors = messages(caught.value)
    assert "participants" in errors and "recommendations" in errors
    exchange = services.exchange_create(
        membership=writer,
        authority=directory["prison"],
        data={
            "kind": "letter",
            "subject": "Reply of the management",
            "occurred_on": TODAY(),
        },
        recommendations=[first, second],
        upload=SimpleUploadedFile("reply.txt", b"We accept both."),
    )
    assert set(exchange.recommendations.all()) == {first, second}
    assert exchange.file is not None


def test_repetitions_are_counted(writer, directory, place):
    first = issue(writer, directory["prison"], places=[place])
    second = issue(writer, directory["prison"], places=[place], repeats=first)
    third = issue(writer, directory["prison"], places=[place], repeats=second)
    assert (first.repetition_count, second.repetition_count, third.repetition_count) == (1, 2, 3)
