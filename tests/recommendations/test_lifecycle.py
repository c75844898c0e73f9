"""The two tracks of a recommendation as a state machine: hypothesis drives positions and
assessments, from staff and from the authority's focal point, valid or not, through the
services, and checks after every step that the tracks never mix and that the rules hold."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from tests.recommendations.conftest import issue
from vigil.recommendations import services
from vigil.recommendations.models import (
    Assessment,
    AssessmentChange,
    Position,
    PositionChange,
    Recommendation,
    VerificationMethod,
)
from vigil.recommendations.rules import POSITIONS_WITH_REASONS, VERIFIED_ASSESSMENTS

pytestmark = pytest.mark.django_db

ISSUED_DAYS_AGO = 30


def _latest(changes, field):
    ordered = sorted(changes, key=lambda change: (change.changed_on, change.pk))
    return getattr(ordered[-1], field) if ordered else None


def test_the_two_tracks(writer, focal, directory, place):
    today = timezone.localdate()

    class Tracks(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.recommendation = issue(
                writer,
                directory["service"],
                places=[place],
                issued_on=today - datetime.timedelta(days=ISSUED_DAYS_AGO),
            )
            self.assessment_before = self.recommendation.assessment
            self.position_before = self.recommendation.position

        def _fresh(self) -> Recommendation:
            return Recommendation.objects.get(pk=self.recommendation.pk)

        @rule(
            by_focal_point=st.booleans(),
            position=st.sampled_from(list(Position)),
            note=st.sampled_from(["", "  ", "Budget allows half of it."]),
            days_ago=st.integers(min_value=-2, max_value=ISSUED_DAYS_AGO + 2),
        )
        def give_position(self, by_focal_point, position, note, days_ago):
            before = self._fresh()
            try:
                services.recommendation_set_position(
                    membership=focal if by_focal_point else writer,
                    recommendation=before,
                    position=position,
                    note=note,
                    changed_on=today - datetime.timedelta(days=days_ago),
                )
            except ValidationError:
                after = self._fresh()
                assert after.version == before.version
                assert (after.position, after.assessment) == (before.position, before.assessment)
                return
            after = self._fresh()
            assert position != Position.NO_RESPONSE
            assert not (position in POSITIONS_WITH_REASONS and not note.strip())
            assert 0 <= days_ago <= ISSUED_DAYS_AGO
            assert after.version == before.version + 1
            # The authority's word never moves the body's assessment.
            assert after.assessment == before.assessment
            assert after.verified_on == before.verified_on

        @rule(
            assessment=st.sampled_from(list(Assessment)),
            verified=st.booleans(),
            method=st.sampled_from(list(VerificationMethod)),
            evidence=st.sampled_from(["", "Population register of 3 May."]),
            note=st.sampled_from(["", "Wing closed."]),
            days_ago=st.integers(min_value=-2, max_value=ISSUED_DAYS_AGO + 2),
        )
        def assess(self, assessment, verified, method, evidence, note, days_ago):
            before = self._fresh()
            changed_on = today - datetime.timedelta(days=days_ago)
            try:
                services.recommendation_assess(
                    membership=writer,
                    recommendation=before,
                    assessment=assessment,
                    changed_on=changed_on,
                    verified_on=changed_on if verified else None,
                    verification_method=method,
                    evidence_text=evidence,
                    note=note,
                )
            except ValidationError:
                after = self._fresh()
                assert after.version == before.version
                assert (after.position, after.assessment) == (before.position, before.assessment)
                return
            after = self._fresh()
            if assessment in VERIFIED_ASSESSMENTS:
                assert verified and method and evidence
            assert after.position == before.position
            assert after.version == before.version + 1

        @rule(assessment=st.sampled_from(list(Assessment)))
        def focal_point_claims(self, assessment):
            before = self._fresh()
            with pytest.raises(Http404):
                services.recommendation_assess(
                    membership=focal,
                    recommendation=before,
                    assessment=assessment,
                    verified_on=today,
                    verification_method=VerificationMethod.STATEMENT,
                    evidence_text="We say so.",
                    note="Done.",
                )
            assert self._fresh().assessment == before.assessment

        @invariant()
        def current_state_is_the_latest_of_each_history(self):
            current = self._fresh()
            positions = list(PositionChange.objects.filter(recommendation=current))
            assessments = list(AssessmentChange.objects.filter(recommendation=current))
            assert current.position == (_latest(positions, "position") or Position.NO_RESPONSE)
            assert current.assessment == (
                _latest(assessments, "assessment") or Assessment.NOT_STARTED
            )
            for change in assessments:
                if change.assessment == Assessment.IMPLEMENTED:
                    assert change.verified_on and change.verification_method
                    assert change.evidence_text or change.evidence_id
            for change in positions:
                assert change.position != Position.NO_RESPONSE
                if change.position == Position.REJECTED:
                    assert change.note

    run_state_machine_as_test(
        Tracks,
        settings=settings(
            max_examples=20,
            stateful_step_count=8,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
