"""The security headers on every answer: Content-Security-Policy, Permissions-Policy, no caching of
anything personal, and templates that keep working under that policy."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from vigil.core.middleware import content_security_policy, map_tiles_source
from vigil.core.models import ApiToken

pytestmark = pytest.mark.django_db

SRC = Path(__file__).resolve().parents[2] / "src" / "vigil"
DENIED_FEATURES = ["camera", "microphone", "geolocation", "payment", "usb", "serial", "midi"]


def policy(response) -> dict[str, list[str]]:
    """The Content-Security-Policy as {directive: [sources]}."""
    directives = {}
    for part in response["Content-Security-Policy"].split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def assert_strict_policy(response) -> None:
    directives = policy(response)
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"]
    assert directives["form-action"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    permissions = response["Permissions-Policy"]
    for feature in DENIED_FEATURES:
        assert f"{feature}=()" in permissions
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


def no_store(response) -> bool:
    return "no-store" in response.get("Cache-Control", "")


# ---------- Every answer ----------


def test_a_page_of_a_signed_in_person(client_for, head):
    response = client_for(head).get(reverse("home"))
    assert response.status_code == 200
    assert_strict_policy(response)
    assert policy(response)["img-src"] == ["'self'"]
    assert response["Cache-Control"] == "no-store"


def test_the_anonymous_sign_in_page(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert_strict_policy(response)
    assert no_store(response)


def test_an_anonymous_page_is_not_forced_out_of_caches(client):
    # Only signed-in answers and the API carry personal data; a redirect to sign in does not.
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert_strict_policy(response)
    assert not no_store(response)


def test_an_api_answer(body, head):
    _token, key = ApiToken.issue(head)
    client = Client(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.get("/api/v1/places/")
    assert response.status_code == 200
    assert_strict_policy(response)
    assert response["Cache-Control"] == "no-store"


def test_an_anonymous_api_answer_is_not_stored_either(body):
    response = Client().get("/api/v1/places/")
    assert response.status_code == 401
    assert no_store(response)
    assert "Content-Security-Policy" in response


def test_a_static_file_keeps_its_caching_even_for_a_signed_in_person(client_for, head):
    response = client_for(head).get("/static/core/vigil.css")
    assert response.status_code == 200
    assert not no_store(response)
    assert "max-age" in response["Cache-Control"]
    assert_strict_policy(response)


def test_the_https_redirect_carries_the_headers_too(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    response = client.get(reverse("login"))
    assert response.status_code == 301
    assert response["Location"].startswith("https://")
    assert_strict_policy(response)


def test_an_answer_with_its_own_cache_control_keeps_it(client, client_for, monitor):
    # The API token page says no-store itself; nothing is added twice.
    response = client_for(monitor).post(reverse("api_token"), {"action": "create"})
    assert response["Cache-Control"] == "no-store"
    # The sign-in page's never_cache header keeps its other directives.
    response = client.get(reverse("login"))
    directives = {part.strip() for part in response["Cache-Control"].split(",")}
    assert directives == {"max-age=0", "no-cache", "no-store", "must-revalidate", "private"}


def test_debug_error_pages_keep_their_inline_styles(client_for, head, settings):
    settings.DEBUG = True
    response = client_for(head).get("/no-such-page/")
    assert response.status_code == 404
    assert "Content-Security-Policy" not in response
    settings.DEBUG = False
    response = client_for(head).get("/no-such-page/")
    assert response.status_code == 404
    assert_strict_policy(response)


# ---------- The map and the API docs ----------


def test_the_map_tile_server_is_allowed_for_images_only_when_set(client_for, head, settings):
    settings.VIGIL_MAP_TILES_URL = "https://{s}.tile.example.org:8443/{z}/{x}/{y}.png"
    response = client_for(head).get(reverse("places:map"))
    assert response.status_code == 200
    assert policy(response)["img-src"] == ["'self'", "https://*.tile.example.org:8443", "data:"]
    assert policy(response)["script-src"] == ["'self'"]
    assert policy(response)["default-src"] == ["'self'"]
    settings.VIGIL_MAP_TILES_URL = ""
    response = client_for(head).get(reverse("places:map"))
    assert policy(response)["img-src"] == ["'self'"]


@pytest.mark.parametrize(
    ("tiles_url", "source"),
    [
        ("", ""),
        ("https://tiles.example.org/{z}/{x}/{y}.png", "https://tiles.example.org"),
        ("https://{s}.tile.example.org/{z}/{x}/{y}.png", "https://*.tile.example.org"),
        ("http://user:pw@tiles.example.org:8080/{z}.png", "http://tiles.example.org:8080"),
    ],
)
def test_map_tiles_source(tiles_url, source):
    assert map_tiles_source(tiles_url) == source


def test_the_api_docs_run_their_scripts_and_styles_from_files(client_for, head):
    client = client_for(head)
    response = client.get(reverse("api_docs"))
    assert response.status_code == 200
    html = response.content.decode()
    directives = policy(response)
    # Swagger UI draws its icons as data: images; everything else is as strict as the pages.
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["img-src"] == ["'self'", "data:"]
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "an inline script"
    assert "<style" not in html
    assert "/static/core/api_docs.css" in html
    start_script = re.search(r'<script src="([^"]*\?[^"]*script[^"]*)"', html)
    assert start_script, html
    script = client.get(start_script.group(1).replace("&amp;", "&"))
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle(" in script.content
    assert no_store(script)


def test_no_policy_allows_inline_code_or_eval():
    for options in [{}, {"tiles_url": "https://t.example/{z}"}, {"api_docs": True}]:
        header = content_security_policy(**options)
        assert "'unsafe-inline'" not in header
        assert "'unsafe-eval'" not in header
    both = content_security_policy(tiles_url="https://t.example/{z}", api_docs=True)
    assert "img-src 'self' https://t.example data:;" in both


# ---------- Templates that keep working under the policy ----------

TEMPLATES = sorted(SRC.glob("*/templates/**/*.html"))
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\b(?:src=|type=\"application/json\"))[^>]*>", re.I)
EVENT_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.I)
STYLE = re.compile(r"<style\b|\sstyle\s*=", re.I)


def test_the_templates_are_found():
    names = {path.name for path in TEMPLATES}
    assert {"base.html", "login.html", "map.html"} <= names


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: str(path.relative_to(SRC)))
def test_no_template_relies_on_what_the_policy_refuses(template):
    text = template.read_text(encoding="utf-8")
    assert not INLINE_SCRIPT.search(text), "inline <script>: put it in a static .js file"
    assert not EVENT_HANDLER.search(text), "on…= handler: add a listener in a static .js file"
    assert not STYLE.search(text), "inline style: put it in vigil.css"
    assert "javascript:" not in text.lower()


def test_htmx_is_told_not_to_inject_its_indicator_styles(client):
    html = client.get(reverse("login")).content.decode()
    assert (
        """<meta name="htmx-config" content='{"includeIndicatorStyles": false, """
        """"allowEval": false}'>"""
    ) in html
    css = (SRC / "core" / "static" / "core" / "vigil.css").read_text(encoding="utf-8")
    assert ".htmx-request .htmx-indicator, .htmx-request.htmx-indicator {" in css
