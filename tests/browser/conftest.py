"""Real Chromium through Playwright, against pytest-django's live server.

Fixtures: `browser` (one headless Chromium per test session), `page` (a fresh browser context per
test, its base URL the live server, so `page.goto("/places/")` works). Helpers: `login(page, user)`
signs in through the real form; `assert_accessible(page)` runs axe-core and fails on serious or
critical violations.

Chromium is the system one (Debian's /usr/bin/chromium, or $VIGIL_CHROMIUM): the suite never
downloads a browser. A missing browser fails the tests with a message saying how to install it,
because a browser suite that skips silently is a suite that never runs.
"""

from __future__ import annotations

import datetime
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings
from django.db import connections
from django_tasks_db.management.commands.db_worker import Worker
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.factories import PASSWORD, PlaceFactory, RegionFactory, place_type
from vigil.places.models import Place, PlaceStatus, Region

# Playwright's sync API runs an event loop in the test thread, which makes Django refuse ORM calls
# made from the test ("you cannot call this from an async context") unless told it is safe here.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"


def _sqlite_test_database_in_a_file() -> None:
    """On SQLite, the test database of this run is a file rather than in memory.

    An in-memory database is shared between threads through SQLite's shared cache, which locks
    whole tables: the background worker's writes and the live server's reads then fail with
    "database table is locked". A file in WAL mode (as Vigil runs on SQLite) lets them work side
    by side. This runs when the browser tests are collected, so before the test database exists,
    and applies to the whole run (pytest-xdist still gives each worker its own file).
    """
    database = settings.DATABASES["default"]
    test_settings = database.setdefault("TEST", {})
    if database["ENGINE"] == "django.db.backends.sqlite3" and not test_settings.get("NAME"):
        directory = tempfile.gettempdir()
        test_settings["NAME"] = os.path.join(directory, f"vigil-test-{os.getpid()}.sqlite3")


_sqlite_test_database_in_a_file()

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# Waits are on conditions; this is only how long a condition may take before the test fails.
# Generous, because a page that renders 6,000 map markers on a loaded two-core machine can take
# more than ten seconds to settle; a test never waits longer than its condition needs.
TIMEOUT_MS = 30_000
BLOCKING_IMPACTS = {"serious", "critical"}

expect.set_options(timeout=TIMEOUT_MS)


def _executable(path: str) -> bool:
    return bool(path) and Path(path).is_file() and os.access(path, os.X_OK)


def chromium_path() -> str:
    chosen = os.environ.get("VIGIL_CHROMIUM", "")
    if chosen and not _executable(chosen):
        pytest.fail(f"VIGIL_CHROMIUM={chosen} is not an executable file.", pytrace=False)
    candidates = [chosen, "/usr/bin/chromium"]
    candidates += [shutil.which(name) or "" for name in ("chromium", "chromium-browser")]
    for candidate in candidates:
        if _executable(candidate):
            return candidate
    pytest.fail(
        "The browser tests need Chromium and none was found (looked at $VIGIL_CHROMIUM, "
        "/usr/bin/chromium and chromium on the PATH). Install it with "
        "`apt-get install chromium` (`make test` does this), or set VIGIL_CHROMIUM to its path. "
        "Deselect these tests with `-m 'not browser'` only if you mean to.",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    executable = chromium_path()
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        except Exception as exc:  # the error text says why (missing libraries, sandbox...)
            pytest.fail(f"Chromium at {executable} did not start: {exc}", pytrace=False)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, live_server) -> Iterator[Page]:
    context = browser.new_context(
        base_url=live_server.url, viewport=DESKTOP, locale="en-GB", timezone_id="UTC"
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    # A JavaScript error on a page is a bug even when the test's own checks pass, and so is
    # anything the Content-Security-Policy refused (the browser reports it on the console).
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            errors.append(message.text)
            if "Content Security Policy" in message.text or "Permissions-Policy" in message.text
            else None
        ),
    )
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def login(page: Page, user, password: str = PASSWORD) -> None:
    """Sign in through the login form and wait for the first page after it."""
    page.goto("/login/")
    page.get_by_label("Username").fill(user.get_username())
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def axe_problems(page: Page) -> list[str]:
    """The serious and critical axe-core violations of the page as it is now, one line each."""
    # Working out a CSS selector for every node checked is half of axe's time; only a page with
    # a problem is checked again with them, for the report.
    results = Axe().run(page, options={"resultTypes": ["violations"], "selectors": False})
    if not any(v.get("impact") in BLOCKING_IMPACTS for v in results.response["violations"]):
        return []
    results = Axe().run(page)
    problems = []
    for violation in results.response["violations"]:
        if violation.get("impact") not in BLOCKING_IMPACTS:
            continue
        nodes = "; ".join(
            f"{', '.join(map(str, node['target']))} → {node.get('failureSummary', '').strip()}"
            for node in violation["nodes"][:5]
        )
        more = len(violation["nodes"]) - 5
        problems.append(
            f"{violation['id']} ({violation['impact']}): {violation['help']} — "
            f"{len(violation['nodes'])} node(s): {nodes}{f' (+{more} more)' if more > 0 else ''}"
        )
    return problems


def assert_accessible(page: Page) -> None:
    problems = axe_problems(page)
    assert not problems, f"Accessibility violations on {page.url}:\n" + "\n".join(problems)


@pytest.fixture
def task_worker() -> Iterator[None]:
    """The background worker, running while the test runs.

    It is django-tasks-db's own loop, the one `manage.py db_worker` runs, in a thread of this
    process, so it uses the test database and the test's settings (its MEDIA_ROOT, where the
    upload waits) on both databases. `call_command("db_worker")` itself cannot run in a thread:
    it installs signal handlers, which only the main thread may do.
    """
    worker = Worker(
        queue_names=["default"],
        interval=0.05,
        batch=False,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="browser-tests",
        excluded_queue_names=[],
    )

    def run() -> None:
        try:
            worker.run()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, name="db_worker", daemon=True)
    thread.start()
    yield
    worker.running = False
    thread.join(timeout=30)
    assert not thread.is_alive(), "the background worker did not stop"


@dataclass
class Registry:
    north: Region
    south: Region
    central: Place  # a prison with coordinates, confidential notes and nearly every field filled
    harbour: Place  # police custody, temporary
    hospital: Place  # psychiatric hospital, closed
    numbered: list[Place]  # "Detention Centre 01" to "57", prisons, open

    @property
    def count(self) -> int:
        return 3 + len(self.numbered)


@pytest.fixture
def registry(body) -> Registry:
    """Sixty places of the body, enough for two pages of the list (50 a page); ten on the map."""
    north = RegionFactory(body=body, name="North", code="N")
    south = RegionFactory(body=body, name="South", code="S")
    central = PlaceFactory(
        body=body,
        name="Central Prison",
        region=north,
        address="1 Main Street\nCapital City",
        official_capacity=500,
        population=612,
        population_date=datetime.date(2024, 1, 31),
        latitude=Decimal("12.345600"),
        longitude=Decimal("-1.234500"),
        external_id="P-0001",
        notes="Visited every year.",
        confidential_notes="The side gate code is known to the visit leader.",
    )
    harbour = PlaceFactory(
        body=body,
        name="Harbour Police Station",
        place_type=place_type(body, "police-custody"),
        status=PlaceStatus.TEMPORARY,
        region=south,
        official_capacity=20,
        latitude=Decimal("12.400000"),
        longitude=Decimal("-1.300000"),
    )
    hospital = PlaceFactory(
        body=body,
        name="St Anne Psychiatric Hospital",
        place_type=place_type(body, "psychiatric-hospital"),
        status=PlaceStatus.CLOSED,
        region=north,
        official_capacity=80,
        latitude=Decimal("12.500000"),
        longitude=Decimal("-1.100000"),
    )
    numbered = Place.objects.bulk_create(
        PlaceFactory.build(
            body=body,
            name=f"Detention Centre {number:02d}",
            region=north if number % 2 else south,
            official_capacity=100 + number,
            population=90 + number,
            latitude=Decimal("12.0") + Decimal(number) / 100 if number <= 7 else None,
            longitude=Decimal("-1.0") - Decimal(number) / 100 if number <= 7 else None,
        )
        for number in range(1, 58)
    )
    return Registry(north, south, central, harbour, hospital, numbered)
