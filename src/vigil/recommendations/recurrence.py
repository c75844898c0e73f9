"""Recurrence: earlier recommendations like the one being written (same place, authority or
theme, similar text), so the writer can mark it as a repetition. PostgreSQL ranks by trigram
similarity (pg_trgm); elsewhere, or without the extension, a word-overlap score in Python
ranks a bounded set of candidates."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Q

from vigil.core.access import visible
from vigil.core.models import Membership
from vigil.places.queries import normalise_text
from vigil.recommendations.models import Recommendation

# Candidates scored per suggestion: the latest ones sharing a place, the authority or a theme.
CANDIDATES = 400
SUGGESTIONS = 5
THRESHOLD = 0.3


@dataclass(frozen=True)
class Suggestion:
    recommendation: Recommendation
    score: float


@functools.cache
def _has_trigram() -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        return cursor.fetchone() is not None


def _words(text: str) -> set[str]:
    return {word for word in normalise_text(text).split() if len(word) > 2}


def word_similarity(first: str, second: str) -> float:
    """Overlap of the words of two texts (Dice coefficient), from 0 to 1."""
    a, b = _words(first), _words(second)
    if not a or not b:
        return 0.0
    return 2 * len(a & b) / (len(a) + len(b))


def suggest(
    membership: Membership,
    *,
    text: str,
    authority_id: Any = None,
    place_ids: Iterable[Any] = (),
    theme_ids: Iterable[Any] = (),
    exclude_id: Any = None,
    limit: int = SUGGESTIONS,
) -> list[Suggestion]:
    if not normalise_text(text or "").strip():
        return []
    try:
        places = [int(pk) for pk in place_ids]
        themes = [int(pk) for pk in theme_ids]
        authority = int(authority_id) if authority_id else None
    except (TypeError, ValueError):
        return []
    related = Q(pk__in=[])
    if authority is not None:
        related |= Q(authority_id=authority)
    if places:
        related |= Q(
            pk__in=Recommendation.places.through.objects.filter(place_id__in=places).values(
                "recommendation_id"
            )
        )
    if themes:
        related |= Q(
            pk__in=Recommendation.themes.through.objects.filter(taxonomyterm_id__in=themes).values(
                "recommendation_id"
            )
        )
    candidates = (
        visible(membership, Recommendation)
        .filter(related, body_id=membership.body_id)
        .select_related("authority")
    )
    if exclude_id is not None:
        candidates = candidates.exclude(pk=exclude_id)
    normalised = normalise_text(text)
    if _has_trigram():
        from django.contrib.postgres.search import TrigramSimilarity

        ranked = (
            candidates.annotate(score=TrigramSimilarity("search_text", normalised))
            .filter(score__gte=THRESHOLD)
            .order_by("-score", "-issued_on")[:limit]
        )
        return [Suggestion(row, float(row.score)) for row in ranked]
    scored = [
        Suggestion(row, word_similarity(normalised, row.search_text))
        for row in candidates.order_by("-issued_on", "-id")[:CANDIDATES]
    ]
    scored = [item for item in scored if item.score >= THRESHOLD]
    scored.sort(key=lambda item: (-item.score, -item.recommendation.issued_on.toordinal()))
    return scored[:limit]
