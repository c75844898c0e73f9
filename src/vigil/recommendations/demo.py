"""Demo recommendations: a directory of authorities (ministries, services, each place's
management), one recommendation per finding of the finished demo visits with response and
assessment histories, and the focal point persona linked to the ministry of justice."""

from __future__ import annotations

import datetime

from django.utils import timezone

from vigil.core.demo import DemoContext, register_demo
from vigil.core.models import Membership, TaxonomyTerm
from vigil.core.personas import NATIONAL
from vigil.places.models import Place
from vigil.places.queries import normalise_text
from vigil.recommendations.models import (
    Assessment,
    AssessmentChange,
    Authority,
    AuthorityKind,
    FocalPoint,
    Position,
    PositionChange,
    Priority,
    Recommendation,
    SourceKind,
    VerificationMethod,
)
from vigil.visits.models import Observation, Severity

POSITIONS = [
    (Position.NO_RESPONSE, ""),
    (Position.ACCEPTED, ""),
    (Position.PARTIALLY_ACCEPTED, "Accepted for the new wing only; the budget is not there."),
    (Position.REJECTED, "The authority considers the current practice lawful."),
]
ASSESSMENTS = [
    Assessment.NOT_STARTED,
    Assessment.IN_PROGRESS,
    Assessment.PARTIALLY_IMPLEMENTED,
    Assessment.IMPLEMENTED,
]


@register_demo(order=30)
def recommendations_demo(ctx: DemoContext) -> None:
    body = ctx.bodies[NATIONAL]
    if Recommendation.objects.filter(body=body).exists():
        return
    justice, _ = Authority.objects.get_or_create(
        body=body,
        name="Ministry of Justice",
        defaults={"kind": AuthorityKind.MINISTRY, "email": "justice@ministry.example"},
    )
    prisons, _ = Authority.objects.get_or_create(
        body=body,
        name="Prison Service",
        defaults={"kind": AuthorityKind.AGENCY, "parent": justice},
    )
    Authority.objects.get_or_create(
        body=body, name="Ministry of Health", defaults={"kind": AuthorityKind.MINISTRY}
    )
    focal = Membership.objects.filter(user=ctx.users.get("focal"), body=body).first()
    if focal is not None:
        FocalPoint.objects.get_or_create(
            membership=focal, defaults={"authority": justice, "include_subordinates": True}
        )
    managements: dict[int, Authority] = {}
    author = ctx.users.get("analyst")
    today = timezone.localdate()
    observations = (
        Observation.objects.filter(visit__body=body, held_back=False, is_good_practice=False)
        .select_related("visit", "visit__place")
        .order_by("pk")
    )
    count = 0
    for index, observation in enumerate(observations.iterator()):
        place: Place = observation.visit.place
        management = managements.get(place.pk)
        if management is None:
            management, _ = Authority.objects.get_or_create(
                body=body,
                name=f"Management of {place.name}"[:300],
                defaults={"kind": AuthorityKind.INSTITUTION, "parent": prisons},
            )
            management.places.add(place)
            managements[place.pk] = management
        issued = observation.visit.planned_start + datetime.timedelta(days=45)
        if issued > today:
            continue
        urgent = observation.severity in (Severity.SERIOUS, Severity.URGENT)
        text = f"Remedy this finding: {observation.description}"
        recommendation = Recommendation.objects.create(
            body=body,
            reference=f"R-{issued.year}-{index + 1:04d}",
            text=text,
            rationale="Finding of the visit.",
            priority=Priority.URGENT if urgent and index % 4 == 0 else Priority.HIGH,
            authority=management if index % 3 else prisons,
            source_kind=SourceKind.VISIT,
            visit=observation.visit,
            issued_on=issued,
            response_due=issued + datetime.timedelta(days=7 if urgent and index % 4 == 0 else 28),
            implementation_due=issued + datetime.timedelta(days=180),
            next_review_on=issued + datetime.timedelta(days=182),
            search_text=normalise_text(text),
            created_by=author,
        )
        recommendation.observations.add(observation)
        recommendation.places.add(place)
        recommendation.themes.set(TaxonomyTerm.objects.filter(pk=observation.theme_id))
        position, note = POSITIONS[index % len(POSITIONS)]
        answered = min(issued + datetime.timedelta(days=20), today)
        if position != Position.NO_RESPONSE:
            PositionChange.objects.create(
                recommendation=recommendation,
                position=position,
                changed_on=answered,
                note=note,
                action_plan="Works planned for next year." if position != Position.REJECTED else "",
                through_portal=index % 2 == 0,
            )
            recommendation.position, recommendation.position_on = position, answered
        assessment = (
            ASSESSMENTS[(index // 2) % len(ASSESSMENTS)]
            if position != Position.REJECTED
            else (Assessment.NOT_IMPLEMENTED)
        )
        if assessment != Assessment.NOT_STARTED:
            checked = min(issued + datetime.timedelta(days=120), today)
            AssessmentChange.objects.create(
                recommendation=recommendation,
                assessment=assessment,
                changed_on=checked,
                verified_on=checked,
                verification_method=VerificationMethod.FOLLOW_UP_VISIT,
                evidence_text="Seen by the team during a follow-up visit.",
                note="Nothing was done." if assessment == Assessment.NOT_IMPLEMENTED else "",
                author=author,
            )
            recommendation.assessment, recommendation.verified_on = assessment, checked
        if position == Position.NO_RESPONSE and recommendation.response_due < today:
            recommendation.overdue_since = recommendation.response_due + datetime.timedelta(days=1)
        recommendation.save()
        count += 1
    ctx.log(f"Recommendations: {count} for {body}.")
