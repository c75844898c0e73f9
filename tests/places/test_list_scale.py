"""The list of places at national scale: the same queries for any page size, a count that stops
at a cap, pages that stop at a bound, sorts in the order of their index, and a region filter
that never lists every region nor filters unasked."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import PlaceFactory, RegionFactory
from vigil.places import views
from vigil.places.filters import SORTS, sort_order
from vigil.places.models import Place
from vigil.places.pagination import COUNT_CAP, MAX_PAGES, CappedPaginator

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(head, client_for):
    return client_for(head)


def _bulk_places(body, count: int, region=None) -> None:
    template = PlaceFactory.build(body=body, region=region)
    Place.objects.bulk_create(
        [
            Place(
                body=body,
                name=f"Place {index:05d}",
                place_type_id=template.place_type_id,
                region=region,
                search_text=f"place {index:05d}",
            )
            for index in range(count)
        ]
    )


def test_list_page_runs_the_same_queries_for_25_and_100_rows(body, client, monkeypatch):
    region = RegionFactory(body=body)
    PlaceFactory.create_batch(100, body=body, region=region)

    def queries(page_size: int) -> list[str]:
        monkeypatch.setattr(views, "PAGE_SIZE", page_size)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(reverse("places:list"))
        assert len(response.context["page"].object_list) == page_size
        return [query["sql"] for query in captured.captured_queries]

    queries(25)  # the first request also loads what is cached per process
    at_25 = queries(25)
    at_100 = queries(100)
    assert len(at_25) == len(at_100)


def test_count_stops_at_the_cap_and_pages_at_the_bound(body, client):
    _bulk_places(body, COUNT_CAP + 30)
    response = client.get(reverse("places:list"))
    paginator = response.context["page"].paginator
    assert paginator.more
    assert paginator.num_pages == MAX_PAGES
    content = response.content.decode()
    assert "more than 1,000 places" in content
    assert "Search or filter to find the others" in content
    assert f"Page 1 of {MAX_PAGES}" in content

    last = client.get(reverse("places:list"), {"page": MAX_PAGES + 5})
    page = last.context["page"]
    assert page.number == MAX_PAGES
    assert [place.name for place in page.object_list][-1] == f"Place {COUNT_CAP - 1:05d}"


def test_the_count_query_is_limited(body):
    _bulk_places(body, 40)
    with CaptureQueriesContext(connection) as captured:
        count = CappedPaginator(Place.objects.all(), 10).count
    assert count == 40
    [query] = captured.captured_queries
    assert "LIMIT 1001" in query["sql"]


def test_a_short_list_is_counted_exactly(body, client):
    _bulk_places(body, 3)
    response = client.get(reverse("places:list"))
    assert response.context["page"].paginator.more is False
    assert "3 places" in response.content.decode()


@pytest.mark.parametrize("key", [*SORTS, *(f"-{key}" for key in SORTS)])
def test_every_sort_is_the_order_of_an_index(key):
    """The ORDER BY of each sort is written exactly as its index (places.0004_list_indexes):
    the id in the same direction, empty values last both ways."""
    order = sort_order(key)
    sql = str(Place.objects.order_by(*order).query)
    clause = sql.split("ORDER BY", 1)[1]
    descending = key.startswith("-")
    assert clause.count("DESC") == (2 if descending else 0)
    assert '"id"' in clause


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner")
def test_the_list_walks_an_index_on_postgresql(body, client):
    _bulk_places(body, 3000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE places_place")
    for key in ["name", "-capacity", "population", "-updated"]:
        queryset = Place.objects.filter(deleted_at__isnull=True, body=body).order_by(
            *sort_order(key)
        )[:50]
        plan = queryset.explain()
        assert "place_live_" in plan, (key, plan)
        assert "Sort" not in plan.split("\n")[0], (key, plan)


def test_region_filter_lists_the_open_branch_not_every_region(body, client):
    top = RegionFactory(body=body, name="Upland")
    RegionFactory(body=body, name="Lowland")
    middle = RegionFactory(body=body, name="Valley District", parent=top, level=2)
    RegionFactory(body=body, name="Mill Town", parent=middle, level=3)
    RegionFactory(body=body, name="Far Town", parent=RegionFactory(body=body, name="Far"), level=2)
    content = client.get(reverse("places:list")).content.decode()
    assert "Upland" in content and "Lowland" in content
    assert "Valley District" not in content and "Mill Town" not in content

    content = client.get(reverse("places:list"), {"region": middle.pk}).content.decode()
    assert f'<option value="{middle.pk}" selected>' in content
    assert "Mill Town" in content  # the chosen region's children
    assert "Far Town" not in content  # another branch stays closed


def test_region_options_search_and_keep_any_first(body, client):
    top = RegionFactory(body=body, name="Upland")
    RegionFactory(body=body, name="Mill Town", parent=top, level=2)
    url = reverse("places:region_options")
    found = client.get(url, {"region_q": "mill"}).content.decode()
    assert found.startswith('<option value="">Any</option>')
    assert "Mill Town (Upland)" in found
    assert " selected" not in found  # nothing chosen: nothing becomes chosen

    kept = client.get(url, {"region_q": "mill", "region": top.pk}).content.decode()
    assert f'<option value="{top.pk}" selected>' in kept
    assert kept.startswith('<option value="">Any</option>')


def test_region_options_never_show_another_body(body, other_body, client):
    RegionFactory(body=other_body, name="Elsewhere Province")
    found = client.get(reverse("places:region_options"), {"region_q": "elsewhere"})
    assert "Elsewhere" not in found.content.decode()
