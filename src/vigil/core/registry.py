"""Where apps plug into the shared pages: navigation, home cards, page and API URLs.

Each app registers its entries from its `AppConfig.ready`; core reads the registries and never
imports an app. (Dossier sections, importers, demo data, audit labels, visibility rules and
notification kinds have registries of their own in the modules that use them.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from vigil.core.models import Membership


@dataclass(frozen=True)
class NavEntry:
    key: str
    label: Any
    url_name: str
    order: int
    # Whether the entry shows for this member (what they may not use is not offered).
    shows_for: Callable[[Membership], bool]
    # The URL namespace or url_name that marks the entry as the current page.
    current: str = ""


@dataclass(frozen=True)
class HomeCard:
    """A card on the overview; `get_context` returns None to leave the card out."""

    key: str
    order: int
    template: str
    get_context: Callable[[HttpRequest, Membership], dict[str, Any] | None]


@dataclass(frozen=True)
class UrlInclude:
    prefix: str
    module: str


_NAV: dict[str, NavEntry] = {}
_CARDS: dict[str, HomeCard] = {}
_PAGE_URLS: dict[str, UrlInclude] = {}
_API_URLS: dict[str, UrlInclude] = {}


def register_nav(entry: NavEntry) -> None:
    _NAV[entry.key] = entry


def register_home_card(card: HomeCard) -> None:
    _CARDS[card.key] = card


def register_urls(prefix: str, module: str) -> None:
    """Serve `module`'s urlpatterns under `/<prefix>`."""
    _PAGE_URLS[module] = UrlInclude(prefix, module)


def register_api_urls(module: str, prefix: str = "") -> None:
    """Serve `module`'s urlpatterns under `/api/v1/<prefix>`."""
    _API_URLS[module] = UrlInclude(prefix, module)


def nav_entries(membership: Membership | None) -> list[NavEntry]:
    if membership is None:
        return []
    return sorted(
        (entry for entry in _NAV.values() if entry.shows_for(membership)),
        key=lambda entry: entry.order,
    )


def home_cards(request: HttpRequest, membership: Membership) -> list[tuple[HomeCard, dict]]:
    built = []
    for card in sorted(_CARDS.values(), key=lambda card: card.order):
        context = card.get_context(request, membership)
        if context is not None:
            built.append((card, context))
    return built


def page_url_includes() -> list[UrlInclude]:
    return list(_PAGE_URLS.values())


def api_url_includes() -> list[UrlInclude]:
    return list(_API_URLS.values())


def register_api_enums(names: dict[str, str]) -> None:
    """Name the OpenAPI enums of an app's choices ({"VisitStatusEnum": "vigil.visits.models.
    VisitStatus"}), so two apps' `status` fields never collide in the schema. Called from
    AppConfig.ready, before drf-spectacular first reads its settings."""
    from django.conf import settings

    spectacular: dict[str, Any] = settings.SPECTACULAR_SETTINGS
    spectacular.setdefault("ENUM_NAME_OVERRIDES", {}).update(names)
