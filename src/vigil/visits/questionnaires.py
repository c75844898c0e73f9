"""Every write of questionnaires and answers: importing an XLSForm as a new version, copying a
version, choosing the version in use, recording answers during a visit (with the interview
policy: a question for private interviews only is never answered in a group interview), and
the audited reads of what was answered."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from vigil.core import bulk, tabular
from vigil.core.audit import audit, audit_read, build_entry
from vigil.core.models import AuditEntry, Membership, TaxonomyKind, TaxonomyTerm
from vigil.visits.models import (
    Answer,
    Interview,
    InterviewKind,
    Question,
    QuestionKind,
    Questionnaire,
    Section,
    Standard,
    Visit,
    VisitStatus,
)
from vigil.visits.permissions import VISITS
from vigil.visits.services import _require_team
from vigil.visits.standards import library
from vigil.visits.xlsform import ParsedForm, XLSFormError, parse_xlsform, where

MAX_ANSWER_CHARS = 10_000
# Answers are recorded while the visit runs and until its report is written.
ANSWERING_STATUSES = {VisitStatus.IN_PROGRESS, VisitStatus.DEBRIEFED, VisitStatus.REPORTING}


# ---------- Questionnaires ----------


def _next_version(body_id: int, form_id: str) -> int:
    latest = Questionnaire.objects.filter(body_id=body_id, form_id=form_id).aggregate(
        latest=Max("version")
    )["latest"]
    return (latest or 0) + 1


def _check_place_types(membership: Membership, place_types: Iterable[TaxonomyTerm]) -> list:
    chosen = list(place_types)
    if any(
        term.body_id != membership.body_id or term.kind != TaxonomyKind.PLACE_TYPE
        for term in chosen
    ):
        raise ValidationError({"place_types": [_("Choose types of place of this body.")]})
    return chosen


def _resolve(
    membership: Membership, parsed: ParsedForm
) -> tuple[dict[str, TaxonomyTerm], dict[str, Standard]]:
    """The body's themes and standards the form names; every unknown code is reported with
    its sheet and row."""
    themes = {
        term.code: term
        for term in TaxonomyTerm.objects.filter(
            body_id=membership.body_id, kind=TaxonomyKind.THEME, is_active=True
        )
    }
    standards = {standard.code: standard for standard in library(membership.body)}
    errors = []
    for question in parsed.questions:
        if question.theme_code and question.theme_code not in themes:
            errors.append(
                _(
                    "%(where)s, column ‘vigil_theme’: “%(code)s” is not the code of one of your "
                    "body's themes."
                )
                % {"where": where(question.row), "code": question.theme_code}
            )
        unknown = [code for code in question.standard_codes if code not in standards]
        if unknown:
            errors.append(
                _(
                    "%(where)s, column ‘vigil_standard’: %(codes)s not in your body's library "
                    "of standards."
                )
                % {
                    "where": where(question.row),
                    "codes": ", ".join(f"“{code}”" for code in unknown),
                }
            )
    if errors:
        raise ValidationError({"file": errors})
    return themes, standards


def _create_version(
    *,
    membership: Membership,
    title: str,
    form_id: str,
    form_version: str,
    place_types: list[TaxonomyTerm],
    other_names: list[str],
) -> Questionnaire:
    version = _next_version(membership.body_id, form_id)
    form_version = form_version or str(version)
    taken = (
        Questionnaire.objects.filter(
            body_id=membership.body_id, form_id=form_id, form_version=form_version
        )
        .only("version")
        .first()
    )
    if taken is not None:
        raise ValidationError(
            {
                "file": [
                    _(
                        "Version “%(form_version)s” of the form “%(form_id)s” is already in "
                        "Vigil (as version %(version)d): change the version in the settings "
                        "sheet, so that submissions of each version can be told apart."
                    )
                    % {"form_version": form_version, "form_id": form_id, "version": taken.version}
                ]
            }
        )
    questionnaire = Questionnaire.objects.create(
        body=membership.body,
        title=title[:200],
        form_id=form_id,
        version=version,
        form_version=form_version,
        other_names=other_names,
        created_by=membership.user,
    )
    questionnaire.place_types.set(place_types)
    return questionnaire


@transaction.atomic
def questionnaire_import(
    *,
    membership: Membership,
    upload: UploadedFile,
    place_types: Iterable[TaxonomyTerm] = (),
) -> Questionnaire:
    """A new questionnaire, or a new version of one (same form_id), from an XLSForm. Nothing is
    changed when pyxform or Vigil refuses the workbook."""
    VISITS.require(membership, "manage_questionnaires")
    chosen = _check_place_types(membership, place_types)
    name = upload.name or "form.xlsx"
    limit = settings.VIGIL_MAX_IMPORT_BYTES

    def too_large(size: int) -> ValidationError:
        return ValidationError(
            {
                "file": [
                    _("“%(name)s” is too large (%(size)s); the limit is %(limit)s.")
                    % {
                        "name": name,
                        "size": tabular.size_text(size),
                        "limit": tabular.size_text(limit),
                    }
                ]
            }
        )

    if upload.size is not None and upload.size > limit:
        raise too_large(upload.size)
    data = b"".join(upload.chunks())
    if len(data) > limit:
        raise too_large(len(data))
    try:
        parsed = parse_xlsform(data, name)
    except XLSFormError as exc:
        raise ValidationError({"file": exc.messages}) from exc
    if not parsed.form_id or len(parsed.form_id) > 100 or len(parsed.form_version) > 50:
        raise ValidationError(
            {"file": [_("The settings sheet needs a form_id of at most 100 characters.")]}
        )
    themes, standards = _resolve(membership, parsed)
    questionnaire = _create_version(
        membership=membership,
        title=parsed.title,
        form_id=parsed.form_id,
        form_version=parsed.form_version,
        place_types=chosen,
        other_names=parsed.other_names,
    )
    links: list[tuple[Question, list[Standard]]] = []
    for section_position, parsed_section in enumerate(parsed.sections):
        section = Section.objects.create(
            questionnaire=questionnaire,
            name=parsed_section.name,
            title=parsed_section.title[:300],
            position=section_position,
        )
        questions = [
            Question(
                questionnaire=questionnaire,
                section=section,
                code=parsed_question.code,
                label=parsed_question.label,
                hint=parsed_question.hint,
                kind=parsed_question.kind,
                choices=parsed_question.choices,
                theme=themes.get(parsed_question.theme_code),
                private_only=parsed_question.private_only,
                position=position,
            )
            for position, parsed_question in enumerate(parsed_section.questions)
        ]
        Question.objects.bulk_create(questions)
        links += [
            (question, [standards[code] for code in parsed_question.standard_codes])
            for question, parsed_question in zip(questions, parsed_section.questions, strict=True)
        ]
    _link_standards(links)
    audit(
        actor=membership.user,
        action="visits.questionnaire.import",
        obj=questionnaire,
        changes={
            "file": [None, name[:255]],
            "form_id": [None, questionnaire.form_id],
            "version": [None, questionnaire.version],
            "questions": [None, len(parsed.questions)],
        },
    )
    return questionnaire


def _link_standards(links: list[tuple[Question, list[Standard]]]) -> None:
    bulk.bulk_insert(
        Question.standards.through,
        [(question.pk, standard.pk) for question, standards in links for standard in standards],
        fields=["question", "standard"],
    )


@transaction.atomic
def questionnaire_copy(*, membership: Membership, questionnaire: Questionnaire) -> Questionnaire:
    """A new version of the questionnaire, a copy of this one, not in use yet."""
    VISITS.require(membership, "manage_questionnaires", questionnaire)
    source = questionnaire
    copy = _create_version(
        membership=membership,
        title=source.title,
        form_id=source.form_id,
        form_version="",
        place_types=list(source.place_types.all()),
        other_names=list(source.other_names),
    )
    links: list[tuple[Question, list[Standard]]] = []
    for section in source.sections.prefetch_related("questions__standards"):
        new_section = Section.objects.create(
            questionnaire=copy, name=section.name, title=section.title, position=section.position
        )
        originals = list(section.questions.all())
        questions = [
            Question(
                questionnaire=copy,
                section=new_section,
                code=original.code,
                label=original.label,
                hint=original.hint,
                kind=original.kind,
                choices=original.choices,
                theme_id=original.theme_id,
                private_only=original.private_only,
                position=original.position,
            )
            for original in originals
        ]
        Question.objects.bulk_create(questions)
        links += [
            (question, list(original.standards.all()))
            for question, original in zip(questions, originals, strict=True)
        ]
    _link_standards(links)
    audit(
        actor=membership.user,
        action="visits.questionnaire.copy",
        obj=copy,
        changes={"copied_from": [None, str(source)], "version": [None, copy.version]},
    )
    return copy


@transaction.atomic
def questionnaire_set_active(
    *, membership: Membership, questionnaire: Questionnaire, active: bool
) -> Questionnaire:
    """Put a version in use (the other versions of the questionnaire stop being used), or take
    it out of use."""
    VISITS.require(membership, "manage_questionnaires", questionnaire)
    versions = Questionnaire.objects.select_for_update().filter(
        body_id=questionnaire.body_id, form_id=questionnaire.form_id
    )
    current = {row.pk: row for row in versions}
    questionnaire = current[questionnaire.pk]
    replaced = [row for pk, row in current.items() if pk != questionnaire.pk and row.is_active]
    if active:
        if questionnaire.is_active and not replaced:
            return questionnaire
        Questionnaire.objects.filter(pk__in=[row.pk for row in replaced]).update(is_active=False)
    elif not questionnaire.is_active:
        return questionnaire
    questionnaire.is_active = active
    questionnaire.save(update_fields=["is_active"])
    changes: dict[str, Any] = {"is_active": [not active, active]}
    if active and replaced:
        changes["replaces"] = [str(row) for row in replaced]
    audit(
        actor=membership.user,
        action="visits.questionnaire.activate",
        obj=questionnaire,
        changes=changes,
    )
    return questionnaire


# ---------- Answers ----------


def clean_answer(question: Question, raw: Any) -> str:
    """The answer as Vigil keeps it (an empty string for no answer); raises ValidationError
    with a message about this question."""
    text = "" if raw is None else str(raw).strip()
    if not text:
        return ""
    if question.kind == QuestionKind.NOTE:
        raise ValidationError(_("This is a note: it takes no answer."))
    if len(text) > MAX_ANSWER_CHARS:
        raise ValidationError(
            _("An answer has at most %(limit)d characters; this one has %(length)d.")
            % {"limit": MAX_ANSWER_CHARS, "length": len(text)}
        )
    if question.kind == QuestionKind.NUMBER:
        candidate = text.replace(",", ".") if text.count(",") == 1 and "." not in text else text
        try:
            number = Decimal(candidate)
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite() or len(candidate) > 30:
            raise ValidationError(
                _("Write a number, such as 12 or 3.5; not “%(value)s”.") % {"value": text[:50]}
            )
        return format(number.normalize(), "f")
    if question.kind == QuestionKind.DATE:
        try:
            return datetime.date.fromisoformat(text).isoformat()
        except ValueError as exc:
            raise ValidationError(
                _("Write a date as YYYY-MM-DD, such as 2025-03-31; not “%(value)s”.")
                % {"value": text[:50]}
            ) from exc
    if question.kind in {QuestionKind.YES_NO, QuestionKind.CHOICE}:
        names = [str(choice.get("name")) for choice in question.choices]
        if question.kind == QuestionKind.YES_NO and not names:
            names = ["yes", "no"]
        if text not in names:
            raise ValidationError(
                _("Choose one of %(choices)s; not “%(value)s”.")
                % {"choices": ", ".join(f"“{name}”" for name in names), "value": text[:50]}
            )
    return text


def private_only_refusal(question: Question) -> str:
    return _(
        "“%(question)s” is asked in private interviews only: people do not speak of it in "
        "front of others. Leave it out of a group interview."
    ) % {"question": question.label or question.code}


def _check_interview(visit: Visit, interview: Interview | None) -> list[str]:
    if interview is not None and interview.visit_id != visit.pk:
        return [_("Choose an interview of this visit.")]
    return []


@transaction.atomic
def answers_record(
    *,
    membership: Membership,
    visit: Visit,
    questionnaire: Questionnaire,
    values: Mapping[str, Any],
    interview: Interview | None = None,
) -> list[Answer]:
    """Record one set of answers (one person, one interview, or the team's own checks)."""
    _require_team(membership, visit)
    errors: dict[str, list[str]] = {}
    if questionnaire.body_id != visit.body_id:
        raise ValidationError({"questionnaire": [_("Choose a questionnaire of this body.")]})
    if visit.status not in ANSWERING_STATUSES:
        errors["__all__"] = [_("Answers are recorded once the visit has started.")]
    interview_errors = _check_interview(visit, interview)
    if interview_errors:
        errors["interview"] = interview_errors
    questions = {question.code: question for question in questionnaire.questions.all()}
    cleaned: list[tuple[Question, str]] = []
    for code, raw in values.items():
        question = questions.get(code)
        if question is None:
            errors.setdefault("__all__", []).append(
                _("“%(name)s” is not a question of this questionnaire.") % {"name": code}
            )
            continue
        try:
            value = clean_answer(question, raw)
        except ValidationError as exc:
            errors[code] = exc.messages
            continue
        if not value:
            continue
        if (
            question.private_only
            and interview is not None
            and interview.kind == InterviewKind.GROUP
        ):
            errors[code] = [private_only_refusal(question)]
            continue
        cleaned.append((question, value))
    if not errors and not cleaned:
        errors["__all__"] = [_("Answer at least one question.")]
    if errors:
        raise ValidationError(errors)
    instance_id = f"uuid:{uuid.uuid4()}"
    answers = [
        Answer(
            visit=visit,
            question=question,
            interview=interview,
            value=value,
            instance_id=instance_id,
            recorded_by=membership.user,
        )
        for question, value in cleaned
    ]
    bulk.bulk_insert(Answer, answers)
    bulk.bulk_insert(
        AuditEntry,
        [
            build_entry(
                actor=membership.user,
                action="visits.answer.create",
                obj=answer,
                body=visit.body,
                changes=answer_changes(answer, questionnaire, source="page"),
            )
            for answer in answers
        ],
    )
    return answers


def answer_changes(answer: Answer, questionnaire: Questionnaire, *, source: Any) -> dict:
    """What the trail keeps of a new answer: never the answer itself."""
    changes: dict[str, Any] = {
        "questionnaire": [None, str(questionnaire)],
        "question": [None, answer.question.code],
        "value": [None, "(encrypted)"],
        "submission": [None, answer.instance_id],
        "source": [None, source],
    }
    if answer.interview is not None:
        changes["interview"] = [None, answer.interview.pseudonym]
    return changes


def answers_read(*, membership: Membership, answers: Iterable[Answer]) -> None:
    """Record that the member read these answers: once per visit, and once per interview whose
    answers were among them (what was said in an interview is read as its notes are)."""
    visits: dict[int, Visit] = {}
    interviews: dict[int, Interview] = {}
    for answer in answers:
        if answer.interview_id is not None:
            interviews.setdefault(answer.interview_id, answer.interview)  # type: ignore[arg-type]
        else:
            visits.setdefault(answer.visit_id, answer.visit)
    with transaction.atomic():
        for visit in visits.values():
            audit_read(actor=membership.user, obj=visit, fields=["answers"])
        for interview in interviews.values():
            audit_read(actor=membership.user, obj=interview, fields=["answers"])
