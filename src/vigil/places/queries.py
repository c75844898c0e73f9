"""Reusable, permission-scoped reads of places."""

from __future__ import annotations

import re
import unicodedata

from django.conf import settings
from django.db import models
from django.db.models import Q

from vigil.core.access import scope_to_body
from vigil.core.models import Membership
from vigil.places import permissions
from vigil.places.models import Place, Region

_WORD = re.compile(r"\w+", re.UNICODE)


def visible_places(membership: Membership | None) -> models.QuerySet[Place]:
    """Places the member may see: their body's, and member bodies' non-confidential ones."""
    if not permissions.can(membership, "view"):
        return Place.objects.none()
    return scope_to_body(Place.objects.filter(deleted_at__isnull=True), membership)


def trashed_places(membership: Membership | None) -> models.QuerySet[Place]:
    if not permissions.can(membership, "restore") or membership is None:
        return Place.objects.none()
    return Place.objects.filter(
        body_id=membership.body_id, deleted_at__isnull=False, merged_into__isnull=True
    )


def visible_regions(membership: Membership | None) -> models.QuerySet[Region]:
    if membership is None:
        return Region.objects.none()
    return scope_to_body(Region.objects.all(), membership, confidential_field=None)


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
