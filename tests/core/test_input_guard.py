"""The checks at the edges that keep malformed input from reaching views and the database: JSON
nesting and NUL characters found without parsing, integer bounds derived from model fields, and
every Vigil form and serializer using them."""

from __future__ import annotations

import importlib
import pkgutil
import time

import pytest
from django import forms
from rest_framework import serializers
from rest_framework.test import APIClient

import vigil
from tests.factories import PlaceFactory
from vigil.core import inputs
from vigil.core.api import VigilSerializerMixin
from vigil.core.forms import VigilFormMixin
from vigil.core.grant_views import GrantForm, GrantInputSerializer
from vigil.core.models import AccessGrant, ApiToken, Body, TaxonomyTerm


@pytest.mark.parametrize(
    ("text", "too_deep"),
    [
        (b"[" * 64 + b"]" * 64, False),
        (b"[" * 65 + b"]" * 65, True),
        (b'{"a":' * 64 + b"1" + b"}" * 64, False),
        (b'{"a":' * 65 + b"1" + b"}" * 65, True),
        # Brackets in strings are text, escaped quotes do not end a string...
        (b'["' + b"[" * 200 + b'"]', False),
        (b'["\\"' + b"[" * 200 + b'"]', False),
        # ...but an escaped backslash before a quote does.
        (b'["\\\\"' + b"[" * 200 + b"]" * 200 + b"]", True),
        # A string that never ends hides whatever follows it.
        (b'["' + b"[" * 200, False),
    ],
)
def test_json_depth_is_found_without_parsing(text: bytes, too_deep: bool) -> None:
    assert inputs.json_too_deep(text) is too_deep


def test_json_depth_takes_linear_time_on_hostile_bodies() -> None:
    # Escaped quotes and backslash runs are where a regular expression would backtrack.
    for body in (b'["' + b'\\"' * 1_000_000, b"[" + b"\\" * 2_000_000 + b'"' * 1000):
        started = time.perf_counter()
        inputs.json_too_deep(body)
        inputs.json_has_nul(body)
        assert time.perf_counter() - started < 2


@pytest.mark.parametrize(
    ("text", "has_nul"),
    [
        (b'{"name": "a\\u0000b"}', True),
        (b'{"name": "a\\\\u0000b"}', False),  # an escaped backslash, then the text "u0000"
        (b'{"name": "a\\\\\\u0000b"}', True),
        (b'{"name": "\\u00001"}', True),
        (b'{"name": "u0000"}', False),
    ],
)
def test_json_nul_escapes_are_found(text: bytes, has_nul: bool) -> None:
    assert inputs.json_has_nul(text) is has_nul


def test_integer_bounds_come_from_the_model_field_whatever_the_database() -> None:
    assert inputs.storage_range(TaxonomyTerm._meta.get_field("position")) == (0, 2147483647)
    assert inputs.storage_range(Body._meta.get_field("import_retention_days")) == (0, 32767)
    assert inputs.storage_range(AccessGrant._meta.get_field("object_id")) == (
        0,
        9223372036854775807,
    )
    assert inputs.storage_range(None) == (-2147483648, 2147483647)


def test_forms_and_serializers_get_the_bounds_of_their_model_fields(body, head_membership) -> None:
    form = GrantForm(membership=head_membership)
    object_id = form.fields["object_id"]
    assert (object_id.min_value, object_id.max_value) == (1, 9223372036854775807)

    class Plain(VigilFormMixin, forms.Form):
        number = forms.IntegerField()
        ratio = forms.FloatField()

    plain = Plain({"number": "2147483648", "ratio": "1e300"})
    assert not plain.is_valid()
    assert plain.errors == {"number": ["Ensure this value is less than or equal to 2147483647."]}

    serializer = GrantInputSerializer(
        data={"object_id": 2**63, "grantee": 1, "object_type": "x", "reason": "r"},
        membership=head_membership,
    )
    assert not serializer.is_valid()
    assert serializer.errors["object_id"] == [
        "Ensure this value is less than or equal to 9223372036854775807."
    ]


@pytest.fixture
def head_membership(head, body):
    return head.memberships.get(body=body)


def test_a_multipart_edit_with_a_nul_is_refused(body, head) -> None:
    place = PlaceFactory(body=body, name="Before")
    client = APIClient()
    _token, key = ApiToken.issue(head)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    response = client.patch(
        f"/api/v1/places/{place.pk}/",
        {"name": "a\x00b"},
        format="multipart",
        HTTP_IF_MATCH=f'"{place.pk}-{place.version}"',
    )

    assert response.status_code == 400
    assert response.json()["detail"].startswith("“name” contains a NUL character")
    place.refresh_from_db()
    assert place.name == "Before"


def _vigil_classes(base: type) -> list[type]:
    for module in pkgutil.walk_packages(vigil.__path__, "vigil."):
        if ".migrations" in module.name or module.name.endswith(("__main__", ".wsgi", ".asgi")):
            continue
        importlib.import_module(module.name)
    found = []
    pending = [base]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith("vigil.") and not cls.__name__.endswith("Mixin"):
            found.append(cls)
    return found


def test_every_vigil_form_and_serializer_bounds_its_input() -> None:
    forms_without = [
        f"{cls.__module__}.{cls.__name__}"
        for cls in _vigil_classes(forms.BaseForm)
        if not issubclass(cls, VigilFormMixin)
    ]
    serializers_without = [
        f"{cls.__module__}.{cls.__name__}"
        for cls in _vigil_classes(serializers.BaseSerializer)
        if not issubclass(cls, VigilSerializerMixin)
    ]
    assert forms_without == []
    assert serializers_without == []
    # The scan does find them.
    assert len(_vigil_classes(forms.BaseForm)) > 10
