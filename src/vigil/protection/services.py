"""Every write of the protection app, and every read of what could identify a person: one
transaction, the permission and need-to-know checks, the audit entry, the notification.

The trail records that an identity, a narrative or medical details were written or read, by whom
and why, never what they say.
"""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from vigil.core.access import can_see
from vigil.core.audit import audit, audit_read, diff, snapshot
from vigil.core.concurrency import bump_version, check_version
from vigil.core.models import Membership, Role, TaxonomyTerm
from vigil.core.notify import notify
from vigil.places.models import Place, PlaceStatus
from vigil.protection.models import (
    EXTERNAL_REPORTERS,
    Case,
    CaseSource,
    CaseStatus,
    Consent,
    ContactKind,
    FollowUp,
    InvestigationState,
    Outcome,
    PerpetratorCategory,
    ProtectedPerson,
    Referral,
    ReferralTarget,
    ReportedBy,
    ReprisalAction,
    ReprisalIncident,
    ReprisalKind,
    RiskLevel,
    Transfer,
)
from vigil.protection.permissions import CASE_ROLES, PROTECTION

ENCRYPTED = "(encrypted)"
CODE_ALPHABET = "ACDEFGHJKLMNPQRTUVWXY3479"  # no look-alike letters and digits

CASE_FIELDS = [
    "source",
    "events_date",
    "events_place",
    "current_place",
    "perpetrator_category",
    "ill_treatment",
    "has_injuries",
    "medical_documentation",
    "istanbul_protocol_reference",
    "consent",
    "consent_targets",
    "consent_date",
    "consent_withdrawn_on",
    "status",
    "legal_hold",
]
CASE_SECRETS = ["narrative", "identity", "contact", "medical_details"]
# Secrets shown only through a reveal with a purpose (the narrative is case content).
CASE_IDENTITY_FIELDS = ["identity", "contact", "medical_details"]

REFERRAL_FIELDS = [
    "target",
    "addressee",
    "referred_on",
    "reference",
    "answered_on",
    "investigation",
    "investigation_by",
    "investigation_opened_on",
    "investigation_steps",
    "outcome",
    "outcome_on",
    "remedies",
]
PERSON_FIELDS = [
    "current_place",
    "risk_level",
    "follow_up_days",
    "follow_up_every_visit",
    "next_follow_up_on",
    "is_active",
    "legal_hold",
]
PERSON_SECRETS = ["identity", "contact", "risk_reason"]
PERSON_IDENTITY_FIELDS = ["identity", "contact"]


def _code(prefix: str, taken: Iterable[str]) -> str:
    used = set(taken)
    while True:
        code = prefix + "".join(secrets.choice(CODE_ALPHABET) for _ in range(6))
        if code not in used:
            return code


def _today() -> datetime.date:
    return timezone.localdate()


def _date(value: datetime.date) -> str:
    return formats.date_format(value, "DATE_FORMAT")


def _secret_changes(
    obj: Any, data: Mapping[str, Any], names: Iterable[str], *, new: bool
) -> dict[str, list[Any]]:
    """Set the encrypted fields given in `data`; the trail says which changed, never how."""
    changes: dict[str, list[Any]] = {}
    for name in names:
        if name not in data or data[name] is None:
            continue
        value = str(data[name]).strip()
        old = getattr(obj, name) or ""
        if value == old:
            continue
        setattr(obj, name, value)
        changes[name] = [None if new or not old else ENCRYPTED, ENCRYPTED if value else None]
    return changes


def _require_visible(membership: Membership, obj: Any, *, content: bool = True) -> None:
    """Need-to-know: a record the member may not see answers as missing (services raise the
    same 404 the pages and the API give)."""
    from django.http import Http404

    if not can_see(membership, obj, content=content):
        raise Http404("Not found.")


def _place_errors(
    membership: Membership, data: Mapping[str, Any], names: Iterable[str]
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for name in names:
        place = data.get(name)
        if place is not None and not can_see(membership, place):
            errors[name] = [_("Choose a place of this body.")]
    return errors


def _heads(body_id: int) -> Any:
    return Membership.objects.filter(body_id=body_id, role=Role.HEAD, is_active=True)


def _valid_holders(membership: Membership, holders: Iterable[Membership]) -> list[Membership]:
    chosen = list(holders)
    for holder in chosen:
        if (
            holder.body_id != membership.body_id
            or not holder.is_active
            or holder.role not in CASE_ROLES
        ):
            raise ValidationError(
                {"holders": [_("Choose active members of this body who work on cases.")]}
            )
    return chosen


# ---------- Cases ----------


def _consent_errors(case: Case) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    targets = list(case.consent_targets or [])
    if any(target not in ReferralTarget.values for target in targets):
        errors["consent_targets"] = [_("Choose among the bodies listed.")]
    if case.consent == Consent.REFERRAL:
        if not targets:
            errors["consent_targets"] = [
                _("Name the bodies the person agreed their case may be referred to.")
            ]
    elif targets:
        errors["consent_targets"] = [
            _("Bodies are named only when the person consented to a referral.")
        ]
    if case.consent != Consent.NONE and case.consent_date is None:
        errors["consent_date"] = [_("Say when the person gave their consent.")]
    if case.consent_date and case.consent_date > _today():
        errors["consent_date"] = [_("Consent cannot be dated in the future.")]
    if case.consent_withdrawn_on:
        if case.consent == Consent.NONE:
            errors["consent_withdrawn_on"] = [_("No consent was given to withdraw.")]
        elif case.consent_date and case.consent_withdrawn_on < case.consent_date:
            errors["consent_withdrawn_on"] = [_("Consent is withdrawn after it was given.")]
    return errors


def _case_errors(membership: Membership, case: Case, data: Mapping[str, Any]) -> dict:
    errors = _place_errors(membership, data, ["events_place", "current_place"])
    errors.update(_consent_errors(case))
    if case.source not in CaseSource.values:
        errors["source"] = [_("Choose a source.")]
    if case.perpetrator_category not in PerpetratorCategory.values:
        errors["perpetrator_category"] = [_("Choose a category of alleged perpetrators.")]
    if case.status not in CaseStatus.values:
        errors["status"] = [_("Choose a status.")]
    term = case.ill_treatment
    if term is not None and (term.body_id != case.body_id or term.kind != "theme"):
        errors["ill_treatment"] = [_("Choose a type of ill-treatment of this body.")]
    if case.events_date and case.events_date > _today():
        errors["events_date"] = [_("The alleged events cannot be in the future.")]
    return errors


@transaction.atomic
def case_create(
    *,
    membership: Membership,
    data: Mapping[str, Any],
    interview: Any = None,
    holders: Iterable[Membership] = (),
) -> Case:
    """Open a case; its author holds it. Opened from an interview, it keeps the interview's
    pseudonym and starts where the interview took place."""
    PROTECTION.require(membership, "create")
    case = Case(body=membership.body, created_by=membership.user)
    for name in CASE_FIELDS:
        if name in data:
            setattr(case, name, data[name])
    if interview is not None:
        # Only who may read the interview may make a case of it.
        if not can_see(membership, interview, content=True):
            raise ValidationError({"interview": [_("Choose an interview you may read.")]})
        if interview.visit.body_id != membership.body_id:
            raise ValidationError({"interview": [_("Choose an interview of this body.")]})
        case.interview = interview
        case.source = CaseSource.VISIT_INTERVIEW
        case.pseudonym = interview.pseudonym
        if case.current_place_id is None:
            case.current_place = interview.visit.place
    else:
        case.pseudonym = _code("P-", [])
    if case.source == CaseSource.VISIT_INTERVIEW and interview is None:
        raise ValidationError(
            {"source": [_("A case from a visit interview is opened from the interview.")]}
        )
    errors = _case_errors(membership, case, {**data, "current_place": case.current_place})
    if errors:
        raise ValidationError(errors)
    case.reference = _code(
        "C-", Case.objects.filter(body_id=membership.body_id).values_list("reference", flat=True)
    )
    secret_changes = _secret_changes(case, data, CASE_SECRETS, new=True)
    case.save()
    case.holders.set({membership, *_valid_holders(membership, holders)})
    changes = {
        key: [None, value]
        for key, value in snapshot(case, [*CASE_FIELDS, "pseudonym"]).items()
        if value not in (None, "", [], False)
    }
    if interview is not None:
        changes["interview"] = [None, interview.pseudonym]
    changes.update(secret_changes)
    changes["holders"] = [None, sorted(str(h.user) for h in case.holders.all())]
    audit(actor=membership.user, action="protection.case.create", obj=case, changes=changes)
    return case


@transaction.atomic
def case_update(
    *,
    membership: Membership,
    case: Case,
    data: Mapping[str, Any],
    expected_version: int | None = None,
) -> Case:
    """Change a case. Blank identity, contact or medical details leave them as they are (a form
    never shows them); the narrative is replaced when given."""
    PROTECTION.require(membership, "edit", case)
    _require_visible(membership, case)
    case = Case.objects.select_for_update().get(pk=case.pk)
    check_version(case, expected_version)
    before = snapshot(case, CASE_FIELDS)
    for name in CASE_FIELDS:
        if name in data:
            setattr(case, name, data[name])
    errors = _case_errors(membership, case, data)
    if errors:
        raise ValidationError(errors)
    kept = {
        name: value
        for name, value in data.items()
        if name == "narrative" or (name in CASE_IDENTITY_FIELDS and value)
    }
    changes: dict[str, Any] = diff(before, snapshot(case, CASE_FIELDS))
    changes.update(_secret_changes(case, kept, CASE_SECRETS, new=False))
    if not changes:
        return case
    bump_version(case, changes)
    case.updated_at = timezone.now()
    case.save()
    audit(actor=membership.user, action="protection.case.update", obj=case, changes=changes)
    return case


@transaction.atomic
def case_set_holders(*, membership: Membership, case: Case, holders: Iterable[Membership]) -> Case:
    """A head decides who holds a case (the need-to-know list)."""
    PROTECTION.require(membership, "manage_holders", case)
    _require_visible(membership, case)
    chosen = _valid_holders(membership, holders)
    if not chosen:
        raise ValidationError({"holders": [_("A case keeps at least one holder.")]})
    before = sorted(str(h.user) for h in case.holders.all())
    case.holders.set(chosen)
    after = sorted(str(h.user) for h in chosen)
    if before != after:
        audit(
            actor=membership.user,
            action="protection.case.set_holders",
            obj=case,
            changes={"holders": [before, after]},
        )
    return case


def case_read_narrative(*, membership: Membership, case: Case) -> str:
    """What the person says happened, for who may read the case; every read is recorded."""
    _require_visible(membership, case)
    if case.narrative:
        with transaction.atomic():
            audit_read(actor=membership.user, obj=case, fields=["narrative"])
    return case.narrative


def _purpose(purpose: str) -> str:
    purpose = (purpose or "").strip()
    if not purpose:
        raise ValidationError({"purpose": [_("Say why you need to see who this person is.")]})
    return purpose[:500]


def case_reveal_identity(*, membership: Membership, case: Case, purpose: str) -> dict[str, str]:
    """Who the person is, how to reach them and their medical details: an act of its own, with
    a purpose, in the audit trail (a head sees there who read what, and why)."""
    _require_visible(membership, case)
    PROTECTION.require(membership, "reveal_identity", case)
    purpose = _purpose(purpose)
    with transaction.atomic():
        audit_read(actor=membership.user, obj=case, fields=CASE_IDENTITY_FIELDS, purpose=purpose)
    return {name: getattr(case, name) for name in CASE_IDENTITY_FIELDS}


# ---------- Referrals: never beyond the consent ----------


def consent_refusal(case: Case, target: str, on: datetime.date | None = None) -> str | None:
    """Why the case may not go to `target`, or None when the person's consent allows it."""
    if case.consent_withdrawn_on is not None:
        return _(
            "The person withdrew their consent on %(date)s: the case may not be referred any more."
        ) % {"date": _date(case.consent_withdrawn_on)}
    if case.consent == Consent.NONE:
        return _("The person gave no consent: the case may not be referred.")
    if case.consent == Consent.ANONYMOUS:
        return _("The person consented to anonymous use only: the case may not be referred.")
    if target not in (case.consent_targets or []):
        allowed = ", ".join(str(ReferralTarget(t).label) for t in case.consent_targets or [])
        return _("The person agreed to a referral to %(allowed)s only, not to %(target)s.") % {
            "allowed": allowed or "—",
            "target": ReferralTarget(target).label,
        }
    if on is not None and case.consent_date is not None and on < case.consent_date:
        return _("The referral is dated before the person gave their consent (%(date)s).") % {
            "date": _date(case.consent_date)
        }
    return None


def _referral_errors(referral: Referral) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if referral.target not in ReferralTarget.values:
        errors["target"] = [_("Choose where the case goes.")]
    if referral.investigation not in InvestigationState.values:
        errors["investigation"] = [_("Choose whether an investigation was opened.")]
    if referral.outcome not in Outcome.values:
        errors["outcome"] = [_("Choose an outcome.")]
    today = _today()
    for name in ("referred_on", "answered_on", "investigation_opened_on", "outcome_on"):
        value = getattr(referral, name)
        if value and value > today:
            errors[name] = [_("This date is in the future.")]
        elif value and referral.referred_on and value < referral.referred_on:
            errors[name] = [_("This date is before the referral.")]
    if referral.investigation != InvestigationState.OPENED and (
        referral.investigation_opened_on or referral.investigation_by
    ):
        errors["investigation"] = [_("Say the investigation was opened before saying when.")]
    return errors


@transaction.atomic
def referral_create(*, membership: Membership, case: Case, data: Mapping[str, Any]) -> Referral:
    """Refer the case to a body, as far as the person's consent goes and no further."""
    PROTECTION.require(membership, "refer", case)
    _require_visible(membership, case)
    case = Case.objects.select_for_update().get(pk=case.pk)
    referral = Referral(case=case, created_by=membership.user)
    for name in REFERRAL_FIELDS:
        if name in data:
            setattr(referral, name, data[name])
    if referral.referred_on is None:
        referral.referred_on = _today()
    errors = _referral_errors(referral)
    if errors:
        raise ValidationError(errors)
    refusal = consent_refusal(case, referral.target, referral.referred_on)
    if refusal:
        raise ValidationError({"target": [refusal]}, code="beyond_consent")
    referral.save()
    audit(
        actor=membership.user,
        action="protection.referral.create",
        obj=referral,
        changes={
            key: [None, value]
            for key, value in snapshot(referral, REFERRAL_FIELDS).items()
            if value not in (None, "")
        },
    )
    return referral


@transaction.atomic
def referral_update(
    *,
    membership: Membership,
    referral: Referral,
    data: Mapping[str, Any],
    expected_version: int | None = None,
) -> Referral:
    """Record the answer, the investigation and the outcome of a referral."""
    PROTECTION.require(membership, "refer", referral.case)
    _require_visible(membership, referral)
    referral = Referral.objects.select_for_update().select_related("case").get(pk=referral.pk)
    check_version(referral, expected_version)
    before = snapshot(referral, REFERRAL_FIELDS)
    for name in REFERRAL_FIELDS:
        if name in data:
            setattr(referral, name, data[name])
    errors = _referral_errors(referral)
    if errors:
        raise ValidationError(errors)
    if referral.target != before["target"]:
        refusal = consent_refusal(referral.case, referral.target, referral.referred_on)
        if refusal:
            raise ValidationError({"target": [refusal]}, code="beyond_consent")
    changes: dict[str, Any] = diff(before, snapshot(referral, REFERRAL_FIELDS))
    if not changes:
        return referral
    bump_version(referral, changes)
    referral.save()
    audit(actor=membership.user, action="protection.referral.update", obj=referral, changes=changes)
    return referral


# ---------- Persons at risk ----------


def _open_place_error(place: Place | None) -> str | None:
    if place is not None and (place.status == PlaceStatus.CLOSED or place.deleted_at is not None):
        return _("%(place)s is closed: nobody can be held there.") % {"place": place.name}
    return None


def _person_errors(membership: Membership, person: ProtectedPerson, data: Mapping) -> dict:
    errors = _place_errors(membership, data, ["current_place"])
    if person.risk_level not in RiskLevel.values:
        errors["risk_level"] = [_("Choose a risk level.")]
    if not 1 <= (person.follow_up_days or 0) <= 365:
        errors["follow_up_days"] = [_("Choose between 1 and 365 days.")]
    if (
        "next_follow_up_on" in data
        and person.next_follow_up_on
        and person.next_follow_up_on < _today()
    ):
        errors["next_follow_up_on"] = [
            _("A follow-up cannot be planned in the past: choose today or a later date.")
        ]
    if "current_place" in data and "current_place" not in errors:
        closed = _open_place_error(person.current_place)
        if closed:
            errors["current_place"] = [closed]
    return errors


@transaction.atomic
def person_create(
    *,
    membership: Membership,
    data: Mapping[str, Any],
    case: Case | None = None,
    holders: Iterable[Membership] = (),
) -> ProtectedPerson:
    """Start following up a person at risk of reprisals; the author holds the follow-up. From a
    case, the person keeps the case's pseudonym and place."""
    PROTECTION.require(membership, "follow_up")
    person = ProtectedPerson(body=membership.body, created_by=membership.user)
    for name in PERSON_FIELDS:
        if name in data:
            setattr(person, name, data[name])
    taken = ProtectedPerson.objects.filter(body_id=membership.body_id).values_list(
        "pseudonym", flat=True
    )
    if case is not None:
        _require_visible(membership, case)
        person.case = case
        person.interview_id = case.interview_id
        if person.current_place_id is None:
            person.current_place = case.current_place
        person.pseudonym = (
            case.pseudonym if case.pseudonym not in set(taken) else _code("P-", taken)
        )
    else:
        person.pseudonym = _code("P-", taken)
    if person.next_follow_up_on is None:
        person.next_follow_up_on = _today() + datetime.timedelta(days=person.follow_up_days or 30)
    errors = _person_errors(membership, person, {**data, "current_place": person.current_place})
    if errors:
        raise ValidationError(errors)
    secret_changes = _secret_changes(person, data, PERSON_SECRETS, new=True)
    person.save()
    person.holders.set({membership, *_valid_holders(membership, holders)})
    FollowUp.objects.create(
        person=person,
        place=person.current_place,
        due_on=person.next_follow_up_on,
        recorded_by=membership.user,
    )
    changes = {
        key: [None, value]
        for key, value in snapshot(person, [*PERSON_FIELDS, "pseudonym"]).items()
        if value not in (None, "", False)
    }
    if case is not None:
        changes["case"] = [None, case.reference]
    changes.update(secret_changes)
    audit(
        actor=membership.user,
        action="protection.protectedperson.create",
        obj=person,
        changes=changes,
    )
    return person


@transaction.atomic
def person_update(
    *,
    membership: Membership,
    person: ProtectedPerson,
    data: Mapping[str, Any],
    expected_version: int | None = None,
) -> ProtectedPerson:
    """Change the risk, the schedule or the details of a person at risk (a move between places
    is a transfer, `transfer_create`)."""
    PROTECTION.require(membership, "follow_up", person)
    _require_visible(membership, person)
    person = ProtectedPerson.objects.select_for_update().get(pk=person.pk)
    check_version(person, expected_version)
    before = snapshot(person, PERSON_FIELDS)
    fields = [name for name in PERSON_FIELDS if name != "current_place"]
    for name in fields:
        if name in data:
            setattr(person, name, data[name])
    given = {name: data[name] for name in fields if name in data}
    if (
        before.get("next_follow_up_on")
        == snapshot(person, ["next_follow_up_on"])["next_follow_up_on"]
    ):
        given.pop("next_follow_up_on", None)  # an unchanged past date is not a new plan
    errors = _person_errors(membership, person, given)
    if errors:
        raise ValidationError(errors)
    kept = {
        name: value
        for name, value in data.items()
        if name == "risk_reason" or (name in PERSON_IDENTITY_FIELDS and value)
    }
    changes: dict[str, Any] = diff(before, snapshot(person, PERSON_FIELDS))
    changes.update(_secret_changes(person, kept, PERSON_SECRETS, new=False))
    if not changes:
        return person
    bump_version(person, changes)
    person.updated_at = timezone.now()
    person.save()
    audit(
        actor=membership.user,
        action="protection.protectedperson.update",
        obj=person,
        changes=changes,
    )
    return person


def person_read_details(*, membership: Membership, person: ProtectedPerson) -> str:
    """Why the person is at risk, for who may see them; every read is recorded."""
    _require_visible(membership, person)
    if person.risk_reason:
        with transaction.atomic():
            audit_read(actor=membership.user, obj=person, fields=["risk_reason"])
    return person.risk_reason


def person_reveal_identity(
    *, membership: Membership, person: ProtectedPerson, purpose: str
) -> dict[str, str]:
    """Who the person at risk is and how to reach them: a recorded act with a purpose."""
    _require_visible(membership, person)
    PROTECTION.require(membership, "reveal_identity", person)
    purpose = _purpose(purpose)
    with transaction.atomic():
        audit_read(
            actor=membership.user, obj=person, fields=PERSON_IDENTITY_FIELDS, purpose=purpose
        )
    return {name: getattr(person, name) for name in PERSON_IDENTITY_FIELDS}


@transaction.atomic
def person_set_holders(
    *, membership: Membership, person: ProtectedPerson, holders: Iterable[Membership]
) -> ProtectedPerson:
    PROTECTION.require(membership, "manage_holders", person)
    _require_visible(membership, person)
    chosen = _valid_holders(membership, holders)
    if not chosen:
        raise ValidationError({"holders": [_("A person at risk keeps at least one holder.")]})
    before = sorted(str(h.user) for h in person.holders.all())
    person.holders.set(chosen)
    after = sorted(str(h.user) for h in chosen)
    if before != after:
        audit(
            actor=membership.user,
            action="protection.protectedperson.set_holders",
            obj=person,
            changes={"holders": [before, after]},
        )
    return person


@transaction.atomic
def transfer_create(
    *,
    membership: Membership,
    person: ProtectedPerson,
    to_place: Place,
    transferred_on: datetime.date | None = None,
    expected_version: int | None = None,
) -> Transfer:
    """The person was moved: their place changes, and their planned follow-ups move with them,
    so the preparation pack of visits to the new place lists them."""
    PROTECTION.require(membership, "follow_up", person)
    _require_visible(membership, person)
    person = ProtectedPerson.objects.select_for_update().get(pk=person.pk)
    check_version(person, expected_version)
    transferred_on = transferred_on or _today()
    errors: dict[str, list[str]] = {}
    if to_place is None or not can_see(membership, to_place):
        errors["to_place"] = [_("Choose a place of this body.")]
    else:
        closed = _open_place_error(to_place)
        if closed:
            errors["to_place"] = [
                _("%(place)s is closed: a person cannot be transferred there.")
                % {"place": to_place.name}
            ]
        elif to_place.pk == person.current_place_id:
            errors["to_place"] = [_("The person is already held there.")]
    if transferred_on > _today():
        errors["transferred_on"] = [_("Record a transfer once it has happened.")]
    if errors:
        raise ValidationError(errors)
    transfer = Transfer.objects.create(
        person=person,
        from_place_id=person.current_place_id,
        to_place=to_place,
        transferred_on=transferred_on,
        recorded_by=membership.user,
    )
    before = person.current_place.name if person.current_place is not None else None
    person.current_place = to_place
    moved = FollowUp.objects.filter(person=person, done_on__isnull=True).update(place=to_place)
    changes = bump_version(person, {"current_place": [before, to_place.name]})
    person.updated_at = timezone.now()
    person.save()
    changes["follow_ups_moved"] = [None, moved]
    audit(actor=membership.user, action="protection.transfer.create", obj=person, changes=changes)
    return transfer


# ---------- Reprisals ----------


@transaction.atomic
def reprisal_create(
    *, membership: Membership, person: ProtectedPerson, data: Mapping[str, Any]
) -> ReprisalIncident:
    """Record a reprisal or the fear of one. A warning from outside the body (an NGO, a lawyer,
    the family) is a concern told at once to the person's holders and the heads."""
    PROTECTION.require(membership, "follow_up", person)
    _require_visible(membership, person)
    incident = ReprisalIncident(
        person=person,
        recorded_by=membership.user,
        kind=data.get("kind", ""),
        occurred_on=data.get("occurred_on"),
        reported_by=data.get("reported_by") or ReportedBy.MONITOR,
        actions=list(data.get("actions") or []),
    )
    errors: dict[str, list[str]] = {}
    if incident.kind not in ReprisalKind.values:
        errors["kind"] = [_("Choose what happened.")]
    if incident.reported_by not in ReportedBy.values:
        errors["reported_by"] = [_("Choose who reported it.")]
    if any(action not in ReprisalAction.values for action in incident.actions):
        errors["actions"] = [_("Choose among the actions listed.")]
    if incident.occurred_on and incident.occurred_on > _today():
        errors["occurred_on"] = [_("This date is in the future.")]
    if errors:
        raise ValidationError(errors)
    incident.is_external_concern = bool(data.get("is_external_concern")) or (
        incident.reported_by in EXTERNAL_REPORTERS
    )
    secret_changes = _secret_changes(incident, data, ["description", "actions_note"], new=True)
    incident.save()
    changes: dict[str, Any] = {
        "kind": [None, incident.kind],
        "reported_by": [None, incident.reported_by],
        "is_external_concern": [None, incident.is_external_concern],
    }
    if incident.actions:
        changes["actions"] = [None, incident.actions]
    changes.update(secret_changes)
    audit(
        actor=membership.user,
        action="protection.reprisalincident.create",
        obj=incident,
        changes=changes,
    )
    if incident.is_external_concern:
        recipients = [*person.holders.all(), *_heads(person.body_id)]
        notify("protection.reprisal.concern", person, recipients, actor=membership.user)
    return incident


# ---------- Follow-up contacts ----------


@transaction.atomic
def follow_up_schedule(
    *,
    membership: Membership,
    person: ProtectedPerson,
    due_on: datetime.date,
    contact_kind: str = ContactKind.VISIT,
) -> FollowUp:
    PROTECTION.require(membership, "follow_up", person)
    _require_visible(membership, person)
    errors: dict[str, list[str]] = {}
    if due_on is None or due_on < _today():
        errors["due_on"] = [
            _("A follow-up cannot be planned in the past: choose today or a later date.")
        ]
    if contact_kind not in ContactKind.values:
        errors["contact_kind"] = [_("Choose how the contact is made.")]
    if errors:
        raise ValidationError(errors)
    follow_up = FollowUp.objects.create(
        person=person,
        place_id=person.current_place_id,
        due_on=due_on,
        contact_kind=contact_kind,
        recorded_by=membership.user,
    )
    audit(
        actor=membership.user,
        action="protection.followup.create",
        obj=follow_up,
        changes={"due_on": [None, due_on.isoformat()], "contact_kind": [None, contact_kind]},
    )
    return follow_up


@transaction.atomic
def follow_up_record(
    *,
    membership: Membership,
    follow_up: FollowUp,
    done_on: datetime.date | None = None,
    notes: str = "",
    contact_kind: str | None = None,
) -> FollowUp:
    """The contact was made; the next one is planned from the person's schedule."""
    person = follow_up.person
    PROTECTION.require(membership, "follow_up", person)
    _require_visible(membership, follow_up)
    follow_up = FollowUp.objects.select_for_update().get(pk=follow_up.pk)
    done_on = done_on or _today()
    if done_on > _today():
        raise ValidationError({"done_on": [_("Record a contact once it has been made.")]})
    if follow_up.done_on is not None:
        raise ValidationError({"done_on": [_("This contact is already recorded.")]})
    follow_up.done_on = done_on
    if contact_kind:
        if contact_kind not in ContactKind.values:
            raise ValidationError({"contact_kind": [_("Choose how the contact was made.")]})
        follow_up.contact_kind = contact_kind
    changes: dict[str, Any] = {"done_on": [None, done_on.isoformat()]}
    changes.update(_secret_changes(follow_up, {"notes": notes}, ["notes"], new=True))
    follow_up.save()
    audit(
        actor=membership.user, action="protection.followup.record", obj=follow_up, changes=changes
    )
    if person.is_active and not person.follow_ups.filter(done_on__isnull=True).exists():
        next_on = max(done_on, _today()) + datetime.timedelta(days=person.follow_up_days)
        FollowUp.objects.create(
            person=person,
            place_id=person.current_place_id,
            due_on=next_on,
            recorded_by=membership.user,
        )
        ProtectedPerson.objects.filter(pk=person.pk).update(next_follow_up_on=next_on)
    return follow_up


# ---------- Alerts (a job runs them daily) ----------

UNANSWERED_REFERRAL_DAYS = 60


def alert_overdue(*, today: datetime.date | None = None) -> dict[str, int]:
    """Tell the holders and the heads of follow-ups past due and of referrals unanswered for
    UNANSWERED_REFERRAL_DAYS days; each is told once."""
    today = today or _today()
    counts = {"follow_ups": 0, "referrals": 0}
    overdue = FollowUp.objects.filter(
        done_on__isnull=True, due_on__lt=today, alerted_at__isnull=True, person__is_active=True
    ).select_related("person")
    for follow_up in overdue.iterator(chunk_size=500):
        with transaction.atomic():
            person = follow_up.person
            notify(
                "protection.followup.overdue",
                person,
                [*person.holders.all(), *_heads(person.body_id)],
            )
            FollowUp.objects.filter(pk=follow_up.pk).update(alerted_at=timezone.now())
        counts["follow_ups"] += 1
    cutoff = today - datetime.timedelta(days=UNANSWERED_REFERRAL_DAYS)
    unanswered = Referral.objects.filter(
        Q(answered_on__isnull=True) & Q(outcome=Outcome.PENDING),
        referred_on__lte=cutoff,
        reminded_at__isnull=True,
    ).select_related("case")
    for referral in unanswered.iterator(chunk_size=500):
        with transaction.atomic():
            case = referral.case
            notify(
                "protection.referral.unanswered",
                case,
                [*case.holders.all(), *_heads(case.body_id)],
            )
            Referral.objects.filter(pk=referral.pk).update(reminded_at=timezone.now())
        counts["referrals"] += 1
    return counts


def terms_of_ill_treatment(membership: Membership) -> Any:
    """The body's themes a case may name as its type of ill-treatment."""
    return TaxonomyTerm.objects.filter(body_id=membership.body_id, kind="theme", is_active=True)


def case_holders_choices(membership: Membership) -> Any:
    return Membership.objects.filter(
        body_id=membership.body_id, is_active=True, role__in=CASE_ROLES
    ).select_related("user")
