"""Request plumbing: the caller's IP for the audit trail and the active body on the request."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from vigil.core.access import active_membership
from vigil.core.audit import reset_request_ip, set_request_ip


def client_ip(request: HttpRequest) -> str | None:
    # Behind the reverse proxy of the README the proxy sets X-Forwarded-For; only trust it there.
    if settings.SECURE_PROXY_SSL_HEADER:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.META.get("REMOTE_ADDR") or None


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
