"""The place dossier is assembled from sections that each app contributes.

An app registers a section once (in its AppConfig.ready); the dossier page asks every section
for its context and shows those that have something for this user.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from vigil.core.models import Membership

SectionContext = Callable[[HttpRequest, Membership, Any], dict[str, Any] | None]


@dataclass(frozen=True)
class DossierSection:
    key: str
    title: Any
    template: str
    order: int
    get_context: SectionContext


_SECTIONS: dict[str, list[DossierSection]] = {}


def register_section(dossier: str, section: DossierSection) -> None:
    sections = [s for s in _SECTIONS.get(dossier, []) if s.key != section.key]
    sections.append(section)
    _SECTIONS[dossier] = sorted(sections, key=lambda s: s.order)


def build_sections(
    dossier: str, request: HttpRequest, membership: Membership, obj: Any
) -> list[tuple[DossierSection, dict[str, Any]]]:
    """The sections with content for this user; a section returning None is left out."""
    built = []
    for section in _SECTIONS.get(dossier, []):
        context = section.get_context(request, membership, obj)
        if context is not None:
            built.append((section, context))
    return built
