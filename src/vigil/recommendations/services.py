"""Every write of the recommendations app: one transaction, the permission check, the lifecycle
rules, the audit entry, the notification. Pages, the portal, the API, the deadline job and the
demo all call these functions."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from vigil.core.access import can_see, visible
from vigil.core.audit import audit, diff, diff_new, snapshot
from vigil.core.concurrency import bump_version, check_version
from vigil.core.files import store_file
from vigil.core.models import Membership, Role, StoredFile, TaxonomyKind, TaxonomyTerm
from vigil.core.notify import notify
from vigil.places.models import Place
from vigil.places.queries import normalise_text
from vigil.recommendations import rules
from vigil.recommendations.models import (
    AssessmentChange,
    Authority,
    AuthorityKind,
    Exchange,
    ExchangeKind,
    FocalPoint,
    Position,
    PositionChange,
    Priority,
    Recommendation,
    RecommendationSettings,
    SourceKind,
    VerificationMethod,
)
from vigil.recommendations.permissions import PORTAL, RECOMMENDATIONS, WRITERS
from vigil.recommendations.queries import settings_for
from vigil.visits.models import Observation, Visit

AUTHORITY_FIELDS = ("name", "kind", "parent", "email", "phone", "address", "contact_points")
RECOMMENDATION_FIELDS = (
    "reference",
    "text",
    "rationale",
    "is_systemic",
    "priority",
    "authority",
    "source_kind",
    "source_reference",
    "visit",
    "repeats",
    "issued_on",
    "response_due",
    "implementation_due",
)
SETTINGS_FIELDS = (
    "response_days",
    "urgent_response_days",
    "review_months",
    "reminder_days",
    "escalation_days",
)


def _require(membership: Membership, action: str, obj: Any = None) -> None:
    RECOMMENDATIONS.require(membership, action, obj)


def _raise(errors: Mapping[str, list[str]]) -> None:
    if errors:
        raise ValidationError({field: list(messages) for field, messages in errors.items()})


def add_months(day: datetime.date, months: int) -> datetime.date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)  # pragma: no cover


def _store(membership: Membership, upload: UploadedFile | None) -> StoredFile | None:
    if upload is None:
        return None
    return store_file(actor=membership.user, body=membership.body, upload=upload)


# ---------- Authorities ----------


def _check_authority(membership: Membership, authority: Authority, places: list[Place]) -> None:
    errors: dict[str, list[str]] = {}
    authority.name = " ".join((authority.name or "").split())
    if not authority.name:
        errors["name"] = [_("Give the authority's name.")]
    if authority.kind not in AuthorityKind.values:
        errors["kind"] = [_("Choose a kind of authority.")]
    clash = Authority.objects.filter(body=authority.body, name__iexact=authority.name)
    if authority.pk is not None:
        clash = clash.exclude(pk=authority.pk)
    if authority.name and clash.exists():
        errors["name"] = [_("The directory already has an authority of this name.")]
    parent = authority.parent
    if parent is not None:
        if parent.body_id != authority.body_id:
            errors["parent"] = [_("Choose an authority of this body.")]
        else:
            # Walk up from the parent: reaching this authority would make a loop.
            seen: set[int] = set()
            current: Authority | None = parent
            while current is not None and current.pk not in seen:
                if authority.pk is not None and current.pk == authority.pk:
                    errors["parent"] = [_("An authority cannot be part of its own units.")]
                    break
                seen.add(current.pk)
                current = current.parent
    visible_places = set(
        visible(membership, Place)
        .filter(pk__in=[place.pk for place in places])
        .values_list("pk", flat=True)
    )
    if any(
        place.pk not in visible_places or place.body_id != authority.body_id for place in places
    ):
        errors["places"] = [_("Choose places of this body.")]
    _raise(errors)


@transaction.atomic
def authority_create(
    *, membership: Membership, data: Mapping[str, Any], places: Iterable[Place] = ()
) -> Authority:
    _require(membership, "manage_authorities")
    authority = Authority(body=membership.body)
    for field in AUTHORITY_FIELDS:
        if field in data:
            value = data[field]
            setattr(authority, field, value if value is not None or field == "parent" else "")
    if not authority.kind:
        authority.kind = AuthorityKind.OTHER
    chosen = list(places)
    _check_authority(membership, authority, chosen)
    authority.save()
    authority.places.set(chosen)
    after = snapshot(authority, AUTHORITY_FIELDS)
    after["places"] = sorted(str(place) for place in chosen)
    audit(
        actor=membership.user,
        action="recommendations.authority.create",
        obj=authority,
        changes=diff_new(after),
    )
    return authority


@transaction.atomic
def authority_update(
    *,
    membership: Membership,
    authority: Authority,
    data: Mapping[str, Any],
    places: Iterable[Place] | None = None,
    expected_version: int | None = None,
) -> Authority:
    _require(membership, "manage_authorities", authority)
    authority = Authority.objects.select_for_update().get(pk=authority.pk)
    check_version(authority, expected_version)
    before = snapshot(authority, AUTHORITY_FIELDS)
    before["places"] = sorted(str(place) for place in authority.places.all())
    for field in AUTHORITY_FIELDS:
        if field in data:
            value = data[field]
            setattr(authority, field, value if value is not None or field == "parent" else "")
    chosen = list(authority.places.all()) if places is None else list(places)
    _check_authority(membership, authority, chosen)
    after = snapshot(authority, AUTHORITY_FIELDS)
    after["places"] = sorted(str(place) for place in chosen)
    changes = diff(before, after)
    if changes:
        bump_version(authority, changes)
        authority.updated_at = timezone.now()
        authority.save()
        if places is not None:
            authority.places.set(chosen)
        audit(
            actor=membership.user,
            action="recommendations.authority.update",
            obj=authority,
            changes=changes,
        )
    return authority


@transaction.atomic
def focal_point_set(
    *,
    membership: Membership,
    target: Membership,
    authority: Authority,
    include_subordinates: bool = False,
) -> FocalPoint:
    """Link a focal point to the authority they answer for (replacing an earlier link)."""
    _require(membership, "manage_focal_points", authority)
    if target.body_id != membership.body_id or authority.body_id != membership.body_id:
        raise Http404
    if target.role != Role.AUTHORITY_FOCAL_POINT or not target.is_active:
        raise ValidationError(
            {"membership": [_("Only an active member with the focal point role can be linked.")]}
        )
    link = FocalPoint.objects.select_for_update().filter(membership=target).first()
    before = (
        {"authority": str(link.authority), "include_subordinates": link.include_subordinates}
        if link
        else {"authority": None, "include_subordinates": None}
    )
    if link is None:
        link = FocalPoint(membership=target)
    link.authority = authority
    link.include_subordinates = include_subordinates
    link.save()
    changes = diff(
        before, {"authority": str(authority), "include_subordinates": include_subordinates}
    )
    changes["member"] = [None, target.user.get_username()]
    audit(actor=membership.user, action="recommendations.focalpoint.set", obj=link, changes=changes)
    return link


@transaction.atomic
def focal_point_remove(*, membership: Membership, link: FocalPoint) -> None:
    _require(membership, "manage_focal_points", link.authority)
    audit(
        actor=membership.user,
        action="recommendations.focalpoint.remove",
        obj=link,
        changes={"authority": [str(link.authority), None]},
    )
    link.delete()


@transaction.atomic
def settings_update(*, membership: Membership, data: Mapping[str, Any]) -> RecommendationSettings:
    _require(membership, "settings")
    current = settings_for(membership.body)
    current = RecommendationSettings.objects.select_for_update().get(pk=current.pk)
    before = snapshot(current, SETTINGS_FIELDS)
    for field in SETTINGS_FIELDS:
        if field in data and data[field] is not None:
            setattr(current, field, data[field])
    current.full_clean(exclude=["body"])
    current.save()
    changes = diff(before, snapshot(current, SETTINGS_FIELDS))
    if changes:
        audit(
            actor=membership.user,
            action="recommendations.settings.update",
            obj=current,
            body=membership.body,
            changes=changes,
        )
    return current


# ---------- Recommendations ----------


def default_response_due(
    body_settings: RecommendationSettings, issued_on: datetime.date, priority: str
) -> datetime.date:
    days = (
        body_settings.urgent_response_days
        if priority == Priority.URGENT
        else body_settings.response_days
    )
    return issued_on + datetime.timedelta(days=days)


def _check_links(
    membership: Membership,
    recommendation: Recommendation,
    observations: list[Observation],
    places: list[Place],
    themes: list[TaxonomyTerm],
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    body_id = recommendation.body_id
    authority = recommendation.authority if recommendation.authority_id else None
    if authority is None or authority.body_id != body_id:
        errors["authority"] = [_("Choose an authority of this body's directory.")]
    if observations:
        known = set(
            visible(membership, Observation)
            .filter(pk__in=[o.pk for o in observations], visit__body_id=body_id)
            .values_list("pk", flat=True)
        )
        if any(o.pk not in known for o in observations):
            errors["observations"] = [_("Choose findings of this body's visits.")]
        elif any(o.held_back for o in observations):
            errors["observations"] = [
                _("A finding held back within the team cannot support a recommendation.")
            ]
    if places:
        known = set(
            visible(membership, Place)
            .filter(pk__in=[p.pk for p in places], body_id=body_id, deleted_at__isnull=True)
            .values_list("pk", flat=True)
        )
        if any(p.pk not in known for p in places):
            errors["places"] = [_("Choose places of this body.")]
    if any(t.body_id != body_id or t.kind != TaxonomyKind.THEME for t in themes):
        errors["themes"] = [_("Choose themes of this body.")]
    if not places and not recommendation.is_systemic:
        errors["places"] = [_("Choose the places it concerns, or mark it national or systemic.")]
    if recommendation.visit_id is not None:
        visit = recommendation.visit
        if visit is None or visit.body_id != body_id or not can_see(membership, visit):
            errors["visit"] = [_("Choose a visit of this body.")]
    if recommendation.priority not in Priority.values:
        errors["priority"] = [_("Choose a priority.")]
    if recommendation.source_kind not in SourceKind.values:
        errors["source_kind"] = [_("Choose a source.")]
    if not (recommendation.text or "").strip():
        errors["text"] = [_("Write the recommendation.")]
    repeats = recommendation.repeats
    if repeats is not None and (
        repeats.body_id != body_id
        or (recommendation.pk is not None and repeats.pk == recommendation.pk)
    ):
        errors["repeats"] = [_("Choose an earlier recommendation of this body.")]
    for field, messages in rules.deadline_errors(
        issued_on=recommendation.issued_on,
        response_due=recommendation.response_due,
        implementation_due=recommendation.implementation_due,
        today=timezone.localdate(),
    ).items():
        errors.setdefault(field, []).extend(messages)
    return errors


def _links_snapshot(
    observations: list[Observation], places: list[Place], themes: list[TaxonomyTerm]
) -> dict[str, Any]:
    return {
        "observations": sorted(o.pk for o in observations),
        "places": sorted(str(p) for p in places),
        "themes": sorted(str(t) for t in themes),
    }


def _repetition_count(recommendation: Recommendation) -> int:
    count, seen, current = 1, set(), recommendation.repeats
    while current is not None and current.pk not in seen:
        seen.add(current.pk)
        count += 1
        current = current.repeats
    return count


@transaction.atomic
def recommendation_create(
    *,
    membership: Membership,
    data: Mapping[str, Any],
    observations: Iterable[Observation] = (),
    places: Iterable[Place] = (),
    themes: Iterable[TaxonomyTerm] = (),
) -> Recommendation:
    """Issue a recommendation. Without a response deadline, the body's default applies (28
    days, 7 for an urgent one)."""
    _require(membership, "create")
    recommendation = Recommendation(body=membership.body, created_by=membership.user)
    for field in RECOMMENDATION_FIELDS:
        if field in data:
            value = data[field]
            if value is None and field not in {
                "authority",
                "visit",
                "repeats",
                "issued_on",
                "response_due",
                "implementation_due",
            }:
                value = ""
            setattr(recommendation, field, value)
    recommendation.is_systemic = bool(data.get("is_systemic"))
    recommendation.priority = recommendation.priority or Priority.NORMAL
    recommendation.source_kind = recommendation.source_kind or SourceKind.VISIT
    if recommendation.issued_on is None:
        recommendation.issued_on = timezone.localdate()
    body_settings = settings_for(membership.body)
    _raise(
        rules.deadline_errors(
            issued_on=recommendation.issued_on,
            response_due=recommendation.response_due,
            implementation_due=recommendation.implementation_due,
            today=timezone.localdate(),
        )
    )
    if recommendation.response_due is None and recommendation.issued_on is not None:
        recommendation.response_due = default_response_due(
            body_settings, recommendation.issued_on, recommendation.priority
        )
    chosen_observations, chosen_places, chosen_themes = list(observations), list(places), []
    chosen_themes = list(themes)
    # Places and themes follow from the findings when the writer did not choose them.
    if chosen_observations and not chosen_places and not recommendation.is_systemic:
        chosen_places = list(
            Place.objects.filter(visits__observations__in=chosen_observations).distinct()
        )
    if chosen_observations and not chosen_themes:
        chosen_themes = list(
            TaxonomyTerm.objects.filter(pk__in={o.theme_id for o in chosen_observations}).order_by(
                "pk"
            )
        )
    if chosen_observations and recommendation.visit_id is None:
        visit_ids = {o.visit_id for o in chosen_observations}
        if len(visit_ids) == 1:
            recommendation.visit_id = visit_ids.pop()
    _raise(
        _check_links(membership, recommendation, chosen_observations, chosen_places, chosen_themes)
    )
    recommendation.next_review_on = add_months(
        recommendation.issued_on, body_settings.review_months
    )
    recommendation.repetition_count = _repetition_count(recommendation)
    recommendation.search_text = normalise_text(recommendation.text)
    recommendation.save()
    recommendation.observations.set(chosen_observations)
    recommendation.places.set(chosen_places)
    recommendation.themes.set(chosen_themes)
    after = snapshot(recommendation, RECOMMENDATION_FIELDS)
    after.update(_links_snapshot(chosen_observations, chosen_places, chosen_themes))
    audit(
        actor=membership.user,
        action="recommendations.recommendation.create",
        obj=recommendation,
        changes=diff_new(after),
    )
    notify(
        "recommendations.recommendation.issued",
        recommendation,
        focal_points_for(recommendation),
        actor=membership.user,
    )
    return recommendation


@transaction.atomic
def recommendation_update(
    *,
    membership: Membership,
    recommendation: Recommendation,
    data: Mapping[str, Any],
    observations: Iterable[Observation] | None = None,
    places: Iterable[Place] | None = None,
    themes: Iterable[TaxonomyTerm] | None = None,
    expected_version: int | None = None,
) -> Recommendation:
    _require(membership, "edit", recommendation)
    recommendation = Recommendation.objects.select_for_update().get(pk=recommendation.pk)
    check_version(recommendation, expected_version)
    old_observations = list(recommendation.observations.all())
    old_places = list(recommendation.places.all())
    old_themes = list(recommendation.themes.all())
    before = snapshot(recommendation, RECOMMENDATION_FIELDS)
    before.update(_links_snapshot(old_observations, old_places, old_themes))
    for field in RECOMMENDATION_FIELDS:
        if field in data:
            value = data[field]
            if value is None and field in {"reference", "rationale", "source_reference"}:
                value = ""
            setattr(recommendation, field, value)
    chosen_observations = old_observations if observations is None else list(observations)
    chosen_places = old_places if places is None else list(places)
    chosen_themes = old_themes if themes is None else list(themes)
    _raise(
        _check_links(membership, recommendation, chosen_observations, chosen_places, chosen_themes)
    )
    after = snapshot(recommendation, RECOMMENDATION_FIELDS)
    after.update(_links_snapshot(chosen_observations, chosen_places, chosen_themes))
    changes = diff(before, after)
    if not changes:
        return recommendation
    bump_version(recommendation, changes)
    recommendation.repetition_count = _repetition_count(recommendation)
    recommendation.search_text = normalise_text(recommendation.text)
    recommendation.updated_at = timezone.now()
    today = timezone.localdate()
    # A new deadline in the future lifts the overdue mark; the job sets it again if needed.
    if recommendation.overdue_since and not _is_overdue(recommendation, today):
        recommendation.overdue_since = None
        recommendation.escalated_on = None
    recommendation.save()
    recommendation.observations.set(chosen_observations)
    recommendation.places.set(chosen_places)
    recommendation.themes.set(chosen_themes)
    audit(
        actor=membership.user,
        action="recommendations.recommendation.update",
        obj=recommendation,
        changes=changes,
    )
    return recommendation


def _is_overdue(recommendation: Recommendation, today: datetime.date) -> bool:
    if recommendation.is_closed:
        return False
    if recommendation.position == Position.NO_RESPONSE and recommendation.response_due < today:
        return True
    return (
        recommendation.implementation_due is not None
        and recommendation.implementation_due < today
        and recommendation.position != Position.REJECTED
    )


def _require_position_right(membership: Membership, recommendation: Recommendation) -> bool:
    """Staff record positions from letters and meetings; a focal point gives one through the
    portal, only for what is addressed to them (anything else does not exist: 404).
    Returns whether the position comes through the portal."""
    if membership.role == Role.AUTHORITY_FOCAL_POINT:
        if not PORTAL.can(membership, "respond") or not can_see(membership, recommendation):
            raise Http404
        return True
    if not can_see(membership, recommendation):
        raise Http404
    _require(membership, "record_position", recommendation)
    return False


@transaction.atomic
def recommendation_set_position(
    *,
    membership: Membership,
    recommendation: Recommendation,
    position: str,
    changed_on: datetime.date | None = None,
    note: str = "",
    action_plan: str = "",
    planned_by: datetime.date | None = None,
    evidence: UploadedFile | None = None,
    expected_version: int | None = None,
) -> PositionChange:
    """A new step of the authority's position. It never touches the body's assessment."""
    through_portal = _require_position_right(membership, recommendation)
    recommendation = Recommendation.objects.select_for_update().get(pk=recommendation.pk)
    check_version(recommendation, expected_version)
    today = timezone.localdate()
    changed_on = changed_on or today
    errors = rules.position_errors(
        position=position,
        changed_on=changed_on,
        note=note or "",
        issued_on=recommendation.issued_on,
        today=today,
    )
    if planned_by is not None and planned_by < recommendation.issued_on:
        errors.setdefault("planned_by", []).append(
            _("The action plan cannot end before the recommendation was issued.")
        )
    _raise(errors)
    stored = _store(membership, evidence)
    change = PositionChange.objects.create(
        recommendation=recommendation,
        position=position,
        changed_on=changed_on,
        note=(note or "").strip(),
        action_plan=(action_plan or "").strip(),
        planned_by=planned_by,
        evidence=stored,
        through_portal=through_portal,
        author=membership.user,
    )
    changes: dict[str, Any] = {"position": [recommendation.position, position]}
    # An older position recorded late does not replace the latest one.
    latest = recommendation.position_on is None or changed_on >= recommendation.position_on
    if latest:
        recommendation.position = position
        recommendation.position_on = changed_on
    if recommendation.overdue_since and not _is_overdue(recommendation, today):
        recommendation.overdue_since = None
        recommendation.escalated_on = None
    bump_version(recommendation, changes)
    recommendation.updated_at = timezone.now()
    recommendation.save(
        update_fields=[
            "position",
            "position_on",
            "overdue_since",
            "escalated_on",
            "version",
            "updated_at",
        ]
    )
    if stored is not None:
        changes["evidence"] = [None, stored.original_name]
    if through_portal:
        changes["through_portal"] = [None, True]
    audit(
        actor=membership.user,
        action="recommendations.recommendation.set_position",
        obj=recommendation,
        changes=changes,
    )
    if through_portal:
        notify(
            "recommendations.recommendation.responded",
            recommendation,
            staff_to_tell(recommendation),
            actor=membership.user,
        )
    return change


@transaction.atomic
def recommendation_assess(
    *,
    membership: Membership,
    recommendation: Recommendation,
    assessment: str,
    changed_on: datetime.date | None = None,
    verified_on: datetime.date | None = None,
    verification_method: str = "",
    evidence_text: str = "",
    evidence: UploadedFile | None = None,
    visit: Visit | None = None,
    note: str = "",
    expected_version: int | None = None,
) -> AssessmentChange:
    """A new step of the body's own assessment of implementation."""
    if membership.role == Role.AUTHORITY_FOCAL_POINT or not can_see(membership, recommendation):
        # An authority's claim never becomes the body's assessment.
        raise Http404
    _require(membership, "assess", recommendation)
    recommendation = Recommendation.objects.select_for_update().get(pk=recommendation.pk)
    check_version(recommendation, expected_version)
    today = timezone.localdate()
    changed_on = changed_on or today
    if verification_method not in VerificationMethod.values:
        _raise({"verification_method": [_("Choose how it was verified.")]})
    errors = rules.assessment_errors(
        assessment=assessment,
        changed_on=changed_on,
        verified_on=verified_on,
        verification_method=verification_method,
        has_evidence=bool((evidence_text or "").strip()) or evidence is not None,
        note=note or "",
        issued_on=recommendation.issued_on,
        today=today,
    )
    if visit is not None and (
        visit.body_id != recommendation.body_id or not can_see(membership, visit)
    ):
        errors.setdefault("visit", []).append(_("Choose a visit of this body."))
    _raise(errors)
    stored = _store(membership, evidence)
    change = AssessmentChange.objects.create(
        recommendation=recommendation,
        assessment=assessment,
        changed_on=changed_on,
        verified_on=verified_on,
        verification_method=verification_method,
        evidence_text=(evidence_text or "").strip(),
        evidence=stored,
        visit=visit,
        note=(note or "").strip(),
        author=membership.user,
    )
    changes: dict[str, Any] = {"assessment": [recommendation.assessment, assessment]}
    # As for positions: an older assessment recorded late joins the history without becoming
    # the current one.
    latest = (
        AssessmentChange.objects.filter(recommendation=recommendation)
        .exclude(pk=change.pk)
        .filter(changed_on__gt=changed_on)
    )
    if not latest.exists():
        recommendation.assessment = assessment
    if verified_on is not None and (
        recommendation.verified_on is None or verified_on > recommendation.verified_on
    ):
        changes["verified_on"] = [recommendation.verified_on, verified_on]
        recommendation.verified_on = verified_on
    body_settings = settings_for(recommendation.body)
    recommendation.next_review_on = (
        None if recommendation.is_closed else add_months(changed_on, body_settings.review_months)
    )
    if recommendation.overdue_since and not _is_overdue(recommendation, today):
        recommendation.overdue_since = None
        recommendation.escalated_on = None
    bump_version(recommendation, changes)
    recommendation.updated_at = timezone.now()
    recommendation.save(
        update_fields=[
            "assessment",
            "verified_on",
            "next_review_on",
            "overdue_since",
            "escalated_on",
            "version",
            "updated_at",
        ]
    )
    if stored is not None:
        changes["evidence"] = [None, stored.original_name]
    audit(
        actor=membership.user,
        action="recommendations.recommendation.assess",
        obj=recommendation,
        changes=changes,
    )
    return change


# ---------- Dialogue ----------


@transaction.atomic
def exchange_create(
    *,
    membership: Membership,
    authority: Authority,
    data: Mapping[str, Any],
    recommendations: Iterable[Recommendation],
    upload: UploadedFile | None = None,
) -> Exchange:
    """Record a letter, a meeting or the body's reply, about one or many recommendations."""
    _require(membership, "dialogue", authority)
    chosen = list(recommendations)
    errors: dict[str, list[str]] = {}
    kind = data.get("kind") or ""
    if kind not in ExchangeKind.values:
        errors["kind"] = [_("Choose the kind of exchange.")]
    subject = " ".join((data.get("subject") or "").split())
    if not subject:
        errors["subject"] = [_("Give a subject.")]
    occurred_on = data.get("occurred_on") or timezone.localdate()
    if occurred_on > timezone.localdate():
        errors["occurred_on"] = [_("This date is in the future.")]
    if not chosen:
        errors["recommendations"] = [_("Choose the recommendations it is about.")]
    visible_ids = set(
        visible(membership, Recommendation)
        .filter(pk__in=[r.pk for r in chosen])
        .values_list("pk", flat=True)
    )
    if any(
        r.pk not in visible_ids or r.authority_id != authority.pk or r.body_id != authority.body_id
        for r in chosen
    ):
        errors["recommendations"] = [_("Choose recommendations addressed to this authority.")]
    participants = (data.get("participants") or "").strip()
    if kind == ExchangeKind.MEETING and not participants:
        errors["participants"] = [_("Name who took part in the meeting.")]
    if kind == ExchangeKind.LETTER and upload is None and not (data.get("summary") or "").strip():
        errors["file"] = [_("Attach the letter or summarise it.")]
    _raise(errors)
    exchange = Exchange.objects.create(
        body=authority.body,
        authority=authority,
        kind=kind,
        occurred_on=occurred_on,
        subject=subject[:300],
        summary=(data.get("summary") or "").strip(),
        participants=participants,
        file=_store(membership, upload),
        created_by=membership.user,
    )
    exchange.recommendations.set(chosen)
    audit(
        actor=membership.user,
        action="recommendations.exchange.create",
        obj=exchange,
        changes=diff_new(
            {
                "kind": kind,
                "subject": exchange.subject,
                "occurred_on": occurred_on,
                "recommendations": sorted(r.pk for r in chosen),
                "file": exchange.file.original_name if exchange.file else None,
            }
        ),
    )
    return exchange


# ---------- Who is told ----------


def focal_points_for(recommendation: Recommendation, *, authority: Authority | None = None) -> Any:
    """The focal points of the recommendation's authority (or of `authority`); the notice
    reaches only those who may see the recommendation."""
    target = authority or recommendation.authority
    return Membership.objects.filter(
        focal_point__authority=target, is_active=True, body_id=recommendation.body_id
    )


def staff_to_tell(recommendation: Recommendation) -> Any:
    """Who follows a recommendation in the body: its author and the heads."""
    from django.db.models import Q

    condition = Q(role=Role.HEAD)
    if recommendation.created_by_id is not None:
        condition |= Q(user_id=recommendation.created_by_id, role__in=WRITERS | {Role.MONITOR})
    return Membership.objects.filter(condition, body_id=recommendation.body_id, is_active=True)


def heads_of(recommendation: Recommendation) -> Any:
    return Membership.objects.filter(role=Role.HEAD, body_id=recommendation.body_id, is_active=True)


def require_portal(membership: Membership) -> None:
    if not PORTAL.can(membership, "respond"):
        raise PermissionDenied


def recommendations_export(*, membership: Membership, queryset: Any, fmt: str, filters: str) -> Any:
    """Stream the recommendations of `queryset` (already visible to the member), and record
    the export."""
    from vigil.recommendations.exports import export_response

    _require(membership, "export")
    with transaction.atomic():
        audit(
            actor=membership.user,
            action="recommendations.recommendation.export",
            body=membership.body,
            changes={"format": fmt, "filters": filters},
        )
    return export_response(queryset, fmt)
