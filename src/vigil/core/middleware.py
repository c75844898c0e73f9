"""Request plumbing: the caller's IP for the audit trail, the active body on the request, the
security headers of every response, and the refusal of input no view can handle."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from functools import lru_cache
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control

from vigil.core import inputs
from vigil.core.access import active_membership
from vigil.core.audit import reset_request_ip, set_request_ip

logger = logging.getLogger(__name__)


def _ip_or_none(value: str) -> str | None:
    value = value.strip()
    candidates = [value]
    # Some proxies write the port too: "203.0.113.7:51234" or "[2001:db8::1]:51234".
    if value.startswith("[") and "]" in value:
        candidates.append(value[1 : value.index("]")])
    elif value.count(":") == 1:
        candidates.append(value.split(":", 1)[0])
    for candidate in candidates:
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return None


def client_ip(request: HttpRequest) -> str | None:
    """The address of the person making the request: what the sign-in lockout counts and the
    audit trail records.

    Each of the VIGIL_TRUSTED_PROXIES reverse proxies appends the address it saw to
    X-Forwarded-For, so the client is the N-th value from the right. Values further left were
    written by the client and can be anything; trusting them would let one person dodge the
    lockout by inventing a new address per attempt. With no proxy the header is ignored.
    """
    remote_addr = request.META.get("REMOTE_ADDR") or None
    proxies = settings.VIGIL_TRUSTED_PROXIES
    if proxies <= 0:
        return remote_addr
    forwarded = [
        value.strip()
        for value in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if value.strip()
    ]
    if not forwarded:
        return remote_addr
    # Fewer values than proxies: the request came in past the outer proxies, and the leftmost
    # value was still written by a proxy of ours.
    chosen = forwarded[-proxies] if len(forwarded) >= proxies else forwarded[0]
    return _ip_or_none(chosen) or remote_addr


OTP_ENROLLED_SESSION_KEY = "vigil_otp_enrolled"


class ActiveBodyMiddleware:
    """Sets the audit IP, and asks for a one-time code when the active body requires one."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = set_request_ip(client_ip(request))
        try:
            if self._needs_second_factor(request):
                if request.path.startswith("/api/"):
                    # A session signed in with a password alone must not reach the data
                    # through the API either; API tokens are a separate, revocable credential.
                    return JsonResponse(
                        {"detail": "Two-factor verification required: sign in with your code."},
                        status=403,
                    )
                return redirect(
                    f"{reverse('otp_verify')}?{urlencode({'next': request.get_full_path()})}"
                )
            return self.get_response(request)
        finally:
            reset_request_ip(token)

    @staticmethod
    def _needs_second_factor(request: HttpRequest) -> bool:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return False
        exempt = (reverse("otp_verify"), reverse("otp_setup"), reverse("logout"), "/static/")
        if request.path.startswith(exempt):
            return False
        if user.is_verified():  # type: ignore[union-attr]
            return False
        if request.session.get(OTP_ENROLLED_SESSION_KEY):
            return True
        membership = active_membership(request)
        return membership is not None and membership.body.require_totp  # type: ignore[union-attr]


# ---------- Security headers ----------

# Powerful browser features no page of Vigil uses: denied, so injected content cannot use them.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "encrypted-media",
        "geolocation",
        "gyroscope",
        "hid",
        "idle-detection",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "publickey-credentials-get",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
)


def map_tiles_source(tiles_url: str) -> str:
    """The CSP source that lets the map load `tiles_url`'s images ("" when there is no server).

    A {placeholder} in the host, as in https://{s}.tile.example.org/{z}/{x}/{y}.png, becomes
    the wildcard *.tile.example.org (settings.py refuses one anywhere but the first label).
    """
    if not tiles_url:
        return ""
    parts = urlsplit(tiles_url)
    labels = parts.netloc.rsplit("@", 1)[-1].split(".")
    if "{" in labels[0]:
        labels[0] = "*"
    return f"{parts.scheme}://{'.'.join(labels)}"


@lru_cache(maxsize=8)
def content_security_policy(*, tiles_url: str = "", api_docs: bool = False) -> str:
    """Vigil's Content-Security-Policy: its own scripts, styles and images only.

    No inline script, event handler, <style> or style attribute is allowed: an injected one does
    nothing. The pages keep their JavaScript in static files and their styles in vigil.css
    (htmx's own indicator styles are switched off in base.html for this). Images may also come
    from the map's tile server, and be data: images where a library draws its icons or blanks
    that way: Leaflet once tiles are on, Swagger UI's icons on the API docs. An image cannot run
    anything.
    """
    image_sources = ["'self'"]
    tiles = map_tiles_source(tiles_url)
    if tiles:
        # data: for the blank image Leaflet swaps into a tile it stops loading.
        image_sources += [tiles, "data:"]
    elif api_docs:
        image_sources.append("data:")
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": image_sources,
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


def _is_authenticated(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated)


class SecurityHeadersMiddleware:
    """Content-Security-Policy, Permissions-Policy and, for anything personal, no caching.

    First in MIDDLEWARE, so it also marks the answers that stop early (HTTPS redirects, static
    files served by WhiteNoise).
    """

    _warned_untrusted_forwarding = False

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        self._warn_about_an_untrusted_proxy(request)
        response = self.get_response(request)
        path = request.path_info
        if "Content-Security-Policy" not in response and not self._debug_error_page(response):
            match = getattr(request, "resolver_match", None)
            response["Content-Security-Policy"] = content_security_policy(
                tiles_url=settings.VIGIL_MAP_TILES_URL,
                api_docs=match is not None and match.url_name == "api_docs",
            )
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        # Pages and API answers with personal or confidential data must not stay in a shared or
        # browser cache (a kiosk, a shared office computer); static files may.
        if not path.startswith(settings.STATIC_URL) and (
            path.startswith("/api/") or _is_authenticated(request)
        ):
            patch_cache_control(response, no_store=True)
        return response

    @staticmethod
    def _debug_error_page(response: HttpResponse) -> bool:
        # Django's debug error pages style and script themselves inline; they exist only with
        # DEBUG on, never in production.
        return settings.DEBUG and response.status_code >= 400

    @classmethod
    def _warn_about_an_untrusted_proxy(cls, request: HttpRequest) -> None:
        # Upgrading from a release where VIGIL_HTTPS also trusted the proxy: behind one with
        # VIGIL_TRUSTED_PROXIES unset, HTTPS redirects loop and every client has the proxy's
        # address. Say so once in the log, with the fix.
        if cls._warned_untrusted_forwarding or settings.VIGIL_TRUSTED_PROXIES:
            return
        if "HTTP_X_FORWARDED_PROTO" in request.META or "HTTP_X_FORWARDED_FOR" in request.META:
            cls._warned_untrusted_forwarding = True
            logger.warning(
                "A request came with X-Forwarded-For or X-Forwarded-Proto, which Vigil ignores "
                "because VIGIL_TRUSTED_PROXIES is 0. If Vigil runs behind a reverse proxy, set "
                "VIGIL_TRUSTED_PROXIES to the number of proxies (see the README)."
            )


# ---------- Input no view can handle ----------


class InputGuardMiddleware:
    """Refuses, with a 400 that says why, what would otherwise end in a server error deep inside
    a view, a form or the database, whatever the page or endpoint:

    - a NUL character in a parameter of the query string or of a form body (PostgreSQL cannot
      store or even compare text holding one);
    - a JSON body holding \\u0000, or nested deeper than `inputs.MAX_JSON_DEPTH` (the parser
      would run out of stack), checked before anything parses it.

    After the authentication middleware, so that the error page knows who is signed in.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        problem = self._problem(request)
        if problem:
            return self._refuse(request, problem)
        return self.get_response(request)

    def _problem(self, request: HttpRequest) -> str:
        problem = self._nul_in(request.GET)
        if problem:
            return problem
        content_type = request.content_type or ""
        if content_type in {"application/x-www-form-urlencoded", "multipart/form-data"}:
            if request.method == "POST":
                return self._nul_in(request.POST)
            if content_type == "application/x-www-form-urlencoded":
                # PUT and PATCH forms, which Django leaves to DRF's parser.
                return self._nul_in(QueryDict(request.body, encoding=request.encoding))
        elif content_type == "application/json" or content_type.endswith("+json"):
            body = request.body
            if inputs.json_too_deep(body):
                return inputs.json_depth_message()
            if inputs.json_has_nul(body):
                return inputs.json_nul_message()
        return ""

    @staticmethod
    def _nul_in(data: QueryDict) -> str:
        for key, values in data.lists():
            if "\x00" in key or any("\x00" in value for value in values):
                return inputs.nul_message(key)
        return ""

    @staticmethod
    def _refuse(request: HttpRequest, message: str) -> HttpResponse:
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": message}, status=400)
        return render(request, "400.html", {"message": message}, status=400)


SESSION_SEEN_KEY = "vigil_seen"


class IdleSessionMiddleware:
    """Keeps a signed-in session alive while it is used, writing it at most once every
    VIGIL_SESSION_REFRESH_SECONDS instead of on every request (SESSION_SAVE_EVERY_REQUEST wrote
    the session row on every page and every htmx keystroke). An idle session still ends
    SESSION_COOKIE_AGE after its last write, so at most that refresh interval early."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is None or session.is_empty() or not _is_authenticated(request):
            return response
        import time

        now = int(time.time())
        seen = session.get(SESSION_SEEN_KEY, 0)
        if not isinstance(seen, int) or now - seen >= settings.VIGIL_SESSION_REFRESH_SECONDS:
            # Marking it modified makes SessionMiddleware (outside this one) save it.
            session[SESSION_SEEN_KEY] = now
        return response
