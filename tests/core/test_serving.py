"""How `make run` serves Vigil: DEBUG off, so people see Vigil's own error pages; static files
served by WhiteNoise without a separate web server; refused requests logged once, in a line."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client
from django.urls import include, path, reverse

from vigil.core.log_filters import ClientErrorsWithoutTraceback

pytestmark = pytest.mark.django_db

MAKEFILE = Path(__file__).resolve().parents[2] / "Makefile"


def env_target_lines() -> list[str]:
    """The lines the Makefile's `.env` target writes into .env."""
    text = MAKEFILE.read_text(encoding="utf-8")
    target = re.search(r"^\.env:.*?\n((?:\t.*\n)+)", text, flags=re.MULTILINE)
    assert target, "the Makefile has no .env target"
    return re.findall(r'echo "([^"$]*)" >> \.env', target.group(1))


def test_make_run_writes_debug_off_into_env():
    lines = env_target_lines()
    assert "DEBUG=0" in lines
    assert not any(line.startswith("DEBUG=") and line != "DEBUG=0" for line in lines)


def test_without_debug_a_missing_page_is_vigils_own_404(settings, client_for, monitor):
    settings.DEBUG = False
    response = client_for(monitor).get("/no-such-page/")
    assert response.status_code == 404
    assert "404.html" in [template.name for template in response.templates]
    html = response.content.decode()
    assert "This page does not exist" in html
    assert "Back to the overview" in html
    assert "technical_404" not in html and "Django" not in html


def broken_view(request):
    raise RuntimeError("a fault on the server's side")


urlpatterns = [path("broken/", broken_view), path("", include("vigil.urls"))]


@pytest.mark.urls(__name__)
def test_without_debug_a_server_fault_is_vigils_own_500_and_logged_with_its_traceback(
    settings, request_log
):
    settings.DEBUG = False
    response = Client(raise_request_exception=False).get("/broken/")
    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong on our side" in html
    assert "Traceback" not in html and "RuntimeError" not in html
    log = request_log.getvalue()
    assert log.startswith("Internal Server Error: /broken/")
    assert "Traceback" in log and "a fault on the server's side" in log


def test_without_debug_static_files_are_served_by_whitenoise(settings):
    settings.DEBUG = False
    # A fresh client builds its middleware, WhiteNoise included, with the settings of the test.
    response = Client().get("/static/core/vigil.css")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    body = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    assert b"Vigil design system" in body
    assert Client().get("/static/core/no-such-file.css").status_code == 404


@pytest.fixture
def request_log() -> Iterator[io.StringIO]:
    """What the django.request logger's handlers write, as configured in settings.LOGGING."""
    logger = logging.getLogger("django.request")
    stream = io.StringIO()
    handlers = [
        handler
        for handler in logger.handlers
        if any(isinstance(f, ClientErrorsWithoutTraceback) for f in handler.filters)
    ]
    assert handlers, "django.request has no handler of Vigil's own"
    old_streams = [handler.setStream(stream) for handler in handlers]
    yield stream
    for handler, old in zip(handlers, old_streams, strict=True):
        handler.setStream(old)


def test_a_denied_request_is_logged_once_without_a_traceback(
    settings, client_for, monitor, request_log
):
    settings.DEBUG = False
    response = client_for(monitor).get(reverse("places:create"))
    assert response.status_code == 403
    lines = request_log.getvalue().splitlines()
    assert lines == [f"Forbidden (Permission denied): {reverse('places:create')}"]
    assert "Traceback" not in request_log.getvalue()
    assert logging.getLogger("django.request").propagate is False


def test_a_missing_record_is_logged_once_without_a_traceback(
    settings, client_for, monitor, request_log
):
    settings.DEBUG = True
    response = client_for(monitor).get(reverse("places:detail", args=[999999]))
    assert response.status_code == 404
    assert request_log.getvalue().splitlines() == [
        f"Not Found: {reverse('places:detail', args=[999999])}"
    ]
