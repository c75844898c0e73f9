"""Importing the submissions of a questionnaire into a visit: the CSV that ODK Collect (through
ODK Central) or KoboCollect (through KoboToolbox) exports for a form, one row per submission.

Columns are matched on the questions' XLSForm names, after any group path (`group/name`,
`group-name`); nothing is matched on a guess. A file whose columns are not those of the chosen
questionnaire version (columns that are no question, questions without a column) or that has no
version or instanceID column is refused at the upload, saying which; a row filled in with
another version of the form is refused, saying which version was expected. Each submission is
imported once: importing a file again adds nothing (rows are matched on their instanceID).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Max
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from vigil.core import bulk
from vigil.core.audit import build_entry
from vigil.core.imports import (
    ACTION_KEY,
    CREATE,
    UNCHANGED,
    ImportContext,
    Importer,
    ImportField,
    register_importer,
    target_of,
)
from vigil.core.models import AuditEntry, Membership, TabularImport
from vigil.visits.models import Answer, Question, QuestionKind, Questionnaire, Visit
from vigil.visits.permissions import VISITS
from vigil.visits.questionnaires import ANSWERING_STATUSES, answer_changes, clean_answer
from vigil.visits.services import _require_team

KIND = "visit_submissions"
INSTANCE_FIELD, VERSION_FIELD = "_instance_id", "_form_version"
# Where each tool writes the submission's identifier and the form version, by preference.
INSTANCE_COLUMNS = ("meta/instanceid", "meta-instanceid", "instanceid", "key", "_uuid")
VERSION_COLUMNS = ("_version", "formversion", "__version__")
# Columns the tools add to every export, which are no question (compared in lower case).
SYSTEM_COLUMNS = frozenset(
    {
        # ODK Central
        "submissiondate",
        "submitterid",
        "submittername",
        "attachmentspresent",
        "attachmentsexpected",
        "status",
        "reviewstate",
        "deviceid",
        "edits",
        "formversion",
        "key",
        # KoboToolbox
        "formhub/uuid",
        # Metadata both tools' form builders add (when the form itself has no question of
        # that name: questions are matched first).
        "start",
        "end",
        "today",
        "username",
        "simserial",
        "subscriberid",
        "phonenumber",
        "audit",
    }
)


def _key(header: str) -> str:
    return header.strip().lower()


def _is_system(header: str) -> bool:
    key = _key(header)
    # KoboToolbox's own columns all start with "_"; both tools put the form's metadata in a
    # "meta" group.
    return (
        key in SYSTEM_COLUMNS
        or key.startswith("_")
        or key.startswith(("meta/", "meta-"))
        or key in {"instanceid", "instancename"}
    )


def _name_in(header: str, names: set[str]) -> str | None:
    """The XLSForm name the column holds: the whole header, or its last part after a group
    path ("cells/size", "cells-size"); the longest such name that is one of `names`."""
    header = header.strip()
    if header in names:
        return header
    for separator in ("/", "-"):
        parts = header.split(separator)
        for start in range(1, len(parts)):
            candidate = separator.join(parts[start:])
            if candidate in names:
                return candidate
    return None


def _normal_instance_id(value: str) -> str:
    value = value.strip()
    if value and not value.lower().startswith("uuid:"):
        return f"uuid:{value}"
    return value


class Match:
    """How a file's columns meet a questionnaire version's questions."""

    def __init__(self, questionnaire: Questionnaire, headers: list[str]) -> None:
        questions = list(questionnaire.questions.all())
        codes = {question.code for question in questions}
        answerable = {q.code for q in questions if q.kind != QuestionKind.NOTE}
        others = set(questionnaire.other_names)
        self.mapping: dict[int, str] = {}
        self.unknown: list[str] = []
        self.repeated: dict[str, list[str]] = {}
        columns_of: dict[str, list[str]] = {}
        keys = [_key(header) for header in headers]
        for wanted, field_name in (
            (INSTANCE_COLUMNS, INSTANCE_FIELD),
            (VERSION_COLUMNS, VERSION_FIELD),
        ):
            index = next((keys.index(key) for key in wanted if key in keys), None)
            if index is not None:
                self.mapping[index] = field_name
        for index, header in enumerate(headers):
            if index in self.mapping:
                continue
            name = _name_in(header, codes)
            if name is not None:
                columns_of.setdefault(name, []).append(header)
                self.mapping.setdefault(index, name)
                continue
            if _name_in(header, others) is None and not _is_system(header):
                self.unknown.append(header)
        self.repeated = {name: cols for name, cols in columns_of.items() if len(cols) > 1}
        self.missing = sorted(answerable - set(columns_of))
        found = set(self.mapping.values())
        self.has_instance = INSTANCE_FIELD in found
        self.has_version = VERSION_FIELD in found

    def problems(self, questionnaire: Questionnaire) -> list[str]:
        problems = []
        if not self.has_version:
            problems.append(
                _(
                    "The file has no column for the version of the form (_version, "
                    "FormVersion or __version__): Vigil cannot tell which version of the form "
                    "it was filled in with. This questionnaire is version “%(version)s”."
                )
                % {"version": questionnaire.form_version}
            )
        if not self.has_instance:
            problems.append(
                _(
                    "The file has no column with the identifier of each submission "
                    "(meta/instanceID, KEY or _uuid): export it again with the form's metadata."
                )
            )
        if self.unknown:
            problems.append(
                _(
                    "These columns are not questions of “%(questionnaire)s”: %(columns)s. "
                    "Export the submissions with the questions' names (XML values and "
                    "headers), of this version of the form."
                )
                % {
                    "questionnaire": questionnaire,
                    "columns": ", ".join(f"‘{header}’" for header in self.unknown),
                }
            )
        if self.missing:
            problems.append(
                _("These questions of “%(questionnaire)s” have no column: %(names)s.")
                % {
                    "questionnaire": questionnaire,
                    "names": ", ".join(f"“{name}”" for name in self.missing),
                }
            )
        for name, columns in sorted(self.repeated.items()):
            problems.append(
                _("The columns %(columns)s are all the question “%(name)s”: keep one.")
                % {"columns": ", ".join(f"‘{header}’" for header in columns), "name": name}
            )
        return problems


def _ids(target: Mapping[str, Any] | None) -> tuple[int | None, int | None]:
    """The visit's and the questionnaire's ids a target names (None where it names none)."""
    target = target or {}
    visit, questionnaire = str(target.get("visit", "")), str(target.get("questionnaire", ""))
    return (
        int(visit) if visit.isdigit() and len(visit) < 10 else None,
        int(questionnaire) if questionnaire.isdigit() and len(questionnaire) < 10 else None,
    )


def _target_records(target: Mapping[str, Any] | None) -> tuple[Visit, Questionnaire]:
    target = target or {}
    visit = Visit.objects.select_related("body", "place").get(pk=target["visit"])
    questionnaire = Questionnaire.objects.get(pk=target["questionnaire"], body_id=visit.body_id)
    return visit, questionnaire


class SubmissionImporter(Importer):
    kind = KIND
    title = gettext_lazy("Submissions of a questionnaire")
    fields: dict[str, ImportField] = {}

    def can_import(self, membership: Membership | None) -> bool:
        return VISITS.can(membership, "record")

    def check_target(
        self, membership: Membership, target: Mapping[str, Any] | None
    ) -> dict[str, Any] | None:
        visit_id, questionnaire_id = _ids(target)
        visit = (
            Visit.objects.filter(pk=visit_id, body_id=membership.body_id)
            .select_related("place")
            .first()
            if visit_id
            else None
        )
        if visit is None:
            raise ValidationError(
                _("Submissions are imported into a visit: start from the visit's page.")
            )
        _require_team(membership, visit)
        if visit.status not in ANSWERING_STATUSES:
            raise ValidationError(_("Answers are recorded once the visit has started."))
        questionnaire = (
            Questionnaire.objects.filter(pk=questionnaire_id, body_id=visit.body_id).first()
            if questionnaire_id
            else None
        )
        if questionnaire is None:
            raise ValidationError(_("Choose the questionnaire the submissions answer."))
        return {"visit": visit.pk, "questionnaire": questionnaire.pk}

    def can_use(self, membership: Membership | None, imp: TabularImport) -> bool:
        visit_id, _questionnaire_id = _ids(target_of(imp))
        visit = Visit.objects.filter(pk=visit_id or 0, body_id=imp.body_id).first()
        if membership is None or visit is None:
            return False
        try:
            _require_team(membership, visit)
        except PermissionDenied:
            return False
        return True

    def fields_for(self, target: Mapping[str, Any] | None) -> dict[str, ImportField]:
        fields = {
            INSTANCE_FIELD: ImportField(gettext_lazy("Submission (instanceID)"), required=True),
            VERSION_FIELD: ImportField(gettext_lazy("Version of the form"), required=True),
        }
        if not target:
            return fields
        for question in Question.objects.filter(questionnaire_id=target["questionnaire"]):
            if question.kind != QuestionKind.NOTE:
                fields[question.code] = ImportField(question.code, help=question.label)
        return fields

    def check_headers(self, target: Mapping[str, Any] | None, headers: list[str]) -> None:
        _visit, questionnaire = _target_records(target)
        problems = Match(questionnaire, headers).problems(questionnaire)
        if problems:
            raise ValidationError(problems)

    def guess_mapping(
        self, target: Mapping[str, Any] | None, headers: list[str]
    ) -> dict[int, str | None]:
        _visit, questionnaire = _target_records(target)
        return dict(Match(questionnaire, headers).mapping)

    def prepare_import(self, imp: TabularImport) -> ImportContext:
        visit, questionnaire = _target_records(target_of(imp))
        questions = {
            question.code: question
            for question in questionnaire.questions.all()
            if question.kind != QuestionKind.NOTE
        }
        other_versions = dict(
            Questionnaire.objects.filter(body_id=visit.body_id, form_id=questionnaire.form_id)
            .exclude(pk=questionnaire.pk)
            .values_list("form_version", "version")
        )
        imported = set(
            Answer.objects.filter(question__questionnaire=questionnaire)
            .values_list("instance_id", flat=True)
            .distinct()
        )
        return ImportContext(
            body=imp.body,
            data={
                "visit": visit,
                "questionnaire": questionnaire,
                "questions": questions,
                "other_versions": other_versions,
                "imported": imported,
                "seen": {},
            },
        )

    def validate_row(
        self, context: ImportContext, values: dict[str, str]
    ) -> tuple[dict[str, Any] | None, list[tuple[str, str]]]:
        data = context.data
        questionnaire: Questionnaire = data["questionnaire"]
        errors: list[tuple[str, str]] = []
        instance_id = _normal_instance_id(values.get(INSTANCE_FIELD, ""))
        version = (values.get(VERSION_FIELD) or "").strip()
        if not instance_id:
            errors.append((INSTANCE_FIELD, _("The submission has no identifier.")))
        elif instance_id in data["seen"]:
            errors.append(
                (
                    INSTANCE_FIELD,
                    _("The same submission as row %(row)d.") % {"row": data["seen"][instance_id]},
                )
            )
        else:
            data["seen"][instance_id] = context.row_number
        if version != questionnaire.form_version:
            message = _(
                "Filled in with version “%(found)s” of the form; this questionnaire is version "
                "“%(expected)s”. Import it into the version it was filled in with."
            ) % {"found": version, "expected": questionnaire.form_version}
            if version in data["other_versions"]:
                message += " " + _("Vigil has that version as version %(version)d.") % {
                    "version": data["other_versions"][version]
                }
            errors.append((VERSION_FIELD, message))
        if errors:
            return None, errors
        cleaned: dict[str, Any] = {INSTANCE_FIELD: instance_id, VERSION_FIELD: version}
        if instance_id in data["imported"]:
            cleaned[ACTION_KEY] = UNCHANGED
            return cleaned, []
        answered = 0
        for code, raw in values.items():
            question = data["questions"].get(code)
            if question is None:
                continue
            try:
                value = clean_answer(question, raw)
            except ValidationError as exc:
                errors.append((code, " ".join(exc.messages)))
                continue
            cleaned[code] = value
            answered += bool(value)
        if not errors and not answered:
            errors.append((INSTANCE_FIELD, _("The submission answers no question.")))
        if errors:
            return None, errors
        cleaned[ACTION_KEY] = CREATE
        return cleaned, []

    def state_token(self, body: Any) -> Any:
        return Answer.objects.filter(visit__body=body).aggregate(count=Count("pk"), last=Max("pk"))

    def commit(
        self,
        *,
        job: Any,
        imp: TabularImport,
        valid_rows: list[tuple[int, dict[str, Any]]],
        actor: Any,
    ) -> dict[str, Any]:
        visit, questionnaire = _target_records(target_of(imp))
        questions = {question.code: question for question in questionnaire.questions.all()}
        answers: list[Answer] = []
        created = unchanged = 0
        for _row, cleaned in valid_rows:
            if cleaned.get(ACTION_KEY) == UNCHANGED:
                unchanged += 1
                continue
            created += 1
            answers += [
                Answer(
                    visit=visit,
                    question=questions[code],
                    value=value,
                    instance_id=cleaned[INSTANCE_FIELD],
                    recorded_by=actor,
                )
                for code, value in cleaned.items()
                if code in questions and value
            ]
        bulk.bulk_insert(Answer, answers)
        bulk.bulk_insert(
            AuditEntry,
            [
                build_entry(
                    actor=actor,
                    action="visits.answer.create",
                    obj=answer,
                    body=visit.body,
                    changes=answer_changes(answer, questionnaire, source=f"import {imp.pk}"),
                )
                for answer in answers
            ],
        )
        return {"created": created, "unchanged": unchanged, "answers": len(answers)}

    def result_links(self, imp: TabularImport) -> list[tuple[str, str]]:
        target = target_of(imp) or {}
        if "visit" not in target:
            return []
        return [(_("Back to the visit"), reverse("visits:detail", args=[target["visit"]]))]


register_importer(SubmissionImporter())
