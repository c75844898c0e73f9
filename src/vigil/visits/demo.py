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


# A short checklist for places of detention, as an XLSForm would give it (synthetic).
DEMO_SURVEY = [
    ["type", "name", "label", "hint", "vigil_theme", "vigil_standard", "vigil_private_only"],
    ["begin group", "cells", "Cells", "", "", "", ""],
    ["integer", "cell_size", "Floor space of the cell (m²)", "", "overcrowding", "mandela-13", ""],
    ["integer", "occupants", "People held in the cell", "", "overcrowding", "mandela-13", ""],
    ["select_one yes_no", "daylight", "Daylight in the cell?", "", "accommodation", "", ""],
    ["end group", "", "", "", "", "", ""],
    ["begin group", "treatment", "Treatment", "", "", "", ""],
    [
        "select_one yes_no",
        "ill_treatment",
        "Has anyone hit or threatened you here?",
        "Ask only in private.",
        "torture-ill-treatment",
        "mandela-1,cat-16",
        "yes",
    ],
    [
        "select_one yes_no",
        "isolation",
        "Held alone 22 hours or more a day?",
        "",
        "solitary-confinement",
        "mandela-44,mandela-45",
        "",
    ],
    ["end group", "", "", "", "", "", ""],
    [
        "select_one hours",
        "outdoors",
        "Time outdoors each day",
        "",
        "time-outdoors",
        "mandela-23",
        "",
    ],
    ["text", "comments", "Anything else the team noticed", "", "", "", ""],
]
DEMO_CHOICES = [
    ["list_name", "name", "label"],
    ["yes_no", "yes", "Yes"],
    ["yes_no", "no", "No"],
    ["hours", "none", "None"],
    ["hours", "one", "One hour"],
    ["hours", "more", "More than one hour"],
]


@register_demo(order=21)
def questionnaires_demo(ctx: DemoContext) -> None:
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from openpyxl import Workbook

    from vigil.visits.models import Questionnaire
    from vigil.visits.questionnaires import questionnaire_import, questionnaire_set_active
    from vigil.visits.standards import seed_standards

    for demo_body in ctx.bodies.values():
        seed_standards(demo_body)
    body = ctx.bodies[NATIONAL]
    if Questionnaire.objects.filter(body=body).exists():
        return
    book = Workbook()
    survey = book.active
    assert survey is not None
    survey.title = "survey"
    for row in DEMO_SURVEY:
        survey.append(row)
    choices = book.create_sheet("choices")
    for row in DEMO_CHOICES:
        choices.append(row)
    settings = book.create_sheet("settings")
    settings.append(["form_title", "form_id", "version"])
    settings.append(["Detention visit checklist", "detention_checklist", "1"])
    output = io.BytesIO()
    book.save(output)
    leader = Membership.objects.get(user=ctx.users["leader"], body=body)
    questionnaire = questionnaire_import(
        membership=leader,
        upload=SimpleUploadedFile("detention_checklist.xlsx", output.getvalue()),
        place_types=TaxonomyTerm.objects.filter(
            body=body,
            kind="place_type",
            code__in=["prison", "pre-trial-detention", "police-custody"],
        ),
    )
    questionnaire_set_active(membership=leader, questionnaire=questionnaire, active=True)
    ctx.log(f"Questionnaires: {questionnaire} in use for places of detention.")
