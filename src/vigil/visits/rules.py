"""The rules of fieldwork that protect the people who spoke: triangulation and the anonymity
guard. Pure functions, so a property test can try every combination."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.utils.translation import gettext as _

from vigil.visits.models import InterviewKind, SourceKind

MIN_SOURCE_KINDS = 2


def normalise_unit(unit: str) -> str:
    return " ".join((unit or "").split()).casefold()


def source_kinds(interview_kinds: Iterable[str], other_sources: Iterable[str]) -> set[str]:
    """The kinds of source a finding rests on: each linked interview counts by its kind."""
    kinds = {str(source) for source in other_sources if source in SourceKind.values}
    for kind in interview_kinds:
        kinds.add(
            SourceKind.PRIVATE_INTERVIEW
            if kind == InterviewKind.PRIVATE
            else SourceKind.GROUP_INTERVIEW
        )
    return kinds


def is_corroborated(kinds: set[str], *, confirmed: bool) -> bool:
    """Supported by two different kinds of source, or confirmed by a person with a reason."""
    return len(kinds) >= MIN_SOURCE_KINDS or confirmed


def is_source_sensitive(kinds: set[str]) -> bool:
    """Only private interviews support it: using it could point at who spoke."""
    return kinds == {SourceKind.PRIVATE_INTERVIEW}


@dataclass(frozen=True)
class Clearance:
    allowed: bool
    reason: str = ""
    private_interviews: int = 0
    k: int = 0


def clearance(
    *, kinds: set[str], held_back: bool, unit: str, private_in_unit: int, k: int
) -> Clearance:
    """May this finding leave the team (debriefing, report, anything an authority sees)?"""
    if held_back:
        return Clearance(False, _("The team holds this finding back."), private_in_unit, k)
    if not kinds:
        return Clearance(False, _("No source supports this finding yet."), private_in_unit, k)
    if is_source_sensitive(kinds) and private_in_unit < k:
        return Clearance(
            False,
            _(
                "Only %(count)d private interviews in %(unit)s; k = %(k)d. Interview more "
                "people there, use the information as generic, or hold it back."
            )
            % {"count": private_in_unit, "unit": unit or _("the whole place"), "k": k},
            private_in_unit,
            k,
        )
    return Clearance(True, "", private_in_unit, k)
