"""The one place that says which role may do what with visits."""

from __future__ import annotations

from vigil.core.access import INTERNAL_ROLES
from vigil.core.models import Role
from vigil.core.permissions import Permissions

VISITS = Permissions(
    {
        "view": INTERNAL_ROLES,
        "export": INTERNAL_ROLES - {Role.ADMIN},
        "plan": {Role.HEAD, Role.VISIT_LEADER},
        "edit": {Role.HEAD, Role.VISIT_LEADER},
        "manage_team": {Role.HEAD, Role.VISIT_LEADER},
        # Recording needs a place on the visit's team too (services check it).
        "record": {Role.HEAD, Role.VISIT_LEADER, Role.MONITOR},
        "corroborate": {Role.HEAD, Role.VISIT_LEADER},
        "reveal_identity": {Role.HEAD, Role.VISIT_LEADER, Role.MONITOR},
        "settings": {Role.HEAD},
        # Questionnaires: importing XLSForms, new versions, which version is in use.
        "manage_questionnaires": {Role.HEAD, Role.VISIT_LEADER},
    },
    # Visits do not exist for those who may not view them (authority focal points).
    area="view",
    own_body_actions={
        "edit",
        "manage_team",
        "record",
        "corroborate",
        "reveal_identity",
        "manage_questionnaires",
    },
)
