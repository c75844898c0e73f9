"""Exports stream: 100,000 places leave in flat memory (measured with tracemalloc)."""

from __future__ import annotations

import tracemalloc

import pytest
from django.urls import reverse

from tests.factories import place_type
from vigil.places.models import Place

ROWS = 100_000
LIMIT = 50 * 1024 * 1024


@pytest.mark.slow
def test_csv_export_of_100000_places_stays_under_50_mb(body, head, client_for):
    kind = place_type(body)
    Place.objects.bulk_create(
        (
            Place(
                body=body,
                name=f"Synthetic Place {index:06d}",
                place_type=kind,
                address=f"{index} Long Synthetic Avenue, Example District",
                official_capacity=index % 500,
                search_text=f"synthetic place {index:06d}",
            )
            for index in range(ROWS)
        ),
        batch_size=5000,
    )
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
