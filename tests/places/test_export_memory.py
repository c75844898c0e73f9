"""Exports stream: 100,000 places leave in flat memory (measured with tracemalloc)."""

from __future__ import annotations

import tracemalloc

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from tests.factories import place_type
from vigil.places.models import Place

ROWS = 100_000
LIMIT = 50 * 1024 * 1024


def _insert_places(body, kind, count: int) -> None:
    """100,000 rows in one INSERT … SELECT over a generated series (both databases): building
    them as Python objects would take longer than the export being measured."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO places_place (body_id, external_id, name, place_type_id, subtype, "
            "authority_name, address, official_capacity, status, aliases, former_names, notes, "
            "confidential_notes, is_confidential, search_text, created_at, updated_at, version) "
            "WITH RECURSIVE seq(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM seq WHERE n < %s) "
            "SELECT %s, '', 'Synthetic Place ' || CAST(n AS TEXT), %s, '', 'Ministry of Justice', "
            "CAST(n AS TEXT) || ' Long Synthetic Avenue, Example District', n %% 500, 'open', "
            "'', '', '', '', %s, 'synthetic place ' || CAST(n AS TEXT), %s, %s, 1 FROM seq",
            [count - 1, body.pk, kind.pk, False, now, now],
        )


@pytest.mark.slow
def test_csv_export_of_100000_places_stays_under_50_mb(body, head, client_for):
    _insert_places(body, place_type(body), ROWS)
    assert Place.objects.filter(body=body).count() == ROWS
    client = client_for(head)
    tracemalloc.start()
    try:
        response = client.get(reverse("places:export", args=["csv"]))
        assert response.streaming
        rows = 0
        size = 0
        for chunk in response.streaming_content:
            rows += chunk.count(b"\r\n")
            size += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rows == ROWS + 1  # the header and every place: nothing left out
    assert size > ROWS * 40
    assert peak < LIMIT, f"peak {peak / 1024 / 1024:.1f} MB"
