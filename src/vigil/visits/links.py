"""Links other apps add to an interview's page (e.g. "open a case from this interview"), so that
visits imports none of them. A provider `(membership, interview) -> [(label, url), ...]` is
registered from the other app's AppConfig.ready and returns nothing where the member may not."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vigil.core.models import Membership

InterviewLinks = Callable[[Membership, Any], list[tuple[str, str]]]

_PROVIDERS: dict[str, InterviewLinks] = {}


def register_interview_links(key: str, provider: InterviewLinks) -> None:
    _PROVIDERS[key] = provider


def interview_links(membership: Membership, interview: Any) -> list[tuple[str, str]]:
    links: list[tuple[str, str]] = []
    for key in sorted(_PROVIDERS):
        links.extend(_PROVIDERS[key](membership, interview))
    return links
