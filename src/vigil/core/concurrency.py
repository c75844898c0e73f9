"""Optimistic locking: two people editing one record never silently overwrite each other.

An editable record has a `version` (a PositiveIntegerField, default 1). Every write raises it
and records `{"version": [old, new]}` in its audit entry (`bump_version`). A write says which
version it was based on; the service calls `check_version(obj, expected)` on the row it locked,
and a write based on an older version is refused with `StaleVersion`: the record as it is now,
who changed it last and when, and each field changed since, with both values, all read from the
audit trail. Pages rebuild their form with `form_after_conflict`; the API answers 412 through
`vigil.core.api.VersionedViewSetMixin` (ETag / If-Match).
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, TypeVar

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.http import QueryDict
from django.utils.translation import gettext as _

from vigil.core.audit import change_rows, format_moment, history, object_type, snapshot
from vigil.core.models import AuditEntry

FormT = TypeVar("FormT", bound=forms.BaseForm)

VERSION_KEY = "version"
# Keys of a recorded change that say how the write happened, not what it changed.
_BOOKKEEPING_KEYS = {VERSION_KEY, "import"}
# Audit entries read to explain a conflict; a record changed more often than this since the
# person opened it is explained by its latest changes.
MAX_ENTRIES = 200


def bump_version(obj: models.Model, changes: dict[str, Any] | None = None) -> dict[str, Any]:
    """Raise `obj.version` by one (saved with the caller's save) and note it in `changes`, the
    audit entry's changes, which are returned."""
    changes = {} if changes is None else changes
    old = obj.version  # type: ignore[attr-defined]
    obj.version = old + 1  # type: ignore[attr-defined]
    changes[VERSION_KEY] = [old, old + 1]
    return changes


def check_version(obj: models.Model, expected_version: int | None) -> None:
    """Refuse a write based on another version of `obj` than its current one.

    Call it on the row the service has locked (select_for_update), before changing anything.
    `None` means the caller did not say which version it saw (an old client): not checked."""
    if expected_version is None:
        return
    if obj.version != expected_version:  # type: ignore[attr-defined]
        raise StaleVersion(obj, expected_version)


@dataclass(frozen=True)
class FieldChange:
    """One field changed by someone else: its recorded values at the version a person started
    from (`was`) and now (`now`), and the same as people read them."""

    field: str
    label: str
    was: Any
    now: Any
    was_display: str
    now_display: str


def _recorded_version(entry: AuditEntry) -> int | None:
    version = (entry.changes or {}).get(VERSION_KEY) if isinstance(entry.changes, dict) else None
    if isinstance(version, list) and len(version) == 2 and isinstance(version[1], int):
        return version[1]
    return None


class StaleVersion(ValidationError):
    """A write based on version `expected_version` of a record that has moved on since.

    `current` is the record as it is now; `changed_by` and `changed_at` say who wrote the
    latest version and when; `changes` lists every field changed since `expected_version`."""

    def __init__(self, obj: models.Model, expected_version: int) -> None:
        self.current = obj
        self.expected_version = expected_version
        self.current_version: int = obj.version  # type: ignore[attr-defined]
        entries = self._entries_since(obj, expected_version)
        latest = entries[0] if entries else None
        self.changed_by: str = latest.actor_label if latest is not None else ""
        self.changed_at: datetime.datetime | None = (
            latest.created_at if latest is not None else None
        )
        self.changes: list[FieldChange] = self._combine(object_type(obj), entries)
        super().__init__(self._message(), code="stale_version")

    @staticmethod
    def _entries_since(obj: models.Model, expected_version: int) -> list[AuditEntry]:
        """The object's versioned audit entries after `expected_version`, newest first."""
        entries = []
        for entry in (
            history(object_type(obj), [obj.pk])
            .filter(changes__has_key=VERSION_KEY)
            .order_by("-created_at", "-id")[:MAX_ENTRIES]
        ):
            version = _recorded_version(entry)
            if version is None:
                continue
            if version <= expected_version:
                break
            entries.append(entry)
        return entries

    @staticmethod
    def _combine(record_type: str, entries: list[AuditEntry]) -> list[FieldChange]:
        combined: dict[str, list[Any]] = {}
        # Fields whose change is recorded without its values (encrypted ones: "(encrypted)" on
        # both sides); they changed even though both recorded values are the same.
        opaque: set[str] = set()
        for entry in reversed(entries):
            if not isinstance(entry.changes, dict):
                continue
            for field, value in entry.changes.items():
                if field in _BOOKKEEPING_KEYS or not (isinstance(value, list) and len(value) == 2):
                    continue
                if value[0] == value[1]:
                    opaque.add(field)
                if field in combined:
                    combined[field][1] = value[1]
                else:
                    combined[field] = [value[0], value[1]]
        changes = []
        for field, (was, now) in combined.items():
            if was == now and field not in opaque:
                continue  # changed and changed back
            ((label, was_display, now_display),) = change_rows(record_type, {field: [was, now]})
            changes.append(FieldChange(field, label, was, now, was_display, now_display))
        return changes

    def _message(self) -> str:
        if self.expected_version > self.current_version:
            return _(
                "Version %(expected)s of this record does not exist; its current version is "
                "%(current)s. Reload it and make your change again."
            ) % {"expected": self.expected_version, "current": self.current_version}
        if self.changed_by and self.changed_at is not None:
            return _("Changed by %(who)s at %(time)s since you opened it.") % {
                "who": self.changed_by,
                "time": format_moment(self.changed_at),
            }
        return _("Someone else changed this record since you opened it.")

    def as_dict(self) -> dict[str, Any]:
        """What the API answers with a 412."""
        return {
            "detail": self.messages[0],
            "current_version": self.current_version,
            "your_version": self.expected_version,
            "changed_by": self.changed_by or None,
            "changed_at": self.changed_at.isoformat() if self.changed_at else None,
            "changes": [
                {"field": change.field, "was": change.was, "now": change.now}
                for change in self.changes
            ],
        }


# ---------- Pages: the form shown again after a conflict ----------


@dataclass(frozen=True)
class ConflictNote:
    """What the page says about one field someone else changed.

    `taken`: the person had not changed the field, so the form now holds the other person's
    value; otherwise the form keeps what the person typed, shown next to the other value."""

    change: FieldChange
    in_form: bool
    taken: bool
    secret: bool
    typed_display: str = ""
    # Who changed it ("" when the trail does not say), and the id of the field on the page.
    who: str = ""
    anchor: str = ""

    @property
    def field(self) -> str:
        return self.change.field


@dataclass(frozen=True)
class FormConflict:
    message: str
    changed_by: str
    changed_at: datetime.datetime | None
    notes: list[ConflictNote]


def _normalised(value: Any, *, numeric: bool) -> Any:
    if isinstance(value, list):
        return [_normalised(item, numeric=numeric) for item in value]
    if not isinstance(value, str):
        return value
    text = value.replace("\r\n", "\n").strip()
    if numeric and text:
        # Decimals are recorded as text: "12.500000" from the database, "12.5" typed.
        try:
            return decimal.Decimal(text)
        except decimal.InvalidOperation:
            return text
    return text


def same_recorded(first: Any, second: Any, *, numeric: bool = False) -> bool:
    """Whether two values as the audit trail records them are the same value (`numeric`: they
    are numbers, recorded as text)."""
    if first in (None, "", []) and second in (None, "", []):
        return True
    return bool(_normalised(first, numeric=numeric) == _normalised(second, numeric=numeric))


def _typed(form: forms.BaseForm, name: str) -> Any:
    """A field's cleaned value as the audit trail records it."""
    value = form.cleaned_data.get(name)
    return snapshot(SimpleNamespace(**{name: value}), [name])[name]  # type: ignore[arg-type]


def _set_value(data: QueryDict, form: forms.BaseForm, name: str, value: Any) -> None:
    """Put a field's initial value into submitted data, as a browser would have sent it."""
    field = form.fields[name]
    if isinstance(field, forms.BooleanField):
        if value:
            data[name] = "on"
        else:
            data.pop(name, None)
        return
    prepared = field.prepare_value(value)
    if isinstance(prepared, list | tuple):
        data.setlist(name, ["" if item is None else str(item) for item in prepared])
    else:
        data[name] = "" if prepared is None else str(prepared)


def form_after_conflict(
    submitted: forms.BaseForm,
    conflict: StaleVersion,
    make_form: Callable[..., FormT],
    *,
    version_field: str = VERSION_KEY,
    secret_fields: Iterable[str] = (),
) -> tuple[FormT, FormConflict]:
    """The form to show after `conflict`: what the person typed, the new version, and a note on
    each field the other person changed.

    `submitted` is the person's valid form; `make_form(data=None)` builds the same form for the
    record as it is now (bound to `data` when given). A field the person had not changed takes
    the other person's value, so saving again cannot undo their change by accident; a field both
    changed keeps what the person typed, with the other value beside it. Saving again replaces
    the record with what the form then holds."""
    secret = set(secret_fields)
    if isinstance(submitted.data, QueryDict):
        data = submitted.data.copy()
    else:
        data = QueryDict(mutable=True)
        for key, value in submitted.data.items():
            data.setlist(key, list(value) if isinstance(value, list | tuple) else [value])
    data[version_field] = str(conflict.current_version)
    fresh = make_form()
    notes = []
    for change in conflict.changes:
        in_form = change.field in submitted.fields and change.field in fresh.fields
        if not in_form or change.field in secret:
            # Not on this form (e.g. moved to the trash), or never shown: only named.
            notes.append(
                ConflictNote(change, in_form=in_form, taken=False, secret=change.field in secret)
            )
            continue
        typed = _typed(submitted, change.field)
        numeric = isinstance(submitted.fields[change.field], forms.DecimalField | forms.FloatField)
        if same_recorded(typed, change.now, numeric=numeric):
            continue  # both made the same change
        if same_recorded(typed, change.was, numeric=numeric):
            _set_value(data, fresh, change.field, fresh[change.field].value())
            notes.append(ConflictNote(change, in_form=True, taken=True, secret=False))
        else:
            ((_label, _old, typed_display),) = change_rows(
                object_type(conflict.current), {change.field: [None, typed]}
            )
            notes.append(
                ConflictNote(
                    change, in_form=True, taken=False, secret=False, typed_display=typed_display
                )
            )
    form = make_form(data)
    form.is_valid()
    placed = []
    for note in notes:
        if not note.in_form:
            placed.append(dataclasses.replace(note, who=conflict.changed_by))
            continue
        bound = form[note.field]
        note = dataclasses.replace(note, who=conflict.changed_by, anchor=bound.auto_id or "")
        placed.append(note)
        field = form.fields[note.field]
        # Read by the field templates (core/_conflict_note.html).
        field.conflict = note  # type: ignore[attr-defined]
        # A screen reader reads the note with the field.
        described_by = field.widget.attrs.get("aria-describedby", "").split()
        field.widget.attrs["aria-describedby"] = " ".join(
            [*described_by, f"{bound.auto_id}_conflict"]
        )
    notes = placed
    return form, FormConflict(
        message=conflict.messages[0],
        changed_by=conflict.changed_by,
        changed_at=conflict.changed_at,
        notes=notes,
    )
