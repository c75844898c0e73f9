"""Synthetic visits for the demo: a few per place of the national body, with teams, interviews
(no identity) and findings. Nothing here is real."""

from __future__ import annotations

import datetime

from django.utils import timezone

from vigil.core.demo import DemoContext, register_demo
from vigil.core.models import Membership, TaxonomyTerm
from vigil.core.personas import NATIONAL
from vigil.places.models import Place
from vigil.visits.models import (
    Interview,
    InterviewCategory,
    InterviewKind,
    Observation,
    Severity,
    SourceKind,
    TeamMember,
    TeamRole,
    Visit,
    VisitKind,
    VisitStatus,
)

FINDINGS = [
    ("overcrowding", Severity.SERIOUS, "Cells built for two hold four; mattresses on the floor."),
    ("registers", Severity.CONCERN, "The custody register has gaps of several hours."),
    ("health-care", Severity.CONCERN, "No medical screening on arrival in the last month."),
    ("time-outdoors", Severity.INFORMATION, "One hour outdoors a day, in a covered yard."),
    ("use-of-force", Severity.URGENT, "Several detainees describe beatings during transfers."),
    ("food", Severity.INFORMATION, "Three meals a day; a special diet is available."),
]


@register_demo(order=20)
def visits_demo(ctx: DemoContext) -> None:
    body = ctx.bodies[NATIONAL]
    if Visit.objects.filter(body=body).exists():
        return
    leader = Membership.objects.get(user=ctx.users["leader"], body=body)
    monitor = Membership.objects.get(user=ctx.users["monitor"], body=body)
    themes = {term.code: term for term in TaxonomyTerm.objects.filter(body=body, kind="theme")}
    places = list(Place.objects.filter(body=body, deleted_at__isnull=True).order_by("pk"))
    count = 12 if ctx.scale == "small" else len(places)
    today = timezone.localdate()
    for index, place in enumerate(places[:count]):
        start = today - datetime.timedelta(days=30 * (index + 1) - 15 * (index % 3))
        finished = start < today
        visit = Visit.objects.create(
            body=body,
            place=place,
            kind=[VisitKind.REGULAR, VisitKind.FOLLOW_UP, VisitKind.THEMATIC][index % 3],
            is_announced=index % 4 == 0,
            planned_start=start,
            planned_end=start + datetime.timedelta(days=1),
            status=VisitStatus.REPORTING if finished else VisitStatus.PLANNED,
            started_at=timezone.make_aware(datetime.datetime.combine(start, datetime.time(8)))
            if finished
            else None,
            ended_at=timezone.make_aware(datetime.datetime.combine(start, datetime.time(17)))
            if finished
            else None,
            areas_visited="Reception, Unit A, Unit B, yard, kitchen" if finished else "",
        )
        confirmed = visit.started_at
        TeamMember.objects.create(
            visit=visit,
            membership=leader,
            team_role=TeamRole.LEADER,
            gender="female",
            conduct_confirmed_at=confirmed,
        )
        TeamMember.objects.create(
            visit=visit, membership=monitor, gender="male", conduct_confirmed_at=confirmed
        )
        if not finished:
            continue
        interviews = [
            Interview.objects.create(
                visit=visit,
                kind=InterviewKind.PRIVATE,
                category=InterviewCategory.DETAINEE,
                unit="Unit A" if number % 2 else "Unit B",
                pseudonym=f"P-DEMO{index:02d}{number}",
                notes="Synthetic interview notes for the demo.",
            )
            for number in range(6)
        ]
        for code, severity, text in FINDINGS[index % 3 : index % 3 + 3]:
            observation = Observation.objects.create(
                visit=visit,
                theme=themes[code],
                unit="Unit A",
                description=text,
                severity=Severity.SERIOUS if severity == Severity.URGENT else severity,
                other_sources=[SourceKind.DIRECT_OBSERVATION] if code != "use-of-force" else [],
            )
            observation.interviews.set([i for i in interviews if i.unit == "Unit A"][:2])
    ctx.log(f"Visits: {Visit.objects.filter(body=body).count()} for {body}.")
