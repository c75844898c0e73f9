"""The debriefing note: a short PDF of what the team presented to the management at the end of
a visit and what the management committed to. Drawn by WeasyPrint from a template and a print
stylesheet shipped with Vigil; it fetches nothing, so no remote resource can slip into it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone, translation

from vigil.visits.models import Debriefing, Observation

STYLESHEET = Path(__file__).resolve().parent / "static" / "visits" / "debriefing_note.css"


def _refuse_fetching() -> Any:
    from weasyprint.urls import URLFetcher

    class NoFetching(URLFetcher):  # type: ignore[misc]
        """Every resource of the note is inline: a URL in a record's text fetches nothing."""

        def fetch(self, url: str, headers: Any = None) -> Any:
            raise ValueError(f"A printout of Vigil loads no resource ({url[:60]}).")

    return NoFetching()


def note_context(debriefing: Debriefing, findings: list[Observation]) -> dict[str, Any]:
    visit = debriefing.visit
    # The days the team was there: from its start to its end, or to the debriefing, which
    # closes a visit; the days planned where Vigil has no start.
    first_day = visit.planned_start
    last_day = visit.planned_end
    if visit.started_at is not None:
        first_day = timezone.localtime(visit.started_at).date()
        last_day = timezone.localtime(visit.ended_at or debriefing.held_at).date()
    return {
        "first_day": first_day,
        "last_day": max(first_day, last_day),
        "debriefing": debriefing,
        "visit": visit,
        "place": visit.place,
        "team": [str(member) for member in visit.team.select_related("membership__user")],
        "attendees": [line.strip() for line in debriefing.attendees.splitlines() if line.strip()],
        "findings": findings,
        "commitments": list(debriefing.commitments.all()),
        "generated_at": timezone.now(),
        "language": translation.get_language() or "en",
    }


def render_pdf(template: str, context: dict[str, Any], stylesheet: Path) -> bytes:
    """A PDF drawn by WeasyPrint from `template` and a print stylesheet shipped with Vigil,
    fetching nothing."""
    from weasyprint import CSS, HTML

    fetcher = _refuse_fetching()
    html = render_to_string(template, context)
    css = CSS(string=stylesheet.read_text(encoding="utf-8"), url_fetcher=fetcher)
    document = HTML(string=html, url_fetcher=fetcher)
    pdf: bytes = document.write_pdf(stylesheets=[css])
    return pdf


def render_debriefing_note(debriefing: Debriefing, findings: list[Observation]) -> bytes:
    """The PDF of the note, in the active language."""
    return render_pdf("visits/debriefing_note.html", note_context(debriefing, findings), STYLESHEET)
