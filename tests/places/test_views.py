"""The places pages: finding places, the dossier, editing, exports, documents."""

from __future__ import annotations

import datetime
import io
import re
from decimal import Decimal

import openpyxl
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from PIL import Image

from tests.factories import PlaceFactory, RegionFactory, place_type
from vigil.core.models import AuditEntry, TaxonomyTerm
from vigil.places.models import Place, PlaceStatus


@pytest.fixture
def client(head, client_for):
    return client_for(head)


@pytest.fixture
def in_french(client):
    """The client's pages in French; afterwards this thread speaks English again, as the later
    tests (and background jobs run in them) expect."""
    client.post(reverse("set_language"), {"language": "fr"})
    yield client
    translation.activate(settings.LANGUAGE_CODE)


def _names(response) -> list[str]:
    return [place.name for place in response.context["page"].object_list]


def test_list_filters_by_type_region_status_authority_and_group(body, client):
    north = RegionFactory(body=body, name="North")
    north_district = RegionFactory(body=body, name="North District", parent=north, level=2)
    children = TaxonomyTerm.objects.get(body=body, code="children")
    a = PlaceFactory(
        body=body,
        name="A Youth Centre",
        place_type=place_type(body, "juvenile-institution"),
        region=north_district,
        authority_name="Youth Service",
    )
    a.population_groups.add(children)
    PlaceFactory(body=body, name="B Prison", status=PlaceStatus.CLOSED)
    url = reverse("places:list")
    assert _names(client.get(url, {"place_type": a.place_type_id})) == ["A Youth Centre"]
    assert _names(client.get(url, {"region": north.pk})) == ["A Youth Centre"]  # sub-regions too
    assert _names(client.get(url, {"status": "closed"})) == ["B Prison"]
    assert _names(client.get(url, {"authority": "youth"})) == ["A Youth Centre"]
    assert _names(client.get(url, {"population_group": children.pk})) == ["A Youth Centre"]


def test_search_matches_name_alias_and_address_without_accents(body, client):
    PlaceFactory(body=body, name="Comisaría Central", address="Calle Mayor 3")
    PlaceFactory(body=body, name="Harbour Lock-up", aliases="Old Customs Cell")
    PlaceFactory(body=body, name="Unrelated Home", address="9 Elm Road")
    url = reverse("places:list")
    assert _names(client.get(url, {"q": "comisaria"})) == ["Comisaría Central"]
    assert _names(client.get(url, {"q": "customs"})) == ["Harbour Lock-up"]
    assert _names(client.get(url, {"q": "mayor"})) == ["Comisaría Central"]
    assert _names(client.get(url, {"q": "harb"})) == ["Harbour Lock-up"]  # prefix
    response = client.get(url, {"q": "nothing-like-this"})
    assert _names(response) == []
    assert b"No place matches" in response.content


def test_list_sorts_and_paginates(body, client):
    for capacity in (30, 10, 20):
        PlaceFactory(body=body, name=f"Place {capacity}", official_capacity=capacity)
    url = reverse("places:list")
    assert _names(client.get(url, {"sort": "capacity"})) == ["Place 10", "Place 20", "Place 30"]
    assert _names(client.get(url, {"sort": "-capacity"})) == ["Place 30", "Place 20", "Place 10"]
    PlaceFactory.create_batch(60, body=body)
    page2 = client.get(url, {"page": 2})
    assert len(page2.context["page"].object_list) == 13
    assert b"Page 2 of 2" in page2.content


def test_invalid_filter_value_is_reported_not_a_500(body, client):
    response = client.get(reverse("places:list"), {"status": "exploded", "sort": "bogus"})
    assert response.status_code == 200
    assert b"errorlist" in response.content


def test_htmx_request_gets_only_the_results(body, client):
    PlaceFactory(body=body, name="Quayside Cells")
    response = client.get(reverse("places:list"), {"q": "quay"}, HTTP_HX_REQUEST="true")
    assert b"<html" not in response.content
    assert b"Quayside Cells" in response.content


def test_empty_registry_shows_the_way_forward(body, client):
    response = client.get(reverse("places:list"))
    assert b"No places yet" in response.content
    assert reverse("places:create").encode() in response.content


def test_list_query_count_does_not_grow_with_places(body, client, django_assert_max_num_queries):
    region = RegionFactory(body=body)
    PlaceFactory.create_batch(5, body=body, region=region)
    with CaptureQueriesContext(connection) as small:
        client.get(reverse("places:list"))
    assert len(small) <= 12
    PlaceFactory.create_batch(40, body=body, region=region)
    with django_assert_max_num_queries(len(small)):
        client.get(reverse("places:list"))


def test_dossier_query_count_is_bounded(body, head, client, django_assert_max_num_queries):
    place = PlaceFactory(body=body, region=RegionFactory(body=body))
    for index in range(5):
        client.post(
            reverse("places:document_upload", args=[place.pk]),
            {"title": f"Doc {index}", "file": SimpleUploadedFile(f"d{index}.txt", b"text")},
        )
    with django_assert_max_num_queries(16):
        client.get(reverse("places:detail", args=[place.pk]))
    for index in range(10):
        client.post(
            reverse("places:document_upload", args=[place.pk]),
            {"title": f"More {index}", "file": SimpleUploadedFile(f"m{index}.txt", b"text")},
        )
    with django_assert_max_num_queries(16):
        response = client.get(reverse("places:detail", args=[place.pk]))
    assert b"More 9" in response.content


def test_create_through_the_form_then_history_shows_it(body, client):
    response = client.post(
        reverse("places:create"),
        {
            "name": "Lakeside Care Home",
            "place_type": place_type(body, "social-care-home").pk,
            "status": "open",
            "official_capacity": "40",
        },
    )
    place = Place.objects.get(name="Lakeside Care Home")
    assert response.status_code == 302
    dossier = client.get(place.get_absolute_url())
    assert b"Lakeside Care Home" in dossier.content
    assert b"History" in dossier.content


def test_invalid_form_keeps_what_was_typed_and_names_the_field(body, client):
    response = client.post(
        reverse("places:create"),
        {
            "name": "Typed Name",
            "place_type": place_type(body).pk,
            "status": "open",
            "latitude": "12.5",
            "notes": "Long notes typed by a monitor",
        },
    )
    # 400, as every page that refuses input answers: nothing was saved.
    assert response.status_code == 400
    assert Place.objects.count() == 0
    assert response.context["form"].errors["longitude"]
    assert b"Long notes typed by a monitor" in response.content
    assert b"Typed Name" in response.content


def test_edit_keeps_confidential_notes_when_left_empty(body, head, client):
    place = PlaceFactory(body=body, confidential_notes="Keep me")
    form = client.get(reverse("places:edit", args=[place.pk]))
    assert b"Keep me" not in form.content  # never shown without the audited reveal
    client.post(
        reverse("places:edit", args=[place.pk]),
        {
            "name": "Renamed",
            "place_type": place.place_type_id,
            "status": "open",
            "confidential_notes": "",
        },
    )
    place.refresh_from_db()
    assert place.name == "Renamed"
    assert place.confidential_notes == "Keep me"


def test_reveal_of_confidential_notes_is_an_audited_act(body, head, client):
    place = PlaceFactory(body=body, confidential_notes="Night entrance by the river")
    dossier = client.get(place.get_absolute_url())
    assert b"Night entrance" not in dossier.content
    assert not AuditEntry.objects.filter(action="places.place.read").exists()
    revealed = client.post(reverse("places:reveal_notes", args=[place.pk]))
    assert b"Night entrance by the river" in revealed.content
    assert (
        AuditEntry.objects.filter(action="places.place.read", actor=head, sensitive=True).count()
        == 1
    )


def test_csv_export_holds_filtered_places_and_neutralises_formulas(body, client):
    PlaceFactory(body=body, name='=HYPERLINK("http://x")', notes="+cmd")
    PlaceFactory(body=body, name="Kept Apart", status=PlaceStatus.CLOSED)
    response = client.get(reverse("places:export", args=["csv"]), {"status": "open"})
    content = b"".join(response.streaming_content).decode("utf-8-sig")
    assert "'=HYPERLINK" in content
    assert "'+cmd" in content
    assert "Kept Apart" not in content
    assert AuditEntry.objects.filter(action="places.place.export").exists()


def test_xlsx_export_opens_and_neutralises(body, client):
    from vigil.core.tasks import run_job

    PlaceFactory(body=body, name="@SUM(A1)", official_capacity=12)
    response = client.get(reverse("places:export", args=["xlsx"]))
    job_url = response["Location"]
    run_job.call(int(job_url.rstrip("/").rsplit("/", 1)[1]))
    download = client.get(job_url + "download/")
    workbook = openpyxl.load_workbook(io.BytesIO(download.content))
    rows = list(workbook.active.iter_rows(values_only=True))
    assert rows[0][3] == "Name"
    assert rows[1][3] == "'@SUM(A1)"
    assert rows[1][rows[0].index("Official capacity")] == 12


def test_unknown_export_format_is_404(client):
    assert client.get("/places/export.pdf").status_code == 404


def test_map_embeds_points_as_json(body, client):
    PlaceFactory(body=body, name="Mapped <b>Site</b>", latitude=12.1, longitude=22.2)
    PlaceFactory(body=body, name="Unmapped Site")
    response = client.get(reverse("places:map"))
    assert response.context["plotted"] == 1
    assert response.context["without_coordinates"] == 1
    assert b"Mapped <b>Site</b>" not in response.content  # names escaped inside the JSON
    assert b"Mapped \\u003Cb\\u003ESite" in response.content


def test_document_upload_checks_type_size_and_strips_image_metadata(body, client, settings):
    place = PlaceFactory(body=body)
    url = reverse("places:document_upload", args=[place.pk])
    bad = client.post(url, {"file": SimpleUploadedFile("virus.exe", b"MZ...")}, follow=True)
    assert "are not accepted" in bad.content.decode()
    fake = client.post(url, {"file": SimpleUploadedFile("report.pdf", b"not a pdf")}, follow=True)
    assert "does not match" in fake.content.decode()
    settings.VIGIL_MAX_UPLOAD_BYTES = 10
    big = client.post(url, {"file": SimpleUploadedFile("big.txt", b"x" * 20)}, follow=True)
    assert "the limit is" in big.content.decode()
    settings.VIGIL_MAX_UPLOAD_BYTES = 10 * 1024 * 1024
    assert place.documents.count() == 0

    image = Image.new("RGB", (4, 4), "red")
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (12.0, 30.0, 0.0)}  # GPS position
    exif[0x010F] = "SyntheticCam"
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    assert b"SyntheticCam" in buffer.getvalue()
    client.post(url, {"title": "Photo", "file": SimpleUploadedFile("cell.jpg", buffer.getvalue())})
    document = place.documents.get()
    download = client.get(reverse("places:document", args=[place.pk, document.pk]))
    assert download.status_code == 200
    assert b"SyntheticCam" not in download.content
    assert Image.open(io.BytesIO(download.content)).getexif().get(0x8825) is None
    # Stored encrypted: the file on disk is not the image.
    stored = list((settings.MEDIA_ROOT / "files").rglob("*"))
    on_disk = [path.read_bytes() for path in stored if path.is_file()]
    assert on_disk and all(not data.startswith(b"\xff\xd8") for data in on_disk)


def test_document_of_another_body_cannot_be_downloaded(
    body, other_body, head, outsider, client_for
):
    place = PlaceFactory(body=body)
    client_for(head).post(
        reverse("places:document_upload", args=[place.pk]),
        {"file": SimpleUploadedFile("a.txt", b"secret")},
    )
    document = place.documents.get()
    url = reverse("places:document", args=[place.pk, document.pk])
    assert client_for(outsider).get(url).status_code == 404


def test_trash_restore_and_merge_pages(body, client):
    region = RegionFactory(body=body)
    keep = PlaceFactory(body=body, region=region, name="Keep Me")
    other = PlaceFactory(body=body, region=region, name="Merge Me")
    client.post(reverse("places:delete", args=[other.pk]))
    assert b"Merge Me" in client.get(reverse("places:trash")).content
    client.post(reverse("places:restore", args=[other.pk]))
    other.refresh_from_db()
    assert other.deleted_at is None
    response = client.post(reverse("places:merge", args=[keep.pk]), {"other": other.pk})
    assert response.status_code == 302
    keep.refresh_from_db()
    assert "Merge Me" in keep.alias_list


def test_regions_page_adds_a_region(body, client):
    response = client.post(reverse("places:regions"), {"name": "Mountain Region", "code": "MR"})
    assert response.status_code == 302
    assert b"Mountain Region" in client.get(reverse("places:regions")).content


def test_history_names_fields_as_people_read_them(body, head, client):
    place = PlaceFactory(body=body, official_capacity=10)
    client.post(
        reverse("places:edit", args=[place.pk]),
        {
            "name": place.name,
            "place_type": place.place_type_id,
            "status": "open",
            "official_capacity": "25",
        },
    )
    content = client.get(place.get_absolute_url()).content.decode()
    assert "Official capacity" in content
    assert "official_capacity" not in content


def test_region_filter_lists_regions_indented_and_keeps_the_choice(body, client):
    top = RegionFactory(body=body, name="Upland <Region>")
    child = RegionFactory(body=body, name="Valley District", parent=top, level=2)
    content = client.get(reverse("places:list"), {"region": child.pk}).content.decode()
    assert f'<option value="{child.pk}" selected>\u00a0\u00a0Valley District</option>' in content
    assert "Upland &lt;Region&gt;" in content
    assert 'id="id_region"' in content


def test_place_actions_read_as_words_on_the_audit_trail(body, client):
    place = PlaceFactory(body=body)
    client.post(reverse("places:delete", args=[place.pk]))
    assert "moved to the trash" in client.get(reverse("audit")).content.decode()


def test_history_shows_values_as_people_read_them(body, client):
    place = PlaceFactory(body=body)
    client.post(
        reverse("places:edit", args=[place.pk]),
        {
            "name": place.name,
            "place_type": place.place_type_id,
            "status": "temporary",
            "population_groups": [TaxonomyTerm.objects.get(body=body, code="women").pk],
        },
    )
    content = client.get(place.get_absolute_url()).content.decode()
    assert "<td>Temporary</td>" in content
    assert "<td>Women</td>" in content
    assert "['Women']" not in content


def test_map_points_carry_type_and_status_for_the_popup(body, client):
    PlaceFactory(body=body, name="Popup Place", latitude=11, longitude=21)
    content = client.get(reverse("places:map")).content.decode()
    assert '"type": "Prison"' in content
    assert '"status_label": "Open"' in content


def _input_attributes(html: str, name: str) -> dict[str, str]:
    [tag] = re.findall(rf'<input[^>]* name="{name}"[^>]*>', html)
    return dict(re.findall(r'([\w-]+)="([^"]*)"', tag))


def test_the_place_form_checks_coordinate_ranges_in_the_browser_in_the_services_words(client):
    html = client.get(reverse("places:create")).content.decode()
    latitude = _input_attributes(html, "latitude")
    assert latitude["type"] == "number"
    assert (latitude["min"], latitude["max"], latitude["step"]) == ("-90", "90", "any")
    assert latitude["data-range-message"] == "Latitude is between -90 and 90."
    longitude = _input_attributes(html, "longitude")
    assert (longitude["min"], longitude["max"], longitude["step"]) == ("-180", "180", "any")
    assert longitude["data-range-message"] == "Longitude is between -180 and 180."


def test_the_place_form_says_the_range_in_french_as_the_service_does(body, in_french):
    client = in_french
    html = client.get(reverse("places:create")).content.decode()
    response = client.post(
        reverse("places:create"),
        {
            "name": "X",
            "place_type": place_type(body).pk,
            "status": "open",
            "latitude": "95",
            "longitude": "1",
        },
    )
    [message] = response.context["form"].errors["latitude"]
    assert message != "Latitude is between -90 and 90."  # translated
    assert _input_attributes(html, "latitude")["data-range-message"] == message


def test_a_new_places_history_lists_what_was_set_with_names_separated(body, client):
    client.post(
        reverse("places:create"),
        {
            "name": "Hilltop Police Station",
            "place_type": place_type(body, "police-custody").pk,
            "status": "open",
            "aliases": "Hilltop Station\r\nStation 4",
        },
    )
    place = Place.objects.get(name="Hilltop Police Station")
    html = client.get(place.get_absolute_url()).content.decode()
    history = html[html.index('class="history"') :]
    assert "<td>Other names</td><td>—</td><td>Hilltop Station; Station 4</td>" in history
    assert "<td>Name</td><td>—</td><td>Hilltop Police Station</td>" in history
    for unset in ("Former names", "Notes", "Address", "Latitude", "Official capacity"):
        assert f"<td>{unset}</td>" not in history


def test_the_dossier_in_french_has_dates_in_french_and_coordinates_without_ambiguity(
    body, in_french
):
    client = in_french
    place = PlaceFactory(
        body=body,
        latitude=Decimal("10.629714"),
        longitude=Decimal("22.294361"),
        population=12,
        population_date=datetime.date(2024, 1, 31),
        opened_on=datetime.date(2001, 11, 1),
    )
    html = client.get(place.get_absolute_url()).content.decode()
    assert "10.629714, 22.294361" in html
    assert "10,629714" not in html
    assert "31 janvier 2024" in html
    assert "1 novembre 2001" in html
