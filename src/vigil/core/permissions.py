"""Which role may do what: each app declares its actions once as a `Permissions` table.

A table names, per action, the roles that may do it. Its `area` action is the one that decides
whether the app exists at all for a member: a member who may not do it gets 404 (the records do
not exist for them), one who may see the area but not do an action gets 403.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from vigil.core.models import Membership, Role


class Permissions:
    def __init__(
        self,
        actions: Mapping[str, Collection[str]],
        *,
        area: str | None = None,
        own_body_actions: Collection[str] = (),
        object_body: Callable[[Any], int | None] = lambda obj: getattr(obj, "body_id", None),
    ) -> None:
        """`own_body_actions` may be done on an object only by members of the body that owns it
        (a coordinating body may look at a member body's record, never change it)."""
        self.actions: dict[str, frozenset[str]] = {
            name: frozenset(roles) for name, roles in actions.items()
        }
        if area is not None and area not in self.actions:
            raise ValueError(f"The area action {area!r} is not one of the actions.")
        unknown = set(own_body_actions) - set(self.actions)
        if unknown:
            raise ValueError(f"Unknown actions: {sorted(unknown)}")
        self.area = area
        self.own_body_actions = frozenset(own_body_actions)
        self.object_body = object_body

    def __getitem__(self, action: str) -> frozenset[str]:
        return self.actions[action]

    def can(self, membership: Membership | None, action: str, obj: Any = None) -> bool:
        if membership is None or not membership.is_active:
            return False
        if membership.role not in self.actions[action]:
            return False
        if obj is not None and action in self.own_body_actions:
            return self.object_body(obj) == membership.body_id
        return True

    def sees_area(self, membership: Membership | None) -> bool:
        return self.area is None or self.can(membership, self.area)

    def require(self, membership: Membership | None, action: str, obj: Any = None) -> None:
        """Raise PermissionDenied (403) unless the member may do `action` (services call it)."""
        if not self.can(membership, action, obj):
            raise PermissionDenied(_("Your role does not allow this."))

    def allowed(self, membership: Membership | None, obj: Any = None) -> set[str]:
        return {action for action in self.actions if self.can(membership, action, obj)}


# Administrators manage people and settings but never case content; auditors only read the trail.
CORE = Permissions(
    {
        "manage_users": {Role.HEAD, Role.ADMIN},
        "manage_settings": {Role.HEAD, Role.ADMIN},
        "view_audit": {Role.HEAD, Role.AUDITOR},
        # Granting or taking away the head role is a head's decision, so an administrator cannot
        # promote anyone (or a new account of their own) above themselves.
        "grant_head": {Role.HEAD},
        # Need-to-know grants: a head decides who may read a restricted record.
        "manage_grants": {Role.HEAD},
        # Resetting someone's two-factor sign-in lets a password alone set up a new app: like
        # the head role, a head's decision.
        "reset_two_factor": {Role.HEAD},
    }
)
ACTIONS = CORE.actions

# A body must always keep at least one active member who can manage its users.
MANAGER_ROLES = CORE["manage_users"]


def can(membership: Membership | None, action: str) -> bool:
    return CORE.can(membership, action)


def allowed_actions(membership: Membership | None) -> set[str]:
    return CORE.allowed(membership)


def _internal_roles() -> frozenset[str]:
    from vigil.core.access import INTERNAL_ROLES

    return INTERNAL_ROLES


# The body's lists (themes, groups, types of place): staff read them, settings managers edit.
TAXONOMY = Permissions(
    {"view": _internal_roles(), "edit": CORE["manage_settings"]},
    area="view",
)

# A member's own notifications: every role has them, external ones included.
NOTIFICATIONS = Permissions({"view": frozenset(Role)}, area="view")
