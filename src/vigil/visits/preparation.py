"""The preparation pack a team reads before a visit: the place's facts, what the last visits
found, the registers checked last time, and whatever other apps add (open recommendations,
persons to follow up) through `register_preparation_section`, so that visits imports none of
them. A section's `get_context(request, membership, visit)` returns None to hide itself; what
it shows must already be scoped to what the member may see."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db.models import Prefetch
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from vigil.core.access import visible
from vigil.core.models import Membership
from vigil.visits.models import Discrepancy, Observation, RegisterCheck, Visit

SectionContext = Callable[[HttpRequest, Membership, Visit], dict[str, Any] | None]
EARLIER_VISITS = 3


@dataclass(frozen=True)
class PreparationSection:
    key: str
    title: Any
    template: str
    order: int
    get_context: SectionContext


_SECTIONS: dict[str, PreparationSection] = {}


def register_preparation_section(
    key: str, title: Any, template: str, order: int, get_context: SectionContext
) -> PreparationSection:
    """Add (or replace, by key) a section of the preparation pack; call it from the app's
    AppConfig.ready. Sections show in `order`."""
    section = PreparationSection(key, title, template, order, get_context)
    _SECTIONS[key] = section
    return section


def preparation_sections() -> list[PreparationSection]:
    return sorted(_SECTIONS.values(), key=lambda section: (section.order, section.key))


def build_preparation(
    request: HttpRequest, membership: Membership, visit: Visit
) -> list[tuple[PreparationSection, dict[str, Any]]]:
    """The sections with something for this member, in order."""
    built = []
    for section in preparation_sections():
        context = section.get_context(request, membership, visit)
        if context is not None:
            built.append((section, context))
    return built


PACK_STYLESHEET = Path(__file__).resolve().parent / "static" / "visits" / "preparation_pack.css"


def render_preparation_pack(
    request: HttpRequest | None, membership: Membership, visit: Visit
) -> bytes:
    """The pack as a PDF for the team to take along: the same sections as the page, each
    scoped to what the member may see, in the active language."""
    from django.utils import timezone, translation

    from vigil.visits.debriefing_note import render_pdf

    return render_pdf(
        "visits/preparation_pack.html",
        {
            "visit": visit,
            "place": visit.place,
            "team": [str(member) for member in visit.team.select_related("membership__user")],
            "sections": build_preparation(request, membership, visit),  # type: ignore[arg-type]
            "generated_at": timezone.now(),
            "language": translation.get_language() or "en",
            "printing": True,
        },
        PACK_STYLESHEET,
    )


def earlier_visits(membership: Membership, visit: Visit) -> list[Visit]:
    """The last visits to the same place before this one that the member may see."""
    return list(
        visible(membership, Visit)
        .filter(place_id=visit.place_id, planned_start__lte=visit.planned_start)
        .exclude(pk=visit.pk)
        .order_by("-planned_start", "-id")[:EARLIER_VISITS]
    )


# ---------- The visits app's own sections ----------


def place_facts(request: HttpRequest, membership: Membership, visit: Visit) -> dict[str, Any]:
    place = visit.place
    return {
        "place": place,
        "groups": list(place.population_groups.all()),
        "visits_count": visible(membership, Visit).filter(place_id=place.pk).count(),
    }


def last_findings(
    request: HttpRequest, membership: Membership, visit: Visit
) -> dict[str, Any] | None:
    visits = earlier_visits(membership, visit)
    findings = (
        visible(membership, Observation)
        .filter(visit__in=visits)
        .select_related("theme")
        .order_by("theme__position", "-created_at", "-id")
    )
    by_visit: dict[int, list[Observation]] = {earlier.pk: [] for earlier in visits}
    for finding in findings:
        by_visit[finding.visit_id].append(finding)
    return {"visits": [(earlier, by_visit[earlier.pk]) for earlier in visits]}


def last_registers(
    request: HttpRequest, membership: Membership, visit: Visit
) -> dict[str, Any] | None:
    checks = (
        visible(membership, RegisterCheck)
        .filter(visit__place_id=visit.place_id, visit__planned_start__lte=visit.planned_start)
        .exclude(visit_id=visit.pk)
        .select_related("visit")
        .order_by("-visit__planned_start", "-visit_id")
    )
    last = checks.first()
    if last is None:
        return {"visit": None, "checks": []}
    return {
        "visit": last.visit,
        "checks": list(
            checks.filter(visit_id=last.visit_id)
            .order_by("created_at", "id")
            .prefetch_related(
                Prefetch(
                    "discrepancies",
                    queryset=visible(membership, Discrepancy).order_by("created_at", "id"),
                )
            )
        ),
    }


def register_own_sections() -> None:
    register_preparation_section(
        "place", _("The place"), "visits/_preparation_place.html", 10, place_facts
    )
    register_preparation_section(
        "findings",
        _("Findings of the last visits"),
        "visits/_preparation_findings.html",
        20,
        last_findings,
    )
    register_preparation_section(
        "registers",
        _("Registers checked last time"),
        "visits/_preparation_registers.html",
        30,
        last_registers,
    )
