"""Sign-in with its rate limit, sign-out, password change, the account page, API tokens and the
body switcher."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import PASSWORD, MembershipFactory
from vigil.core import services
from vigil.core.access import SESSION_BODY_KEY
from vigil.core.models import ApiToken, AuditEntry, LoginFailure, Role

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "quiet-lantern-over-the-river-7"


@pytest.fixture(autouse=True)
def _lockout_settings(settings):
    settings.VIGIL_LOGIN_MAX_FAILURES = 3
    settings.VIGIL_LOGIN_LOCKOUT_SECONDS = 600


def sign_in(client: Client, username: str, password: str, **extra: str):
    return client.post(reverse("login"), {"username": username, "password": password, **extra})


# ---------- Sign in ----------


def test_login_page_is_accessible(client):
    response = client.get(reverse("login"))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'for="id_username"' in html
    assert 'for="id_password"' in html
    assert 'autocomplete="username"' in html
    assert 'autocomplete="current-password"' in html


def test_login_field_errors_are_tied_to_their_field(client):
    response = sign_in(client, "", "")
    html = response.content.decode()
    assert 'role="alert"' in html
    assert 'id="id_username_error"' in html
    assert 'aria-describedby="id_username_error"' in html
    assert 'aria-invalid="true"' in html
    assert 'href="#id_username"' in html


def test_login_succeeds_and_is_audited(client, monitor, body):
    response = sign_in(client, "monitor", PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    entry = AuditEntry.objects.get(action="core.user.login")
    assert entry.actor == monitor
    assert entry.body == body
    assert entry.ip_address == "127.0.0.1"


def test_login_redirects_to_a_safe_next_only(client, monitor):
    response = sign_in(client, "monitor", PASSWORD, next="/account/")
    assert response["Location"] == "/account/"
    client.logout()
    response = sign_in(client, "monitor", PASSWORD, next="https://evil.example/")
    assert response["Location"] == reverse("home")


def test_failed_login_is_counted_and_audited_without_the_password(client, monitor):
    response = sign_in(client, "Monitor", "wrong-password-guess")
    assert response.status_code == 200
    assert 'id="error-summary"' in response.content.decode()
    assert LoginFailure.objects.filter(username="monitor").count() == 1
    entry = AuditEntry.objects.get(action="core.user.login_failed")
    assert entry.actor is None
    assert entry.actor_label == "monitor"
    assert entry.changes == {"username": "monitor"}
    assert "wrong-password-guess" not in str(entry.changes)


def test_lockout_after_max_failures_refuses_even_the_right_password(client, monitor):
    for _ in range(3):
        sign_in(client, "monitor", "wrong-password-guess")
    response = sign_in(client, "monitor", PASSWORD)
    assert response.status_code == 429
    assert "Too many failed sign-in attempts. Try again in 10 minutes." in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert not AuditEntry.objects.filter(action="core.user.login").exists()


def test_lockout_message_shows_on_the_failure_that_triggers_it(client, monitor):
    for _ in range(2):
        sign_in(client, "monitor", "wrong-password-guess")
    response = sign_in(client, "monitor", "wrong-password-guess")
    assert "Too many failed sign-in attempts" in response.content.decode()


def test_lockout_ends_after_the_window(client, monitor):
    for _ in range(3):
        sign_in(client, "monitor", "wrong-password-guess")
    LoginFailure.objects.update(created_at=timezone.now() - timedelta(seconds=601))
    response = sign_in(client, "monitor", PASSWORD)
    assert response.status_code == 302


def test_lockout_is_per_username(client, monitor, analyst):
    for _ in range(3):
        sign_in(client, "monitor", "wrong-password-guess")
    assert sign_in(client, "analyst", PASSWORD).status_code == 302


def test_lockout_per_ip_after_four_times_the_limit(client, monitor, analyst):
    for number in range(12):
        sign_in(client, f"nobody-{number}", "wrong-password-guess")
    response = sign_in(client, "analyst", PASSWORD)
    assert response.status_code == 429
    other_address = Client(REMOTE_ADDR="10.0.0.9")
    assert sign_in(other_address, "analyst", PASSWORD).status_code == 302


def test_successful_login_clears_that_usernames_failures(client, monitor):
    for _ in range(2):
        sign_in(client, "monitor", "wrong-password-guess")
    LoginFailure.objects.create(username="someone-else")
    assert sign_in(client, "monitor", PASSWORD).status_code == 302
    assert list(LoginFailure.objects.values_list("username", flat=True)) == ["someone-else"]


def test_lockout_minutes_round_up():
    assert services.lockout_message(61) == (
        "Too many failed sign-in attempts. Try again in 2 minutes."
    )
    assert services.lockout_message(30) == (
        "Too many failed sign-in attempts. Try again in 1 minute."
    )


# ---------- Sign out ----------


def test_logout_is_post_only_and_audited(client_for, monitor):
    client = client_for(monitor)
    assert client.get(reverse("logout")).status_code == 405
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert "_auth_user_id" not in client.session
    assert AuditEntry.objects.get(action="core.user.logout").actor == monitor


# ---------- Password ----------


def test_password_change_uses_the_validators(client_for, monitor):
    client = client_for(monitor)
    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": "12345678", "new_password2": "12345678"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "too short" in html
    assert 'aria-invalid="true"' in html
    monitor.refresh_from_db()
    assert monitor.check_password(PASSWORD)


def test_password_change_is_audited_and_keeps_the_session(client_for, monitor):
    client = client_for(monitor)
    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    monitor.refresh_from_db()
    assert monitor.check_password(NEW_PASSWORD)
    entry = AuditEntry.objects.get(action="core.user.change_password")
    assert entry.actor == monitor
    assert entry.changes == {}
    assert client.get(reverse("account")).status_code == 200


def test_password_change_service_refuses_a_weak_password(monitor):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        services.password_change(user=monitor, new_password="password")
    assert not AuditEntry.objects.filter(action="core.user.change_password").exists()


# ---------- Account page ----------


def test_account_page_updates_details_with_an_audit_entry(client_for, monitor):
    client = client_for(monitor)
    page = client.get(reverse("account"))
    assert reverse("password_change") in page.content.decode()
    assert reverse("otp_setup") in page.content.decode()
    response = client.post(
        reverse("account"), {"first_name": "Ada", "last_name": "Ndiaye", "email": "ada@example.org"}
    )
    assert response.status_code == 302
    entry = AuditEntry.objects.get(action="core.user.update")
    assert entry.actor == monitor
    assert entry.changes["email"] == ["monitor@example.org", "ada@example.org"]


def _key_shown(response) -> str:
    return re.search(r'id="api-token-value"[^>]*value="([0-9a-f]+)"', response.content.decode())[1]


def test_token_is_shown_once_and_never_audited(client_for, monitor):
    client = client_for(monitor)
    response = client.post(reverse("api_token"), {"action": "create"})
    assert response.status_code == 200
    key = _key_shown(response)
    token = ApiToken.objects.get(user=monitor)
    assert token.key_hash == ApiToken.hash_key(key)
    assert response["Cache-Control"] == "no-store"
    account = client.get(reverse("account")).content.decode()
    assert key not in account
    assert key[:8] in account
    entry = AuditEntry.objects.get(action="core.token.create")
    assert entry.actor == monitor
    assert entry.changes == {"replaced": False}
    assert key not in str(entry.changes) + entry.object_repr


def test_token_regenerate_replaces_the_old_one(client_for, monitor):
    client = client_for(monitor)
    first = _key_shown(client.post(reverse("api_token"), {"action": "create"}))
    second = _key_shown(client.post(reverse("api_token"), {"action": "create"}))
    assert second != first
    assert ApiToken.objects.get(user=monitor).key_hash == ApiToken.hash_key(second)
    assert AuditEntry.objects.filter(action="core.token.create").first().changes == {
        "replaced": True
    }


def test_token_revoke(client_for, monitor):
    client = client_for(monitor)
    client.post(reverse("api_token"), {"action": "create"})
    response = client.post(reverse("api_token"), {"action": "revoke"})
    assert response.status_code == 302
    assert not ApiToken.objects.filter(user=monitor).exists()
    assert AuditEntry.objects.get(action="core.token.revoke").actor == monitor


def test_token_page_is_post_only(client_for, monitor):
    assert client_for(monitor).get(reverse("api_token")).status_code == 405


# ---------- Body switcher ----------


def test_switch_body_to_a_body_of_the_user(client_for, monitor, other_body):
    MembershipFactory(user=monitor, body=other_body, role=Role.ANALYST)
    client = client_for(monitor)
    response = client.post(reverse("switch_body"), {"body": other_body.pk, "next": "/account/"})
    assert response.status_code == 302
    assert response["Location"] == "/account/"
    assert client.session[SESSION_BODY_KEY] == other_body.pk


def test_switch_body_ignores_an_unsafe_next(client_for, monitor, other_body):
    MembershipFactory(user=monitor, body=other_body, role=Role.ANALYST)
    response = client_for(monitor).post(
        reverse("switch_body"), {"body": other_body.pk, "next": "//evil.example/"}
    )
    assert response["Location"] == reverse("home")


@pytest.mark.parametrize("value", ["foreign", "inactive", "missing", "garbage"])
def test_switch_body_outside_the_users_bodies_is_404(client_for, monitor, other_body, value):
    if value == "inactive":
        MembershipFactory(user=monitor, body=other_body, role=Role.ANALYST, is_active=False)
    body_id = {"missing": 999999, "garbage": "x"}.get(value, other_body.pk)
    client = client_for(monitor)
    response = client.post(reverse("switch_body"), {"body": body_id})
    assert response.status_code == 404
    assert SESSION_BODY_KEY not in client.session


def test_switch_body_is_post_only(client_for, monitor):
    assert client_for(monitor).get(reverse("switch_body")).status_code == 405


def test_sign_in_is_in_the_trail_of_each_body_of_the_person(client, monitor, body, other_body):
    MembershipFactory(user=monitor, body=other_body, role=Role.ANALYST)
    sign_in(client, "monitor", PASSWORD)
    bodies = set(
        AuditEntry.objects.filter(action="core.user.login").values_list("body__slug", flat=True)
    )
    assert bodies == {"npm", "other"}


def test_failed_sign_in_with_an_unknown_username_belongs_to_no_body(client, body):
    sign_in(client, "nobody-here", "wrong-password-guess")
    entry = AuditEntry.objects.get(action="core.user.login_failed")
    assert entry.body is None
    assert entry.object_id == ""
