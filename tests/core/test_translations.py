"""The French and Spanish catalogues: complete, not fuzzy, placeholders intact, compiled, and
actually used by the pages and by the seeded taxonomy.

The .po files are the source of truth here; the .mo files are built by `make messages` (or
`manage.py compilemessages`) before the suite runs.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from tests.factories import PlaceFactory
from tests.testapp.models import Note
from vigil.core.models import Role, TaxonomyKind, TaxonomyTerm
from vigil.core.taxonomy import DEFAULT_PLACE_TYPES, DEFAULT_THEMES, DEFAULT_VULNERABLE_GROUPS

LANGUAGES = ["fr", "es"]
PLURAL_FORMS = {"fr": "nplurals=2; plural=(n > 1);", "es": "nplurals=2; plural=(n != 1);"}
# Python's %-format fields, as gettext's python-format sees them, and the literal "%%".
PLACEHOLDER = re.compile(r"%%|%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")


@dataclass
class Message:
    msgid: str = ""
    msgid_plural: str = ""
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    line: int = 0

    @property
    def label(self) -> str:
        context = f"[{self.msgctxt}] " if self.msgctxt is not None else ""
        return f"line {self.line}: {context}{self.msgid!r}"


def parse_po(path: Path) -> tuple[dict[str, str], list[Message]]:
    """The header fields and the live (non-obsolete) messages of a .po file.

    gettext's tools write one entry per blank-line-separated block: comments and flags first,
    then keywords each followed by quoted strings, possibly continued on the next lines.
    """
    messages: list[Message] = []
    number = 0
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        lines = block.strip().splitlines()
        message = Message(line=number + 1)
        number += block.count("\n") + 2
        key: tuple[str, int] | None = None
        for line in lines:
            if line.startswith("#,"):
                message.flags.update(flag.strip() for flag in line[2:].split(","))
                continue
            if line.startswith("#"):  # references, translator notes, obsolete (#~) entries
                continue
            if not line.startswith('"'):
                keyword, line = line.split(" ", 1)
                index = int(keyword[7:-1]) if keyword.startswith("msgstr[") else 0
                key = (keyword.split("[")[0], index)
            text = ast.literal_eval(line)
            assert key is not None and isinstance(text, str), f"{path}: {line}"
            name, index = key
            if name == "msgstr":
                message.msgstr[index] = message.msgstr.get(index, "") + text
            elif name == "msgctxt":
                message.msgctxt = (message.msgctxt or "") + text
            else:
                setattr(message, name, getattr(message, name) + text)
        if key is not None:
            messages.append(message)

    header_message = next(message for message in messages if message.msgid == "")
    header = dict(
        line.split(": ", 1) for line in header_message.msgstr[0].splitlines() if ": " in line
    )
    return header, [message for message in messages if message.msgid != ""]


def catalogue_path(language: str) -> Path:
    return Path(settings.LOCALE_PATHS[0]) / language / "LC_MESSAGES" / "django.po"


@pytest.fixture(params=LANGUAGES)
def catalogue(request) -> tuple[str, dict[str, str], list[Message]]:
    header, messages = parse_po(catalogue_path(request.param))
    return request.param, header, messages


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


# ---------- The catalogues ----------


def test_catalogues_live_in_the_locale_paths():
    assert [Path(path) for path in settings.LOCALE_PATHS] == [Path(settings.BASE_DIR) / "locale"]
    for language in LANGUAGES:
        assert catalogue_path(language).is_file()


def test_header_names_the_language_and_its_plural_rule(catalogue):
    language, header, _messages = catalogue
    assert header["Language"] == language
    assert header["Plural-Forms"] == PLURAL_FORMS[language]
    assert header["Content-Type"] == "text/plain; charset=UTF-8"


def test_the_catalogue_is_not_empty(catalogue):
    _language, _header, messages = catalogue
    assert len(messages) > 500


def test_every_message_is_translated_in_every_plural_form(catalogue):
    language, _header, messages = catalogue
    untranslated = [
        message.label
        for message in messages
        if sorted(message.msgstr) != ([0, 1] if message.msgid_plural else [0])
        or not all(text.strip() for text in message.msgstr.values())
    ]
    assert untranslated == [], f"untranslated in {language}"


def test_no_message_is_fuzzy(catalogue):
    _language, _header, messages = catalogue
    assert [message.label for message in messages if "fuzzy" in message.flags] == []


def test_placeholders_are_kept(catalogue):
    _language, _header, messages = catalogue
    broken = []
    for message in messages:
        expected = [placeholders(message.msgid)]
        if message.msgid_plural:
            # A singular form may use either source form's fields (both name the count).
            expected.append(placeholders(message.msgid_plural))
        for index, text in message.msgstr.items():
            if placeholders(text) not in expected:
                broken.append((message.label, index, text))
    assert broken == []


def test_markup_is_kept(catalogue):
    _language, _header, messages = catalogue
    tag = re.compile(r"</?[a-z]+[^>]*>")
    broken = [
        message.label
        for message in messages
        for text in message.msgstr.values()
        if sorted(tag.findall(text)) != sorted(tag.findall(message.msgid))
    ]
    assert broken == []


def test_the_compiled_catalogue_matches_the_po_file(catalogue):
    """A stale or missing .mo shows up here: run `make messages` (compilemessages)."""
    language, _header, messages = catalogue
    stale = []
    with translation.override(language):
        for message in messages:
            if message.msgid_plural:
                got = {
                    0: translation.ngettext(message.msgid, message.msgid_plural, 1),
                    1: translation.ngettext(message.msgid, message.msgid_plural, 5),
                }
            elif message.msgctxt is not None:
                got = {0: translation.pgettext(message.msgctxt, message.msgid)}
            else:
                got = {0: translation.gettext(message.msgid)}
            if got != message.msgstr:
                stale.append(message.label)
    assert stale == [], "the .mo files are out of date: run `make messages`"


def test_seeded_taxonomy_labels_are_in_the_catalogues(catalogue):
    _language, _header, messages = catalogue
    msgids = {message.msgid for message in messages if message.msgctxt is None}
    labels = [label for _code, label, _children in DEFAULT_THEMES]
    labels += [label for _code, _label, children in DEFAULT_THEMES for _c, label in children]
    labels += [label for _code, label in DEFAULT_VULNERABLE_GROUPS + DEFAULT_PLACE_TYPES]
    assert [label for label in labels if label not in msgids] == []


# ---------- In use ----------


@pytest.mark.django_db
def test_seeded_taxonomy_terms_show_in_the_active_language(body):
    prison = TaxonomyTerm.objects.get(body=body, kind=TaxonomyKind.PLACE_TYPE, code="prison")
    women = TaxonomyTerm.objects.get(body=body, kind=TaxonomyKind.VULNERABLE_GROUP, code="women")
    with translation.override("es"):
        assert (str(prison), str(women)) == ("Prisión", "Mujeres")
    with translation.override("fr"):
        assert str(women) == "Femmes"
    with translation.override("en"):
        assert (str(prison), str(women)) == ("Prison", "Women")


@pytest.mark.django_db
def test_a_label_the_body_typed_itself_shows_as_typed(body):
    term = TaxonomyTerm.objects.create(
        body=body, kind=TaxonomyKind.PLACE_TYPE, code="boat", label="Detention boat"
    )
    with translation.override("fr"):
        assert str(term) == "Detention boat"


@pytest.mark.django_db
def test_the_places_page_follows_the_browser_language(client_for, head, body):
    PlaceFactory(body=body, name="Harbour Remand Centre")
    response = client_for(head).get("/places/", HTTP_ACCEPT_LANGUAGE="fr")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="fr"' in html
    assert "Lieux de privation de liberté" in html
    assert "Places of deprivation of liberty" not in html


@pytest.mark.django_db
def test_the_language_chosen_in_the_footer_sticks(client_for, head, body):
    PlaceFactory(body=body, name="Harbour Remand Centre")
    client = client_for(head)
    response = client.post("/i18n/setlang/", {"language": "es", "next": "/places/"})
    assert response.status_code == 302
    html = client.get("/places/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert '<html lang="es"' in html
    assert "Lugares de privación de libertad" in html
    assert "Prisión" in html  # the seeded type of the place, through the catalogue


@pytest.mark.django_db
def test_english_stays_the_default(client_for, head, body):
    html = client_for(head).get("/places/").content.decode()
    assert '<html lang="en"' in html
    assert "Places of deprivation of liberty" in html


@pytest.mark.django_db
def test_the_grants_page_and_its_errors_are_translated(client_for, head, persona, body):
    note = Note.objects.create(body=body, title="Team-only note", is_restricted=True)
    client = client_for(head)
    client.post("/i18n/setlang/", {"language": "fr", "next": "/"})
    html = client.get(reverse("grants")).content.decode()
    assert "Autorisations d'accès" in html and "Access grants" not in html
    assert "Aucune autorisation n'est en vigueur" in html
    response = client.post(
        reverse("grants"),
        {
            "object_type": "testapp.note",
            "object_id": note.pk,
            "grantee": persona(Role.ANALYST).pk,
            "reason": "Prépare la visite de suivi",
            "ends_on": "2001-01-01",
        },
    )
    assert "La date de fin est déjà passée" in response.content.decode()


def test_the_server_error_page_is_translated():
    with translation.override("fr"):
        html = render_to_string("500.html")
    assert '<html lang="fr"' in html
    assert "Une erreur s’est produite" in html or "Une erreur s'est produite" in html
