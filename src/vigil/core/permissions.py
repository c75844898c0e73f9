"""The one place that says which role may do what with users, body settings and the audit trail."""

from __future__ import annotations

from vigil.core.models import Membership, Role

# Administrators manage people and settings but never case content; auditors only read the trail.
ACTIONS: dict[str, frozenset[str]] = {
    "manage_users": frozenset({Role.HEAD, Role.ADMIN}),
    "manage_settings": frozenset({Role.HEAD, Role.ADMIN}),
    "view_audit": frozenset({Role.HEAD, Role.AUDITOR}),
    # Granting or taking away the head role is a head's decision, so an administrator cannot
    # promote anyone (or a new account of their own) above themselves.
    "grant_head": frozenset({Role.HEAD}),
}

# A body must always keep at least one active member who can manage its users.
MANAGER_ROLES = ACTIONS["manage_users"]


def can(membership: Membership | None, action: str) -> bool:
    return membership is not None and membership.is_active and membership.role in ACTIONS[action]


def allowed_actions(membership: Membership | None) -> set[str]:
    return {action for action in ACTIONS if can(membership, action)}
