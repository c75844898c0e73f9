"""The one place that says which role may do what with the visit programme."""

from __future__ import annotations

from vigil.core.models import Role
from vigil.core.permissions import Permissions

PLANNING = Permissions(
    {
        # Monitors see the programme visits they are on, and nothing else of it.
        "view": {Role.HEAD, Role.VISIT_LEADER, Role.MONITOR},
        "plan": {Role.HEAD, Role.VISIT_LEADER},
        "approve": {Role.HEAD, Role.VISIT_LEADER},
        "settings": {Role.HEAD},
    },
    area="view",
    own_body_actions={"plan", "approve", "settings"},
)
