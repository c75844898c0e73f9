"""Duplicates that mean something: the score, the blocking, re-import matching by identifier,
name and address or name and coordinates, the review page, merging with identifiers."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.factories import PlaceFactory, RegionFactory
from tests.places.test_import import rows_csv, run_import
from vigil.core import imports
from vigil.core.models import AuditEntry, Role
from vigil.places import services
from vigil.places.duplicates import (
    ADDRESS_BLOCK_LIMIT,
    FLAG_THRESHOLD,
    Candidate,
    find_pairs,
    match_text,
    score_pair,
    similarity,
    trigrams,
)
from vigil.places.models import Place, PlaceIdentifier, PossibleDuplicate

# --- The score and the blocking, without a database ------------------------------------------

WORDS = ["central", "north", "harbour", "police", "station", "prison", "remand", "centre", "saint"]
word = st.sampled_from(WORDS) | st.text(
    alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=9
)
names = st.lists(word, min_size=1, max_size=4).map(" ".join)
latitudes = st.floats(min_value=-60, max_value=60, allow_nan=False)
longitudes = st.floats(min_value=-179, max_value=179, allow_nan=False)


def candidate(pk, name, latitude=None, longitude=None, **kwargs):
    return Candidate(pk=pk, name=match_text(name), latitude=latitude, longitude=longitude, **kwargs)


@settings(max_examples=300, deadline=None)
@given(
    first=names,
    second=names,
    scheme=st.text(min_size=1, max_size=12),
    values=st.lists(st.text(min_size=1, max_size=8), min_size=2, max_size=2, unique=True),
    located=st.booleans(),
    latitude=latitudes,
    longitude=longitudes,
    same_address=st.booleans(),
)
def test_distinct_identifiers_of_one_scheme_are_never_flagged(
    first, second, scheme, values, located, latitude, longitude, same_address
):
    assume(values[0].casefold() != values[1].casefold())
    position = (latitude, longitude) if located else (None, None)
    address = "1 main street" if same_address else ""
    one = candidate(1, first, *position, address=address, identifiers={scheme: values[0]})
    two = candidate(2, second, *position, address=address, identifiers={scheme: values[1]})
    assert score_pair(one, two) is None
    assert find_pairs([one, two], [1, 2]) == []


@settings(max_examples=300, deadline=None)
@given(
    name=names,
    edit=st.sampled_from(["s", " no 2", "x", " centre"]),
    latitude=latitudes,
    longitude=longitudes,
    nudge=st.floats(min_value=0, max_value=0.0005),
)
def test_similar_names_at_the_same_spot_are_always_flagged(name, edit, latitude, longitude, nudge):
    other = name + edit
    assume(similarity(trigrams(match_text(name)), trigrams(match_text(other))) >= 0.5)
    one = candidate(10, name, latitude, longitude)
    two = candidate(11, other, latitude + nudge, longitude)
    score = score_pair(one, two)
    assert score is not None and score.score >= FLAG_THRESHOLD
    assert [(first, second) for first, second, _score in find_pairs([one, two], [11])] == [(10, 11)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    places=st.lists(
        st.tuples(
            names,
            st.none() | st.tuples(st.floats(10, 10.05), st.floats(20, 20.05)),
            st.sampled_from(["", "1 main street", "2 quay"]),
            st.none() | st.integers(1, 3),
        ),
        min_size=2,
        # Fewer places than ADDRESS_BLOCK_LIMIT: an address shared more widely is not a block.
        max_size=ADDRESS_BLOCK_LIMIT,
    ),
    new_count=st.integers(1, ADDRESS_BLOCK_LIMIT),
)
def test_blocking_finds_every_pair_comparing_all_pairs_would(places, new_count):
    candidates = [
        candidate(
            index + 1,
            name,
            *(position or (None, None)),
            address=address,
            region_id=region,
        )
        for index, (name, position, address, region) in enumerate(places)
    ]
    new = [item.pk for item in candidates[-new_count:]]
    everything = {}
    for first, second in itertools.combinations(candidates, 2):
        if first.pk not in new and second.pk not in new:
            continue
        score = score_pair(first, second)
        if score:
            everything[(first.pk, second.pk)] = score
    found = {(first, second): score for first, second, score in find_pairs(candidates, new)}
    assert found == everything


def test_names_far_apart_are_not_flagged_and_one_address_is():
    # Two county jails whose names differ by one letter, 125 km apart.
    one = candidate(1, "Smith County Jail", 40.0, -90.0)
    two = candidate(2, "Smyth County Jail", 41.125, -90.0)
    assert score_pair(one, two) is None
    # One building under an operator's name and an agency's name.
    three = candidate(3, "GEO Processing Centre", address="100 harbour road")
    four = candidate(4, "Federal Immigration Detention", address="100 harbour road")
    assert score_pair(three, four) is not None


# --- Flags written by the services ------------------------------------------------------------


def test_a_new_place_near_a_similar_one_is_flagged_with_its_distance(body, head_membership):
    existing = PlaceFactory(
        body=body, name="Central Prison", latitude=Decimal("10.5"), longitude=Decimal("20.5")
    )
    data = {
        "name": "Central Prisons",
        "place_type": existing.place_type,
        "latitude": Decimal("10.5003"),
        "longitude": Decimal("20.5"),
    }
    place = services.place_create(membership=head_membership, data=data)
    flag = PossibleDuplicate.objects.get()
    assert {flag.place_id, flag.other_id} == {existing.pk, place.pk}
    assert 30 < flag.distance_m < 40
    far = dict(data, name="Central Prison", latitude=Decimal("12.5"))
    services.place_create(membership=head_membership, data=far)
    assert PossibleDuplicate.objects.count() == 1


def test_identifiers_are_kept_in_the_history_and_unique_per_scheme(body, head_membership):
    type_ = PlaceFactory(body=body).place_type
    place = services.place_create(
        membership=head_membership,
        data={"name": "Harbour Station", "place_type": type_},
        identifiers={"national code": "NC-1"},
    )
    entry = AuditEntry.objects.filter(action="places.place.create", object_id=str(place.pk)).get()
    assert entry.changes["identifiers"] == [None, ["national code: NC-1"]]
    with pytest.raises(ValidationError) as error:
        services.place_create(
            membership=head_membership,
            data={"name": "Another", "place_type": type_},
            identifiers={"National code": "NC-1"},
        )
    assert "Harbour Station" in str(error.value)
    services.place_update(
        membership=head_membership, place=place, data={}, identifiers={"national code": "NC-2"}
    )
    entry = AuditEntry.objects.filter(action="places.place.update").latest("pk")
    assert entry.changes["identifiers"] == [["national code: NC-1"], ["national code: NC-2"]]


def test_merge_moves_identifiers_and_refuses_two_codes_of_one_scheme(body, head_membership):
    keep = PlaceFactory(body=body, name="Central Prison", is_confidential=False)
    merge = PlaceFactory(body=body, name="Central Prisons", is_confidential=True)
    PlaceIdentifier.objects.create(body=body, place=merge, scheme="national code", value="NC-9")
    services.place_merge(membership=head_membership, keep=keep, merge=merge)
    keep.refresh_from_db()
    assert [str(item) for item in keep.identifiers.all()] == ["national code: NC-9"]
    assert keep.is_confidential  # a merge never lowers confidentiality
    third = PlaceFactory(body=body, name="Central Prison annex")
    PlaceIdentifier.objects.create(body=body, place=third, scheme="national code", value="NC-3")
    with pytest.raises(ValidationError):
        services.place_merge(membership=head_membership, keep=keep, merge=third)


# --- Re-import matching --------------------------------------------------------------------

HEADERS = ["Name", "Type", "Address", "Latitude", "Longitude", "Identifier scheme", "National code"]


def test_reimport_matches_by_an_identifier_of_any_scheme(body, head_membership):
    place = PlaceFactory(body=body, name="Old Name Prison", address="1 Old Road")
    PlaceIdentifier.objects.create(body=body, place=place, scheme="national code", value="NC-7")
    data = rows_csv(
        [["New Name Prison", "prison", "9 New Road", "", "", "National Code", "nc-7"]], HEADERS
    )
    imp = run_import(head_membership, data)
    assert imp.summary["result"]["created"] == 0, imp.summary
    assert imp.summary["result"]["updated"] == 1
    place.refresh_from_db()
    assert place.name == "New Name Prison"
    assert Place.objects.filter(body=body).count() == 1


def test_reimport_matches_by_name_and_coordinates_and_records_the_source(body, head_membership):
    headers = HEADERS[:5]
    first = rows_csv([["Harbour Station", "prison", "1 Quay", "10.5", "20.5"]], headers)
    imp = run_import(head_membership, first, name="ministry.csv")
    place = Place.objects.get(body=body)
    assert place.source == "ministry.csv"
    assert place.source_import_id == imp.pk
    assert place.created_by == head_membership.user
    # The second list writes the postal address, and its coordinates are 50 m off.
    second = rows_csv([["Harbour  station.", "prison", "PO Box 12", "10.50045", "20.5"]], headers)
    imp = run_import(head_membership, second, name="ngo.csv")
    assert imp.summary["result"]["created"] == 0, imp.summary
    assert Place.objects.filter(body=body).count() == 1


def test_a_row_with_another_code_of_the_scheme_is_another_place(body, head_membership):
    place = PlaceFactory(body=body, name="Harbour Station", address="1 Quay")
    PlaceIdentifier.objects.create(body=body, place=place, scheme="national code", value="NC-1")
    data = rows_csv(
        [["Harbour Station", "prison", "1 Quay", "", "", "national code", "NC-2"]], HEADERS
    )
    imp = run_import(head_membership, data)
    assert imp.summary["result"]["created"] == 1, imp.summary
    assert PossibleDuplicate.objects.count() == 0


def test_an_imported_identifier_of_another_place_is_refused(body, head_membership):
    PlaceFactory(body=body, name="Harbour Station", external_id="A-1")
    other = PlaceFactory(body=body, name="Hill Prison")
    PlaceIdentifier.objects.create(body=body, place=other, scheme="national code", value="NC-1")
    data = rows_csv(
        [["A-1", "Harbour Station", "prison", "national code", "NC-1"]],
        ["ID", "Name", "Type", "Identifier scheme", "National code"],
    )
    imp = run_import(head_membership, data)
    texts = [imports.format_error(error) for error in imp.errors]
    assert any("is the identifier of “Hill Prison”" in text for text in texts), texts
    assert not PlaceIdentifier.objects.filter(place__name="Harbour Station").exists()


def test_a_second_source_nearby_is_flagged_for_review(body, head_membership):
    PlaceFactory(
        body=body,
        name="Northgate Detention Centre",
        latitude=Decimal("10.5"),
        longitude=Decimal("20.5"),
    )
    data = rows_csv(
        [["Northgate Immigration Detention Centre", "prison", "", "10.5001", "20.5001", "", ""]],
        HEADERS,
    )
    imp = run_import(head_membership, data)
    assert imp.summary["result"]["created"] == 1, imp.summary
    assert imp.summary["result"]["duplicates"] == 1


# --- The review page ------------------------------------------------------------------------


@pytest.fixture
def flags(body):
    north = RegionFactory(body=body, name="North")
    south = RegionFactory(body=body, name="South")
    made = []
    for index, (region, score, distance) in enumerate(
        [(north, 0.95, 20.0), (north, 0.75, 3000.0), (south, 0.8, None)]
    ):
        one = PlaceFactory(body=body, name=f"Pair {index} A", region=region)
        two = PlaceFactory(body=body, name=f"Pair {index} B", region=region)
        PlaceIdentifier.objects.create(
            body=body, place=two, scheme="source X id", value=f"X{index}"
        )
        made.append(
            PossibleDuplicate.objects.create(
                body=body, place=one, other=two, score=score, distance_m=distance
            )
        )
    return made, north


def test_review_page_shows_total_distance_identifiers_and_filters(
    client_for, head, flags, django_assert_max_num_queries
):
    _made, north = flags
    client = client_for(head)
    url = reverse("places:duplicates")
    with django_assert_max_num_queries(15):
        response = client.get(url)
    text = response.content.decode()
    assert "3 pairs to review" in text
    assert "20 m" in text and "3 km" in text
    assert "source X id: X0" in text
    assert "2 pairs to review" in client.get(url, {"region": north.pk}).content.decode()
    assert "2 pairs to review" in client.get(url, {"min_score": 78}).content.decode()
    only_near = client.get(url, {"max_distance_km": "1"}).content.decode()
    assert "1 pair to review" in only_near and "Pair 0 A" in only_near
    assert client.get(url, {"min_score": "lots"}).status_code == 400


def test_review_page_dismisses_in_bulk(client_for, head, flags, body):
    made, _north = flags
    client = client_for(head)
    response = client.post(
        reverse("places:duplicate_dismiss_many"), {"flags": [made[0].pk, made[2].pk]}
    )
    assert response.status_code == 302
    statuses = dict(PossibleDuplicate.objects.values_list("pk", "status"))
    assert statuses == {
        made[0].pk: PossibleDuplicate.Status.DISMISSED,
        made[1].pk: PossibleDuplicate.Status.OPEN,
        made[2].pk: PossibleDuplicate.Status.DISMISSED,
    }
    assert AuditEntry.objects.filter(action="places.place.dismiss_duplicate").count() == 2


MERGERS = {Role.HEAD, Role.ANALYST}


@pytest.mark.parametrize("role", [choice.value for choice in Role])
def test_only_roles_that_manage_the_registry_dismiss_in_bulk(client_for, persona, flags, role):
    made, _north = flags
    client = client_for(persona(role).user)
    response = client.post(reverse("places:duplicate_dismiss_many"), {"flags": [made[0].pk]})
    dismissed = PossibleDuplicate.objects.filter(status=PossibleDuplicate.Status.DISMISSED)
    if role in MERGERS:
        assert response.status_code == 302
        assert dismissed.count() == 1
    else:
        assert response.status_code in {403, 404}
        assert dismissed.count() == 0


def test_bulk_dismiss_ignores_another_bodys_pairs(client_for, head, other_body):
    one = PlaceFactory(body=other_body)
    two = PlaceFactory(body=other_body)
    flag = PossibleDuplicate.objects.create(body=other_body, place=one, other=two, score=0.9)
    client_for(head).post(reverse("places:duplicate_dismiss_many"), {"flags": [flag.pk]})
    flag.refresh_from_db()
    assert flag.status == PossibleDuplicate.Status.OPEN
