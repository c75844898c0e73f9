"""The lifecycle rules of a recommendation, as plain functions of values (no database), so the
services, the forms, the API and the property-based tests all apply the same ones.

Two tracks never mix: the authority's position is what it says; the body's assessment is what
the body verified. Nothing the authority says changes the assessment."""

from __future__ import annotations

import datetime

from django.utils.translation import gettext as _

from vigil.recommendations.models import Assessment, Position

Errors = dict[str, list[str]]

# Positions an authority may take; "no response yet" is only where a recommendation starts.
GIVEN_POSITIONS = frozenset(Position) - {Position.NO_RESPONSE}
# Positions that must say why.
POSITIONS_WITH_REASONS = frozenset({Position.REJECTED, Position.PARTIALLY_ACCEPTED})
# Assessments that rest on a verification: its date, how it was made, and evidence.
VERIFIED_ASSESSMENTS = frozenset({Assessment.IMPLEMENTED, Assessment.PARTIALLY_IMPLEMENTED})
# A report may be prepared ahead of its publication, not further.
MAX_DAYS_AHEAD = 366


def _add(errors: Errors, field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def deadline_errors(
    *,
    issued_on: datetime.date | None,
    response_due: datetime.date | None,
    implementation_due: datetime.date | None,
    today: datetime.date | None = None,
) -> Errors:
    errors: Errors = {}
    if issued_on is None:
        _add(errors, "issued_on", _("Give the issue date."))
        return errors
    if today is not None and issued_on > today + datetime.timedelta(days=MAX_DAYS_AHEAD):
        _add(errors, "issued_on", _("The issue date is more than a year ahead."))
        return errors
    if response_due is not None and response_due < issued_on:
        _add(errors, "response_due", _("The response cannot be due before the issue date."))
    if implementation_due is not None and implementation_due < issued_on:
        _add(
            errors,
            "implementation_due",
            _("Implementation cannot be due before the issue date."),
        )
    return errors


def _date_errors(
    errors: Errors,
    field: str,
    value: datetime.date | None,
    *,
    issued_on: datetime.date,
    today: datetime.date,
) -> None:
    if value is None:
        return
    if value < issued_on:
        _add(errors, field, _("This date is before the recommendation was issued."))
    if value > today:
        _add(errors, field, _("This date is in the future."))


def position_errors(
    *,
    position: str,
    changed_on: datetime.date | None,
    note: str,
    issued_on: datetime.date,
    today: datetime.date,
) -> Errors:
    errors: Errors = {}
    if position not in GIVEN_POSITIONS:
        _add(errors, "position", _("Choose the position the authority took."))
    if position in POSITIONS_WITH_REASONS and not note.strip():
        if position == Position.REJECTED:
            _add(errors, "note", _("Give the authority's reasons for rejecting it."))
        else:
            _add(errors, "note", _("Say which part the authority accepts and why not the rest."))
    if changed_on is None:
        _add(errors, "changed_on", _("Give the date of the position."))
    _date_errors(errors, "changed_on", changed_on, issued_on=issued_on, today=today)
    return errors


def assessment_errors(
    *,
    assessment: str,
    changed_on: datetime.date | None,
    verified_on: datetime.date | None,
    verification_method: str,
    has_evidence: bool,
    note: str,
    issued_on: datetime.date,
    today: datetime.date,
) -> Errors:
    errors: Errors = {}
    if assessment not in Assessment.values:
        _add(errors, "assessment", _("Choose an assessment."))
    if changed_on is None:
        _add(errors, "changed_on", _("Give the date of the assessment."))
    _date_errors(errors, "changed_on", changed_on, issued_on=issued_on, today=today)
    _date_errors(errors, "verified_on", verified_on, issued_on=issued_on, today=today)
    if assessment in VERIFIED_ASSESSMENTS:
        label = Assessment(assessment).label
        if verified_on is None:
            _add(
                errors,
                "verified_on",
                _("“%(assessment)s” needs the date it was verified.") % {"assessment": label},
            )
        if not verification_method:
            _add(
                errors,
                "verification_method",
                _("“%(assessment)s” needs to say how it was verified.") % {"assessment": label},
            )
        if not has_evidence:
            _add(
                errors,
                "evidence_text",
                _("“%(assessment)s” needs evidence: describe it or attach a file.")
                % {"assessment": label},
            )
    if verified_on is not None and changed_on is not None and verified_on > changed_on:
        _add(errors, "verified_on", _("The verification cannot come after the assessment."))
    if assessment in (Assessment.NO_LONGER_RELEVANT, Assessment.NOT_IMPLEMENTED) and (
        not note.strip()
    ):
        _add(errors, "note", _("Say why."))
    return errors
