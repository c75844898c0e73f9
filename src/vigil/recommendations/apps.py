from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

ACTION_LABELS = {
    "recommendations.authority.create": _("added an authority to the directory"),
    "recommendations.authority.update": _("changed an authority"),
    "recommendations.focalpoint.set": _("linked a focal point to an authority"),
    "recommendations.focalpoint.remove": _("unlinked a focal point from an authority"),
    "recommendations.settings.update": _("changed the recommendation deadlines"),
    "recommendations.recommendation.create": _("issued a recommendation"),
    "recommendations.recommendation.update": _("changed a recommendation"),
    "recommendations.recommendation.set_position": _("recorded the authority's position"),
    "recommendations.recommendation.assess": _("assessed a recommendation's implementation"),
    "recommendations.recommendation.remind": _("sent a deadline reminder"),
    "recommendations.recommendation.mark_overdue": _("marked a recommendation overdue"),
    "recommendations.recommendation.escalate": _("escalated an overdue recommendation"),
    "recommendations.exchange.create": _("recorded an exchange with an authority"),
    "recommendations.recommendation.export": _("exported recommendations"),
    "recommendations.recommendation.list_api": _(
        "read a large page of recommendations through the API"
    ),
    "recommendations.authority.list_api": _("read a large page of authorities through the API"),
    "recommendations.exchange.list_api": _(
        "read a large page of exchanges with authorities through the API"
    ),
}


class RecommendationsConfig(AppConfig):
    name = "vigil.recommendations"
    label = "recommendations"
    verbose_name = _("Recommendations")

    def ready(self) -> None:
        from vigil.core.access import INTERNAL_ROLES, own_body, register_visibility
        from vigil.core.audit import register_action_labels, register_audit_fields
        from vigil.core.dossier import DossierSection, register_section
        from vigil.core.models import Role
        from vigil.core.notify import register_notification_kind
        from vigil.core.registry import (
            NavEntry,
            register_api_enums,
            register_api_urls,
            register_nav,
            register_urls,
        )
        from vigil.recommendations import demo, home, notifications, queries  # noqa: F401
        from vigil.recommendations.models import (
            AssessmentChange,
            Authority,
            Exchange,
            FocalPoint,
            PositionChange,
            Recommendation,
            RecommendationSettings,
            SentMessage,
        )
        from vigil.recommendations.permissions import PORTAL, RECOMMENDATIONS

        register_visibility(Authority, queries.authority_rule)
        register_visibility(
            Recommendation,
            queries.recommendation_rule,
            roles=INTERNAL_ROLES | {Role.AUTHORITY_FOCAL_POINT},
        )
        register_visibility(PositionChange, queries.child_rule)
        register_visibility(AssessmentChange, queries.child_rule)
        register_visibility(SentMessage, queries.child_rule)
        register_visibility(Exchange, queries.exchange_rule)
        register_visibility(FocalPoint, queries.focal_point_rule)
        register_visibility(RecommendationSettings, own_body)

        register_action_labels(ACTION_LABELS)
        register_audit_fields(
            "recommendations.recommendation",
            labels={
                "observations": _("findings"),
                "places": _("places"),
                "themes": _("themes"),
                "evidence": _("evidence"),
                "through_portal": _("given through the portal"),
                "kind": _("kind"),
                "due_on": _("deadline"),
                "recipients": _("recipients"),
            },
        )
        register_audit_fields(
            "recommendations.authority", labels={"places": _("places")}, lines=["contact_points"]
        )
        register_audit_fields(
            "recommendations.focalpoint",
            labels={
                "authority": _("authority"),
                "include_subordinates": _("also its subordinate units"),
                "member": _("member"),
            },
        )
        register_audit_fields(
            "recommendations.exchange",
            labels={"recommendations": _("recommendations"), "file": _("file")},
        )
        for kind in notifications.KINDS:
            register_notification_kind(kind)
        register_nav(
            NavEntry(
                "recommendations",
                _("Recommendations"),
                "recommendations:list",
                order=30,
                shows_for=lambda membership: RECOMMENDATIONS.can(membership, "view"),
                current="recommendations",
            )
        )
        register_nav(
            NavEntry(
                "portal",
                _("Recommendations to answer"),
                "portal:list",
                order=31,
                shows_for=lambda membership: PORTAL.can(membership, "respond"),
                current="portal",
            )
        )
        register_urls("recommendations/", "vigil.recommendations.urls")
        register_urls("portal/", "vigil.recommendations.portal_urls")
        register_api_urls("vigil.recommendations.api_urls")
        register_api_enums(
            {
                "AuthorityKindEnum": "vigil.recommendations.models.AuthorityKind",
                "PriorityEnum": "vigil.recommendations.models.Priority",
                "RecommendationSourceKindEnum": "vigil.recommendations.models.SourceKind",
                "PositionEnum": "vigil.recommendations.models.Position",
                "AssessmentEnum": "vigil.recommendations.models.Assessment",
                "VerificationMethodEnum": "vigil.recommendations.models.VerificationMethod",
                "ExchangeKindEnum": "vigil.recommendations.models.ExchangeKind",
            }
        )
        from vigil.visits.preparation import register_preparation_section

        register_preparation_section(
            "recommendations",
            _("Open recommendations about the place"),
            "recommendations/_preparation.html",
            40,
            home.preparation,
        )
        register_section(
            "place",
            DossierSection(
                "recommendations",
                _("Recommendations"),
                "recommendations/_section_place.html",
                40,
                home.dossier,
            ),
        )
