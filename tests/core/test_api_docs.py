"""The API's schema and docs list every route and field: for signed-in people, unless
VIGIL_PUBLIC_API_DOCS opens them to everyone."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from tests.core.test_settings import PROJECT_DIR, start
from vigil.core.models import ApiToken

pytestmark = pytest.mark.django_db


def test_the_schema_does_not_answer_anonymous_requests(body):
    response = Client().get(reverse("schema"))
    assert response.status_code == 401
    assert b"/api/v1/places/" not in response.content


def test_the_docs_page_sends_anonymous_people_to_sign_in(body):
    response = Client().get(reverse("api_docs"))
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next=/api/docs/"
    script = Client().get(f"{reverse('api_docs')}?script=")
    assert script.status_code == 302


def test_signed_in_people_read_both(client_for, monitor):
    client = client_for(monitor)
    schema = client.get(reverse("schema"))
    assert schema.status_code == 200
    assert b"/api/v1/places/" in schema.content
    assert client.get(reverse("api_docs")).status_code == 200


def test_a_program_reads_the_schema_with_its_token(monitor):
    _token, key = ApiToken.issue(monitor)
    response = Client(HTTP_AUTHORIZATION=f"Token {key}").get(reverse("schema"))
    assert response.status_code == 200
    # The schema names the token header the API expects.
    assert b"tokenAuth" in response.content


def test_the_setting_opens_them_to_everyone(settings, body):
    settings.VIGIL_PUBLIC_API_DOCS = True
    assert Client().get(reverse("schema")).status_code == 200
    assert Client().get(reverse("api_docs")).status_code == 200


def test_the_setting_is_off_by_default_and_in_the_readme(tmp_path):
    result = start(tmp_path, SECRET_KEY="k" * 50)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["VIGIL_PUBLIC_API_DOCS"] is False
    result = start(tmp_path, SECRET_KEY="k" * 50, VIGIL_PUBLIC_API_DOCS="yes")
    assert json.loads(result.stdout)["VIGIL_PUBLIC_API_DOCS"] is True
    readme = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    assert "| `VIGIL_PUBLIC_API_DOCS` | off |" in readme
