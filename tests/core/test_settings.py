"""Settings that refuse nonsense, secrets read from files, and trusting the reverse proxy.

The environment helpers are called with an environment of the test's own; a few tests import the
real settings module in a fresh interpreter, to see what a deployment would see at start-up.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, RequestFactory
from django.urls import reverse

from tests.factories import PASSWORD
from vigil.core.middleware import client_ip
from vigil.core.models import AuditEntry, LoginFailure
from vigil.settings import envbool, envint, envlist, envsecret, envurl

PROJECT_DIR = Path(__file__).resolve().parents[2]

# ---------- Yes/no values ----------


@pytest.mark.parametrize("word", ["1", "true", "True", "YES", "on", " On "])
def test_yes_words_turn_a_setting_on(word):
    assert envbool("VIGIL_HTTPS", environ={"VIGIL_HTTPS": word}) is True


@pytest.mark.parametrize("word", ["0", "false", "FALSE", "no", "Off", " off "])
def test_no_words_turn_a_setting_off(word):
    assert envbool("VIGIL_HTTPS", True, environ={"VIGIL_HTTPS": word}) is False


@pytest.mark.parametrize("environ", [{}, {"DEBUG": ""}, {"DEBUG": "   "}])
@pytest.mark.parametrize("default", [True, False])
def test_an_empty_or_missing_yes_no_value_means_the_default(environ, default):
    assert envbool("DEBUG", default, environ=environ) is default


@pytest.mark.parametrize("value", ["ture", "2", "enabled", "y", "-1"])
def test_a_yes_no_value_that_is_neither_stops_start_up(value):
    with pytest.raises(ImproperlyConfigured) as refused:
        envbool("VIGIL_HTTPS", environ={"VIGIL_HTTPS": value})
    message = str(refused.value)
    assert message.startswith(f"VIGIL_HTTPS={value!r} is not a yes/no value.")
    assert "1, true, yes, on (on) or 0, false, no, off (off), in any case" in message
    assert "leave it empty for the default (off)" in message


def test_the_older_string_default_still_works():
    assert envbool("VIGIL_MANIFEST_STATIC", "True", environ={}) is True
    assert envbool("VIGIL_MANIFEST_STATIC", "False", environ={}) is False


# ---------- Whole numbers ----------


def test_a_whole_number_is_read_and_empty_means_the_default():
    assert envint("VIGIL_MAX_UPLOAD_MB", 20, environ={"VIGIL_MAX_UPLOAD_MB": " 50 "}) == 50
    assert envint("VIGIL_MAX_UPLOAD_MB", 20, environ={"VIGIL_MAX_UPLOAD_MB": ""}) == 20
    assert envint("VIGIL_MAX_UPLOAD_MB", 20, environ={}) == 20


@pytest.mark.parametrize("value", ["abc", "2.5", "20MB", "1e3"])
def test_a_number_that_is_not_whole_stops_start_up(value):
    with pytest.raises(ImproperlyConfigured) as refused:
        envint("VIGIL_MAX_UPLOAD_MB", 20, environ={"VIGIL_MAX_UPLOAD_MB": value})
    assert str(refused.value) == (
        f"VIGIL_MAX_UPLOAD_MB={value!r} is not a whole number; leave it empty for the default (20)."
    )


def test_a_number_below_its_minimum_stops_start_up():
    environ = {"VIGIL_TRUSTED_PROXIES": "-1"}
    with pytest.raises(ImproperlyConfigured) as refused:
        envint("VIGIL_TRUSTED_PROXIES", 0, environ=environ, minimum=0)
    assert str(refused.value) == "VIGIL_TRUSTED_PROXIES='-1' is too small: it must be at least 0."
    assert (
        envint("VIGIL_TRUSTED_PROXIES", 0, environ={"VIGIL_TRUSTED_PROXIES": "0"}, minimum=0) == 0
    )


# ---------- Secrets from files ----------


def test_a_secret_is_read_from_its_file_without_the_final_newline(tmp_path):
    secret = tmp_path / "secret_key"
    secret.write_text("s3cr3t value with spaces\n", encoding="utf-8")
    assert envsecret("SECRET_KEY", environ={"SECRET_KEY_FILE": str(secret)}) == (
        "s3cr3t value with spaces"
    )
    secret.write_text("windows-line-end\r\n", encoding="utf-8")
    assert envsecret("SECRET_KEY", environ={"SECRET_KEY_FILE": str(secret)}) == "windows-line-end"


def test_a_secret_without_a_file_is_the_variable_or_the_default():
    assert envsecret("EMAIL_URL", "console://", environ={"EMAIL_URL": "smtps://h"}) == "smtps://h"
    assert envsecret("EMAIL_URL", "console://", environ={}) == "console://"


def test_encryption_keys_are_read_from_their_file(tmp_path):
    keys = tmp_path / "keys"
    keys.write_text("first-key,second-key\n", encoding="utf-8")
    environ = {"VIGIL_ENCRYPTION_KEYS_FILE": str(keys)}
    assert envlist("VIGIL_ENCRYPTION_KEYS", environ=environ, secret=True) == [
        "first-key",
        "second-key",
    ]


def test_a_secret_set_both_ways_stops_start_up(tmp_path):
    secret = tmp_path / "database_url"
    secret.write_text("postgres://vigil@db/vigil\n", encoding="utf-8")
    environ = {"DATABASE_URL": "sqlite:///x", "DATABASE_URL_FILE": str(secret)}
    with pytest.raises(ImproperlyConfigured) as refused:
        envsecret("DATABASE_URL", environ=environ)
    assert str(refused.value) == (
        "Both DATABASE_URL and DATABASE_URL_FILE are set (in the environment or the .env file); "
        "set only one of them (DATABASE_URL_FILE names a file holding the value)."
    )


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_a_secret_file_that_cannot_be_read_stops_start_up(tmp_path, kind):
    path = tmp_path / "absent" if kind == "missing" else tmp_path
    with pytest.raises(ImproperlyConfigured) as refused:
        envsecret("SECRET_KEY", environ={"SECRET_KEY_FILE": str(path)})
    reason = "No such file or directory" if kind == "missing" else "Is a directory"
    assert str(refused.value) == f"SECRET_KEY_FILE={str(path)!r} cannot be read: {reason}."


def test_an_empty_secret_file_stops_start_up(tmp_path):
    secret = tmp_path / "empty"
    secret.write_text("\n", encoding="utf-8")
    with pytest.raises(ImproperlyConfigured) as refused:
        envsecret("SECRET_KEY", environ={"SECRET_KEY_FILE": str(secret)})
    assert str(refused.value) == f"SECRET_KEY_FILE={str(secret)!r} is empty."


# ---------- Addresses ----------


def test_a_tile_server_address_must_be_http_or_https():
    url = "https://{s}.tile.example.org/{z}/{x}/{y}.png"
    assert envurl("VIGIL_MAP_TILES_URL", environ={"VIGIL_MAP_TILES_URL": url}) == url
    assert envurl("VIGIL_MAP_TILES_URL", environ={}) == ""
    for value in ["tile.example.org/{z}/{x}/{y}.png", "ftp://tile.example.org/{z}.png"]:
        with pytest.raises(ImproperlyConfigured) as refused:
            envurl("VIGIL_MAP_TILES_URL", environ={"VIGIL_MAP_TILES_URL": value})
        assert str(refused.value) == (
            f"VIGIL_MAP_TILES_URL={value!r} is not an http:// or https:// address."
        )


def test_a_tile_server_placeholder_outside_the_first_label_is_refused():
    # A Content-Security-Policy can only put a wildcard first in a host name.
    value = "https://tiles.{s}.example.org/{z}/{x}/{y}.png"
    with pytest.raises(ImproperlyConfigured, match="may only be its first part"):
        envurl("VIGIL_MAP_TILES_URL", environ={"VIGIL_MAP_TILES_URL": value})


# ---------- The settings module at start-up ----------

SETTINGS_PRINTED = [
    "DEBUG",
    "SECRET_KEY",
    "VIGIL_ENCRYPTION_KEYS",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_PROXY_SSL_HEADER",
    "VIGIL_TRUSTED_PROXIES",
    "SILENCED_SYSTEM_CHECKS",
    "EMAIL_HOST_PASSWORD",
    "VIGIL_PUBLIC_API_DOCS",
]


def start(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    """Import vigil.settings in a fresh Python with only these variables (and no .env)."""
    environ = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(PROJECT_DIR / "src"),
        "VIGIL_ENV_FILE": str(tmp_path / "no.env"),
        "VIGIL_VAR_DIR": str(tmp_path / "var"),
        **variables,
    }
    script = (
        "import json, vigil.settings as s; "
        f"print(json.dumps({{name: getattr(s, name, None) for name in {SETTINGS_PRINTED!r}}}))"
    )
    return subprocess.run(
        [sys.executable, "-c", script],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_misspelt_yes_no_value_stops_vigil_with_the_variable_named(tmp_path):
    result = start(tmp_path, SECRET_KEY="k" * 50, VIGIL_HTTPS="ture")
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith(
        "django.core.exceptions.ImproperlyConfigured: VIGIL_HTTPS='ture' is not a yes/no value."
    )


def test_https_alone_neither_preloads_nor_trusts_forwarded_headers(tmp_path):
    result = start(tmp_path, SECRET_KEY="k" * 50, VIGIL_HTTPS="1")
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_HSTS_SECONDS"] == 31536000
    assert values["SECURE_HSTS_PRELOAD"] is False
    assert values["SECURE_PROXY_SSL_HEADER"] is None
    assert values["VIGIL_TRUSTED_PROXIES"] == 0
    # Preload off is a choice: `check --deploy --fail-level WARNING` must not fail on it.
    assert values["SILENCED_SYSTEM_CHECKS"] == ["security.W021"]


def test_preload_and_proxy_trust_are_their_own_settings(tmp_path):
    result = start(
        tmp_path,
        SECRET_KEY="k" * 50,
        VIGIL_HTTPS="yes",
        VIGIL_HSTS_PRELOAD="on",
        VIGIL_TRUSTED_PROXIES="2",
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["SECURE_HSTS_PRELOAD"] is True
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["VIGIL_TRUSTED_PROXIES"] == 2
    assert values["SILENCED_SYSTEM_CHECKS"] == []


def test_preload_without_https_stops_vigil(tmp_path):
    result = start(tmp_path, SECRET_KEY="k" * 50, VIGIL_HSTS_PRELOAD="1")
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == (
        "django.core.exceptions.ImproperlyConfigured: VIGIL_HSTS_PRELOAD=1 needs VIGIL_HTTPS=1 "
        "(HSTS is sent only then)."
    )


def test_secrets_come_from_files_at_start_up(tmp_path):
    files = {
        "SECRET_KEY_FILE": "a-secret-key-from-a-file-" + "f" * 30 + "\n",
        "VIGIL_ENCRYPTION_KEYS_FILE": "new-key,old-key\n",
        "EMAIL_URL_FILE": "smtp+tls://vigil:p%40ss@mail.example.org:587\n",
    }
    variables = {}
    for name, content in files.items():
        path = tmp_path / name.lower()
        path.write_text(content, encoding="utf-8")
        variables[name] = str(path)
    result = start(tmp_path, **variables)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["SECRET_KEY"] == "a-secret-key-from-a-file-" + "f" * 30
    assert values["VIGIL_ENCRYPTION_KEYS"] == ["new-key", "old-key"]
    assert values["EMAIL_HOST_PASSWORD"] == "p@ss"


def test_a_secret_key_and_its_file_together_stop_vigil(tmp_path):
    path = tmp_path / "secret_key"
    path.write_text("k" * 50, encoding="utf-8")
    result = start(tmp_path, SECRET_KEY="k" * 50, SECRET_KEY_FILE=str(path))
    assert result.returncode != 0
    assert "Both SECRET_KEY and SECRET_KEY_FILE are set" in result.stderr


# ---------- The client's address behind reverse proxies ----------

PROXY = "10.0.0.1"  # the reverse proxy, as Vigil sees it
CLIENT = "203.0.113.7"  # the address the proxy saw


def request_from(remote_addr: str, forwarded_for: str | None = None):
    extra = {"REMOTE_ADDR": remote_addr}
    if forwarded_for is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return RequestFactory().get("/", **extra)


def test_without_trusted_proxies_forwarded_headers_are_ignored(settings):
    settings.VIGIL_TRUSTED_PROXIES = 0
    assert client_ip(request_from(CLIENT, "198.51.100.1")) == CLIENT


@pytest.mark.parametrize(
    ("proxies", "forwarded_for", "expected"),
    [
        # One proxy appends what it saw; the client wrote the rest.
        (1, f"198.51.100.1, {CLIENT}", CLIENT),
        (1, f"198.51.100.1,198.51.100.2,{CLIENT}", CLIENT),
        (1, CLIENT, CLIENT),
        # Two proxies: the outer one saw the client, the inner one saw the outer one.
        (2, f"198.51.100.1, {CLIENT}, 10.0.0.2", CLIENT),
        # Fewer values than proxies: the leftmost was still written by one of ours.
        (2, CLIENT, CLIENT),
        # Addresses with a port, as some proxies write them.
        (1, "203.0.113.7:51234", CLIENT),
        (1, "[2001:db8::1]:51234", "2001:db8::1"),
        (1, "2001:db8::1", "2001:db8::1"),
        # Nothing usable from the proxy: the proxy's own address.
        (1, "", PROXY),
        (1, "unknown", PROXY),
    ],
)
def test_behind_proxies_the_client_is_counted_from_the_right(
    settings, proxies, forwarded_for, expected
):
    settings.VIGIL_TRUSTED_PROXIES = proxies
    assert client_ip(request_from(PROXY, forwarded_for)) == expected


def test_untrusted_forwarding_is_reported_once_in_the_log(settings, caplog, monkeypatch):
    from vigil.core.middleware import SecurityHeadersMiddleware

    monkeypatch.setattr(SecurityHeadersMiddleware, "_warned_untrusted_forwarding", False)
    settings.VIGIL_TRUSTED_PROXIES = 0
    client = Client(REMOTE_ADDR=PROXY)
    with caplog.at_level("WARNING", logger="vigil.core.middleware"):
        client.get(reverse("login"), HTTP_X_FORWARDED_PROTO="https")
        client.get(reverse("login"), HTTP_X_FORWARDED_FOR=CLIENT)
    warnings = [r.getMessage() for r in caplog.records if r.name == "vigil.core.middleware"]
    assert len(warnings) == 1
    assert "set VIGIL_TRUSTED_PROXIES to the number of proxies" in warnings[0]


@pytest.mark.django_db
def test_forged_forwarded_addresses_do_not_dodge_the_sign_in_lockout(settings, monitor):
    settings.VIGIL_TRUSTED_PROXIES = 1
    settings.VIGIL_LOGIN_MAX_FAILURES = 5  # an address is locked after 4 x 5 = 20 failures
    settings.VIGIL_LOGIN_LOCKOUT_SECONDS = 600
    client = Client(REMOTE_ADDR=PROXY)
    statuses = []
    for attempt in range(25):
        # A new invented address each time, in front of what the proxy appends.
        forwarded_for = f"198.51.100.{attempt}, {CLIENT}"
        response = client.post(
            reverse("login"),
            {"username": f"nobody-{attempt}", "password": "wrong-password-guess"},
            HTTP_X_FORWARDED_FOR=forwarded_for,
        )
        statuses.append(response.status_code)
    assert statuses[:20] == [200] * 20
    assert statuses[20:] == [429] * 5
    assert set(LoginFailure.objects.values_list("ip_address", flat=True)) == {CLIENT}
    failed = AuditEntry.objects.filter(action="core.user.login_failed")
    assert failed.count() == 20
    assert set(failed.values_list("ip_address", flat=True)) == {CLIENT}
    # Even the right password of a real account is refused from that address now.
    response = client.post(
        reverse("login"),
        {"username": "monitor", "password": PASSWORD},
        HTTP_X_FORWARDED_FOR=f"192.0.2.99, {CLIENT}",
    )
    assert response.status_code == 429
    # Someone else behind the same proxy is not locked out.
    response = client.post(
        reverse("login"),
        {"username": "monitor", "password": PASSWORD},
        HTTP_X_FORWARDED_FOR="203.0.113.8",
    )
    assert response.status_code == 302
    entry = AuditEntry.objects.get(action="core.user.login")
    assert entry.ip_address == "203.0.113.8"
