"""Every write of the visits app: one transaction, the permission check, the audit entry, the
notification. Pages, the API and the demo all call these functions."""

from __future__ import annotations

import datetime
import re
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from vigil.core.access import can_see
from vigil.core.audit import audit, audit_read, diff, snapshot
from vigil.core.concurrency import bump_version, check_version
from vigil.core.files import MEDIA_TYPES, store_file
from vigil.core.models import Membership, Role, StoredFile, TaxonomyTerm
from vigil.core.notify import notify
from vigil.visits import rules
from vigil.visits.models import (
    OTHER_SOURCES,
    Commitment,
    Debriefing,
    DebriefingFinding,
    Discrepancy,
    Draft,
    Evidence,
    EvidenceKind,
    Expertise,
    Gender,
    Interview,
    InterviewKind,
    Observation,
    Obstruction,
    ObstructionKind,
    ObstructionSeverity,
    RegisterCheck,
    RegisterKind,
    Severity,
    SourceKind,
    Standard,
    TeamMember,
    TeamRole,
    Visit,
    VisitSettings,
    VisitStatus,
)
from vigil.visits.permissions import VISITS
from vigil.visits.queries import anonymity_k, is_on_team, private_interviews_by_unit

VISIT_FIELDS = [
    "place",
    "kind",
    "is_announced",
    "planned_start",
    "planned_end",
    "areas_visited",
    "summary",
]
# Which status may follow which: a visit moves forward one step, or back one step to correct.
TRANSITIONS = {
    VisitStatus.PLANNED: {VisitStatus.PREPARING, VisitStatus.IN_PROGRESS},
    VisitStatus.PREPARING: {VisitStatus.PLANNED, VisitStatus.IN_PROGRESS},
    VisitStatus.IN_PROGRESS: {VisitStatus.DEBRIEFED},
    VisitStatus.DEBRIEFED: {VisitStatus.IN_PROGRESS, VisitStatus.REPORTING},
    VisitStatus.REPORTING: {VisitStatus.DEBRIEFED, VisitStatus.CLOSED},
    VisitStatus.CLOSED: {VisitStatus.REPORTING},
}
PSEUDONYM_ALPHABET = "ACDEFGHJKLMNPQRTUVWXY3479"  # no look-alike letters and digits


def _visit_errors(visit: Visit) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if visit.place_id and visit.place.body_id != visit.body_id:
        errors["place"] = [_("Choose a place of this body.")]
    if visit.planned_start and visit.planned_end and visit.planned_end < visit.planned_start:
        errors["planned_end"] = [_("The visit ends before it starts.")]
    if visit.started_at and visit.ended_at and visit.ended_at < visit.started_at:
        errors["ended_at"] = [_("The visit ends before it starts.")]
    return errors


def _require_team(membership: Membership, visit: Visit) -> None:
    """Recording is for the visit's team, once they confirmed the code of conduct."""
    VISITS.require(membership, "record", visit)
    if not is_on_team(membership, visit):
        raise PermissionDenied(_("Only the visit's team records what it saw and heard."))
    if not is_on_team(membership, visit, confirmed=True):
        raise PermissionDenied(
            _("Confirm the body's code of conduct for this visit before you record anything.")
        )


# ---------- Visits ----------


@transaction.atomic
def visit_create(*, membership: Membership, data: Mapping[str, Any], lead: bool = True) -> Visit:
    """Plan a visit; the person who plans it leads it unless `lead` is False."""
    VISITS.require(membership, "plan")
    visit = Visit(
        body=membership.body,
        created_by=membership.user,
        **{name: value for name, value in data.items() if name in VISIT_FIELDS},
    )
    if visit.place_id and not can_see(membership, visit.place):
        raise ValidationError({"place": [_("Choose a place of this body.")]})
    errors = _visit_errors(visit)
    if errors:
        raise ValidationError(errors)
    visit.save()
    if lead:
        TeamMember.objects.create(visit=visit, membership=membership, team_role=TeamRole.LEADER)
    audit(
        actor=membership.user,
        action="visits.visit.create",
        obj=visit,
        changes=diff({}, snapshot(visit, [*VISIT_FIELDS, "status"])),
    )
    return visit


@transaction.atomic
def visit_update(
    *,
    membership: Membership,
    visit: Visit,
    data: Mapping[str, Any],
    expected_version: int | None = None,
) -> Visit:
    """Change a visit; `expected_version` is the version the person saw (their form, their
    If-Match): a change based on an older one is refused with StaleVersion."""
    VISITS.require(membership, "edit", visit)
    visit = Visit.objects.select_for_update().get(pk=visit.pk)
    check_version(visit, expected_version)
    before = snapshot(visit, VISIT_FIELDS)
    for name, value in data.items():
        if name in VISIT_FIELDS:
            setattr(visit, name, value)
    errors = _visit_errors(visit)
    if errors:
        raise ValidationError(errors)
    changes = diff(before, snapshot(visit, VISIT_FIELDS))
    if changes:
        # A save that changes nothing is no new version: nobody else's form goes stale.
        bump_version(visit, changes)
    visit.updated_at = timezone.now()
    visit.save()
    if changes:
        audit(actor=membership.user, action="visits.visit.update", obj=visit, changes=changes)
    return visit


@transaction.atomic
def visit_set_status(
    *, membership: Membership, visit: Visit, status: str, at: datetime.datetime | None = None
) -> Visit:
    """Move the visit along; starting it records the time (and ends its secrecy), debriefing
    records the end."""
    VISITS.require(membership, "edit", visit)
    visit = Visit.objects.select_for_update().get(pk=visit.pk)
    if status not in VisitStatus.values:
        raise ValidationError({"status": [_("Choose a status.")]})
    if status == visit.status:
        return visit
    if status not in TRANSITIONS[VisitStatus(visit.status)]:
        raise ValidationError(
            {
                "status": [
                    _("A visit that is “%(current)s” cannot become “%(new)s”.")
                    % {
                        "current": VisitStatus(visit.status).label,
                        "new": VisitStatus(status).label,
                    }
                ]
            }
        )
    now = at or timezone.now()
    before = snapshot(visit, ["status", "started_at", "ended_at"])
    visit.status = status
    if status == VisitStatus.IN_PROGRESS and visit.started_at is None:
        visit.started_at = now
    if status == VisitStatus.DEBRIEFED and visit.ended_at is None:
        visit.ended_at = now
    errors = _visit_errors(visit)
    if errors:
        raise ValidationError(errors)
    changes = bump_version(
        visit, diff(before, snapshot(visit, ["status", "started_at", "ended_at"]))
    )
    visit.updated_at = timezone.now()
    visit.save()
    audit(actor=membership.user, action="visits.visit.set_status", obj=visit, changes=changes)
    return visit


# ---------- The team ----------


@transaction.atomic
def team_add(
    *,
    membership: Membership,
    visit: Visit,
    member: Membership | None = None,
    external_name: str = "",
    team_role: str = TeamRole.MEMBER,
    expertise: str = "",
    gender: str = Gender.UNSPECIFIED,
    languages: str = "",
) -> TeamMember:
    VISITS.require(membership, "manage_team", visit)
    errors: dict[str, list[str]] = {}
    external_name = (external_name or "").strip()
    if member is None and not external_name:
        errors["member"] = [_("Choose a member of the body, or give an external expert's name.")]
    if member is not None:
        if member.body_id != visit.body_id or not member.is_active:
            errors["member"] = [_("Choose an active member of this body.")]
        elif member.role == Role.AUTHORITY_FOCAL_POINT:
            errors["member"] = [_("An authority's focal point cannot join a visit team.")]
        elif visit.team.filter(membership=member).exists():
            errors["member"] = [_("This person is already on the team.")]
    if team_role not in TeamRole.values:
        errors["team_role"] = [_("Choose a role in the team.")]
    if expertise not in Expertise.values:
        errors["expertise"] = [_("Choose an expertise.")]
    if gender not in Gender.values:
        errors["gender"] = [_("Choose a gender.")]
    if errors:
        raise ValidationError(errors)
    member_row = TeamMember.objects.create(
        visit=visit,
        membership=member,
        external_name=external_name if member is None else "",
        team_role=team_role,
        expertise=expertise,
        gender=gender,
        languages=languages.strip()[:200],
    )
    audit(
        actor=membership.user,
        action="visits.visit.add_team_member",
        obj=visit,
        changes={"team": [None, str(member_row)], "team_role": [None, team_role]},
    )
    return member_row


@transaction.atomic
def team_remove(*, membership: Membership, team_member: TeamMember) -> None:
    visit = team_member.visit
    VISITS.require(membership, "manage_team", visit)
    if (
        team_member.team_role == TeamRole.LEADER
        and not visit.team.filter(team_role=TeamRole.LEADER).exclude(pk=team_member.pk).exists()
    ):
        raise ValidationError(_("A visit keeps at least one leader: name another one first."))
    name = str(team_member)
    team_member.delete()
    audit(
        actor=membership.user,
        action="visits.visit.remove_team_member",
        obj=visit,
        changes={"team": [name, None]},
    )


@transaction.atomic
def team_confirm_conduct(*, membership: Membership, visit: Visit) -> TeamMember:
    """The member confirms, for this visit, the body's code of conduct."""
    row = TeamMember.objects.select_for_update().filter(visit=visit, membership=membership).first()
    if row is None:
        raise PermissionDenied(_("Only the visit's team confirms the code of conduct for it."))
    if row.conduct_confirmed_at is None:
        row.conduct_confirmed_at = timezone.now()
        row.save(update_fields=["conduct_confirmed_at"])
        audit(
            actor=membership.user,
            action="visits.visit.confirm_conduct",
            obj=visit,
            changes={"conduct_confirmed": [None, str(row)]},
        )
    return row


def team_warnings(visit: Visit) -> list[str]:
    """What the methodology asks of a team that this one lacks."""
    warnings = []
    team = list(visit.team.all())
    place = visit.place
    groups = set(place.population_groups.values_list("code", flat=True))
    genders = {member.gender for member in team}
    if groups & {"women", "children"} and not {"female", "male"} <= genders:
        warnings.append(
            _(
                "Women or children are held here and the team is not mixed-gender: add a "
                "member of the other gender."
            )
        )
    medical = {Expertise.DOCTOR, Expertise.PSYCHIATRIST}
    if place.place_type.code in {"psychiatric-hospital", "social-care-home"} and not any(
        member.expertise in medical for member in team
    ):
        warnings.append(
            _("This is a psychiatric or care institution and the team has no medical expert.")
        )
    return warnings


# ---------- Interviews ----------


def _pseudonym(visit: Visit) -> str:
    taken = set(visit.interviews.values_list("pseudonym", flat=True))
    while True:
        code = "P-" + "".join(secrets.choice(PSEUDONYM_ALPHABET) for _ in range(6))
        if code not in taken:
            return code


@transaction.atomic
def interview_create(
    *,
    membership: Membership,
    visit: Visit,
    data: Mapping[str, Any],
    vulnerable_groups: Iterable[TaxonomyTerm] = (),
) -> Interview:
    _require_team(membership, visit)
    interview = Interview(
        visit=visit,
        recorded_by=membership.user,
        kind=data.get("kind", ""),
        category=data.get("category", ""),
        unit=(data.get("unit") or "").strip(),
        group_size=data.get("group_size"),
        language=(data.get("language") or "").strip(),
        interpreter_used=bool(data.get("interpreter_used")),
        consent_use=data.get("consent_use") or "anonymous",
        consent_referral=bool(data.get("consent_referral")),
        notes=data.get("notes") or "",
        identity=(data.get("identity") or "").strip(),
    )
    errors: dict[str, list[str]] = {}
    if interview.kind not in InterviewKind.values:
        errors["kind"] = [_("Choose private or group.")]
    if interview.kind == InterviewKind.GROUP:
        if interview.group_size is not None and interview.group_size < 2:
            errors["group_size"] = [_("A group interview has at least two people.")]
        if interview.identity:
            errors["identity"] = [_("A group interview records no identity.")]
    elif interview.group_size:
        errors["group_size"] = [_("A private interview is with one person.")]
    if visit.status not in {VisitStatus.IN_PROGRESS, VisitStatus.DEBRIEFED}:
        errors["__all__"] = [_("Interviews are recorded once the visit has started.")]
    groups = list(vulnerable_groups)
    if any(g.body_id != visit.body_id or g.kind != "vulnerable_group" for g in groups):
        errors["vulnerable_groups"] = [_("Choose groups of this body.")]
    if errors:
        raise ValidationError(errors)
    interview.pseudonym = _pseudonym(visit)
    interview.full_clean(exclude=["visit", "notes", "identity", "pseudonym"])
    interview.save()
    interview.vulnerable_groups.set(groups)
    changes: dict[str, Any] = {
        "kind": [None, interview.kind],
        "category": [None, interview.category],
        "unit": [None, interview.unit],
    }
    # The trail says that notes and an identity were written, never what they say.
    if interview.notes:
        changes["notes"] = [None, "(encrypted)"]
    if interview.identity:
        changes["identity"] = [None, "(encrypted)"]
    audit(actor=membership.user, action="visits.interview.create", obj=interview, changes=changes)
    return interview


INTERVIEW_FIELDS = [
    "category",
    "unit",
    "group_size",
    "language",
    "interpreter_used",
    "consent_use",
    "consent_referral",
]


@transaction.atomic
def interview_update(
    *,
    membership: Membership,
    interview: Interview,
    data: Mapping[str, Any],
    vulnerable_groups: Iterable[TaxonomyTerm] | None = None,
    expected_version: int | None = None,
) -> Interview:
    """Correct an interview (not its kind: a private interview stays one). `notes` and
    `identity` change only when given; the trail says they changed, never what they say."""
    _require_team(membership, interview.visit)
    if not can_see(membership, interview, content=True):
        raise PermissionDenied(_("Only the visit's team and the heads read interviews."))
    interview = Interview.objects.select_for_update().select_related("visit").get(pk=interview.pk)
    check_version(interview, expected_version)
    visit = interview.visit
    before = snapshot(interview, INTERVIEW_FIELDS)
    before_groups = sorted(str(group) for group in interview.vulnerable_groups.all())
    for name in INTERVIEW_FIELDS:
        if name not in data:
            continue
        value = data[name]
        if name in {"unit", "language"}:
            value = (value or "").strip()
        elif name in {"interpreter_used", "consent_referral"}:
            value = bool(value)
        elif name == "consent_use":
            value = value or "anonymous"
        setattr(interview, name, value)
    errors: dict[str, list[str]] = {}
    notes_changed = "notes" in data and (data["notes"] or "") != interview.notes
    identity = (data.get("identity") or "").strip() if "identity" in data else None
    identity_changed = identity is not None and identity != interview.identity
    if interview.kind == InterviewKind.GROUP:
        if interview.group_size is not None and interview.group_size < 2:
            errors["group_size"] = [_("A group interview has at least two people.")]
        if identity:
            errors["identity"] = [_("A group interview records no identity.")]
    elif interview.group_size:
        errors["group_size"] = [_("A private interview is with one person.")]
    groups = None if vulnerable_groups is None else list(vulnerable_groups)
    if groups is not None and any(
        g.body_id != visit.body_id or g.kind != "vulnerable_group" for g in groups
    ):
        errors["vulnerable_groups"] = [_("Choose groups of this body.")]
    if errors:
        raise ValidationError(errors)
    if notes_changed:
        interview.notes = data["notes"] or ""
    if identity_changed:
        interview.identity = identity or ""
    interview.full_clean(exclude=["visit", "notes", "identity", "pseudonym"])
    changes = diff(before, snapshot(interview, INTERVIEW_FIELDS))
    if groups is not None:
        after_groups = sorted(str(group) for group in groups)
        if after_groups != before_groups:
            changes["vulnerable_groups"] = [before_groups, after_groups]
    if notes_changed:
        changes["notes"] = ["(encrypted)", "(encrypted)"]
    if identity_changed:
        changes["identity"] = ["(encrypted)", "(encrypted)"]
    if changes:
        bump_version(interview, changes)
    interview.save()
    if groups is not None:
        interview.vulnerable_groups.set(groups)
    if changes:
        audit(
            actor=membership.user, action="visits.interview.update", obj=interview, changes=changes
        )
    return interview


def interview_read_notes(*, membership: Membership, interview: Interview) -> str:
    """The notes of an interview, for someone who may read them; every read is recorded."""
    if not can_see(membership, interview, content=True):
        raise PermissionDenied(_("Only the visit's team and the heads read interviews."))
    with transaction.atomic():
        audit_read(actor=membership.user, obj=interview, fields=["notes"])
    return interview.notes


def interview_reveal_identity(*, membership: Membership, interview: Interview, purpose: str) -> str:
    """Who the person is: a recorded act with a purpose, for the team and the heads only."""
    VISITS.require(membership, "reveal_identity", interview.visit)
    on_team = is_on_team(membership, interview.visit)
    if not (
        on_team or (membership.role == Role.HEAD and interview.visit.body_id == membership.body_id)
    ):
        raise PermissionDenied(_("Only the visit's team and the heads see who was interviewed."))
    purpose = (purpose or "").strip()
    if not purpose:
        raise ValidationError({"purpose": [_("Say why you need to see who this person is.")]})
    with transaction.atomic():
        audit_read(actor=membership.user, obj=interview, fields=["identity"], purpose=purpose)
    return interview.identity


# ---------- Observations ----------


def observation_kinds(observation: Observation) -> set[str]:
    return rules.source_kinds(
        (interview.kind for interview in observation.interviews.all()), observation.other_sources
    )


def observation_clearance(
    observation: Observation, *, counts: dict[str, int] | None = None, k: int | None = None
) -> rules.Clearance:
    """What the guard says of the finding. A page judging all of a visit's findings passes the
    visit's private interviews by unit and k, read once, instead of twice per finding."""
    visit = observation.visit
    if counts is None:
        counts = private_interviews_by_unit(visit)
    return rules.clearance(
        kinds=observation_kinds(observation),
        held_back=observation.held_back,
        unit=observation.unit,
        private_in_unit=counts.get(rules.normalise_unit(observation.unit), 0),
        k=anonymity_k(visit.body_id) if k is None else k,
    )


def require_cleared(observation: Observation) -> None:
    """Every use of a finding outside the team (debriefing, report) calls this first."""
    verdict = observation_clearance(observation)
    if not verdict.allowed:
        raise ValidationError(verdict.reason, code="anonymity_guard")


def cleared_observations(visit: Visit) -> list[Observation]:
    counts, k = private_interviews_by_unit(visit), anonymity_k(visit.body_id)
    return [
        observation
        for observation in visit.observations.prefetch_related("interviews").select_related(
            "visit", "theme"
        )
        if observation_clearance(observation, counts=counts, k=k).allowed
    ]


@transaction.atomic
def observation_create(
    *,
    membership: Membership,
    visit: Visit,
    data: Mapping[str, Any],
    interviews: Iterable[Interview] = (),
    standards: Iterable[Standard] = (),
) -> Observation:
    _require_team(membership, visit)
    observation = Observation(
        visit=visit,
        recorded_by=membership.user,
        theme=data.get("theme"),
        unit=(data.get("unit") or "").strip(),
        description=(data.get("description") or "").strip(),
        severity=data.get("severity") or Severity.CONCERN,
        is_good_practice=bool(data.get("is_good_practice")),
        is_systemic=bool(data.get("is_systemic")),
        held_back=bool(data.get("held_back")),
        other_sources=sorted({str(s) for s in data.get("other_sources") or []}),
    )
    errors: dict[str, list[str]] = {}
    if observation.theme_id is None or observation.theme.body_id != visit.body_id:
        errors["theme"] = [_("Choose a theme of this body.")]
    if not observation.description:
        errors["description"] = [_("Describe what was found.")]
    if observation.severity not in Severity.values:
        errors["severity"] = [_("Choose a severity.")]
    if set(observation.other_sources) - {str(s) for s in OTHER_SOURCES}:
        errors["other_sources"] = [_("Choose sources from the list.")]
    linked = list(interviews)
    if any(interview.visit_id != visit.pk for interview in linked):
        errors["interviews"] = [_("Choose interviews of this visit.")]
    cited = list(standards)
    if any(standard.body_id != visit.body_id for standard in cited):
        errors["standards"] = [_("Choose standards of this body's library.")]
    if not linked and not observation.other_sources:
        errors["other_sources"] = [_("Say what supports this finding: an interview or a source.")]
    if visit.status not in {VisitStatus.IN_PROGRESS, VisitStatus.DEBRIEFED, VisitStatus.REPORTING}:
        errors["__all__"] = [_("Findings are recorded once the visit has started.")]
    if errors:
        raise ValidationError(errors)
    observation.save()
    observation.interviews.set(linked)
    observation.standards.set(cited)
    audit(
        actor=membership.user,
        action="visits.observation.create",
        obj=observation,
        changes={
            "theme": [None, str(observation.theme)],
            "severity": [None, observation.severity],
            "unit": [None, observation.unit],
            "sources": [None, sorted(observation_kinds(observation))],
            **({"standards": [None, sorted(s.code for s in cited)]} if cited else {}),
        },
    )
    if observation.severity == Severity.URGENT:
        _urgent_alert(observation)
    return observation


OBSERVATION_FIELDS = [
    "theme",
    "unit",
    "description",
    "severity",
    "is_good_practice",
    "is_systemic",
    "other_sources",
]


@transaction.atomic
def observation_update(
    *,
    membership: Membership,
    observation: Observation,
    data: Mapping[str, Any],
    interviews: Iterable[Interview] | None = None,
    standards: Iterable[Standard] | None = None,
    expected_version: int | None = None,
) -> Observation:
    """Correct a finding; one that becomes urgent starts the urgent-action procedure."""
    _require_team(membership, observation.visit)
    observation = (
        Observation.objects.select_for_update().select_related("visit").get(pk=observation.pk)
    )
    check_version(observation, expected_version)
    visit = observation.visit
    before = snapshot(observation, OBSERVATION_FIELDS)
    before["sources"] = sorted(observation_kinds(observation))
    before_standards = sorted(observation.standards.values_list("code", flat=True))
    was_urgent = observation.severity == Severity.URGENT
    for name in OBSERVATION_FIELDS:
        if name not in data:
            continue
        value = data[name]
        if name in {"unit", "description"}:
            value = (value or "").strip()
        elif name in {"is_good_practice", "is_systemic"}:
            value = bool(value)
        elif name == "other_sources":
            value = sorted({str(source) for source in value or []})
        elif name == "severity":
            value = value or Severity.CONCERN
        setattr(observation, name, value)
    errors: dict[str, list[str]] = {}
    if observation.theme_id is None or observation.theme.body_id != visit.body_id:
        errors["theme"] = [_("Choose a theme of this body.")]
    if not observation.description:
        errors["description"] = [_("Describe what was found.")]
    if observation.severity not in Severity.values:
        errors["severity"] = [_("Choose a severity.")]
    if set(observation.other_sources) - {str(s) for s in OTHER_SOURCES}:
        errors["other_sources"] = [_("Choose sources from the list.")]
    linked = list(observation.interviews.all()) if interviews is None else list(interviews)
    if any(interview.visit_id != visit.pk for interview in linked):
        errors["interviews"] = [_("Choose interviews of this visit.")]
    cited = None if standards is None else list(standards)
    if cited is not None and any(standard.body_id != visit.body_id for standard in cited):
        errors["standards"] = [_("Choose standards of this body's library.")]
    if not linked and not observation.other_sources:
        errors["other_sources"] = [_("Say what supports this finding: an interview or a source.")]
    if errors:
        raise ValidationError(errors)
    if interviews is not None:
        observation.interviews.set(linked)
    if cited is not None:
        observation.standards.set(cited)
    after = snapshot(observation, OBSERVATION_FIELDS)
    after["sources"] = sorted(
        rules.source_kinds((i.kind for i in linked), observation.other_sources)
    )
    changes = diff(before, after)
    if cited is not None:
        after_standards = sorted(standard.code for standard in cited)
        if after_standards != before_standards:
            changes["standards"] = [before_standards, after_standards]
    if changes:
        bump_version(observation, changes)
    observation.save()
    if changes:
        audit(
            actor=membership.user,
            action="visits.observation.update",
            obj=observation,
            changes=changes,
        )
    if observation.severity == Severity.URGENT and not was_urgent:
        _urgent_alert(observation)
    return observation


def _urgent_alert(observation: Observation) -> None:
    """The urgent-action procedure starts at once: the heads and the visit's leaders know."""
    visit = observation.visit
    leaders = visit.team.filter(team_role=TeamRole.LEADER).values("membership_id")
    recipients = Membership.objects.filter(body_id=visit.body_id, is_active=True).filter(
        Q(role=Role.HEAD) | Q(pk__in=leaders)
    )
    notify("visits.observation.urgent", observation, recipients)


@transaction.atomic
def observation_corroborate(
    *, membership: Membership, observation: Observation, reason: str
) -> Observation:
    """A person confirms a finding that rests on fewer than two kinds of source, saying why."""
    VISITS.require(membership, "corroborate", observation.visit)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Say why the finding stands.")]})
    observation = Observation.objects.select_for_update().get(pk=observation.pk)
    changes = bump_version(
        observation, {"corroboration_reason": [observation.corroboration_reason or None, reason]}
    )
    observation.corroborated_by = membership.user
    observation.corroboration_reason = reason
    observation.save(update_fields=["corroborated_by", "corroboration_reason", "version"])
    audit(
        actor=membership.user,
        action="visits.observation.corroborate",
        obj=observation,
        changes=changes,
    )
    return observation


@transaction.atomic
def observation_hold_back(
    *, membership: Membership, observation: Observation, held_back: bool
) -> Observation:
    _require_team(membership, observation.visit)
    observation = Observation.objects.select_for_update().get(pk=observation.pk)
    if observation.held_back != held_back:
        changes = bump_version(observation, {"held_back": [not held_back, held_back]})
        observation.held_back = held_back
        observation.save(update_fields=["held_back", "version"])
        audit(
            actor=membership.user,
            action="visits.observation.hold_back",
            obj=observation,
            changes=changes,
        )
    return observation


# ---------- Settings ----------


@transaction.atomic
def visit_settings_update(*, membership: Membership, anonymity_k: int) -> VisitSettings:
    VISITS.require(membership, "settings")
    if not 1 <= int(anonymity_k) <= 100:
        raise ValidationError({"anonymity_k": [_("Choose a number between 1 and 100.")]})
    settings, _created = VisitSettings.objects.select_for_update().get_or_create(
        body=membership.body
    )
    if settings.anonymity_k != anonymity_k:
        before = settings.anonymity_k
        settings.anonymity_k = anonymity_k
        settings.save(update_fields=["anonymity_k"])
        audit(
            actor=membership.user,
            action="visits.settings.update",
            body=membership.body,
            changes={"anonymity_k": [before, anonymity_k]},
        )
    return settings


# ---------- Registers and records checked ----------

# What a visit records while it runs and until its report is written.
FIELDWORK_STATUSES = {VisitStatus.IN_PROGRESS, VisitStatus.DEBRIEFED, VisitStatus.REPORTING}
REGISTER_CHECK_FIELDS = ["register_kind", "period_from", "period_to", "sample_size", "notes"]
DISCREPANCY_MAX_LENGTH = Discrepancy._meta.get_field("description").max_length or 500
# The theme a discrepancy in a register becomes a finding under (if the body keeps it).
REGISTERS_THEME = "registers"
# A clock a few minutes ahead on a phone is not "the future".
CLOCK_GRACE = datetime.timedelta(minutes=10)


def _discrepancy_errors(texts: Iterable[str]) -> list[str]:
    return [
        _("Keep each discrepancy to %(limit)d characters at most: “%(start)s…” is longer.")
        % {"limit": DISCREPANCY_MAX_LENGTH, "start": text[:40]}
        for text in texts
        if len(text) > DISCREPANCY_MAX_LENGTH
    ]


def _save_discrepancy(
    membership: Membership, register_check: RegisterCheck, description: str
) -> Discrepancy:
    discrepancy = Discrepancy.objects.create(
        register_check=register_check, description=description, recorded_by=membership.user
    )
    audit(
        actor=membership.user,
        action="visits.discrepancy.create",
        obj=discrepancy,
        changes={"description": [None, description], "register": [None, str(register_check)]},
    )
    return discrepancy


@transaction.atomic
def register_check_create(
    *,
    membership: Membership,
    visit: Visit,
    data: Mapping[str, Any],
    discrepancies: Iterable[str] = (),
) -> RegisterCheck:
    """Record a register the team examined, with the discrepancies it found in it."""
    _require_team(membership, visit)
    check = RegisterCheck(
        visit=visit,
        recorded_by=membership.user,
        register_kind=data.get("register_kind") or "",
        period_from=data.get("period_from"),
        period_to=data.get("period_to"),
        sample_size=data.get("sample_size"),
        notes=(data.get("notes") or "").strip(),
    )
    texts = [" ".join(str(text).split()) for text in discrepancies]
    texts = [text for text in texts if text]
    errors: dict[str, list[str]] = {}
    if check.register_kind not in RegisterKind.values:
        errors["register_kind"] = [_("Choose a register.")]
    if check.period_from and check.period_to and check.period_to < check.period_from:
        errors["period_to"] = [_("The period ends before it starts.")]
    elif check.period_to and check.period_to > timezone.localdate():
        errors["period_to"] = [_("The period checked cannot end in the future.")]
    if check.period_from and check.period_from > timezone.localdate():
        errors["period_from"] = [_("The period checked cannot start in the future.")]
    if check.sample_size is not None and check.sample_size < 1:
        errors["sample_size"] = [_("Give the number of entries examined: at least one.")]
    if _discrepancy_errors(texts):
        errors["discrepancies"] = _discrepancy_errors(texts)
    if visit.status not in FIELDWORK_STATUSES:
        errors["__all__"] = [_("Registers are checked once the visit has started.")]
    if errors:
        raise ValidationError(errors)
    check.full_clean(exclude=["visit"])
    check.save()
    audit(
        actor=membership.user,
        action="visits.registercheck.create",
        obj=check,
        changes=diff({}, snapshot(check, REGISTER_CHECK_FIELDS)),
    )
    for text in texts:
        _save_discrepancy(membership, check, text)
    return check


@transaction.atomic
def discrepancy_create(
    *, membership: Membership, register_check: RegisterCheck, description: str
) -> Discrepancy:
    """Add a discrepancy found in a register already recorded."""
    visit = register_check.visit
    _require_team(membership, visit)
    description = " ".join((description or "").split())
    errors: dict[str, list[str]] = {}
    if not description:
        errors["description"] = [_("Say what did not add up.")]
    elif _discrepancy_errors([description]):
        errors["description"] = _discrepancy_errors([description])
    if visit.status not in FIELDWORK_STATUSES:
        errors["__all__"] = [_("Registers are checked once the visit has started.")]
    if errors:
        raise ValidationError(errors)
    return _save_discrepancy(membership, register_check, description)


def discrepancy_observation_initial(discrepancy: Discrepancy) -> dict[str, Any]:
    """What the finding form starts from for a discrepancy: its text, the theme "registers"
    (where the body keeps it) and the source "documents or registers"."""
    visit = discrepancy.register_check.visit
    initial: dict[str, Any] = {
        "description": discrepancy.description,
        "other_sources": [str(SourceKind.DOCUMENTS)],
        "severity": Severity.CONCERN,
    }
    registers = TaxonomyTerm.objects.filter(
        body_id=visit.body_id, kind="theme", code=REGISTERS_THEME, is_active=True
    ).first()
    if registers is not None:
        initial["theme"] = registers
    return initial


@transaction.atomic
def discrepancy_to_observation(
    *,
    membership: Membership,
    discrepancy: Discrepancy,
    data: Mapping[str, Any] | None = None,
    interviews: Iterable[Interview] = (),
) -> Observation:
    """The discrepancy becomes a finding of the visit (the form may have changed what it was
    prefilled with; the register stays among its sources)."""
    visit = discrepancy.register_check.visit
    _require_team(membership, visit)
    discrepancy = Discrepancy.objects.select_for_update().get(pk=discrepancy.pk)
    if discrepancy.observation_id is not None:
        raise ValidationError(_("This discrepancy is already a finding."))
    values = {**discrepancy_observation_initial(discrepancy), **(data or {})}
    values["other_sources"] = sorted(
        {str(source) for source in values.get("other_sources") or []} | {str(SourceKind.DOCUMENTS)}
    )
    observation = observation_create(
        membership=membership, visit=visit, data=values, interviews=interviews
    )
    discrepancy.observation = observation
    discrepancy.save(update_fields=["observation"])
    audit(
        actor=membership.user,
        action="visits.discrepancy.to_observation",
        obj=discrepancy,
        changes={"observation": [None, observation.pk]},
    )
    return observation


# ---------- The debriefing ----------

DEBRIEFING_FIELDS = ["held_at", "attendees", "summary"]


def _debriefing_snapshot(debriefing: Debriefing) -> dict[str, Any]:
    values = snapshot(debriefing, DEBRIEFING_FIELDS)
    values["findings"] = sorted(
        debriefing.presented.values_list("observation_id", flat=True) if debriefing.pk else []
    )
    return values


@transaction.atomic
def debriefing_save(
    *,
    membership: Membership,
    visit: Visit,
    data: Mapping[str, Any],
    findings: Iterable[Observation] = (),
    mark_debriefed: bool = False,
) -> Debriefing:
    """Record (or correct) the debriefing with the authorities. Every finding presented must
    pass the anonymity guard now; `mark_debriefed` moves an in-progress visit to "debriefed"."""
    _require_team(membership, visit)
    visit = Visit.objects.select_for_update().get(pk=visit.pk)
    debriefing = Debriefing.objects.filter(visit=visit).first()
    created = debriefing is None
    if debriefing is None:
        debriefing = Debriefing(visit=visit, recorded_by=membership.user)
    before = {} if created else _debriefing_snapshot(debriefing)
    debriefing.held_at = data.get("held_at")  # type: ignore[assignment]
    debriefing.attendees = (data.get("attendees") or "").strip()
    debriefing.summary = (data.get("summary") or "").strip()
    # The guard decides on the findings as stored now, not as the caller last saw them.
    chosen = list(
        Observation.objects.filter(pk__in={observation.pk for observation in findings})
        .select_related("visit", "theme")
        .prefetch_related("interviews")
        .order_by("pk")
    )
    errors: dict[str, list[str]] = {}
    if debriefing.held_at is None:
        errors["held_at"] = [_("Say when the debriefing was held.")]
    elif debriefing.held_at > timezone.now() + CLOCK_GRACE:
        errors["held_at"] = [_("Record a debriefing once it was held: this time is ahead.")]
    if not debriefing.attendees:
        errors["attendees"] = [_("Say who attended for the authorities.")]
    if any(observation.visit_id != visit.pk for observation in chosen):
        errors["findings"] = [_("Choose findings of this visit.")]
    else:
        refused = []
        for observation in chosen:
            try:
                require_cleared(observation)
            except ValidationError as guard:
                refused.append(
                    _("“%(finding)s” cannot be presented: %(reason)s")
                    % {"finding": observation, "reason": " ".join(guard.messages)}
                )
        if refused:
            errors["findings"] = refused
    if visit.status in {VisitStatus.PLANNED, VisitStatus.PREPARING}:
        errors["__all__"] = [_("A debriefing is recorded once the visit is in progress.")]
    elif visit.status == VisitStatus.CLOSED:
        errors["__all__"] = [_("The visit is closed: its debriefing no longer changes.")]
    if mark_debriefed and not VISITS.can(membership, "edit", visit):
        errors["mark_debriefed"] = [_("Only the heads and the visit leaders move a visit on.")]
    if errors:
        raise ValidationError(errors)
    debriefing.updated_at = timezone.now()
    debriefing.save()
    keep = {observation.pk for observation in chosen}
    debriefing.presented.exclude(observation_id__in=keep).delete()
    already = set(debriefing.presented.values_list("observation_id", flat=True))
    DebriefingFinding.objects.bulk_create(
        DebriefingFinding(debriefing=debriefing, observation=observation)
        for observation in chosen
        if observation.pk not in already
    )
    changes = diff(before, _debriefing_snapshot(debriefing))
    if created or changes:
        audit(
            actor=membership.user,
            action="visits.debriefing.create" if created else "visits.debriefing.update",
            obj=debriefing,
            changes=changes,
        )
    if mark_debriefed and visit.status == VisitStatus.IN_PROGRESS:
        ended = debriefing.held_at
        debriefing.visit = visit_set_status(
            membership=membership,
            visit=visit,
            status=VisitStatus.DEBRIEFED,
            at=ended if visit.started_at is None or ended >= visit.started_at else None,
        )
    return debriefing


@transaction.atomic
def commitment_create(
    *, membership: Membership, debriefing: Debriefing, text: str, due_on: datetime.date | None
) -> Commitment:
    """An immediate commitment the management made at the debriefing, with its due date."""
    visit = debriefing.visit
    _require_team(membership, visit)
    text = (text or "").strip()
    errors: dict[str, list[str]] = {}
    if not text:
        errors["text"] = [_("Write what the management committed to.")]
    if due_on is None:
        errors["due_on"] = [_("Give the date by which it is due.")]
    elif due_on < timezone.localtime(debriefing.held_at).date():
        errors["due_on"] = [_("A commitment falls due on the day of the debriefing or later.")]
    if visit.status == VisitStatus.CLOSED:
        errors["__all__"] = [_("The visit is closed: its debriefing no longer changes.")]
    if errors:
        raise ValidationError(errors)
    assert due_on is not None  # refused above
    commitment = Commitment.objects.create(
        debriefing=debriefing, text=text, due_on=due_on, recorded_by=membership.user
    )
    audit(
        actor=membership.user,
        action="visits.commitment.create",
        obj=commitment,
        changes={"text": [None, text], "due_on": [None, due_on]},
    )
    return commitment


def debriefing_note_findings(debriefing: Debriefing) -> tuple[list[Observation], int]:
    """The findings presented that the guard still clears, by theme then severity, and how
    many presented findings it now withholds (k raised, a finding held back since)."""
    presented = set(debriefing.presented.values_list("observation_id", flat=True))
    cleared = [
        observation
        for observation in cleared_observations(debriefing.visit)
        if observation.pk in presented
    ]
    order = {value: index for index, value in enumerate(reversed(Severity.values))}
    cleared.sort(key=lambda o: (o.theme.position, str(o.theme), order[o.severity], o.pk))
    return cleared, len(presented) - len(cleared)


def debriefing_note(*, membership: Membership, debriefing: Debriefing) -> bytes:
    """The debriefing note as a PDF; the export is recorded (it leaves Vigil)."""
    from vigil.visits.debriefing_note import render_debriefing_note

    VISITS.require(membership, "export", debriefing.visit)
    findings, withheld = debriefing_note_findings(debriefing)
    pdf = render_debriefing_note(debriefing, findings)
    with transaction.atomic():
        audit(
            actor=membership.user,
            action="visits.debriefing.export",
            obj=debriefing,
            changes={"findings": len(findings), "withheld": withheld},
        )
    return pdf


# ---------- Obstruction and operational difficulties ----------

# A team kept at the gate, or refused entry, meets its difficulty before the visit starts.
OBSTRUCTION_STATUSES = set(VisitStatus) - {VisitStatus.CLOSED}
OBSTRUCTION_FIELDS = [
    "kind",
    "occurred_at",
    "officials",
    "description",
    "explanation",
    "severity",
]


@transaction.atomic
def obstruction_create(
    *,
    membership: Membership,
    visit: Visit,
    data: Mapping[str, Any],
    escalate: bool = False,
) -> Obstruction:
    """Record an obstruction or difficulty the team met; a serious one may go to the heads at
    once (`escalate`)."""
    _require_team(membership, visit)
    # A missing time is refused below, with the other errors.
    obstruction = Obstruction(  # type: ignore[misc]
        visit=visit,
        recorded_by=membership.user,
        kind=data.get("kind") or "",
        occurred_at=data.get("occurred_at"),
        officials=" ".join((data.get("officials") or "").split()),
        description=(data.get("description") or "").strip(),
        explanation=(data.get("explanation") or "").strip(),
        severity=data.get("severity") or ObstructionSeverity.MINOR,
    )
    errors: dict[str, list[str]] = {}
    if obstruction.kind not in ObstructionKind.values:
        errors["kind"] = [_("Choose what kind of difficulty it was.")]
    if obstruction.occurred_at is None:
        errors["occurred_at"] = [_("Say when it happened.")]
    elif obstruction.occurred_at > timezone.now() + CLOCK_GRACE:
        errors["occurred_at"] = [_("Record a difficulty once it happened: this time is ahead.")]
    if not obstruction.description:
        errors["description"] = [_("Describe what happened.")]
    if obstruction.severity not in ObstructionSeverity.values:
        errors["severity"] = [_("Choose a severity.")]
    elif escalate and obstruction.severity != ObstructionSeverity.SERIOUS:
        errors["escalate"] = [_("Only a serious obstruction goes to the heads at once.")]
    if visit.status not in OBSTRUCTION_STATUSES:
        errors["__all__"] = [_("The visit is closed: record difficulties before it closes.")]
    if errors:
        raise ValidationError(errors)
    obstruction.full_clean(exclude=["visit"])
    obstruction.save()
    audit(
        actor=membership.user,
        action="visits.obstruction.create",
        obj=obstruction,
        changes=diff({}, snapshot(obstruction, OBSTRUCTION_FIELDS)),
    )
    if escalate:
        _escalate(membership, obstruction)
    return obstruction


@transaction.atomic
def obstruction_escalate(*, membership: Membership, obstruction: Obstruction) -> Obstruction:
    """Tell the heads of a serious obstruction now, not in the visit report."""
    _require_team(membership, obstruction.visit)
    obstruction = Obstruction.objects.select_for_update().get(pk=obstruction.pk)
    if obstruction.severity != ObstructionSeverity.SERIOUS:
        raise ValidationError(_("Only a serious obstruction goes to the heads at once."))
    if obstruction.escalated_at is not None:
        raise ValidationError(_("The heads were already told of this obstruction."))
    _escalate(membership, obstruction)
    return obstruction


def _escalate(membership: Membership, obstruction: Obstruction) -> None:
    obstruction.escalated_at = timezone.now()
    obstruction.escalated_by = membership.user
    obstruction.save(update_fields=["escalated_at", "escalated_by"])
    heads = Membership.objects.filter(
        body_id=obstruction.visit.body_id, is_active=True, role=Role.HEAD
    )
    told = notify("visits.obstruction.serious", obstruction, heads, actor=membership.user)
    audit(
        actor=membership.user,
        action="visits.obstruction.escalate",
        obj=obstruction,
        changes={"escalated_at": [None, obstruction.escalated_at], "heads": len(told)},
    )


# ---------- The preparation pack ----------


def preparation_pack_pdf(*, membership: Membership, visit: Visit, request: Any = None) -> bytes:
    """The preparation pack as a PDF; printing it is recorded, as what is printed leaves Vigil
    (the pack holds the findings of earlier visits)."""
    from vigil.visits.preparation import render_preparation_pack

    if not can_see(membership, visit):
        raise PermissionDenied
    pdf = render_preparation_pack(request, membership, visit)
    with transaction.atomic():
        audit(actor=membership.user, action="visits.visit.print_preparation", obj=visit)
    return pdf


# ---------- Findings across visits ----------


def observations_export(
    *, membership: Membership, queryset: Any, fmt: str, filters: str, api: bool = False
) -> Any:
    """Stream the findings of `queryset` (already scoped to what the member may see) as CSV or
    XLSX, and record the export once: findings leaving Vigil leave a trace."""
    from vigil.visits.exports import export_response

    VISITS.require(membership, "export")
    changes: dict[str, Any] = {"format": fmt, "filters": filters}
    if api:
        changes["api"] = True
    with transaction.atomic():
        audit(
            actor=membership.user,
            action="visits.observation.export",
            body=membership.body,
            changes=changes,
        )
    return export_response(queryset, fmt)


# ---------- Evidence files ----------

EVIDENCE_KIND_BY_TYPE = {
    "image/jpeg": EvidenceKind.PHOTO,
    "image/png": EvidenceKind.PHOTO,
    "image/webp": EvidenceKind.PHOTO,
    "application/pdf": EvidenceKind.DOCUMENT,
}


@transaction.atomic
def evidence_upload(
    *,
    membership: Membership,
    upload: UploadedFile,
    title: str = "",
    observation: Observation | None = None,
    interview: Interview | None = None,
) -> Evidence:
    """Attach a photo, scan or recording to a finding or an interview (exactly one). The file
    is checked by its content, loses its metadata (GPS position, camera, recorder tags) and is
    stored encrypted; a file refused stores nothing."""
    if (observation is None) == (interview is None):
        raise ValidationError(_("Attach the file to one finding or to one interview."))
    record: Observation | Interview = observation or interview  # type: ignore[assignment]
    visit = record.visit
    _require_team(membership, visit)
    if interview is not None and not can_see(membership, interview, content=True):
        raise PermissionDenied(_("Only the visit's team and the heads read interviews."))
    title = " ".join((title or "").split())[:300]
    stored = store_file(actor=membership.user, body=visit.body, upload=upload, types=MEDIA_TYPES)
    evidence = Evidence.objects.create(
        visit=visit,
        observation=observation,
        interview=interview,
        file=stored,
        kind=EVIDENCE_KIND_BY_TYPE.get(stored.content_type, EvidenceKind.AUDIO),
        title=title,
        uploaded_by=membership.user,
    )
    audit(
        actor=membership.user,
        action="visits.evidence.upload",
        obj=evidence,
        changes={
            "kind": [None, evidence.kind],
            "title": [None, evidence.title],
            "size": [None, stored.size],
            "attached_to": [None, interview.pseudonym if interview else str(observation)],
        },
    )
    return evidence


def evidence_open(*, membership: Membership, evidence: Evidence) -> StoredFile:
    """The stored file of an evidence file, for someone who may see it; every download is
    recorded."""
    if evidence.deleted_at is not None or not can_see(membership, evidence):
        raise PermissionDenied(_("This file is not yours to see."))
    with transaction.atomic():
        audit(actor=membership.user, action="visits.evidence.download", obj=evidence)
    return evidence.file


@transaction.atomic
def evidence_delete(*, membership: Membership, evidence: Evidence) -> None:
    """Take an evidence file off its record (kept for the trail: a head can still see what was
    removed in the history)."""
    _require_team(membership, evidence.visit)
    evidence = Evidence.objects.select_for_update().get(pk=evidence.pk)
    if evidence.deleted_at is not None:
        return
    evidence.deleted_at = timezone.now()
    evidence.deleted_by = membership.user
    evidence.save(update_fields=["deleted_at", "deleted_by"])
    audit(
        actor=membership.user,
        action="visits.evidence.delete",
        obj=evidence,
        changes={"trash": [False, True]},
    )


# ---------- Drafts of long forms ----------

DRAFT_KEY = re.compile(r"^(visit|interview|observation|debriefing)(-[0-9]{1,12})?$")
# A draft is what a person typed into one form: far below the request limit, and a bound on
# what one person can store.
DRAFT_MAX_FIELDS = 100
DRAFT_MAX_CHARS = 200_000


def _draft_data(data: Mapping[str, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    total = 0
    for name, value in data.items():
        if name in {"csrfmiddlewaretoken", "version", "identity"} or not isinstance(name, str):
            # Never the CSRF token; never an identity (it has no place outside its field).
            continue
        values = value if isinstance(value, list) else [value]
        texts = [str(item) for item in values if isinstance(item, str | int | float | bool)]
        total += len(name) + sum(len(text) for text in texts)
        clean[name[:100]] = texts if isinstance(value, list) else (texts[0] if texts else "")
    if len(clean) > DRAFT_MAX_FIELDS or total > DRAFT_MAX_CHARS:
        raise ValidationError(_("This draft is too long to keep."))
    return clean


def _draft_visit(membership: Membership, visit: Visit, key: str) -> None:
    if not DRAFT_KEY.match(key or ""):
        raise ValidationError(_("Unknown form."))
    if not is_on_team(membership, visit) and not VISITS.can(membership, "edit", visit):
        raise PermissionDenied(_("Only the visit's team keeps drafts of its forms."))


def draft_save(*, membership: Membership, visit: Visit, key: str, data: Mapping[str, Any]) -> Draft:
    """Keep what the person typed into form `key` of `visit` (encrypted; theirs alone)."""
    _draft_visit(membership, visit, key)
    clean = _draft_data(data)
    with transaction.atomic():
        draft, _created = Draft.objects.update_or_create(
            user=membership.user,
            visit=visit,
            key=key,
            defaults={"body": membership.body, "data": clean, "saved_at": timezone.now()},
        )
    return draft


def draft_get(*, membership: Membership, visit: Visit, key: str) -> Draft | None:
    if not DRAFT_KEY.match(key or ""):
        return None
    return Draft.objects.filter(
        user=membership.user, body=membership.body, visit=visit, key=key
    ).first()


def draft_discard(*, membership: Membership, visit: Visit, key: str) -> None:
    """The form was saved (or the person threw the draft away)."""
    Draft.objects.filter(user=membership.user, visit=visit, key=key).delete()
