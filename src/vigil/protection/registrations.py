"""Everything the protection app plugs into core and into visits, called from AppConfig.ready."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

ACTION_LABELS = {
    "protection.case.create": _("opened a case"),
    "protection.case.update": _("changed a case"),
    "protection.case.set_holders": _("changed who holds a case"),
    "protection.case.read": _("read a case's narrative or identity"),
    "protection.case.list_api": _("read a large page of cases through the API"),
    "protection.referral.create": _("referred a case"),
    "protection.referral.update": _("recorded the follow-up of a referral"),
    "protection.referral.list_api": _("read a large page of referrals through the API"),
    "protection.protectedperson.create": _("started following up a person at risk"),
    "protection.protectedperson.update": _("changed the follow-up of a person at risk"),
    "protection.protectedperson.set_holders": _("changed who follows up a person at risk"),
    "protection.protectedperson.read": _("read the identity of a person at risk"),
    "protection.protectedperson.list_api": _(
        "read a large page of persons at risk through the API"
    ),
    "protection.transfer.create": _("recorded the transfer of a person at risk"),
    "protection.reprisalincident.create": _("recorded a reprisal or a concern of reprisal"),
    "protection.followup.create": _("planned a follow-up contact"),
    "protection.followup.record": _("recorded a follow-up contact"),
    "protection.case.anonymise": _("erased a closed case's personal data past its retention"),
    "protection.protectedperson.anonymise": _(
        "erased a person's data past the retention of their follow-up"
    ),
    "protection.erasure.execute": _("erased a person's data at their request"),
    "protection.settings.update": _("changed the protection settings"),
}


def _person_line(text: Any) -> Any:
    def describe(person: Any) -> tuple[str, str]:
        return str(text) % {"pseudonym": person.pseudonym}, reverse(
            "protection:person_detail", args=[person.pk]
        )

    return describe


def _case_unanswered(case: Any) -> tuple[str, str]:
    return gettext("A referral of case %(reference)s has had no answer.") % {
        "reference": case.reference
    }, reverse("protection:case_detail", args=[case.pk])


def register_all() -> None:
    from vigil.core.access import register_visibility
    from vigil.core.audit import register_action_labels, register_audit_fields
    from vigil.core.notify import NotificationKind, register_notification_kind
    from vigil.protection import queries
    from vigil.protection.models import (
        Case,
        FollowUp,
        ProtectedPerson,
        Referral,
        ReprisalIncident,
        Transfer,
    )
    from vigil.protection.permissions import CASE_ROLES

    register_visibility(Case, queries.case_rule, roles=CASE_ROLES, grantable=True)
    register_visibility(Referral, queries.referral_rule, roles=CASE_ROLES)
    register_visibility(ProtectedPerson, queries.person_rule, roles=CASE_ROLES, grantable=True)
    for model in (Transfer, ReprisalIncident, FollowUp):
        register_visibility(model, queries.person_child_rule, roles=CASE_ROLES)

    register_action_labels(ACTION_LABELS)
    register_audit_fields(
        "protection.case",
        labels={"holders": _("case holders"), "purpose": _("purpose"), "fields": _("read")},
    )
    register_audit_fields(
        "protection.protectedperson",
        labels={
            "holders": _("case holders"),
            "follow_ups_moved": _("follow-up contacts moved with the person"),
            "purpose": _("purpose"),
            "fields": _("read"),
        },
    )
    register_notification_kind(
        NotificationKind(
            key="protection.reprisal.concern",
            label=_("A concern of reprisal against a person you follow"),
            describe=_person_line(
                _("A concern of reprisal was raised about %(pseudonym)s: act now.")
            ),
            email_text=_("A concern of reprisal was raised about a person at risk. Open Vigil."),
            email_default=True,
        )
    )
    register_notification_kind(
        NotificationKind(
            key="protection.followup.overdue",
            label=_("A follow-up contact with a person at risk is overdue"),
            describe=_person_line(_("The follow-up contact with %(pseudonym)s is overdue.")),
            email_text=_("A follow-up contact with a person at risk is overdue. Open Vigil."),
            email_default=True,
        )
    )
    register_notification_kind(
        NotificationKind(
            key="protection.referral.unanswered",
            label=_("A referral of a case has had no answer"),
            describe=_case_unanswered,
            email_text=_("A referral of a case has had no answer. Open Vigil."),
        )
    )
    _register_pages()


def _register_pages() -> None:
    from vigil.core.dossier import DossierSection, register_section
    from vigil.core.registry import (
        NavEntry,
        register_api_enums,
        register_api_urls,
        register_nav,
        register_urls,
    )
    from vigil.protection import demo, sections, views  # noqa: F401  (demo registers itself)
    from vigil.protection.permissions import PROTECTION
    from vigil.visits.links import register_interview_links
    from vigil.visits.preparation import register_preparation_section

    register_nav(
        NavEntry(
            "protection",
            _("Protection"),
            "protection:case_list",
            order=35,
            shows_for=lambda membership: PROTECTION.sees_area(membership),
            current="protection",
        )
    )
    register_urls("protection/", "vigil.protection.urls")
    register_api_urls("vigil.protection.api_urls", prefix="protection/")
    register_api_enums(
        {
            "CaseSourceEnum": "vigil.protection.models.CaseSource",
            "CaseStatusEnum": "vigil.protection.models.CaseStatus",
            "ConsentEnum": "vigil.protection.models.Consent",
            "PerpetratorCategoryEnum": "vigil.protection.models.PerpetratorCategory",
            "ReferralTargetEnum": "vigil.protection.models.ReferralTarget",
            "InvestigationStateEnum": "vigil.protection.models.InvestigationState",
            "OutcomeEnum": "vigil.protection.models.Outcome",
            "RiskLevelEnum": "vigil.protection.models.RiskLevel",
        }
    )
    register_section(
        "place",
        DossierSection(
            "protection",
            _("Protection of persons"),
            "protection/_section_place.html",
            40,
            sections.place_dossier,
        ),
    )
    register_preparation_section(
        "protection_persons",
        _("Persons to follow up"),
        "protection/_preparation_persons.html",
        40,
        sections.preparation_persons,
    )
    register_interview_links("protection", views.interview_link)
