"""Names people type and others read (of people, places, terms) must show what they contain.

A right-to-left override makes "Prison Gnirps" read as "Prison Spring"; a zero-width space makes
two places that look the same different to a search or a duplicate check. Names with control
characters (Unicode category Cc, except tab and line breaks) or format characters (Cf) are
refused with a message naming the character. One exception: a zero-width joiner or non-joiner
between two letters of a script that needs them (Persian, Kurdish, Sinhala, the Indic scripts),
where it is part of correct spelling; between ASCII letters it only hides something.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import ngettext_lazy

ALLOWED_CONTROLS = frozenset("\t\n\r")
JOINERS = frozenset("\u200c\u200d")  # zero-width non-joiner, zero-width joiner


def _joins_letters(value: str, index: int) -> bool:
    if index == 0 or index == len(value) - 1:
        return False
    return all(
        ord(neighbour) > 0x7F and unicodedata.category(neighbour)[0] in "LM"
        for neighbour in (value[index - 1], value[index + 1])
    )


def hidden_characters(value: str) -> list[str]:
    """The control and format characters of `value` a name may not hold, in order."""
    found = []
    for index, character in enumerate(value):
        category = unicodedata.category(character)
        if (category == "Cc" and character not in ALLOWED_CONTROLS) or category == "Cf":
            if character in JOINERS and _joins_letters(value, index):
                continue
            found.append(character)
    return found


def describe_character(character: str) -> str:
    """U+202E RIGHT-TO-LEFT OVERRIDE: how a person can find the character in their text."""
    code = f"U+{ord(character):04X}"
    name = unicodedata.name(character, "")
    return f"{code} {name}" if name else code


def validate_visible_text(value: Any) -> None:
    """Refuse a name holding invisible or control characters (see the module docstring)."""
    if not isinstance(value, str):
        return
    found = list(dict.fromkeys(hidden_characters(value)))
    if found:
        raise ValidationError(
            ngettext_lazy(
                "Remove the invisible or control character %(characters)s: a name must show "
                "everything it contains.",
                "Remove the invisible or control characters %(characters)s: a name must show "
                "everything it contains.",
                "count",
            ),
            code="hidden_character",
            params={
                "characters": ", ".join(describe_character(c) for c in found),
                "count": len(found),
            },
        )


class NameField(forms.CharField):
    """A form field for a name (of a person, a place, a term): no hidden characters."""

    default_validators = [validate_visible_text]
