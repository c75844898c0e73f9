"""The overview page's core cards; apps add theirs through core.registry."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from vigil.core.models import Membership
from vigil.core.permissions import CORE


def users_card(request: HttpRequest, membership: Membership) -> dict[str, Any] | None:
    return {} if CORE.can(membership, "manage_users") else None
