"""Who may call the API: API tokens (looked up by their hash, refused where the body requires
two-factor sign-in and their owner has no authenticator app) and who may read the API docs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponseBase
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from vigil.core.access import BODY_HEADER, user_memberships
from vigil.core.models import ApiToken, AuthenticatorDevice

# last_used_at is written at most this often per token, not on every call.
LAST_USED_PRECISION = timedelta(minutes=1)


class ApiTokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>`, the header DRF's own token authentication reads; the key is
    found by its SHA-256, the only form of it Vigil keeps (core.models.ApiToken).

    A body that requires two-factor sign-in requires it of programs too: a token acting in such
    a body (the X-Vigil-Body header, or the owner's first body) is refused while its owner has no
    confirmed authenticator app. Tokens themselves can only be created in a session that passed
    the code (services.api_token_create).
    """

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        result = super().authenticate(request)
        if result is not None:
            user, _token = result
            self._check_second_factor(request, user)
        return result

    def authenticate_credentials(self, key: str) -> tuple[Any, ApiToken]:
        token = (
            ApiToken.objects.select_related("user").filter(key_hash=ApiToken.hash_key(key)).first()
        )
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_PRECISION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
        return token.user, token

    @staticmethod
    def _check_second_factor(request: Request, user: Any) -> None:
        memberships = user_memberships(user)
        # The view's active membership is chosen from the same list: load it once.
        request._request._vigil_memberships = memberships  # type: ignore[attr-defined]
        wanted = request._request.META.get(BODY_HEADER)
        if wanted:
            # A body the owner is not a member of: the view answers 404, as for a session.
            chosen = next((m for m in memberships if m.body.slug == wanted), None)
        else:
            chosen = memberships[0] if memberships else None
        if chosen is None or not chosen.body.require_totp:
            return
        if AuthenticatorDevice.objects.filter(user=user, confirmed=True).exists():
            return
        raise exceptions.PermissionDenied(
            _(
                "%(body)s requires two-factor sign-in, and the owner of this token has not set "
                "up an authenticator app. Sign in to Vigil, set one up on your account page, "
                "then use the token again."
            )
            % {"body": chosen.body}
        )


class ApiDocsAccess(permissions.BasePermission):
    """The OpenAPI schema and docs: for signed-in people (a session or a token) unless
    VIGIL_PUBLIC_API_DOCS opens them to everyone. They list every route and field of the API,
    which is of use to someone probing it."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if settings.VIGIL_PUBLIC_API_DOCS:
            return True
        return bool(request.user and request.user.is_authenticated)


def api_docs_view(docs_view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """The docs page: a person who is not signed in is sent to sign in (the schema itself
    answers 401 through ApiDocsAccess)."""

    def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not settings.VIGIL_PUBLIC_API_DOCS and not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return docs_view(request, *args, **kwargs)

    return view
