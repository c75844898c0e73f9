"""Template context every page needs: the active membership, the body switcher, navigation,
the count of unread notifications."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from vigil.core.access import active_membership, request_memberships
from vigil.core.notify import unread_count
from vigil.core.registry import nav_entries


def vigil(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    membership = active_membership(request)
    return {
        "membership": membership,
        "active_body": membership.body if membership else None,
        "all_memberships": request_memberships(request),
        "nav_entries": nav_entries(membership),
        # Counted (one query) only when a template shows it: htmx partials do not.
        "notification_unread": SimpleLazyObject(lambda: unread_count(membership)),
    }
