"""Synthetic visits for the demo: a few per place of the national body, with teams, interviews
(no identity) and findings. Nothing here is real."""

from __future__ import annotations

import datetime
from typing import Any

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
    if ctx.scale == "national":
        national_visits(ctx, body, visits=NATIONAL_VISITS, observations=NATIONAL_OBSERVATIONS)
    leader = Membership.objects.get(user=ctx.users["leader"], body=body)
    monitor = Membership.objects.get(user=ctx.users["monitor"], body=body)
    themes = {term.code: term for term in TaxonomyTerm.objects.filter(body=body, kind="theme")}
    places = list(Place.objects.filter(body=body, deleted_at__isnull=True).order_by("pk"))
    # At national scale the bulk visits above carry the volume; a dozen stay rich examples.
    count = 12
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


# ---------- National scale: ten years of a mechanism's work, written in bulk ----------

NATIONAL_VISITS = 50_000
NATIONAL_OBSERVATIONS = 500_000
YEARS = 10
CHUNK = 50_000

# How often each theme comes up in findings (relative weights), from the share of themes in
# published NPM annual reports: material conditions, health care and safeguards dominate; ill-
# treatment is rarer but weighs heavier.
THEME_WEIGHTS = {
    "accommodation": 9,
    "overcrowding": 8,
    "hygiene": 7,
    "health-care": 10,
    "access-to-doctor": 5,
    "registers": 7,
    "information-on-rights": 5,
    "access-to-lawyer": 4,
    "contact-with-family": 4,
    "complaints": 3,
    "food": 5,
    "water": 2,
    "time-outdoors": 5,
    "work": 2,
    "education": 2,
    "contact-outside-world": 3,
    "staffing": 5,
    "training": 3,
    "recruitment": 1,
    "discipline": 3,
    "solitary-confinement": 3,
    "use-of-force": 3,
    "torture-ill-treatment": 2,
}
SEVERITY_WEIGHTS = {
    # information, concern, serious, urgent
    "default": (30, 45, 21, 4),
    "use-of-force": (8, 32, 42, 18),
    "torture-ill-treatment": (4, 26, 45, 25),
    "solitary-confinement": (10, 40, 38, 12),
    "overcrowding": (12, 43, 36, 9),
}
SEVERITIES = tuple(severity.value for severity in Severity)
KIND_WEIGHTS = {
    VisitKind.REGULAR.value: 62,
    VisitKind.FOLLOW_UP.value: 22,
    VisitKind.URGENT.value: 6,
    VisitKind.THEMATIC.value: 9,
    VisitKind.JOINT_SPT.value: 1,
}
UNITS = ("Reception", "Unit A", "Unit B", "Unit C", "Yard", "Kitchen", "Health unit", "Cells")
PHRASES = (
    "The team found {topic} below the standard in {unit}.",
    "Detainees in {unit} raised {topic} with the team.",
    "Staff acknowledged problems of {topic} in {unit}.",
    "Documents checked in {unit} confirm shortcomings of {topic}.",
    "Good arrangements for {topic} were seen in {unit}.",
)


def _weighted(rng: Any, weights: dict[Any, int], k: int) -> list[Any]:
    return rng.choices(list(weights), weights=list(weights.values()), k=k)


def national_visits(ctx: DemoContext, body: Any, *, visits: int, observations: int) -> None:
    """`visits` visits to the body's places over ten years and `observations` findings, with
    the kinds, themes and severities distributed as a national mechanism's are. Written with
    core/bulk.py (COPY on PostgreSQL), in chunks so memory stays flat."""
    from vigil.core import bulk

    rng = ctx.rng
    leader = Membership.objects.get(user=ctx.users["leader"], body=body)
    monitor = Membership.objects.get(user=ctx.users["monitor"], body=body)
    themes = {
        term.code: term.pk
        for term in TaxonomyTerm.objects.filter(body=body, kind="theme", code__in=THEME_WEIGHTS)
    }
    theme_weights = {code: weight for code, weight in THEME_WEIGHTS.items() if code in themes}
    labels = dict(TaxonomyTerm.objects.filter(body=body, kind="theme").values_list("code", "label"))
    place_ids = list(
        Place.objects.filter(body=body, deleted_at__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not place_ids:
        return
    now = timezone.now()
    today = timezone.localdate()
    first_day = today - datetime.timedelta(days=365 * YEARS)
    span = (today - first_day).days
    eight = datetime.time(8)
    rows = []
    # (started_at, ended_at) of each finished visit, by its position in `rows`.
    finished: list[tuple[int, datetime.datetime]] = []
    kinds = _weighted(rng, KIND_WEIGHTS, visits)
    for index in range(visits):
        # A few visits still to come (the last 2%), the rest done.
        if index >= visits * 0.98:
            start = today + datetime.timedelta(days=rng.randint(1, 120))
        else:
            start = first_day + datetime.timedelta(days=rng.randint(0, span - 1))
        days = rng.choice((1, 1, 1, 2, 2, 3))
        end = start + datetime.timedelta(days=days - 1)
        done = start < today
        announced = rng.random() < 0.3
        started_at = ended_at = None
        if done:
            started_at = timezone.make_aware(datetime.datetime.combine(start, eight))
            ended_at = started_at + datetime.timedelta(days=days - 1, hours=9)
            recent = start >= today - datetime.timedelta(days=180)
            status = (VisitStatus.REPORTING if recent else VisitStatus.CLOSED).value
        else:
            status = rng.choice((VisitStatus.PLANNED.value, VisitStatus.PREPARING.value))
        created = timezone.make_aware(
            datetime.datetime.combine(start - datetime.timedelta(days=30), eight)
        )
        rows.append(
            (
                body.pk,
                rng.choice(place_ids),
                kinds[index],
                announced,
                start,
                end,
                started_at,
                ended_at,
                "Reception, Unit A, Unit B, yard, kitchen" if done else "",
                status,
                "",
                leader.user_id,
                created,
                min(ended_at or created, now),
            )
        )
        if started_at is not None:
            finished.append((index, started_at))
    visit_fields = [
        "body",
        "place",
        "kind",
        "is_announced",
        "planned_start",
        "planned_end",
        "started_at",
        "ended_at",
        "areas_visited",
        "status",
        "summary",
        "created_by",
        "created_at",
        "updated_at",
    ]
    visit_ids: list[int] = []
    for offset in range(0, len(rows), CHUNK):
        visit_ids.extend(
            bulk.bulk_insert(
                Visit, rows[offset : offset + CHUNK], fields=visit_fields, return_ids=True
            )
            or []
        )
    team = []
    for position, visit_id in enumerate(visit_ids):
        confirmed = rows[position][6]
        team.append((visit_id, leader.pk, TeamRole.LEADER.value, "female", confirmed))
        if position % 2 == 0:
            team.append((visit_id, monitor.pk, TeamRole.MEMBER.value, "male", confirmed))
    bulk.bulk_insert(
        TeamMember,
        team,
        fields=["visit", "membership", "team_role", "gender", "conduct_confirmed_at"],
    )
    del rows, team
    _national_observations(ctx, finished, visit_ids, themes, theme_weights, labels, observations)
    ctx.log(f"  {body}: {visits:,} visits, {observations:,} findings")


def _national_observations(
    ctx: DemoContext,
    finished: list[tuple[int, datetime.datetime]],
    visit_ids: list[int],
    themes: dict[str, int],
    theme_weights: dict[str, int],
    labels: dict[str, str],
    total: int,
) -> None:
    from vigil.core import bulk

    rng = ctx.rng
    if not finished or not themes:
        return
    leader_user = ctx.users["leader"].pk
    severity_weights = {
        code: SEVERITY_WEIGHTS.get(code, SEVERITY_WEIGHTS["default"]) for code in theme_weights
    }
    sources = [
        [SourceKind.DIRECT_OBSERVATION.value],
        [SourceKind.DOCUMENTS.value],
        [SourceKind.STAFF.value],
        [SourceKind.DIRECT_OBSERVATION.value, SourceKind.DOCUMENTS.value],
    ]
    fields = [
        "visit",
        "theme",
        "unit",
        "description",
        "severity",
        "is_good_practice",
        "is_systemic",
        "other_sources",
        "held_back",
        "recorded_by",
        "created_at",
    ]
    written = 0
    while written < total:
        size = min(CHUNK, total - written)
        codes = _weighted(rng, theme_weights, size)
        chosen = rng.choices(finished, k=size)
        chunk = []
        for code, (position, started_at) in zip(codes, chosen, strict=True):
            severity = rng.choices(SEVERITIES, weights=severity_weights[code])[0]
            good = severity == Severity.INFORMATION.value and rng.random() < 0.25
            unit = rng.choice(UNITS)
            phrase = PHRASES[4] if good else rng.choice(PHRASES[:4])
            chunk.append(
                (
                    visit_ids[position],
                    themes[code],
                    unit,
                    phrase.format(topic=labels[code].lower(), unit=unit),
                    severity,
                    good,
                    rng.random() < 0.15,
                    rng.choice(sources),
                    False,
                    leader_user,
                    started_at + datetime.timedelta(minutes=rng.randint(0, 600)),
                )
            )
        bulk.bulk_insert(Observation, chunk, fields=fields)
        written += size


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
