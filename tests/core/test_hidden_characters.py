"""Names (of people, terms) cannot hide characters: right-to-left overrides, zero-width spaces and
control characters are refused with a message naming them (core.text)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from vigil.core import taxonomy
from vigil.core.forms import AccountForm, MembershipAddForm
from vigil.core.models import Membership, Role, TaxonomyTerm
from vigil.core.text import hidden_characters, validate_visible_text

RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE
ZWSP = "\u200b"  # ZERO WIDTH SPACE
ZWNJ = "\u200c"  # ZERO WIDTH NON-JOINER


@pytest.mark.parametrize(
    "value",
    [
        f"Central Prison {RLO}gnirpS",
        f"Central{ZWSP}Prison",
        "\ufeffCentral Prison",  # byte order mark
        "Central\x00Prison",
        "Central\x07Prison",  # bell
        "Central\x1bPrison",  # escape
        f"Ali{ZWNJ}ce",  # a joiner between Latin letters only hides something
        "Central Prison\u2066",  # left-to-right isolate
    ],
)
def test_hidden_characters_are_refused(value):
    with pytest.raises(ValidationError) as caught:
        validate_visible_text(value)
    assert caught.value.code == "hidden_character"


def test_the_message_names_each_character():
    with pytest.raises(ValidationError) as caught:
        validate_visible_text(f"A{RLO}B{ZWSP}C{RLO}")
    message = caught.value.messages[0]
    assert "U+202E RIGHT-TO-LEFT OVERRIDE, U+200B ZERO WIDTH SPACE" in message
    assert message.startswith("Remove the invisible or control characters")
    with pytest.raises(ValidationError) as caught:
        validate_visible_text("A\x07B")
    assert "character U+0007:" in caught.value.messages[0]


@pytest.mark.parametrize(
    "value",
    [
        "Central Prison",
        "Zentralgefängnis Köln",
        "Prisión Central de Lurigancho",
        "سجن المركزي",  # Arabic
        f"می{ZWNJ}خواهم",  # Persian: the non-joiner is part of the spelling
        "Line one\nLine two\tand a tab\r\n",
        "",
    ],
)
def test_ordinary_names_pass(value):
    validate_visible_text(value)
    assert hidden_characters(value) == []


def test_account_form_refuses_hidden_characters_in_a_person_name():
    form = AccountForm({"first_name": f"Ada{RLO}", "last_name": "Ndiaye", "email": ""})
    assert not form.is_valid()
    assert "U+202E" in form.errors["first_name"][0]
    assert "last_name" not in form.errors


def test_membership_form_refuses_hidden_characters_in_names_and_username():
    form = MembershipAddForm(
        {
            "username": f"ada{ZWSP}",
            "role": Role.MONITOR,
            "first_name": "Ada",
            "last_name": f"N{ZWSP}diaye",
            "password": "",
        }
    )
    assert not form.is_valid()
    assert set(form.errors) == {"username", "last_name"}


@pytest.mark.django_db
def test_the_users_page_shows_the_message_and_adds_nobody(client_for, head, body):
    response = client_for(head).post(
        reverse("user_add"),
        {
            "username": "newcomer",
            "role": Role.MONITOR,
            "first_name": f"Ada{RLO}",
            "password": "quiet-lantern-over-the-river-7",
        },
    )
    assert response.status_code == 200
    assert "U+202E RIGHT-TO-LEFT OVERRIDE" in response.content.decode()
    assert not Membership.objects.filter(user__username="newcomer").exists()


@pytest.mark.django_db
def test_taxonomy_labels_refuse_hidden_characters(head_membership, client_for, body):
    with pytest.raises(ValidationError) as caught:
        taxonomy.term_create(membership=head_membership, kind="theme", label=f"Deaths{ZWSP}")
    assert "U+200B" in caught.value.message_dict["label"][0]

    client = client_for(head_membership.user)
    response = client.post(reverse("taxonomy"), {"kind": "theme", "label": f"Isolation{RLO}"})
    assert response.status_code == 400
    assert "U+202E" in response.content.decode()
    assert not TaxonomyTerm.objects.filter(label__startswith="Isolation").exists()

    # Renaming a term goes through the same check.
    term = TaxonomyTerm.objects.filter(body=body, kind="theme").first()
    before = term.label
    client.post(reverse("taxonomy_term", args=[term.pk]), {"label": f"Renamed{RLO}"})
    term.refresh_from_db()
    assert term.label == before
