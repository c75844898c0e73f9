"""Retention and erasure of the personal data of protection records.

- `retention_run` (a daily job): closed cases and ended follow-ups older than the body's retention
  period lose their personal data, unless a legal hold is set.
- `erasure_scope` / `erasure_execute`: a person's request to be erased. Everything linked to them
  (their case, their follow-up, the interview they gave and its answers, referrals, contacts,
  incidents) is found, shown, and erased in one transaction; the audit entry records what kind
  and how many records were erased, never what they held.

Pseudonyms, dates, places and categories stay: they identify nobody and keep the register's
statistics whole.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from vigil.core.audit import audit
from vigil.core.models import Body, Membership
from vigil.protection.models import (
    Case,
    FollowUp,
    ProtectedPerson,
    ProtectionSettings,
    Referral,
    ReprisalIncident,
)
from vigil.protection.permissions import PROTECTION
from vigil.protection.services import _require_visible

# What is erased of each kind of record (blanked; encrypted fields included).
CASE_ERASED = ["narrative", "identity", "contact", "medical_details", "istanbul_protocol_reference"]
PERSON_ERASED = ["identity", "contact", "risk_reason"]
REFERRAL_ERASED = ["investigation_steps", "remedies"]
INCIDENT_ERASED = ["description", "actions_note"]
FOLLOW_UP_ERASED = ["notes"]
INTERVIEW_ERASED = ["identity", "notes"]


def settings_for(body: Body) -> ProtectionSettings:
    found = ProtectionSettings.objects.filter(body=body).first()
    return found or ProtectionSettings(body=body)


@dataclass
class ErasureScope:
    cases: list[Case] = field(default_factory=list)
    persons: list[ProtectedPerson] = field(default_factory=list)
    interviews: list[Any] = field(default_factory=list)
    referrals: int = 0
    follow_ups: int = 0
    incidents: int = 0
    answers: int = 0

    @property
    def held(self) -> list[str]:
        """The records under legal hold (their codes), which stop the erasure."""
        return [str(c) for c in self.cases if c.legal_hold] + [
            str(p) for p in self.persons if p.legal_hold
        ]

    def counts(self) -> dict[str, int]:
        return {
            "cases": len(self.cases),
            "persons": len(self.persons),
            "interviews": len(self.interviews),
            "referrals": self.referrals,
            "follow_ups": self.follow_ups,
            "incidents": self.incidents,
            "answers": self.answers,
        }


def erasure_scope(
    *, membership: Membership, case: Case | None = None, person: ProtectedPerson | None = None
) -> ErasureScope:
    """Everything linked to the person of `case` or `person`: found through the case, the
    follow-up and the interview they came from."""
    from vigil.visits.models import Answer, Interview

    PROTECTION.require(membership, "manage_holders")
    start = case or person
    if start is None:
        raise ValidationError(_("Choose a case or a person."))
    _require_visible(membership, start)
    cases: dict[int, Case] = {}
    persons: dict[int, ProtectedPerson] = {}
    interview_ids: set[int] = set()
    if case is not None:
        cases[case.pk] = case
    if person is not None:
        persons[person.pk] = person
    # Follow the links until nothing new turns up (a person of a case of an interview ...).
    while True:
        before = (len(cases), len(persons), len(interview_ids))
        for linked_person in ProtectedPerson.objects.filter(case_id__in=list(cases)):
            persons.setdefault(linked_person.pk, linked_person)
        case_ids = {p.case_id for p in persons.values() if p.case_id}
        for linked_case in Case.objects.filter(pk__in=case_ids - set(cases)):
            cases.setdefault(linked_case.pk, linked_case)
        interview_ids |= {c.interview_id for c in cases.values() if c.interview_id}
        interview_ids |= {p.interview_id for p in persons.values() if p.interview_id}
        for interview_case in Case.objects.filter(interview_id__in=interview_ids).exclude(
            pk__in=list(cases)
        ):
            cases.setdefault(interview_case.pk, interview_case)
        for interview_person in ProtectedPerson.objects.filter(
            interview_id__in=interview_ids
        ).exclude(pk__in=list(persons)):
            persons.setdefault(interview_person.pk, interview_person)
        if (len(cases), len(persons), len(interview_ids)) == before:
            break
    return ErasureScope(
        cases=list(cases.values()),
        persons=list(persons.values()),
        interviews=list(Interview.objects.filter(pk__in=interview_ids)),
        referrals=Referral.objects.filter(case_id__in=list(cases)).count(),
        follow_ups=FollowUp.objects.filter(person_id__in=list(persons)).count(),
        incidents=ReprisalIncident.objects.filter(person_id__in=list(persons)).count(),
        answers=Answer.objects.filter(interview_id__in=interview_ids).count(),
    )


def _blank(model: Any, ids: Any, names: list[str]) -> None:
    """Blank `names` on each row (saved one by one, so encrypted fields store an empty value)."""
    for row in model._default_manager.filter(pk__in=ids):
        for name in names:
            setattr(row, name, "")
        row.save(update_fields=names)


@transaction.atomic
def erasure_execute(
    *, membership: Membership, case: Case | None = None, person: ProtectedPerson | None = None
) -> dict[str, int]:
    """Erase the personal data of everything linked to the person, all or nothing. Refused
    while any linked case or follow-up is under legal hold."""
    from vigil.visits.models import Answer, Interview

    scope = erasure_scope(membership=membership, case=case, person=person)
    if scope.held:
        raise ValidationError(
            _("%(records)s under legal hold: lift the hold before erasing anything.")
            % {"records": ", ".join(scope.held)},
            code="legal_hold",
        )
    now = timezone.now()
    case_ids = [c.pk for c in scope.cases]
    person_ids = [p.pk for p in scope.persons]
    interview_ids = [i.pk for i in scope.interviews]
    _blank(Case, case_ids, CASE_ERASED)
    Case.objects.filter(pk__in=case_ids).update(anonymised_at=now)
    _blank(ProtectedPerson, person_ids, PERSON_ERASED)
    ProtectedPerson.objects.filter(pk__in=person_ids).update(anonymised_at=now, is_active=False)
    _blank(Referral, Referral.objects.filter(case_id__in=case_ids).values("pk"), REFERRAL_ERASED)
    _blank(FollowUp, FollowUp.objects.filter(person_id__in=person_ids).values("pk"), ["notes"])
    _blank(
        ReprisalIncident,
        ReprisalIncident.objects.filter(person_id__in=person_ids).values("pk"),
        INCIDENT_ERASED,
    )
    # What the person said in the interview goes too (visits keeps its pseudonym and facts).
    _blank(Interview, interview_ids, INTERVIEW_ERASED)
    _blank(Answer, Answer.objects.filter(interview_id__in=interview_ids).values("pk"), ["value"])
    counts = scope.counts()
    target = case or person
    audit(
        actor=membership.user,
        action="protection.erasure.execute",
        obj=target,
        changes={"erased": [None, counts]},
    )
    return counts


def _anonymise(obj: Any, names: list[str], action: str, now: datetime.datetime) -> None:
    for name in names:
        setattr(obj, name, "")
    obj.anonymised_at = now
    obj.save(update_fields=[*names, "anonymised_at"])
    audit(actor=None, action=action, obj=obj, changes={"erased": [None, sorted(names)]})


def retention_run(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """Erase the personal data of records past their body's retention period, unless held."""
    now = now or timezone.now()
    counts = {"cases": 0, "persons": 0}
    for body in Body.objects.filter(protection_cases__isnull=False).distinct().iterator():
        settings = settings_for(body)
        case_cutoff = now - datetime.timedelta(days=365 * settings.case_retention_years)
        for case in Case.objects.filter(
            body=body,
            status="closed",
            legal_hold=False,
            anonymised_at__isnull=True,
            updated_at__lt=case_cutoff,
        ).iterator():
            with transaction.atomic():
                _anonymise(case, CASE_ERASED, "protection.case.anonymise", now)
                _blank(Referral, Referral.objects.filter(case=case).values("pk"), REFERRAL_ERASED)
            counts["cases"] += 1
    for body in Body.objects.filter(protected_persons__isnull=False).distinct().iterator():
        settings = settings_for(body)
        person_cutoff = now - datetime.timedelta(days=365 * settings.person_retention_years)
        for person in ProtectedPerson.objects.filter(
            body=body,
            is_active=False,
            legal_hold=False,
            anonymised_at__isnull=True,
            updated_at__lt=person_cutoff,
        ).iterator():
            with transaction.atomic():
                _anonymise(person, PERSON_ERASED, "protection.protectedperson.anonymise", now)
                _blank(FollowUp, FollowUp.objects.filter(person=person).values("pk"), ["notes"])
                _blank(
                    ReprisalIncident,
                    ReprisalIncident.objects.filter(person=person).values("pk"),
                    INCIDENT_ERASED,
                )
            counts["persons"] += 1
    return counts


@transaction.atomic
def settings_update(
    *, membership: Membership, case_retention_years: int, person_retention_years: int
) -> ProtectionSettings:
    """A head sets how long closed cases and ended follow-ups keep their personal data."""
    from vigil.core.audit import diff, snapshot

    PROTECTION.require(membership, "manage_holders")
    errors: dict[str, list[str]] = {}
    for name, value in (
        ("case_retention_years", case_retention_years),
        ("person_retention_years", person_retention_years),
    ):
        if not 1 <= value <= 100:
            errors[name] = [_("Choose between 1 and 100 years.")]
    if errors:
        raise ValidationError(errors)
    settings, _created = ProtectionSettings.objects.select_for_update().get_or_create(
        body=membership.body
    )
    names = ["case_retention_years", "person_retention_years"]
    before = snapshot(settings, names)
    settings.case_retention_years = case_retention_years
    settings.person_retention_years = person_retention_years
    settings.save()
    changes = diff(before, snapshot(settings, names))
    if changes:
        audit(
            actor=membership.user,
            action="protection.settings.update",
            body=membership.body,
            changes=changes,
        )
    return settings
