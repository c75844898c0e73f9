"""The one place that says which role may do what with places."""

from __future__ import annotations

from vigil.core.access import INTERNAL_ROLES
from vigil.core.models import Membership, Role
from vigil.places.models import Place

ACTIONS: dict[str, frozenset[str]] = {
    "view": frozenset(INTERNAL_ROLES),
    "export": frozenset(INTERNAL_ROLES),
    "create": frozenset({Role.HEAD, Role.VISIT_LEADER, Role.ANALYST}),
    "edit": frozenset({Role.HEAD, Role.VISIT_LEADER, Role.ANALYST}),
    "import": frozenset({Role.HEAD, Role.ANALYST}),
    "attach_document": frozenset({Role.HEAD, Role.VISIT_LEADER, Role.MONITOR, Role.ANALYST}),
    "delete": frozenset({Role.HEAD}),
    "restore": frozenset({Role.HEAD}),
    "merge": frozenset({Role.HEAD, Role.ANALYST}),
    "reveal_confidential": frozenset({Role.HEAD, Role.VISIT_LEADER}),
}
# Actions that change a record: only the body that owns the place may do them, never a
# coordinating body looking at a member body's place.
WRITE_ACTIONS = frozenset(ACTIONS) - {"view", "export"}


def can(membership: Membership | None, action: str, place: Place | None = None) -> bool:
    if membership is None or membership.role not in ACTIONS[action]:
        return False
    if place is not None and action in WRITE_ACTIONS | {"reveal_confidential"}:
        return place.body_id == membership.body_id
    return True


def allowed_actions(membership: Membership | None, place: Place | None = None) -> set[str]:
    return {action for action in ACTIONS if can(membership, action, place)}
