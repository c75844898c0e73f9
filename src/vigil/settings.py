"""Vigil's one settings module: every deployment choice comes from an environment variable.

The defaults are safe for a laptop (SQLite, DEBUG off unless asked for); the README lists every
variable.
"""

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent.parent


def _load_env_file(path: Path) -> None:
    # `make run` writes a local .env with generated secrets; real deployments set the environment.
    if not path.is_file():
        return
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            os.environ.setdefault(key.strip(), value.strip())


_load_env_file(Path(os.environ.get("VIGIL_ENV_FILE", PROJECT_DIR / ".env")))

# The environment helpers below take the environment as an argument (os.environ by default) so the
# tests can check what they accept and refuse without reloading the settings. A value that makes
# no sense stops start-up with a message naming the variable: a typo such as VIGIL_HTTPS=ture
# must not quietly switch HTTPS off.

_TRUE_WORDS = ("1", "true", "yes", "on")
_FALSE_WORDS = ("0", "false", "no", "off")


def _environ(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def envsecret(name: str, default: str = "", environ: Mapping[str, str] | None = None) -> str:
    """`name`'s value, or the content of the file `<name>_FILE` names (without its last newline).

    For the settings that hold a password or key (SECRET_KEY, VIGIL_ENCRYPTION_KEYS, DATABASE_URL,
    EMAIL_URL), which Docker and Kubernetes mount as files.

    Setting both is refused: which one wins would be a guess. So is a file that cannot be read
    or is empty, rather than starting with a blank secret.
    """
    env = _environ(environ)
    value = env.get(name, "")
    file_name = env.get(f"{name}_FILE", "").strip()
    if not file_name:
        return value or default
    if value:
        raise ImproperlyConfigured(
            f"Both {name} and {name}_FILE are set (in the environment or the .env file); "
            f"set only one of them ({name}_FILE names a file holding the value)."
        )
    try:
        content = Path(file_name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ImproperlyConfigured(f"{name}_FILE={file_name!r} cannot be read: {reason}.") from exc
    content = content.rstrip("\r\n")
    if not content.strip():
        raise ImproperlyConfigured(f"{name}_FILE={file_name!r} is empty.")
    return content


def envbool(
    name: str, default: bool | str = False, environ: Mapping[str, str] | None = None
) -> bool:
    """A yes/no variable: 1/0, true/false, yes/no, on/off in any case; empty means the default."""
    if isinstance(default, str):  # the older spelling, envbool("X", "False")
        default = default.strip().lower() in _TRUE_WORDS
    value = _environ(environ).get(name, "").strip().lower()
    if not value:
        return default
    if value in _TRUE_WORDS:
        return True
    if value in _FALSE_WORDS:
        return False
    raise ImproperlyConfigured(
        f"{name}={_environ(environ)[name]!r} is not a yes/no value. Use one of "
        f"{', '.join(_TRUE_WORDS)} (on) or {', '.join(_FALSE_WORDS)} (off), in any case, "
        f"or leave it empty for the default ({'on' if default else 'off'})."
    )


def envint(
    name: str,
    default: int,
    environ: Mapping[str, str] | None = None,
    *,
    minimum: int | None = None,
) -> int:
    """A whole-number variable; empty means the default, and less than `minimum` is refused."""
    raw = _environ(environ).get(name, "")
    value = raw.strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(
            f"{name}={raw!r} is not a whole number; leave it empty for the default ({default})."
        ) from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={raw!r} is too small: it must be at least {minimum}.")
    return number


def envlist(
    name: str, default: str = "", environ: Mapping[str, str] | None = None, *, secret: bool = False
) -> list[str]:
    value = envsecret(name, default, environ) if secret else _environ(environ).get(name, default)
    return [item.strip() for item in value.split(",") if item.strip()]


def envurl(name: str, environ: Mapping[str, str] | None = None) -> str:
    """An optional http(s) address; anything else (a bare host name, a typo) is refused.

    A {placeholder} may stand for the first label of the host name only (https://{s}.example.org),
    the one place a Content-Security-Policy can put a wildcard.
    """
    value = _environ(environ).get(name, "").strip()
    if not value:
        return value
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ImproperlyConfigured(f"{name}={value!r} is not an http:// or https:// address.")
    if "{" in "".join(parts.netloc.rsplit("@", 1)[-1].split(".")[1:]):
        raise ImproperlyConfigured(
            f"{name}={value!r}: a {{placeholder}} in the host name may only be its first part, "
            "as in https://{s}.tile.example.org/{z}/{x}/{y}.png."
        )
    return value


DEBUG = envbool("DEBUG")
_ALLOW_INSECURE_DEFAULTS = envbool("VIGIL_ALLOW_INSECURE_DEFAULTS")
SECRET_KEY = envsecret("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG and not _ALLOW_INSECURE_DEFAULTS:
        raise ImproperlyConfigured(
            "Set SECRET_KEY or SECRET_KEY_FILE (or DEBUG=1 for local development)."
        )
    SECRET_KEY = "insecure-local-development-key-" + "x" * 32

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")

VAR_DIR = Path(os.environ.get("VIGIL_VAR_DIR", PROJECT_DIR / "var"))
MEDIA_ROOT = Path(os.environ.get("VIGIL_MEDIA_ROOT", VAR_DIR / "media"))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_otp",
    # django-otp's TOTP devices and DRF's tokens are no longer used (core's AuthenticatorDevice
    # and ApiToken replace them: no plaintext seed or token in the database); the two apps stay
    # installed so that core's migration 0008 can move their old rows.
    "django_otp.plugins.otp_totp",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_tasks",
    "django_tasks_db",
    "vigil.core",
    # Every domain app under src/vigil/ (a package with an apps.py), found rather than listed, so
    # adding an app is creating its folder.
    *sorted(
        f"vigil.{config.parent.name}"
        for config in BASE_DIR.glob("*/apps.py")
        if config.parent.name != "core"
    ),
]

MIDDLEWARE = [
    "vigil.core.middleware.SecurityHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "vigil.core.middleware.IdleSessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "vigil.core.middleware.InputGuardMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "vigil.core.middleware.ActiveBodyMiddleware",
]

ROOT_URLCONF = "vigil.urls"
WSGI_APPLICATION = "vigil.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "vigil.core.context_processors.vigil",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        envsecret("DATABASE_URL", f"sqlite:///{VAR_DIR / 'vigil.sqlite3'}"),
        # Connections kept for a minute: opening one per request cost a quarter of the
        # throughput under load. conn_health_checks re-opens one the server closed.
        conn_max_age=envint("DATABASE_CONN_MAX_AGE", 60, minimum=0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    if not (os.environ.get("DATABASE_URL") or os.environ.get("DATABASE_URL_FILE")):
        # The zero-setup database lives in var/; make sure it can be created.
        VAR_DIR.mkdir(parents=True, exist_ok=True)
    # WAL lets the task worker write progress while pages read it.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("VIGIL_TEST_DATABASE_NAME") or None}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
IS_POSTGRES = DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql")

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
    },
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Sessions end after a working day, or sooner when idle, and when the browser closes.
SESSION_COOKIE_AGE = envint("VIGIL_SESSION_SECONDS", 8 * 3600, minimum=60)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# A session is written when it changes, and refreshed while in use at most this often
# (vigil.core.middleware.IdleSessionMiddleware), not on every request.
VIGIL_SESSION_REFRESH_SECONDS = envint("VIGIL_SESSION_REFRESH_SECONDS", 300, minimum=1)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
OTP_TOTP_ISSUER = "Vigil"
VIGIL_LOGIN_MAX_FAILURES = envint("VIGIL_LOGIN_MAX_FAILURES", 5, minimum=1)
VIGIL_LOGIN_LOCKOUT_SECONDS = envint("VIGIL_LOGIN_LOCKOUT_SECONDS", 15 * 60, minimum=1)
# An API page of more records than this is recorded in the audit trail (0: every page).
VIGIL_AUDIT_API_PAGE_SIZE = envint("VIGIL_AUDIT_API_PAGE_SIZE", 100, minimum=0)

SECURE_SSL_REDIRECT = envbool("VIGIL_HTTPS")
SESSION_COOKIE_SECURE = SECURE_SSL_REDIRECT
CSRF_COOKIE_SECURE = SECURE_SSL_REDIRECT
SECURE_HSTS_SECONDS = 31536000 if SECURE_SSL_REDIRECT else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_SSL_REDIRECT
# Preloading is a promise to browsers, for the whole domain and its subdomains, that is slow to
# take back: a separate choice, not a side effect of turning HTTPS on.
SECURE_HSTS_PRELOAD = envbool("VIGIL_HSTS_PRELOAD")
if SECURE_HSTS_PRELOAD and not SECURE_SSL_REDIRECT:
    raise ImproperlyConfigured("VIGIL_HSTS_PRELOAD=1 needs VIGIL_HTTPS=1 (HSTS is sent only then).")
# How many reverse proxies stand between the clients and Vigil. Only then are X-Forwarded-For and
# X-Forwarded-Proto believed (core/middleware.py `client_ip`): without a proxy, anyone can send
# them, and a forged address would dodge the sign-in lockout and lie in the audit trail.
VIGIL_TRUSTED_PROXIES = envint("VIGIL_TRUSTED_PROXIES", 0, minimum=0)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if VIGIL_TRUSTED_PROXIES else None
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# `check --deploy` warns when preload is off; here that is a choice (VIGIL_HSTS_PRELOAD), not an
# oversight.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("fr", _("French")), ("es", _("Spanish"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("VIGIL_STATIC_ROOT", PROJECT_DIR / "staticfiles"))
_MANIFEST_STATIC = envbool("VIGIL_MANIFEST_STATIC")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if _MANIFEST_STATIC
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not _MANIFEST_STATIC

EMAIL_URL = envsecret("EMAIL_URL", "console://")
if EMAIL_URL.startswith("console:"):
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
else:
    from urllib.parse import unquote, urlparse

    _email = urlparse(EMAIL_URL)
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = _email.hostname or "localhost"
    EMAIL_PORT = _email.port or 587
    EMAIL_HOST_USER = unquote(_email.username or "")
    EMAIL_HOST_PASSWORD = unquote(_email.password or "")
    EMAIL_USE_TLS = _email.scheme in {"smtp+tls", "submission"}
    EMAIL_USE_SSL = _email.scheme == "smtps"
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "vigil@localhost")
# Where people reach Vigil: the links in its emails start with it.
VIGIL_BASE_URL = os.environ.get("VIGIL_BASE_URL", "http://127.0.0.1:8000")

# Field and file encryption: comma-separated Fernet keys, the first encrypts, all decrypt.
VIGIL_ENCRYPTION_KEYS = envlist("VIGIL_ENCRYPTION_KEYS", secret=True)
VIGIL_MAX_UPLOAD_BYTES = envint("VIGIL_MAX_UPLOAD_MB", 20, minimum=1) * 1024 * 1024
VIGIL_MAX_IMPORT_BYTES = envint("VIGIL_MAX_IMPORT_MB", 20, minimum=1) * 1024 * 1024
# What an import file may hold; reading stops at the first limit passed (core/tabular.py).
VIGIL_IMPORT_MAX_COLUMNS = envint("VIGIL_IMPORT_MAX_COLUMNS", 500, minimum=1)
VIGIL_IMPORT_MAX_ROWS = envint("VIGIL_IMPORT_MAX_ROWS", 200_000, minimum=1)
VIGIL_IMPORT_MAX_CELL_CHARS = envint("VIGIL_IMPORT_MAX_CELL_CHARS", 10_000, minimum=1)
VIGIL_IMPORT_MAX_XLSX_BYTES = envint("VIGIL_IMPORT_MAX_XLSX_MB", 100, minimum=1) * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Map tiles: empty means plotted points on a plain background (no outside requests).
# The tile server's origin is allowed in the Content-Security-Policy's img-src (core/middleware.py).
VIGIL_MAP_TILES_URL = envurl("VIGIL_MAP_TILES_URL")
VIGIL_MAP_TILES_ATTRIBUTION = os.environ.get("VIGIL_MAP_TILES_ATTRIBUTION", "")

# A running background job that shows no sign of life for this long is taken as lost with its
# worker (a crash, a restart) and marked failed, so the person can start it again.
VIGIL_JOB_STALE_SECONDS = envint("VIGIL_JOB_STALE_SECONDS", 300, minimum=30)

TASKS = {
    "default": {
        "BACKEND": os.environ.get("VIGIL_TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default"],
    }
}

# The API schema and docs answer anyone, not only signed-in people.
VIGIL_PUBLIC_API_DOCS = envbool("VIGIL_PUBLIC_API_DOCS")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "vigil.core.api_auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "vigil.core.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "vigil.core.api_schema.VigilAutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["vigil.core.api_filters.VigilFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "vigil.core.api.DefaultCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_RATES": {"anon": "30/min"},
    "EXCEPTION_HANDLER": "vigil.core.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Vigil API",
    "DESCRIPTION": "The REST API of Vigil. Every object is scoped to the caller's active body: "
    "send the body's slug in the X-Vigil-Body header when you belong to several.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Signed-in people only, unless VIGIL_PUBLIC_API_DOCS (read at each request).
    "SERVE_PERMISSIONS": ["vigil.core.api_auth.ApiDocsAccess"],
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI served from our own static files: nothing is fetched from outside.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "client_errors_without_traceback": {
            "()": "vigil.core.log_filters.ClientErrorsWithoutTraceback"
        }
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler"},
        "requests": {
            "class": "logging.StreamHandler",
            "filters": ["client_errors_without_traceback"],
        },
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
    "loggers": {
        # A denied or missing page (403, 404) is one line without a traceback; 5xx keep theirs.
        # Not passed on to Django's own "django" handler or the root one, so each request is
        # logged once, with DEBUG on or off.
        "django.request": {
            "handlers": ["requests"],
            "level": os.environ.get("LOG_LEVEL", "WARNING"),
            "propagate": False,
        },
    },
}
