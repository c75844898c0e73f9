"""Two people editing one place: the second save never silently overwrites the first, on the
page, in the API and against an import (vigil.core.concurrency)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import reverse
from django.utils import formats, timezone
from rest_framework.test import APIClient

from tests.factories import PlaceFactory
from vigil.core import imports, tabular
from vigil.core.concurrency import StaleVersion
from vigil.core.models import ApiToken, AuditEntry, Role, TaxonomyTerm
from vigil.places import services
from vigil.places.importer import PlaceImporter
from vigil.places.models import Place

LIST = "/api/v1/places/"


def opened_form(client, place: Place) -> dict[str, Any]:
    """What a browser sends when the edit form is saved unchanged: every field as the page
    shows it, the hidden version included."""
    response = client.get(reverse("places:edit", args=[place.pk]))
    assert response.status_code == 200
    return form_data(response.context["form"])


def form_data(form) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for bound in form:
        value = bound.value()
        if bound.widget_type == "checkbox":
            if value:
                data[bound.name] = "on"
        elif isinstance(value, list | tuple):
            data[bound.name] = [str(item) for item in value]
        else:
            data[bound.name] = "" if value is None else str(value)
    return data


def at_time(entry: AuditEntry) -> str:
    return formats.date_format(timezone.localtime(entry.created_at), "H:i")


@pytest.fixture
def prison(body) -> Place:
    return PlaceFactory(
        body=body,
        name="Central Prison",
        official_capacity=111,
        population=90,
        population_date=datetime.date(2024, 1, 31),
    )


def test_the_second_save_shows_both_values_and_changes_nothing(body, prison, persona, client_for):
    leader = client_for(persona(Role.VISIT_LEADER))
    analyst = client_for(persona(Role.ANALYST))
    leader_form = opened_form(leader, prison)
    analyst_form = opened_form(analyst, prison)
    assert leader_form["version"] == analyst_form["version"] == "1"

    leader_form.update(official_capacity="10", notes="Wing B closed for repairs")
    assert leader.post(reverse("places:edit", args=[prison.pk]), leader_form).status_code == 302
    analyst_form.update(official_capacity="120", subtype="Remand wing")
    response = analyst.post(reverse("places:edit", args=[prison.pk]), analyst_form)

    assert response.status_code == 409
    prison.refresh_from_db()
    assert (prison.official_capacity, prison.subtype, prison.notes, prison.version) == (
        10,
        "",
        "Wing B closed for repairs",
        2,
    )
    assert not AuditEntry.objects.filter(
        action="places.place.update", actor__username="analyst"
    ).exists()
    html = response.content.decode()
    entry = AuditEntry.objects.get(action="places.place.update", object_id=str(prison.pk))
    assert 'role="alert"' in html
    assert f"Changed by leader at {at_time(entry)} since you opened it." in html
    # The field both changed: their value next to what the analyst typed, which is kept.
    assert "Changed by leader to “10” (it was “111”)." in html
    form = response.context["form"]
    assert form["official_capacity"].value() == "120"
    assert 'aria-describedby="id_official_capacity_conflict"' in html
    assert 'id="id_official_capacity_conflict"' in html
    # A field only the leader changed now holds the leader's value, so saving again keeps it.
    assert form["notes"].value() == "Wing B closed for repairs"
    assert "You had not changed it, so the field now holds their value." in html
    # What the analyst typed elsewhere stays, and the form carries the new version.
    assert form["subtype"].value() == "Remand wing"
    assert form["version"].value() == "2"

    again = analyst.post(reverse("places:edit", args=[prison.pk]), form_data(form))
    assert again.status_code == 302
    prison.refresh_from_db()
    assert (prison.official_capacity, prison.subtype, prison.notes, prison.version) == (
        120,
        "Remand wing",
        "Wing B closed for repairs",
        3,
    )


def test_a_save_that_changes_nothing_is_no_new_version(body, prison, persona, client_for):
    leader = client_for(persona(Role.VISIT_LEADER))
    analyst = client_for(persona(Role.ANALYST))
    analyst_form = opened_form(analyst, prison)
    assert leader.post(reverse("places:edit", args=[prison.pk]), opened_form(leader, prison))
    prison.refresh_from_db()
    assert prison.version == 1
    analyst_form["official_capacity"] = "112"
    assert analyst.post(reverse("places:edit", args=[prison.pk]), analyst_form).status_code == 302
    prison.refresh_from_db()
    assert (prison.official_capacity, prison.version) == (112, 2)


def test_confidential_notes_changed_by_another_are_never_shown(
    body, prison, persona, head_membership, client_for
):
    analyst = client_for(persona(Role.ANALYST))
    analyst_form = opened_form(analyst, prison)
    services.place_update(
        membership=head_membership,
        place=prison,
        data={"confidential_notes": "Night entrance by the river"},
    )
    analyst_form["official_capacity"] = "112"
    response = analyst.post(reverse("places:edit", args=[prison.pk]), analyst_form)
    assert response.status_code == 409
    html = response.content.decode()
    assert "Night entrance" not in html
    assert "Changed by head since you opened the form (the content is not shown here)." in html


def test_groups_changed_by_another_are_named(body, prison, persona, head_membership, client_for):
    analyst = client_for(persona(Role.ANALYST))
    analyst_form = opened_form(analyst, prison)
    women = TaxonomyTerm.objects.get(body=body, code="women")
    services.place_update(
        membership=head_membership, place=prison, data={}, population_groups=[women]
    )
    analyst_form["official_capacity"] = "112"
    response = analyst.post(reverse("places:edit", args=[prison.pk]), analyst_form)
    assert response.status_code == 409
    assert "Changed by head from “—” to “Women”." in response.content.decode()
    assert response.context["form"]["population_groups"].value() == [str(women.pk)]
    form = form_data(response.context["form"])
    assert analyst.post(reverse("places:edit", args=[prison.pk]), form).status_code == 302
    prison.refresh_from_db()
    assert [group.code for group in prison.population_groups.all()] == ["women"]
    assert prison.official_capacity == 112


# ---------- The service and the audit trail ----------


def test_stale_version_carries_who_when_and_every_field_changed_since(
    body, prison, head_membership, persona
):
    leader = persona(Role.VISIT_LEADER)
    services.place_update(membership=head_membership, place=prison, data={"name": "Renamed"})
    services.place_update(membership=leader, place=prison, data={"official_capacity": 10})
    services.place_update(membership=leader, place=prison, data={"name": "Central Prison"})
    with pytest.raises(StaleVersion) as raised:
        services.place_update(
            membership=head_membership,
            place=prison,
            data={"official_capacity": 120},
            expected_version=1,
        )
    stale = raised.value
    assert isinstance(stale, ValidationError)
    assert (stale.expected_version, stale.current_version) == (1, 4)
    assert stale.changed_by == "leader"
    latest = AuditEntry.objects.filter(object_id=str(prison.pk)).latest("created_at", "id")
    assert stale.changed_at == latest.created_at
    # The name changed and changed back: only the capacity differs from what was opened.
    assert [(c.field, c.was, c.now, c.label) for c in stale.changes] == [
        ("official_capacity", 111, 10, "Official capacity")
    ]
    prison.refresh_from_db()
    assert prison.official_capacity == 10


def test_every_write_raises_the_version(body, head_membership):
    keep = PlaceFactory(body=body)
    merge = PlaceFactory(body=body)
    services.place_merge(membership=head_membership, keep=keep, merge=merge)
    keep.refresh_from_db()
    merge.refresh_from_db()
    assert (keep.version, merge.version) == (2, 2)
    services.place_delete(membership=head_membership, place=keep)
    keep.refresh_from_db()
    assert keep.version == 3
    services.place_restore(membership=head_membership, place=keep)
    keep.refresh_from_db()
    assert keep.version == 4
    assert AuditEntry.objects.get(action="places.place.restore").changes == {
        "trash": [True, False],
        "version": [3, 4],
    }
    with pytest.raises(StaleVersion):
        services.place_delete(membership=head_membership, place=keep, expected_version=3)
    keep.refresh_from_db()
    assert keep.deleted_at is None


# ---------- The API: ETag and If-Match ----------


def api(membership) -> APIClient:
    client = APIClient()
    _token, key = ApiToken.issue(membership.user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_api_etag_round_trip_and_stale_write_is_412(body, prison, persona):
    leader = api(persona(Role.VISIT_LEADER))
    analyst = api(persona(Role.ANALYST))
    detail = f"{LIST}{prison.pk}/"
    read = analyst.get(detail)
    assert read["ETag"] == f'"{prison.pk}-1"'
    assert read.json()["version"] == 1

    first = leader.patch(
        detail, {"official_capacity": 10}, format="json", HTTP_IF_MATCH=read["ETag"]
    )
    assert first.status_code == 200
    assert first["ETag"] == f'"{prison.pk}-2"'
    assert first.json()["version"] == 2

    stale = analyst.patch(
        detail, {"official_capacity": 120}, format="json", HTTP_IF_MATCH=read["ETag"]
    )
    assert stale.status_code == 412
    body_412 = stale.json()
    assert body_412["current_version"] == 2
    assert body_412["your_version"] == 1
    assert body_412["changed_by"] == "leader"
    assert body_412["changes"] == [{"field": "official_capacity", "was": 111, "now": 10}]
    assert body_412["detail"].startswith("Changed by leader at ")
    assert stale["ETag"] == f'"{prison.pk}-2"'
    prison.refresh_from_db()
    assert (prison.official_capacity, prison.version) == (10, 2)

    # Sending the new ETag is the deliberate overwrite.
    again = analyst.patch(
        detail, {"official_capacity": 120}, format="json", HTTP_IF_MATCH=stale["ETag"]
    )
    assert again.status_code == 200
    prison.refresh_from_db()
    assert (prison.official_capacity, prison.version) == (120, 3)


def test_api_write_without_if_match_is_428(body, prison, head_membership):
    client = api(head_membership)
    detail = f"{LIST}{prison.pk}/"
    patch = client.patch(detail, {"official_capacity": 10}, format="json")
    assert patch.status_code == 428
    assert "If-Match" in patch.json()["detail"]
    put = client.put(detail, {"name": "Replaced", "place_type": "prison"}, format="json")
    assert put.status_code == 428
    prison.refresh_from_db()
    assert (prison.name, prison.official_capacity, prison.version) == ("Central Prison", 111, 1)


def test_api_if_match_forms(body, prison, head_membership):
    client = api(head_membership)
    detail = f"{LIST}{prison.pk}/"
    unknown = client.patch(detail, {"notes": "x"}, format="json", HTTP_IF_MATCH='"nonsense"')
    assert unknown.status_code == 412
    assert unknown["ETag"] == f'"{prison.pk}-1"'
    other_place = client.patch(
        detail, {"notes": "x"}, format="json", HTTP_IF_MATCH=f'"{prison.pk + 1}-1"'
    )
    assert other_place.status_code == 412
    # A proxy that compresses answers may weaken the tag; it still names the version.
    weak = client.patch(detail, {"notes": "a"}, format="json", HTTP_IF_MATCH=f'W/"{prison.pk}-1"')
    assert weak.status_code == 200
    several = client.patch(
        detail,
        {"notes": "b"},
        format="json",
        HTTP_IF_MATCH=f'"{prison.pk}-1", "{prison.pk}-2"',
    )
    assert several.status_code == 200
    anything = client.put(
        detail, {"name": "Replaced", "place_type": "prison"}, format="json", HTTP_IF_MATCH="*"
    )
    assert anything.status_code == 200
    prison.refresh_from_db()
    assert (prison.name, prison.notes, prison.version) == ("Replaced", "b", 4)


def test_api_delete_honours_if_match(body, prison, head_membership):
    client = api(head_membership)
    detail = f"{LIST}{prison.pk}/"
    services.place_update(membership=head_membership, place=prison, data={"notes": "seen"})
    refused = client.delete(detail, HTTP_IF_MATCH=f'"{prison.pk}-1"')
    assert refused.status_code == 412
    assert refused.json()["changes"] == [{"field": "notes", "was": "", "now": "seen"}]
    prison.refresh_from_db()
    assert prison.deleted_at is None
    assert client.delete(detail, HTTP_IF_MATCH=f'"{prison.pk}-2"').status_code == 204
    prison.refresh_from_db()
    assert prison.deleted_at is not None


def test_api_create_answers_with_the_etag(body, head_membership):
    response = api(head_membership).post(
        LIST, {"name": "New Station", "place_type": "prison"}, format="json"
    )
    assert response.status_code == 201
    assert response["ETag"] == f'"{response.json()["id"]}-1"'


def test_schema_documents_if_match_and_the_answers(body, head, client_for):
    schema = client_for(head).get(reverse("schema"), {"format": "json"}).json()
    patch = schema["paths"]["/api/v1/places/{id}/"]["patch"]
    if_match = [p for p in patch["parameters"] if p["name"] == "If-Match"]
    assert if_match and if_match[0]["required"] is True and if_match[0]["in"] == "header"
    assert {"200", "412", "428"} <= set(patch["responses"])
    assert "ETag" in patch["responses"]["200"]["headers"]
    delete = schema["paths"]["/api/v1/places/{id}/"]["delete"]
    assert "412" in delete["responses"] and "428" not in delete["responses"]


# ---------- Imports ----------


def csv_upload(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("places.csv", text.encode())


def run_places_import(membership, text: str):
    from vigil.core.tasks import run_job

    imp = imports.import_upload(membership=membership, kind="places", upload=csv_upload(text))
    imp = imports.import_start(membership=membership, imp=imp, mode="all")
    run_job.call(imp.job_id)
    imp.refresh_from_db()
    return imp


def test_an_import_update_raises_the_version(body, head_membership, persona, client_for):
    prison = PlaceFactory(body=body, external_id="P-1", name="Central Prison")
    analyst = client_for(persona(Role.ANALYST))
    analyst_form = opened_form(analyst, prison)
    imp = run_places_import(
        head_membership, "ID,Name,Type,Capacity\r\nP-1,Central Prison,prison,300\r\n"
    )
    assert imp.summary["result"]["updated"] == 1
    prison.refresh_from_db()
    assert (prison.official_capacity, prison.version) == (300, 2)
    entry = AuditEntry.objects.get(action="places.place.update", object_id=str(prison.pk))
    assert entry.changes["version"] == [1, 2]
    # A form opened before the import is stale, and says what the import changed.
    analyst_form["official_capacity"] = "250"
    response = analyst.post(reverse("places:edit", args=[prison.pk]), analyst_form)
    assert response.status_code == 409
    assert "Changed by head to “300” (it was “—”)." in response.content.decode()
    prison.refresh_from_db()
    assert prison.official_capacity == 300


def test_an_import_refuses_to_undo_a_change_made_after_its_check(body, head_membership):
    """A person saves a place after the import checked its row: the import's commit sees the
    newer version under its lock and imports nothing rather than undo the change."""
    prison = PlaceFactory(body=body, external_id="P-1", name="Central Prison")
    imp = imports.import_upload(
        membership=head_membership,
        kind="places",
        upload=csv_upload("ID,Name,Type,Capacity\r\nP-1,Central Prison,prison,300\r\n"),
    )
    importer = PlaceImporter()
    table = tabular.read_table(bytes(imp.data), imp.file_name)
    validation = imports._validate_table(importer, imp, table)
    services.place_update(membership=head_membership, place=prison, data={"official_capacity": 50})
    with pytest.raises(ValidationError, match="was changed by someone else"), transaction.atomic():
        importer.commit(job=None, imp=imp, valid_rows=validation.rows, actor=head_membership.user)
    prison.refresh_from_db()
    assert (prison.official_capacity, prison.version) == (50, 2)
