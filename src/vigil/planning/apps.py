from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PlanningConfig(AppConfig):
    name = "vigil.planning"
    label = "planning"
    verbose_name = _("Visit programme")

    def ready(self) -> None:
        from vigil.core.access import register_visibility
        from vigil.core.audit import register_action_labels
        from vigil.core.registry import NavEntry, register_api_urls, register_nav, register_urls
        from vigil.planning import queries
        from vigil.planning.models import (
            MonitorProfile,
            PlaceRisk,
            PlanningSettings,
            Programme,
            ProgrammeTeamMember,
            ProgrammeVisit,
        )
        from vigil.planning.permissions import PLANNING

        register_visibility(Programme, queries.programme_rule)
        register_visibility(ProgrammeVisit, queries.entry_rule)
        register_visibility(ProgrammeTeamMember, queries.team_rule)
        register_visibility(PlaceRisk, queries.planners_only)
        register_visibility(PlanningSettings, queries.planners_only)
        register_visibility(MonitorProfile, queries.profile_rule)

        register_action_labels(
            {
                "planning.programme.generate": _("generated a visit programme"),
                "planning.programme.replan": _("re-planned a visit programme"),
                "planning.programme.approve": _("approved a visit programme"),
                "planning.entry.lock": _("locked a visit of the programme"),
                "planning.entry.unlock": _("unlocked a visit of the programme"),
                "planning.entry.move": _("moved a visit of the programme"),
                "planning.entry.remove_member": _("took a member off a programme visit"),
                "planning.risk.recompute": _("recomputed the risk scores of places"),
                "planning.settings.update": _("changed the planning settings"),
                "planning.profile.update": _("changed a monitor's planning profile"),
                "planning.programme.list_api": _(
                    "read a large page of visit programmes through the API"
                ),
                "planning.programmevisit.list_api": _(
                    "read a large page of programme visits through the API"
                ),
                "planning.placerisk.list_api": _(
                    "read a large page of risk scores through the API"
                ),
            }
        )
        register_nav(
            NavEntry(
                "planning",
                _("Programme"),
                "planning:list",
                order=25,
                shows_for=lambda membership: PLANNING.can(membership, "view"),
                current="planning",
            )
        )
        register_urls("planning/", "vigil.planning.urls")
        register_api_urls("vigil.planning.api_urls")
