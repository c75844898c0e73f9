"""What a request may carry, checked at the edges so that no view, form or endpoint has to.

- Integers: every integer field of a form or serializer is bounded by what its database column
  can hold, derived from the model field it feeds (`storage_range`), or by the range of a plain
  integer column when it feeds none. Without this, 2147483648 passes the form and fails in
  PostgreSQL with a server error (and is silently stored by SQLite).
- NUL characters and JSON nesting: `core.middleware.InputGuardMiddleware` refuses them for every
  request with the messages and checks here.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core import validators
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.backends.base.operations import BaseDatabaseOperations
from django.utils.translation import gettext as _
from rest_framework import serializers

# The column ranges of PostgreSQL (Django's portable defaults), applied whatever the database:
# SQLite would accept more, and a value that only works on SQLite must not pass the tests.
INTEGER_RANGES: dict[str, tuple[int, int]] = BaseDatabaseOperations.integer_field_ranges
PLAIN_INTEGER_RANGE = INTEGER_RANGES["IntegerField"]

MAX_JSON_DEPTH = 64


def storage_range(model_field: Any) -> tuple[int, int]:
    """The smallest and largest integer the column of `model_field` holds."""
    if model_field is None:
        return PLAIN_INTEGER_RANGE
    return INTEGER_RANGES.get(model_field.get_internal_type(), PLAIN_INTEGER_RANGE)


def _model_field(model: type[models.Model] | None, name: str) -> Any:
    if model is None:
        return None
    try:
        return model._meta.get_field(name)
    except FieldDoesNotExist:
        return None


def bound_form_integers(form: forms.BaseForm, model: type[models.Model] | None) -> None:
    """Give each integer field of `form` the bounds of the column it feeds (see the module)."""
    for name, field in form.fields.items():
        if not isinstance(field, forms.IntegerField) or isinstance(
            field, forms.FloatField | forms.DecimalField
        ):
            continue
        low, high = storage_range(_model_field(model, name))
        if field.max_value is None or field.max_value > high:
            field.max_value = high
            field.validators.append(validators.MaxValueValidator(high))
            field.widget.attrs["max"] = high
        if field.min_value is None or field.min_value < low:
            field.min_value = low
            field.validators.append(validators.MinValueValidator(low))
            field.widget.attrs["min"] = low


def bound_serializer_integers(fields: Any, model: type[models.Model] | None) -> None:
    """The same for the integer fields of a serializer, with DRF's own messages."""
    for name, field in fields.items():
        if not isinstance(field, serializers.IntegerField) or field.read_only:
            continue
        source = field.source if isinstance(field.source, str) and field.source else name
        if "." in source:
            source = name
        low, high = storage_range(_model_field(model, source))
        if field.max_value is None or field.max_value > high:
            field.max_value = high
            message = field.error_messages["max_value"].format(max_value=high)
            field.validators.append(validators.MaxValueValidator(high, message=message))
        if field.min_value is None or field.min_value < low:
            field.min_value = low
            message = field.error_messages["min_value"].format(min_value=low)
            field.validators.append(validators.MinValueValidator(low, message=message))


class StrictBooleanField(serializers.BooleanField):
    """A yes/no field of the API: JSON's true and false, or the words `true` and `false` in a
    form-encoded body (which has no other way to say them). DRF's own also takes 1, 0, "yes",
    "on"... which the schema does not allow and which read ambiguously in a record's history."""

    def to_internal_value(self, data: Any) -> bool:
        if isinstance(data, bool):
            return data
        if isinstance(data, str) and data.lower() in {"true", "false"}:
            return data.lower() == "true"
        self.fail("invalid", input=data)
        raise AssertionError  # fail() raises


class StrictCharField(serializers.CharField):
    """A text field of the API that takes text only: DRF's own turns a JSON number into text,
    which the schema does not allow (and `0` for a summary is a client's mistake)."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


STRICT_FIELDS: dict[type, type] = {
    serializers.BooleanField: StrictBooleanField,
    serializers.CharField: StrictCharField,
}


def strict_serializer_types(fields: Any) -> None:
    """Every writable yes/no and plain text field of a serializer takes only the JSON type the
    schema gives it (StrictBooleanField, StrictCharField)."""
    for name, field in list(fields.items()):
        strict = STRICT_FIELDS.get(type(field))
        if strict is not None and not field.read_only:
            # DRF keeps each field's arguments (for deepcopy): the same field, stricter.
            made: Any = field
            fields[name] = strict(*made._args, **made._kwargs)


# --- NUL characters and JSON nesting ------------------------------------------------------------


def nul_message(name: str) -> str:
    return _(
        "“%(name)s” contains a NUL character (a zero byte), which no text in Vigil may hold. "
        "Nothing was changed."
    ) % {"name": name[:100].replace("\x00", "\\0")}


def json_nul_message() -> str:
    return _(
        "The JSON body contains a NUL character (\\u0000), which no text in Vigil may hold. "
        "Nothing was changed."
    )


def json_depth_message() -> str:
    return _(
        "The JSON body is nested more than %(limit)d levels deep; Vigil accepts at most "
        "%(limit)d. Nothing was changed."
    ) % {"limit": MAX_JSON_DEPTH}


_BRACKETS = b"[]{}"
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in _BRACKETS)


def json_too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the arrays and objects of a JSON text nest deeper than `limit`, found without
    parsing it (parsing is what fails on deep nesting), in time linear in its length."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False  # the common case: too few brackets to be too deep
    brackets = _strip_strings(body).translate(None, delete=_NOT_BRACKETS)
    depth = 0
    for byte in brackets:
        if byte in b"[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _strip_strings(body: bytes) -> bytes:
    """`body` without its JSON strings, whose brackets are text. One pass: each string is
    skipped with find(), in C; an unterminated string ends the text."""
    parts = []
    position = 0
    while True:
        start = body.find(b'"', position)
        if start < 0:
            parts.append(body[position:])
            return b"".join(parts)
        parts.append(body[position:start])
        end = start + 1
        while True:
            end = body.find(b'"', end)
            if end < 0:
                return b"".join(parts)
            # The quote closes the string unless an odd number of backslashes escapes it.
            backslashes = 0
            while body[end - 1 - backslashes] == 0x5C:  # "\"
                backslashes += 1
            if backslashes % 2 == 0:
                break
            end += 1
        position = end + 1


def json_has_nul(body: bytes) -> bool:
    """Whether a JSON text holds the escape \\u0000 (a raw NUL byte is invalid JSON anyway)."""
    position = body.find(b"\\u0000")
    while position >= 0:
        backslashes = 0
        while position - backslashes >= 0 and body[position - backslashes] == 0x5C:
            backslashes += 1
        # "\\u0000" (an escaped backslash, then text) has an even number of backslashes.
        if backslashes % 2 == 1:
            return True
        position = body.find(b"\\u0000", position + 1)
    return False
