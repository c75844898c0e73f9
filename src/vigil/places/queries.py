"""Reusable, permission-scoped reads of places."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from vigil.core.access import scope_to_body, visible
from vigil.core.models import Membership
from vigil.places.models import Place, Region

_WORD = re.compile(r"\w+", re.UNICODE)


# ---------- Visibility rules (registered in PlacesConfig.ready) ----------


def place_rule(membership: Membership, queryset: models.QuerySet[Place]) -> models.QuerySet[Place]:
    """Live places of the member's body, and member bodies' non-confidential ones."""
    return scope_to_body(queryset.filter(deleted_at__isnull=True), membership)


def place_history_rule(
    membership: Membership, queryset: models.QuerySet[Place]
) -> models.QuerySet[Place]:
    """The history of a trashed or merged place stays readable in its own body's trail."""
    return place_rule(membership, queryset) | queryset.filter(body_id=membership.body_id)


def region_rule(
    membership: Membership, queryset: models.QuerySet[Region]
) -> models.QuerySet[Region]:
    return scope_to_body(queryset, membership, confidential_field=None)


def document_rule(membership: Membership, queryset: models.QuerySet[Any]) -> models.QuerySet[Any]:
    """A place's documents are visible to those who see the place."""
    return queryset.filter(
        deleted_at__isnull=True, place__in=place_rule(membership, Place.objects.all())
    )


def duplicate_rule(membership: Membership, queryset: models.QuerySet[Any]) -> models.QuerySet[Any]:
    return queryset.filter(body_id=membership.body_id)


# ---------- Reads ----------


def visible_places(membership: Membership | None) -> models.QuerySet[Place]:
    """Places the member may see: their body's, and member bodies' non-confidential ones."""
    return visible(membership, Place)


def trashed_places(membership: Membership | None) -> models.QuerySet[Place]:
    from vigil.places.permissions import PLACES

    if membership is None or not PLACES.can(membership, "restore"):
        return Place.objects.none()
    return Place.objects.filter(
        body_id=membership.body_id, deleted_at__isnull=False, merged_into__isnull=True
    )


def visible_regions(membership: Membership | None) -> models.QuerySet[Region]:
    return visible(membership, Region)


def normalise_text(text: str) -> str:
    """Lower case without accents, so "Comisaría" is found by "comisaria"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def search_words(text: str) -> list[str]:
    return _WORD.findall(normalise_text(text))[:12]


def search_places(queryset: models.QuerySet[Place], text: str) -> models.QuerySet[Place]:
    """Full-text search on name, other and former names and address.

    PostgreSQL uses its own full-text search with prefix matching (a GIN index on the
    tsvector); SQLite falls back to every word being contained in the text."""
    words = search_words(text)
    if not words:
        return queryset
    if settings.IS_POSTGRES:
        from django.contrib.postgres.search import SearchQuery, SearchVector

        query = SearchQuery(
            " & ".join(f"{word}:*" for word in words), config="simple", search_type="raw"
        )
        return queryset.annotate(search_vector=SearchVector("search_text", config="simple")).filter(
            search_vector=query
        )
    condition = Q()
    for word in words:
        condition &= Q(search_text__contains=word)
    return queryset.filter(condition)


def region_descendant_ids(region: Region) -> list[int]:
    return list(
        Region.objects.filter(body_id=region.body_id, path__startswith=region.path).values_list(
            "id", flat=True
        )
    )
