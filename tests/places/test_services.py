"""The places services: their rules, and the audit entry each one writes."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from tests.factories import PlaceFactory, RegionFactory, place_type
from vigil.core.models import AuditEntry, Membership, Role, TaxonomyTerm
from vigil.places import services
from vigil.places.models import Place, PossibleDuplicate


@pytest.fixture
def head_membership(head) -> Membership:
    return head.memberships.get()


def _entries(obj, action):
    return AuditEntry.objects.filter(
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        action=f"{obj._meta.label_lower}.{action}",
    )


def test_create_writes_place_and_audit_entry(body, head, head_membership):
    women = TaxonomyTerm.objects.get(body=body, kind="vulnerable_group", code="women")
    place = services.place_create(
        membership=head_membership,
        data={
            "name": "Riverside Remand Centre",
            "place_type": place_type(body),
            "address": "1 Quay",
        },
        population_groups=[women],
    )
    assert place.body == body
    assert list(place.population_groups.all()) == [women]
    entry = _entries(place, "create").get()
    assert entry.actor == head
    assert entry.body == body
    assert entry.changes["name"] == [None, "Riverside Remand Centre"]
    assert entry.changes["population_groups"] == [None, ["Women"]]
    assert "riverside" in place.search_text


def test_a_creation_records_what_was_set_not_every_empty_field(body, head_membership):
    place = services.place_create(
        membership=head_membership,
        data={
            "name": "Hilltop Police Station",
            "place_type": place_type(body, "police-custody"),
            "population": 0,
            "population_date": datetime.date(2024, 5, 1),
            "aliases": "Hilltop Station\nStation 4",
        },
    )
    entry = _entries(place, "create").get()
    assert set(entry.changes) == {
        "name",
        "place_type",
        "status",
        "population",
        "population_date",
        "aliases",
    }
    # None of a place's population is a value someone gave, not an empty field.
    assert entry.changes["population"] == [None, 0]
    assert entry.changes["aliases"] == [None, "Hilltop Station\nStation 4"]


def test_update_records_only_changed_fields(body, head, head_membership):
    place = PlaceFactory(body=body, official_capacity=100)
    services.place_update(
        membership=head_membership,
        place=place,
        data={"official_capacity": 120, "name": place.name},
    )
    entry = _entries(place, "update").get()
    # The new version is recorded with the change: it is how a stale save learns what changed.
    assert entry.changes == {"official_capacity": [100, 120], "version": [1, 2]}


def test_update_with_no_change_writes_no_entry(body, head, head_membership):
    place = PlaceFactory(body=body)
    services.place_update(membership=head_membership, place=place, data={"name": place.name})
    assert not _entries(place, "update").exists()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"latitude": 12.5}, "longitude"),
        ({"latitude": 123, "longitude": 20}, "latitude"),
        ({"latitude": 12, "longitude": -200}, "longitude"),
        (
            {"opened_on": datetime.date(2020, 1, 1), "closed_on": datetime.date(2019, 1, 1)},
            "closed_on",
        ),
        ({"country": "ZZ"}, "country"),
        ({"population": 12}, "population_date"),
        ({"population": 12, "population_date": datetime.date(2999, 1, 1)}, "population_date"),
    ],
)
def test_rules_name_the_field_and_change_nothing(body, head, head_membership, data, field):
    place = PlaceFactory(body=body)
    with pytest.raises(ValidationError) as caught:
        services.place_update(membership=head_membership, place=place, data=data)
    assert field in caught.value.error_dict
    assert not _entries(place, "update").exists()


def test_external_id_is_unique_within_a_body(body, other_body, head, head_membership):
    PlaceFactory(body=body, external_id="P-1")
    PlaceFactory(body=other_body, external_id="P-2")
    with pytest.raises(ValidationError) as caught:
        services.place_create(
            membership=head_membership,
            data={"name": "Copy", "place_type": place_type(body), "external_id": "P-1"},
        )
    assert "external_id" in caught.value.error_dict
    services.place_create(
        membership=head_membership,
        data={
            "name": "Other body's id is free here",
            "place_type": place_type(body),
            "external_id": "P-2",
        },
    )


def test_type_and_region_of_another_body_are_refused(body, other_body, head, head_membership):
    foreign_region = RegionFactory(body=other_body)
    with pytest.raises(ValidationError) as caught:
        services.place_create(
            membership=head_membership,
            data={"name": "X", "place_type": place_type(other_body), "region": foreign_region},
        )
    assert set(caught.value.error_dict) == {"place_type", "region"}


def test_role_without_right_is_refused_by_the_service(body, persona):
    monitor = persona(Role.MONITOR)
    with pytest.raises(PermissionDenied):
        services.place_create(
            membership=monitor,
            data={"name": "X", "place_type": place_type(body)},
        )


def test_delete_and_restore_are_audited(body, head, head_membership):
    place = PlaceFactory(body=body)
    services.place_delete(membership=head_membership, place=place)
    place.refresh_from_db()
    assert place.deleted_at is not None
    assert _entries(place, "delete").exists()
    services.place_restore(membership=head_membership, place=place)
    place.refresh_from_db()
    assert place.deleted_at is None
    assert _entries(place, "restore").exists()


def test_confidential_notes_are_encrypted_at_rest_and_reveal_is_audited(
    body, head, head_membership
):
    place = services.place_create(
        membership=head_membership,
        data={
            "name": "Hillside Station",
            "place_type": place_type(body),
            "confidential_notes": "Back gate code 4711; contact Sgt. Example",
        },
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT confidential_notes FROM places_place WHERE id = %s", [place.pk])
        raw = cursor.fetchone()[0]
    assert "4711" not in raw and "gate" not in raw
    assert raw.startswith("fernet:")
    # The create entry says the notes were set, never what they say.
    assert "4711" not in str(_entries(place, "create").get().changes)
    notes = services.reveal_confidential_notes(membership=head_membership, place=place)
    assert notes == "Back gate code 4711; contact Sgt. Example"
    read = _entries(place, "read").get()
    assert read.sensitive is True
    assert read.changes == {"fields": ["confidential_notes"]}


def test_attach_document_is_audited(body, head, head_membership):
    place = PlaceFactory(body=body)
    upload = SimpleUploadedFile("register.csv", b"a,b\n1,2\n")
    document = services.place_attach_document(
        membership=head_membership, place=place, upload=upload, title="Register"
    )
    assert document.title == "Register"
    assert _entries(place, "attach_document").get().changes == {"document": [None, "Register"]}
    services.place_remove_document(membership=head_membership, document=document)
    assert _entries(place, "remove_document").exists()


def test_merge_keeps_both_histories_and_moves_names(body, head, head_membership):
    region = RegionFactory(body=body)
    keep = services.place_create(
        membership=head_membership,
        data={"name": "Northgate Prison", "place_type": place_type(body), "region": region},
    )
    merge = services.place_create(
        membership=head_membership,
        data={
            "name": "Northgate Prisons",
            "place_type": place_type(body),
            "region": region,
            "address": "7 Hill Lane",
            "official_capacity": 300,
        },
    )
    services.place_update(membership=head_membership, place=merge, data={"official_capacity": 320})
    services.place_merge(membership=head_membership, keep=keep, merge=merge)
    keep.refresh_from_db()
    merge.refresh_from_db()
    assert keep.address == "7 Hill Lane"
    assert keep.official_capacity == 320
    assert "Northgate Prisons" in keep.alias_list
    assert merge.merged_into == keep and merge.deleted_at is not None
    assert _entries(keep, "merge").exists()
    assert _entries(merge, "merged_into").exists()
    # The merged place's own past (its creation and its update) is still in the trail.
    assert _entries(merge, "create").exists() and _entries(merge, "update").exists()
    with pytest.raises(ValidationError):
        services.place_restore(membership=head_membership, place=merge)


def test_similar_names_in_one_region_are_flagged(body, head, head_membership):
    region = RegionFactory(body=body)
    first = PlaceFactory(body=body, region=region, name="Eastfield Police Station")
    second = PlaceFactory(body=body, region=region, name="Eastfeld Police Station")
    PlaceFactory(body=body, region=RegionFactory(body=body), name="Eastfield Police Station")
    PlaceFactory(body=body, region=region, name="Westbrook Care Home")
    assert services.flag_possible_duplicates([second]) == 1
    flag = PossibleDuplicate.objects.get()
    assert {flag.place_id, flag.other_id} == {first.pk, second.pk}
    # Flagging again does not repeat the pair.
    assert services.flag_possible_duplicates([first, second]) == 0
    services.duplicate_dismiss(membership=head_membership, flag=flag)
    flag.refresh_from_db()
    assert flag.status == PossibleDuplicate.Status.DISMISSED
    assert _entries(first, "dismiss_duplicate").exists()


def test_region_create_nests_and_is_audited(body, head_membership):
    parent = services.region_create(membership=head_membership, name="Coastal Region")
    child = services.region_create(
        membership=head_membership, name="Harbour District", parent=parent
    )
    assert child.level == 2
    assert child.path.startswith(parent.path + "/")
    assert _entries(child, "create").exists()


def test_place_factory_defaults_are_sane(body):
    assert Place.objects.count() == 0
    PlaceFactory(body=body)
    assert Place.objects.get().search_text


def test_a_new_place_close_to_another_in_its_region_is_flagged(body, head, head_membership):
    region = RegionFactory(body=body)
    PlaceFactory(body=body, region=region, name="Southport Remand Centre")
    services.place_create(
        membership=head_membership,
        data={"name": "Southport Remand Center", "place_type": place_type(body), "region": region},
    )
    assert PossibleDuplicate.objects.filter(status="open").count() == 1


def test_form_api_and_import_say_the_same_about_the_same_bad_value(
    body, head, head_membership, client_for
):
    """One rule, one message: a place closed before it opened, three ways in."""
    from rest_framework.test import APIClient

    from tests.places.test_import import run_import
    from vigil.core.imports import format_error

    expected = "The closing date is before the opening date."
    dates = {"opened_on": "2020-01-02", "closed_on": "2020-01-01"}
    page = client_for(head).post(
        "/places/new/",
        {"name": "Old Fort", "place_type": place_type(body).pk, "status": "closed", **dates},
    )
    assert expected in page.content.decode()
    api = APIClient()
    api.force_authenticate(head)
    response = api.post(
        "/api/v1/places/", {"name": "Old Fort", "place_type": "prison", "status": "closed", **dates}
    )
    assert response.status_code == 400
    assert response.json()["closed_on"] == [expected]
    imp = run_import(
        head_membership,
        b"Name,Type,Status,Opened,Closed\r\nOld Fort,prison,closed,2020-01-02,2020-01-01\r\n",
        mapping={"0": "name", "1": "place_type", "2": "status", "3": "opened_on", "4": "closed_on"},
    )
    # The import names the columns the rule is about, too.
    assert [format_error(error) for error in imp.errors] == [
        f"Row 2, columns ‘Closed’, ‘Opened’: {expected} (“2020-01-01”)"
    ]
    assert not Place.objects.filter(name="Old Fort").exists()
