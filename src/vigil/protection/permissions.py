"""The one place that says which role may do what with cases and persons at risk.

Roles only open the door: each case and person at risk is need-to-know on top (its holders, the
heads and anyone a head grants it to; `queries.py`)."""

from __future__ import annotations

from vigil.core.models import Role
from vigil.core.permissions import Permissions

# Administrators manage people, not case content; auditors read the trail, where entries about
# cases they may not see show only that they exist; authority focal points never see any of it.
CASE_ROLES = frozenset({Role.HEAD, Role.VISIT_LEADER, Role.MONITOR, Role.ANALYST})
FIELD_ROLES = frozenset({Role.HEAD, Role.VISIT_LEADER, Role.MONITOR})

PROTECTION = Permissions(
    {
        "view": CASE_ROLES,
        "create": FIELD_ROLES,
        "edit": FIELD_ROLES,
        "refer": FIELD_ROLES,
        "follow_up": FIELD_ROLES,
        "reveal_identity": FIELD_ROLES,
        "manage_holders": {Role.HEAD},
        "statistics": {Role.HEAD, Role.ANALYST},
    },
    area="view",
    own_body_actions={"edit", "refer", "follow_up", "reveal_identity", "manage_holders"},
)
