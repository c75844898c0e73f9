from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VisitsConfig(AppConfig):
    name = "vigil.visits"
    label = "visits"
    verbose_name = _("Visits")

    def ready(self) -> None:
        from django.urls import reverse

        from vigil.core.access import own_body, register_visibility
        from vigil.core.audit import register_action_labels, register_audit_fields
        from vigil.core.dossier import DossierSection, register_section
        from vigil.core.notify import NotificationKind, register_notification_kind
        from vigil.core.registry import (
            HomeCard,
            NavEntry,
            register_api_enums,
            register_api_urls,
            register_home_card,
            register_nav,
            register_urls,
        )

        # demo and submissions register themselves (demo data, the submissions importer).
        # demo, preparation and submissions register themselves.
        from vigil.visits import demo, home, preparation, queries, submissions  # noqa: F401
        from vigil.visits.models import (
            Answer,
            Commitment,
            Debriefing,
            DebriefingFinding,
            Discrepancy,
            Draft,
            Evidence,
            Interview,
            Observation,
            Obstruction,
            Question,
            Questionnaire,
            RegisterCheck,
            Standard,
            TeamMember,
            Visit,
        )
        from vigil.visits.permissions import VISITS

        register_visibility(Visit, queries.visit_rule, grantable=True)
        register_visibility(TeamMember, queries.child_rule)
        register_visibility(
            Interview, queries.child_rule, content=queries.interview_content_rule, grantable=True
        )
        register_visibility(Observation, queries.child_rule)
        register_visibility(Standard, own_body)
        register_visibility(Questionnaire, own_body)
        register_visibility(Question, queries.question_rule)
        register_visibility(Answer, queries.answer_rule)
        register_visibility(RegisterCheck, queries.child_rule)
        register_visibility(Discrepancy, queries.rule_through("register_check__visit_id"))
        register_visibility(Debriefing, queries.child_rule)
        register_visibility(DebriefingFinding, queries.rule_through("debriefing__visit_id"))
        register_visibility(Commitment, queries.rule_through("debriefing__visit_id"))
        register_visibility(Obstruction, queries.child_rule)
        register_visibility(Evidence, queries.evidence_rule)
        register_visibility(Draft, queries.draft_rule)

        register_action_labels(
            {
                "visits.visit.create": _("planned a visit"),
                "visits.visit.update": _("changed a visit"),
                "visits.visit.set_status": _("moved a visit on"),
                "visits.visit.add_team_member": _("added a team member"),
                "visits.visit.remove_team_member": _("removed a team member"),
                "visits.visit.confirm_conduct": _("confirmed the code of conduct"),
                "visits.visit.read": _("read a visit's confidential data"),
                "visits.interview.create": _("recorded an interview"),
                "visits.interview.read": _("read an interview"),
                "visits.observation.create": _("recorded a finding"),
                "visits.observation.corroborate": _("confirmed a finding"),
                "visits.observation.hold_back": _("held a finding back or released it"),
                "visits.settings.update": _("changed the visit settings"),
                "visits.visit.list_api": _("read a large page of visits through the API"),
                "visits.interview.list_api": _("read a large page of interviews through the API"),
                "visits.observation.list_api": _("read a large page of findings through the API"),
                "visits.questionnaire.import": _("imported a questionnaire from an XLSForm"),
                "visits.questionnaire.copy": _("made a new version of a questionnaire"),
                "visits.questionnaire.activate": _("changed which questionnaire version is in use"),
                "visits.questionnaire.list_api": _(
                    "read a large page of questionnaires through the API"
                ),
                "visits.answer.create": _("recorded an answer to a questionnaire"),
                "visits.answer.list_api": _("read a large page of answers through the API"),
                "visits.registercheck.create": _("recorded a register checked"),
                "visits.discrepancy.create": _("recorded a discrepancy in a register"),
                "visits.discrepancy.to_observation": _("made a discrepancy a finding"),
                "visits.debriefing.create": _("recorded the debriefing"),
                "visits.debriefing.update": _("changed the debriefing"),
                "visits.debriefing.export": _("printed the debriefing note"),
                "visits.observation.export": _("exported findings"),
                "visits.visit.print_preparation": _("printed the preparation pack"),
                "visits.commitment.create": _("recorded a commitment of the management"),
                "visits.obstruction.create": _("recorded an obstruction or difficulty"),
                "visits.obstruction.escalate": _("told the heads of a serious obstruction"),
                "visits.registercheck.list_api": _(
                    "read a large page of registers checked through the API"
                ),
                "visits.discrepancy.list_api": _(
                    "read a large page of discrepancies through the API"
                ),
                "visits.debriefing.list_api": _("read a large page of debriefings through the API"),
                "visits.interview.update": _("corrected an interview"),
                "visits.observation.update": _("corrected a finding"),
                "visits.evidence.upload": _("attached an evidence file"),
                "visits.evidence.download": _("downloaded an evidence file"),
                "visits.evidence.delete": _("removed an evidence file"),
                "visits.evidence.list_api": _(
                    "read a large page of evidence files through the API"
                ),
                "visits.obstruction.list_api": _(
                    "read a large page of obstructions through the API"
                ),
            }
        )
        register_audit_fields(
            "visits.visit",
            labels={"team": _("team"), "conduct_confirmed": _("code of conduct confirmed by")},
        )
        register_audit_fields(
            "visits.observation",
            labels={"sources": _("sources"), "corroboration_reason": _("why it stands")},
        )
        register_audit_fields("visits.discrepancy", labels={"register": _("register")})
        register_audit_fields(
            "visits.debriefing", labels={"withheld": _("findings the guard now withholds")}
        )
        register_audit_fields("visits.obstruction", labels={"heads": _("heads told")})
        register_audit_fields(
            "visits.evidence",
            labels={"size": _("size in bytes"), "attached_to": _("attached to")},
        )
        register_notification_kind(
            NotificationKind(
                key="visits.obstruction.serious",
                label=_("A serious obstruction during a visit"),
                describe=lambda obstruction: (
                    str(_("Serious obstruction during the visit to %(place)s."))
                    % {"place": obstruction.visit.place},
                    reverse("visits:detail", args=[obstruction.visit_id]) + "#obstructions",
                ),
                email_text=_(
                    "A visiting team reported a serious obstruction of its work. Open Vigil to act."
                ),
                email_default=True,
            )
        )
        register_notification_kind(
            NotificationKind(
                key="visits.observation.urgent",
                label=_("An urgent finding during a visit"),
                describe=lambda observation: (
                    str(_("Urgent finding during the visit to %(place)s: act now."))
                    % {"place": observation.visit.place},
                    reverse("visits:detail", args=[observation.visit_id]) + "#observations",
                ),
                email_text=_("An urgent finding was recorded during a visit. Open Vigil to act."),
                email_default=True,
            )
        )
        register_nav(
            NavEntry(
                "visits",
                _("Visits"),
                "visits:list",
                order=20,
                shows_for=lambda membership: VISITS.can(membership, "view"),
                current="visits",
            )
        )
        register_home_card(HomeCard("visits", 15, "visits/_home_visits.html", home.visits_card))
        register_section(
            "place",
            DossierSection("visits", _("Visits"), "visits/_section_visits.html", 30, home.dossier),
        )
        register_urls("visits/", "vigil.visits.urls")
        register_urls("questionnaires/", "vigil.visits.questionnaire_urls")
        register_api_urls("vigil.visits.api_urls")
        register_api_enums(
            {
                "VisitKindEnum": "vigil.visits.models.VisitKind",
                "VisitStatusEnum": "vigil.visits.models.VisitStatus",
                "InterviewKindEnum": "vigil.visits.models.InterviewKind",
                "QuestionKindEnum": "vigil.visits.models.QuestionKind",
                "InstrumentEnum": "vigil.visits.models.Instrument",
                "RegisterKindEnum": "vigil.visits.models.RegisterKind",
                "ObstructionKindEnum": "vigil.visits.models.ObstructionKind",
                "ObstructionSeverityEnum": "vigil.visits.models.ObstructionSeverity",
                "SeverityEnum": "vigil.visits.models.Severity",
            }
        )
        preparation.register_own_sections()
