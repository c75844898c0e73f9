"""The one place that says which role may do what with places."""

from __future__ import annotations

from vigil.core.access import INTERNAL_ROLES
from vigil.core.models import Membership, Role
from vigil.core.permissions import Permissions
from vigil.places.models import Place

PLACES = Permissions(
    {
        "view": INTERNAL_ROLES,
        "export": INTERNAL_ROLES,
        "create": {Role.HEAD, Role.VISIT_LEADER, Role.ANALYST},
        "edit": {Role.HEAD, Role.VISIT_LEADER, Role.ANALYST},
        "import": {Role.HEAD, Role.ANALYST},
        "attach_document": {Role.HEAD, Role.VISIT_LEADER, Role.MONITOR, Role.ANALYST},
        "delete": {Role.HEAD},
        "restore": {Role.HEAD},
        "merge": {Role.HEAD, Role.ANALYST},
        "reveal_confidential": {Role.HEAD, Role.VISIT_LEADER},
    },
    # Places do not exist for those who may not view them (e.g. authority focal points).
    area="view",
    # Actions that change a record or reveal its secrets: only the body that owns the place may
    # do them, never a coordinating body looking at a member body's place.
    own_body_actions={
        "edit",
        "attach_document",
        "delete",
        "restore",
        "merge",
        "reveal_confidential",
    },
)
ACTIONS = PLACES.actions


def can(membership: Membership | None, action: str, place: Place | None = None) -> bool:
    return PLACES.can(membership, action, place)


def allowed_actions(membership: Membership | None, place: Place | None = None) -> set[str]:
    return PLACES.allowed(membership, place)
