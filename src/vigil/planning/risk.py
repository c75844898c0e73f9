"""Each place's risk score and why: time since the last visit against its maximum interval,
occupancy against capacity, serious and urgent findings of recent visits, vulnerable groups held.

Other apps add their signals (overdue recommendations, allegations, reprisals) with
`register_risk_factor` from their AppConfig.ready; planning imports none of them. Every factor is
computed for all of a body's places in a few aggregate queries, never one query per place.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Max, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from vigil.core.models import Body
from vigil.places.models import Place, PlaceStatus
from vigil.planning.models import PlaceRisk, PlanningSettings
from vigil.visits.models import Observation, Severity, Visit

FINDINGS_WINDOW_DAYS = 730
NEVER_VISITED_OVERDUE = 1.5

# (body, place ids) -> {place id: factor value, 0 to about 2}
FactorFunction = Callable[[Body, list[int]], dict[int, float]]


@dataclass(frozen=True)
class RiskFactor:
    key: str
    label: Any
    compute: FactorFunction
    default_weight: float = 1.0


_FACTORS: dict[str, RiskFactor] = {}


def register_risk_factor(
    key: str, label: Any, compute: FactorFunction, default_weight: float = 1.0
) -> None:
    _FACTORS[key] = RiskFactor(key, label, compute, default_weight)


def risk_factors() -> list[RiskFactor]:
    return list(_FACTORS.values())


def settings_for(body: Body) -> PlanningSettings:
    settings, _created = PlanningSettings.objects.get_or_create(body=body)
    return settings


def months_between(earlier: datetime.date, later: datetime.date) -> int:
    return max(0, (later.year - earlier.year) * 12 + later.month - earlier.month)


def last_visits(place_ids: Iterable[int]) -> dict[int, datetime.date]:
    """The day each place was last visited (a visit that started)."""
    rows = (
        Visit.objects.filter(place_id__in=list(place_ids), started_at__isnull=False)
        .values("place_id")
        .annotate(last=Max("started_at"))
    )
    return {row["place_id"]: timezone.localdate(row["last"]) for row in rows}


def _occupancy(body: Body, place_ids: list[int]) -> dict[int, float]:
    values = {}
    for pk, population, capacity in Place.objects.filter(pk__in=place_ids).values_list(
        "pk", "population", "official_capacity"
    ):
        if population and capacity:
            values[pk] = min(2.0, max(0.0, population / capacity - 0.8) * 2.5)
    return values


def _findings(body: Body, place_ids: list[int]) -> dict[int, float]:
    since = timezone.now() - datetime.timedelta(days=FINDINGS_WINDOW_DAYS)
    rows = (
        Observation.objects.filter(
            visit__place_id__in=place_ids,
            visit__started_at__gte=since,
            severity__in=[Severity.SERIOUS, Severity.URGENT],
        )
        .values("visit__place_id")
        .annotate(
            serious=Count("pk", filter=Q(severity=Severity.SERIOUS)),
            urgent=Count("pk", filter=Q(severity=Severity.URGENT)),
        )
    )
    return {row["visit__place_id"]: min(2.0, 0.5 * row["serious"] + row["urgent"]) for row in rows}


def _vulnerable(body: Body, place_ids: list[int]) -> dict[int, float]:
    through = Place.population_groups.through
    rows = (
        through.objects.filter(place_id__in=place_ids)
        .values("place_id")
        .annotate(groups=Count("pk"))
    )
    return {row["place_id"]: min(1.0, 0.25 * row["groups"]) for row in rows}


register_risk_factor("occupancy", _("occupancy against capacity"), _occupancy, 2.0)
register_risk_factor(
    "findings", _("serious and urgent findings of the last two years"), _findings, 2.0
)
register_risk_factor(
    "vulnerable", _("groups in a situation of vulnerability held"), _vulnerable, 1.0
)

FACTOR_LABELS = {
    "overdue": _("time since the last visit against the maximum interval"),
    "never_visited": _("never visited"),
}


def factor_label(key: str) -> Any:
    if key in FACTOR_LABELS:
        return FACTOR_LABELS[key]
    factor = _FACTORS.get(key)
    return factor.label if factor else key


def planned_places(body: Body) -> Any:
    """The places a programme covers: the body's own open places."""
    return Place.objects.filter(body=body, deleted_at__isnull=True, status=PlaceStatus.OPEN)


def compute_risks(body: Body, today: datetime.date | None = None) -> int:
    """Recompute and store the risk of every place of the body; returns how many places."""
    today = today or timezone.localdate()
    settings = settings_for(body)
    weights = {**{f.key: f.default_weight for f in risk_factors()}, **settings.weights}
    places = list(planned_places(body).values_list("pk", "place_type__code"))
    place_ids = [pk for pk, _code in places]
    last = last_visits(place_ids)
    computed = {factor.key: factor.compute(body, place_ids) for factor in risk_factors()}
    now = timezone.now()
    risks = []
    for pk, type_code in places:
        interval = settings.interval_for(type_code or "")
        factors: dict[str, float] = {}
        if pk in last:
            since = months_between(last[pk], today)
            factors["overdue"] = round(min(2.0, since / max(1, interval)), 3)
        else:
            since = None
            factors["overdue"] = NEVER_VISITED_OVERDUE
            factors["never_visited"] = 1.0
        for key, values in computed.items():
            if values.get(pk):
                factors[key] = round(values[pk], 3)
        score = sum(weights.get(key, 1.0) * value for key, value in factors.items())
        risks.append(
            PlaceRisk(
                place_id=pk,
                body=body,
                score=round(score, 3),
                factors=factors,
                months_since_visit=since,
                interval_months=interval,
                computed_at=now,
            )
        )
    PlaceRisk.objects.filter(body=body).exclude(place_id__in=place_ids).delete()
    PlaceRisk.objects.bulk_create(
        risks,
        batch_size=2000,
        update_conflicts=True,
        unique_fields=["place"],
        update_fields=["score", "factors", "months_since_visit", "interval_months", "computed_at"],
    )
    return len(risks)


def explain(risk: PlaceRisk, weights: dict[str, float]) -> list[dict[str, Any]]:
    """The factors of a score, largest contribution first."""
    rows = [
        {
            "key": key,
            "label": factor_label(key),
            "value": value,
            "weight": weights.get(key, 1.0),
            "contribution": round(weights.get(key, 1.0) * value, 3),
        }
        for key, value in risk.factors.items()
    ]
    return sorted(rows, key=lambda row: -row["contribution"])
