"""The one place that says which role may do what with recommendations and the portal."""

from __future__ import annotations

from vigil.core.access import INTERNAL_ROLES
from vigil.core.models import Role
from vigil.core.permissions import Permissions

WRITERS = frozenset({Role.HEAD, Role.VISIT_LEADER, Role.ANALYST})

RECOMMENDATIONS = Permissions(
    {
        "view": INTERNAL_ROLES,
        "export": INTERNAL_ROLES - {Role.ADMIN},
        "create": WRITERS,
        "edit": WRITERS,
        # Recording the authority's position from a letter or a meeting.
        "record_position": WRITERS,
        # The body's assessment of implementation: monitors verify during follow-up visits.
        "assess": WRITERS | {Role.MONITOR},
        "dialogue": WRITERS,
        # The directory of authorities and who answers for them.
        "manage_authorities": {Role.HEAD, Role.ANALYST, Role.ADMIN},
        "manage_focal_points": {Role.HEAD, Role.ADMIN},
        "settings": {Role.HEAD},
    },
    # Recommendations pages do not exist for authority focal points: they have the portal.
    area="view",
    own_body_actions={
        "edit",
        "record_position",
        "assess",
        "dialogue",
        "manage_authorities",
        "manage_focal_points",
    },
)

# The authorities' portal: only focal points have it; the body's own staff get 404 there.
PORTAL = Permissions({"respond": {Role.AUTHORITY_FOCAL_POINT}}, area="respond")
