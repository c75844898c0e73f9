"""Synthetic cases and persons at risk for the demo, held by the demo monitor: opened from the
demo's private interviews, one referred, one person transferred. Nothing here is real."""

from __future__ import annotations

import datetime

from django.utils import timezone

from vigil.core.demo import DemoContext, register_demo
from vigil.core.models import Membership
from vigil.core.personas import NATIONAL
from vigil.places.models import Place, PlaceStatus
from vigil.protection import services
from vigil.protection.models import Case
from vigil.visits.models import Interview

NARRATIVES = [
    "Says he was beaten with batons during the evening count in Unit B.",
    "Says she was kept handcuffed to a radiator for a night at the police station.",
    "Says he was denied a doctor for three days after a fall in the yard.",
]


@register_demo(order=40)
def protection_demo(ctx: DemoContext) -> None:
    body = ctx.bodies[NATIONAL]
    if Case.objects.filter(body=body).exists():
        return
    monitor = Membership.objects.get(user=ctx.users["monitor"], body=body)
    interviews = list(
        Interview.objects.filter(visit__body=body, kind="private")
        .select_related("visit__place")
        .order_by("pk")[: len(NARRATIVES)]
    )
    today = timezone.localdate()
    for index, interview in enumerate(interviews):
        case = services.case_create(
            membership=monitor,
            interview=interview,
            data={
                "perpetrator_category": ["prison_staff", "police", "health_staff"][index % 3],
                "events_date": interview.visit.planned_start - datetime.timedelta(days=5),
                "consent": "referral" if index == 0 else "anonymous",
                "consent_targets": ["prosecutor"] if index == 0 else [],
                "consent_date": interview.visit.planned_start,
                "has_injuries": index != 2,
                "narrative": NARRATIVES[index],
                "identity": f"Demo Person {ctx.rng.randint(100, 999)}",
            },
        )
        if index == 0:
            services.referral_create(
                membership=monitor,
                case=case,
                data={"target": "prosecutor", "referred_on": today, "reference": "DEMO-1"},
            )
        if index < 2:
            person = services.person_create(
                membership=monitor,
                case=case,
                data={
                    "risk_level": "high" if index == 0 else "medium",
                    "risk_reason": "Named the officers involved.",
                },
            )
            if index == 0:
                other = (
                    Place.objects.filter(body=body, deleted_at__isnull=True)
                    .exclude(status=PlaceStatus.CLOSED)
                    .exclude(pk=person.current_place_id or 0)
                    .order_by("pk")
                    .first()
                )
                if other is not None:
                    services.transfer_create(membership=monitor, person=person, to_place=other)
    ctx.log(f"Protection: {len(interviews)} cases held by the monitor.")
