"""Questionnaires as XLSForms, the format ODK Collect and KoboCollect use.

`parse_xlsform` lets pyxform check a workbook first (anything pyxform refuses is refused, with
pyxform's message and the sheet and row it names), then reads the sections and questions Vigil
records, with Vigil's own columns: `vigil_theme` (a theme's code), `vigil_standard` (standards'
codes, separated by commas) and `vigil_private_only` (yes or no). `export_xlsform` writes a
questionnaire version back as a workbook that pyxform accepts and that reads back to the same
questions. A form in several languages is read in its default language (the settings sheet's
`default_language`, else English, else its first). Nothing here touches the database.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from django.utils.translation import gettext as _

from vigil.core import tabular
from vigil.visits.models import QuestionKind

SURVEY, CHOICES, SETTINGS = "survey", "choices", "settings"
THEME_COLUMN, STANDARD_COLUMN, PRIVATE_COLUMN = (
    "vigil_theme",
    "vigil_standard",
    "vigil_private_only",
)
# XLSForm types of what a submission records without asking anyone: their columns in a
# submissions file are known, and ignored.
META_TYPES = frozenset(
    {
        "start",
        "end",
        "today",
        "deviceid",
        "subscriberid",
        "simserial",
        "phonenumber",
        "username",
        "email",
        "audit",
        "calculate",
        "hidden",
        "start-geopoint",
        "background-audio",
    }
)
# pyxform's type (after its own aliases) -> Vigil's kind of question.
KIND_OF_TYPE = {
    "text": QuestionKind.TEXT,
    "integer": QuestionKind.NUMBER,
    "decimal": QuestionKind.NUMBER,
    "date": QuestionKind.DATE,
    "note": QuestionKind.NOTE,
    "select one": QuestionKind.CHOICE,
}
TYPE_OF_KIND = {
    QuestionKind.TEXT: "text",
    QuestionKind.NUMBER: "decimal",
    QuestionKind.DATE: "date",
    QuestionKind.NOTE: "note",
}
YES_NO_NAMES = ("yes", "no")
_TRUE = {"yes", "true", "1", "y"}
_FALSE = {"no", "false", "0", "n", ""}
_ROW_RE = re.compile(r"^\s*\[row\s*:\s*(\d+)\]\s*")
_SHEET_RE = re.compile(r"On the '([^']+)' sheet", re.IGNORECASE)
_TYPE_RE = re.compile(r"question type '([^']+)'", re.IGNORECASE)
_NAMED_RE = re.compile(r"named '([^']+)'", re.IGNORECASE)


class XLSFormError(Exception):
    """A workbook Vigil refuses; `messages` say where and why, one problem each."""

    def __init__(self, messages: Iterable[str]) -> None:
        self.messages = list(messages)
        super().__init__("\n".join(self.messages))


@dataclass
class ParsedQuestion:
    code: str
    label: str
    kind: str
    row: int
    hint: str = ""
    choices: list[dict[str, str]] = field(default_factory=list)
    theme_code: str = ""
    standard_codes: list[str] = field(default_factory=list)
    private_only: bool = False


@dataclass
class ParsedSection:
    name: str
    title: str
    questions: list[ParsedQuestion] = field(default_factory=list)


@dataclass
class ParsedForm:
    title: str
    form_id: str
    form_version: str
    sections: list[ParsedSection]
    other_names: list[str]

    @property
    def questions(self) -> list[ParsedQuestion]:
        return [question for section in self.sections for question in section.questions]


def where(row: int | None, sheet: str = SURVEY) -> str:
    if row:
        return _("Sheet ‘%(sheet)s’, row %(row)d") % {"sheet": sheet, "row": row}
    return _("Sheet ‘%(sheet)s’") % {"sheet": sheet}


# ---------- Reading ----------


@dataclass
class _SurveyRows:
    """Where each name and type is on the survey sheet, for messages that point at a row."""

    rows_of_name: dict[str, list[int]] = field(default_factory=dict)
    type_of_row: dict[int, str] = field(default_factory=dict)

    def row(self, name: str, occurrence: int = 0) -> int | None:
        rows = self.rows_of_name.get(name, [])
        return rows[occurrence] if occurrence < len(rows) else None

    def row_of_type(self, type_text: str) -> int | None:
        wanted = " ".join(type_text.split()).lower()
        for row, text in self.type_of_row.items():
            if text.lower() == wanted:
                return row
        return None


def _survey_rows(data: bytes) -> _SurveyRows:
    from openpyxl import load_workbook

    found = _SurveyRows()
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # pyxform read it: locating rows is only a help for messages
        return found
    try:
        sheet = next((s for s in book.worksheets if s.title.strip().lower() == SURVEY), None)
        if sheet is None:
            return found
        columns: dict[str, int] = {}
        for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
            texts = ["" if cell is None else " ".join(str(cell).split()) for cell in cells]
            if not columns:
                columns = {text.lower(): index for index, text in enumerate(texts) if text}
                if "type" not in columns:
                    return found
                continue
            type_text = texts[columns["type"]] if columns["type"] < len(texts) else ""
            name_index = columns.get("name")
            name = texts[name_index] if name_index is not None and name_index < len(texts) else ""
            if type_text:
                found.type_of_row[number] = type_text
            if name:
                found.rows_of_name.setdefault(name, []).append(number)
    finally:
        book.close()
    return found


def _pyxform_message(message: str, rows: _SurveyRows) -> str:
    """pyxform's message, led by the sheet and row it is about."""
    text = " ".join(str(message).split())
    row: int | None = None
    match = _ROW_RE.match(text)
    if match:
        row = int(match.group(1))
        text = text[match.end() :]
    sheet_match = _SHEET_RE.search(text)
    # pyxform names the sheet when it is not the survey sheet whose rows it numbers.
    sheet = sheet_match.group(1) if sheet_match else SURVEY
    if row is None:
        type_match = _TYPE_RE.search(text)
        named_match = _NAMED_RE.search(text)
        if type_match:
            row = rows.row_of_type(type_match.group(1))
        elif named_match:
            row = rows.row(named_match.group(1))
    if row is None and not sheet_match:
        return _("pyxform refused the form: %(message)s") % {"message": text}
    return _("%(where)s: pyxform refused the form: %(message)s") % {
        "where": where(row, sheet),
        "message": text,
    }


def _text(value: Any, language: str | None) -> str:
    """A label or hint in the form's default language (XLSForms may hold several)."""
    if isinstance(value, dict):
        if not value:
            return ""
        for key in (language, "default"):
            if key and key in value:
                return str(value[key])
        english = next((key for key in value if str(key).lower().startswith("english")), None)
        return str(value[english] if english else next(iter(value.values())))
    return "" if value is None else str(value)


def _flag(value: Any, row: int | None, errors: list[str]) -> bool:
    text = str(value or "").strip().lower()
    if text in _TRUE:
        return True
    if text not in _FALSE:
        errors.append(
            _("%(where)s, column ‘%(column)s’: write “yes” or “no”, not “%(value)s”.")
            % {"where": where(row), "column": PRIVATE_COLUMN, "value": value}
        )
    return False


def _codes(value: Any) -> list[str]:
    return [code.strip() for code in str(value or "").split(",") if code.strip()]


def _check_workbook(data: bytes, filename: str) -> None:
    name = PurePath(filename or "form.xlsx").name
    if PurePath(name).suffix.lower() != ".xlsx" or not data.startswith(b"PK\x03\x04"):
        raise XLSFormError(
            [_("“%(name)s” is not an XLSForm: upload an Excel workbook (.xlsx).") % {"name": name}]
        )
    try:
        # Refuses a workbook that would decompress past the limits, without decompressing it.
        tabular.parse_size(data, name)
    except tabular.TabularError as exc:
        raise XLSFormError([str(exc)]) from exc


def parse_xlsform(data: bytes, filename: str = "form.xlsx") -> ParsedForm:
    """Read an XLSForm workbook; raises XLSFormError saying every problem found."""
    from pyxform.errors import PyXFormError
    from pyxform.xls2xform import convert

    _check_workbook(data, filename)
    rows = _survey_rows(data)
    try:
        result = convert(data, file_type=".xlsx", form_name="data")
    except PyXFormError as exc:
        raise XLSFormError([_pyxform_message(str(exc), rows)]) from exc
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError) as exc:
        raise XLSFormError(
            [_("“%(name)s” could not be read as an XLSForm.") % {"name": PurePath(filename).name}]
        ) from exc
    form: dict[str, Any] = result._pyxform or {}
    language = form.get("default_language")
    errors: list[str] = []
    sections: list[ParsedSection] = []
    other_names: list[str] = []
    seen: dict[str, int] = {}
    occurrences: dict[str, int] = {}

    def row_of(name: str) -> int | None:
        index = occurrences.get(name, 0)
        occurrences[name] = index + 1
        return rows.row(name, index)

    def read_question(element: dict[str, Any], section: ParsedSection) -> None:
        name = str(element.get("name", ""))
        element_type = str(element.get("type", ""))
        row = row_of(name)
        if element_type in META_TYPES:
            other_names.append(name)
            return
        if element_type in {"group", "repeat"}:
            if element_type == "repeat":
                errors.append(
                    _(
                        "%(where)s: “%(name)s” is a repeat; Vigil records each question once "
                        "per set of answers, so a form with repeats cannot be imported."
                    )
                    % {"where": where(row), "name": name}
                )
                return
            # A group inside a section: its questions belong to the section.
            for child in element.get("children", []):
                read_question(child, section)
            return
        kind = KIND_OF_TYPE.get(element_type)
        if kind is None:
            type_text = rows.type_of_row.get(row or 0, element_type)
            errors.append(
                _(
                    "%(where)s: Vigil has no question of type “%(type)s”; use text, integer, "
                    "decimal, date, note or select_one."
                )
                % {"where": where(row), "type": type_text}
            )
            return
        choices = [
            {"name": str(choice.get("name", "")), "label": _text(choice.get("label"), language)}
            for choice in element.get("choices", [])
        ]
        if kind == QuestionKind.CHOICE and sorted(c["name"] for c in choices) == sorted(
            YES_NO_NAMES
        ):
            kind = QuestionKind.YES_NO
        if name in seen:
            errors.append(
                _(
                    "%(where)s: the name “%(name)s” is already used at row %(other)d; Vigil "
                    "needs each name once in the whole form, as submissions files are matched "
                    "on them."
                )
                % {"where": where(row), "name": name, "other": seen[name]}
            )
            return
        seen[name] = row or 0
        section.questions.append(
            ParsedQuestion(
                code=name,
                label=_text(element.get("label"), language),
                hint=_text(element.get("hint"), language),
                kind=kind,
                row=row or 0,
                choices=choices if kind in {QuestionKind.CHOICE, QuestionKind.YES_NO} else [],
                theme_code=str(element.get(THEME_COLUMN) or "").strip(),
                standard_codes=_codes(element.get(STANDARD_COLUMN)),
                private_only=_flag(element.get(PRIVATE_COLUMN), row, errors),
            )
        )

    loose: ParsedSection | None = None
    for element in form.get("children", []):
        name = str(element.get("name", ""))
        element_type = element.get("type")
        if element_type == "group" and (element.get("control") or {}).get("bodyless"):
            # The form's metadata (meta/instanceID): never a question.
            other_names.extend(str(child.get("name", "")) for child in element.get("children", []))
            continue
        if element_type == "group":
            row_of(name)
            loose = None
            section = ParsedSection(name=name, title=_text(element.get("label"), language))
            sections.append(section)
            for child in element.get("children", []):
                read_question(child, section)
            continue
        if loose is None:
            loose = ParsedSection(name="", title="")
            sections.append(loose)
        read_question(element, loose)

    sections = [section for section in sections if section.questions]
    clash = sorted(set(seen) & set(other_names))
    if clash:
        errors.append(
            _("The names %(names)s are used both by questions and by other fields of the form.")
            % {"names": ", ".join(f"“{name}”" for name in clash)}
        )
    if not errors and not sections:
        errors.append(_("The form has no question Vigil can record."))
    if errors:
        raise XLSFormError(errors)
    version = form.get("version")
    return ParsedForm(
        title=_text(form.get("title"), language).strip() or str(form.get("id_string", "")),
        form_id=str(form.get("id_string", "")),
        form_version="" if version is None else str(version).strip(),
        sections=sections,
        other_names=[name for name in other_names if name],
    )


# ---------- Writing ----------


SURVEY_HEADERS = ["type", "name", "label", "hint", THEME_COLUMN, STANDARD_COLUMN, PRIVATE_COLUMN]


def _write_rows(sheet: Any, rows: list[list[Any]]) -> None:
    for row_number, values in enumerate(rows, start=1):
        for column, value in enumerate(values, start=1):
            if value in (None, ""):
                continue
            cell = sheet.cell(row=row_number, column=column)
            cell.value = value
            if isinstance(value, str):
                # Text, never a formula, whatever it starts with.
                cell.data_type = "s"


def export_xlsform(questionnaire: Any) -> bytes:
    """The questionnaire version as an XLSForm workbook."""
    from openpyxl import Workbook

    survey: list[list[Any]] = [SURVEY_HEADERS]
    choices: list[list[Any]] = [["list_name", "name", "label"]]
    sections = questionnaire.sections.prefetch_related(
        "questions__standards", "questions__theme"
    ).order_by("position", "pk")
    for section in sections:
        if section.name:
            survey.append(["begin group", section.name, section.title])
        for question in section.questions.all():
            if question.kind in TYPE_OF_KIND:
                question_type = TYPE_OF_KIND[QuestionKind(question.kind)]
            else:
                question_type = f"select_one {question.code}"
                options = question.choices or (
                    [{"name": "yes", "label": "Yes"}, {"name": "no", "label": "No"}]
                    if question.kind == QuestionKind.YES_NO
                    else []
                )
                for choice in options:
                    choices.append([question.code, choice["name"], choice.get("label", "")])
            survey.append(
                [
                    question_type,
                    question.code,
                    question.label,
                    question.hint,
                    question.theme.code if question.theme_id else "",
                    ",".join(sorted(standard.code for standard in question.standards.all())),
                    "yes" if question.private_only else "",
                ]
            )
        if section.name:
            survey.append(["end group", "", ""])
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = SURVEY
    _write_rows(sheet, survey)
    if len(choices) > 1:
        _write_rows(book.create_sheet(CHOICES), choices)
    _write_rows(
        book.create_sheet(SETTINGS),
        [
            ["form_title", "form_id", "version"],
            [questionnaire.title, questionnaire.form_id, questionnaire.form_version],
        ],
    )
    output = io.BytesIO()
    book.save(output)
    return output.getvalue()
