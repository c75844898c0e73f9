"""The sign-in rate limit: counted before the password is checked (so attempts sent together get
no more checks than the limit), a lock per username *and* address (so nobody can lock someone
else out), a slowdown per username from anywhere, and the same answer for unknown usernames."""

from __future__ import annotations

import re
import threading
import time
from datetime import timedelta

import pytest
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.hashers import MD5PasswordHasher
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import PASSWORD, UserFactory
from vigil.core import services
from vigil.core.models import LoginFailure
from vigil.core.views import KNOWN_BROWSER_COOKIE

LIMIT = 3
WINDOW = 600


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.VIGIL_LOGIN_MAX_FAILURES = LIMIT
    settings.VIGIL_LOGIN_LOCKOUT_SECONDS = WINDOW


def sign_in(client: Client, username: str, password: str):
    return client.post(reverse("login"), {"username": username, "password": password})


def age_failures(seconds: float) -> None:
    LoginFailure.objects.update(created_at=timezone.now() - timedelta(seconds=seconds))


# ---------- Counted before the password is checked ----------

counted_at_check: list[int] = []


class RecordingBackend(ModelBackend):
    """Notes how many failures of the username are counted when its password is checked."""

    def authenticate(self, request, username=None, password=None, **kwargs):  # type: ignore[no-untyped-def]
        counted_at_check.append(LoginFailure.objects.filter(username=username).count())
        return super().authenticate(request, username=username, password=password, **kwargs)


@pytest.mark.django_db
def test_an_attempt_is_counted_before_its_password_is_checked(settings, client, monitor):
    settings.AUTHENTICATION_BACKENDS = ["tests.core.test_sign_in_limits.RecordingBackend"]
    counted_at_check.clear()
    sign_in(client, "monitor", "wrong-password-guess")
    sign_in(client, "monitor", "wrong-password-guess")
    # While its password is checked, an attempt already counts: one sent at the same moment
    # sees it and is refused once the limit is reached.
    assert counted_at_check == [1, 2]
    assert sign_in(client, "monitor", PASSWORD).status_code == 302
    assert counted_at_check == [1, 2, 3]
    assert not LoginFailure.objects.filter(username="monitor").exists()


@pytest.mark.django_db
def test_attempts_in_flight_count_towards_the_limit(body):
    started = [
        services.login_attempt_start(username="monitor", ip_address="203.0.113.9")
        for _ in range(LIMIT + 2)
    ]
    assert [attempt.wait is None for attempt in started] == [True] * LIMIT + [False, False]
    assert LoginFailure.objects.count() == LIMIT


class SlowHasher(MD5PasswordHasher):
    """Takes as long as a real hash, so that attempts sent together overlap; counts its use."""

    calls = 0
    lock = threading.Lock()

    def _slow(self) -> None:
        with SlowHasher.lock:
            SlowHasher.calls += 1
        time.sleep(0.3)

    # MD5's verify() encodes the password tried: every check goes through here once.
    def encode(self, password, salt):  # type: ignore[no-untyped-def]
        self._slow()
        return super().encode(password, salt)


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs a database that takes writes from several connections at once",
)
@pytest.mark.django_db(transaction=True)
def test_parallel_wrong_passwords_get_no_more_checks_than_the_limit(settings):
    """The review's case: 12 wrong passwords sent together got 6 checks for a limit of 5."""
    settings.VIGIL_LOGIN_MAX_FAILURES = 5
    settings.PASSWORD_HASHERS = ["tests.core.test_sign_in_limits.SlowHasher"]
    UserFactory(username="target")
    SlowHasher.calls = 0
    barrier = threading.Barrier(12)
    statuses: list[int] = []

    def attempt() -> None:
        try:
            client = Client()
            barrier.wait()
            statuses.append(sign_in(client, "target", "wrong-password-guess").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] * 5 + [429] * 7
    assert SlowHasher.calls == 5
    assert LoginFailure.objects.filter(username="target").count() == 5


# ---------- Nobody can lock someone else out ----------


@pytest.mark.django_db
def test_failures_from_one_address_do_not_lock_the_person_out_elsewhere(monitor):
    """The review's case: anyone could lock any account for 15 minutes."""
    person = Client(REMOTE_ADDR="198.51.100.7")
    assert sign_in(person, "monitor", PASSWORD).status_code == 302
    person.post(reverse("logout"))

    attacker = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(LIMIT):
        sign_in(attacker, "monitor", "wrong-password-guess")
    locked = sign_in(attacker, "monitor", PASSWORD)
    assert locked.status_code == 429
    assert "Try again in 10 minutes" in locked.content.decode()

    # The person's browser signed in before: the username's slowdown does not apply to it.
    assert KNOWN_BROWSER_COOKIE in person.cookies
    assert sign_in(person, "monitor", PASSWORD).status_code == 302


@pytest.mark.django_db
def test_a_new_browser_is_only_slowed_down_for_seconds(monitor):
    attacker = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(LIMIT):
        sign_in(attacker, "monitor", "wrong-password-guess")
    newcomer = Client(REMOTE_ADDR="198.51.100.7")
    slowed = sign_in(newcomer, "monitor", PASSWORD)
    assert slowed.status_code == 429
    html = slowed.content.decode()
    assert "Too many failed sign-in attempts for this account. Wait 1 second" in html
    age_failures(2)
    assert sign_in(newcomer, "monitor", PASSWORD).status_code == 302


@pytest.mark.django_db
def test_the_slowdown_grows_with_the_failures_up_to_a_minute(body):
    for number in range(LIMIT + 2):
        LoginFailure.objects.create(username="monitor", ip_address=f"203.0.113.{number}")
    wait = services.sign_in_wait(username="monitor", ip_address="198.51.100.7")
    assert wait is not None and wait.slowdown
    assert 3 <= wait.seconds <= 4  # 2 ** (5 - 3)
    for number in range(20):
        LoginFailure.objects.create(username="monitor", ip_address=f"192.0.2.{number}")
    wait = services.sign_in_wait(username="monitor", ip_address="198.51.100.7")
    assert wait is not None
    assert 59 <= wait.seconds <= services.USERNAME_BACKOFF_MAX_SECONDS
    assert wait.message.endswith("Wait 60 seconds and try again.")
    age_failures(61)
    assert services.sign_in_wait(username="monitor", ip_address="198.51.100.7") is None
    assert services.sign_in_wait(username="monitor", ip_address=None, known_browser=True) is None


@pytest.mark.django_db
def test_a_forged_known_browser_cookie_does_not_help(monitor):
    attacker = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(LIMIT):
        sign_in(attacker, "monitor", "wrong-password-guess")
    forger = Client(REMOTE_ADDR="198.51.100.7")
    forger.cookies[KNOWN_BROWSER_COOKIE] = "monitor"
    assert sign_in(forger, "monitor", PASSWORD).status_code == 429
    # A real cookie names one person: it does not lift the slowdown of another.
    other = UserFactory(username="other-person")
    browser = Client(REMOTE_ADDR="198.51.100.8")
    assert sign_in(browser, other.username, PASSWORD).status_code == 302
    browser.post(reverse("logout"))
    assert sign_in(browser, "monitor", PASSWORD).status_code == 429


@pytest.mark.django_db
def test_the_known_browser_cookie_is_signed_and_hidden_from_scripts(client, monitor):
    response = sign_in(client, "monitor", PASSWORD)
    cookie = response.cookies[KNOWN_BROWSER_COOKIE]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert cookie.value != "monitor"
    assert cookie["max-age"] == 180 * 24 * 3600


@pytest.mark.django_db
def test_one_address_trying_many_usernames_is_still_locked(client, analyst):
    for number in range(LIMIT * services.IP_FAILURE_FACTOR):
        sign_in(client, f"nobody-{number}", "wrong-password-guess")
    assert sign_in(client, "analyst", PASSWORD).status_code == 429


@pytest.mark.django_db
def test_success_clears_its_own_failures_not_those_from_elsewhere(monitor):
    person = Client(REMOTE_ADDR="198.51.100.7")
    sign_in(person, "monitor", "typo-in-the-password")
    LoginFailure.objects.create(username="monitor", ip_address="203.0.113.9")
    assert sign_in(person, "monitor", PASSWORD).status_code == 302
    assert list(LoginFailure.objects.values_list("ip_address", flat=True)) == ["203.0.113.9"]


# ---------- The same answer for unknown usernames ----------


def _comparable(response) -> str:
    html = response.content.decode()
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", html)
    html = re.sub(r'name="csrf-token"\s+content="[^"]*"', "", html)
    return re.sub(r'name="username" value="[^"]*"', "", html)


@pytest.mark.django_db
def test_unknown_and_known_usernames_get_the_same_answer(body):
    UserFactory(username="known")
    UserFactory(username="inactive", is_active=False)
    answers = [
        sign_in(Client(REMOTE_ADDR=f"198.51.100.{number}"), username, password)
        for number, (username, password) in enumerate(
            [
                ("nobody-at-all", "wrong-password-guess"),
                ("known", "wrong-password-guess"),
                ("inactive", PASSWORD),
            ]
        )
    ]
    assert {response.status_code for response in answers} == {200}
    first = _comparable(answers[0])
    assert "Please enter a correct username and password" in first
    assert all(_comparable(response) == first for response in answers[1:])


@pytest.mark.django_db
def test_unknown_and_known_usernames_are_locked_alike(body):
    UserFactory(username="known")
    answers = []
    for username in ("nobody-at-all", "known"):
        client = Client(REMOTE_ADDR="198.51.100.7" if username == "known" else "198.51.100.8")
        for _ in range(LIMIT):
            sign_in(client, username, "wrong-password-guess")
        answers.append(sign_in(client, username, "wrong-password-guess"))
    assert [response.status_code for response in answers] == [429, 429]
    assert _comparable(answers[0]) == _comparable(answers[1])


class CountingHasher(MD5PasswordHasher):
    """Counts the passwords it hashes (its verify() hashes the password tried, too)."""

    uses = 0

    def encode(self, password, salt):  # type: ignore[no-untyped-def]
        CountingHasher.uses += 1
        return super().encode(password, salt)


@pytest.mark.django_db
def test_the_password_hasher_runs_for_an_unknown_username_too(settings, client, body):
    settings.PASSWORD_HASHERS = ["tests.core.test_sign_in_limits.CountingHasher"]
    user = UserFactory(username="known")
    user.set_password(PASSWORD)
    user.save()
    CountingHasher.uses = 0
    sign_in(client, "known", "wrong-password-guess")
    known = CountingHasher.uses
    CountingHasher.uses = 0
    sign_in(client, "nobody-at-all", "wrong-password-guess")
    assert known == CountingHasher.uses == 1
