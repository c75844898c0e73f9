"""Findings across visits: the list page, its filters, the CSV/XLSX exports, the API list and
the analytics query. A secret visit's findings never show to those who may not know the visit
exists, on any of them."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from tests.factories import PlaceFactory
from tests.invisibility import assert_invisible
from tests.visits.conftest import staff, start, theme
from vigil.core.models import AuditEntry, Role, TaxonomyTerm
from vigil.visits import services
from vigil.visits.models import Observation, Severity, Visit
from vigil.visits.queries import observation_counts, visible_observations

pytestmark = pytest.mark.django_db

SECRET_TEXT = "Secret finding: cells flooded in the basement"


def _at(year: int, month: int = 6, day: int = 1) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime(year, month, day, 10))


def _visit(leader, place, *, announced=True, days=-30) -> Visit:
    day = timezone.localdate() + datetime.timedelta(days=days)
    return services.visit_create(
        membership=leader,
        data={
            "place": place,
            "kind": "regular",
            "is_announced": announced,
            "planned_start": day,
            "planned_end": day,
        },
    )


def _finding(visit, code="overcrowding", *, text="Four people in a cell for two.", **extra):
    return Observation.objects.create(
        visit=visit,
        theme=theme(visit.body, code),
        description=text,
        severity=extra.pop("severity", Severity.CONCERN),
        **extra,
    )


@pytest.fixture
def known_visit(leader, place):
    visit = _visit(leader, place)
    start(visit, leader)
    return visit


@pytest.fixture
def secret_finding(visit):
    """A finding of the secret visit (unannounced, not started): recorded straight into the
    table, as no service records one before the visit starts, to prove the rows stay hidden."""
    return _finding(visit, text=SECRET_TEXT)


def _csv_rows(response) -> list[list[str]]:
    content = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(content)))


def _xlsx_rows(response) -> list[tuple]:
    content = b"".join(response.streaming_content)
    book = load_workbook(io.BytesIO(content), read_only=True)
    return [row for sheet in book for row in sheet.iter_rows(values_only=True)]


# ---------- Visibility ----------


@pytest.mark.parametrize(
    "role", [Role.MONITOR, Role.ANALYST, Role.AUDITOR, Role.AUTHORITY_FOCAL_POINT]
)
def test_a_secret_visits_findings_do_not_exist_off_the_team(persona, secret_finding, role):
    assert assert_invisible(persona(role), secret_finding) > 10


def test_the_list_and_exports_leave_out_a_secret_visits_findings(
    client_for, persona, secret_finding, known_visit
):
    _finding(known_visit, text="Known finding in the yard")
    monitor = persona(Role.MONITOR)
    client = client_for(monitor)
    page = client.get(reverse("visits:observations")).content.decode()
    assert "Known finding in the yard" in page
    assert SECRET_TEXT not in page
    assert "1 finding" in page
    for fmt in ("csv", "xlsx"):
        response = client.get(reverse("visits:observations_export", args=[fmt]))
        assert response.status_code == 200
        text = str(_csv_rows(response) if fmt == "csv" else _xlsx_rows(response))
        assert "Known finding in the yard" in text
        assert SECRET_TEXT not in text
    api = client.get("/api/v1/observations/", {"page_size": 500}).content.decode()
    assert SECRET_TEXT not in api
    assert "Known finding in the yard" in api


def test_the_authority_focal_point_gets_no_findings_at_all(client_for, persona, known_visit):
    _finding(known_visit, text="Known finding in the yard")
    client = client_for(persona(Role.AUTHORITY_FOCAL_POINT))
    assert client.get(reverse("visits:observations")).status_code in (403, 404)
    assert client.get(reverse("visits:observations_export", args=["csv"])).status_code in (
        403,
        404,
    )
    assert visible_observations(persona(Role.AUTHORITY_FOCAL_POINT)).count() == 0


def test_the_team_heads_and_leaders_see_a_secret_visits_findings(
    persona, leader, visit, secret_finding
):
    monitor = persona(Role.MONITOR)
    assert secret_finding not in visible_observations(monitor)
    for member in (leader, persona(Role.HEAD)):
        assert secret_finding in visible_observations(member)
    staff(visit, leader, monitor)
    assert secret_finding in visible_observations(monitor)


def test_another_bodys_head_sees_none_of_the_findings(outsider_membership, known_visit):
    finding = _finding(known_visit, text="Known finding in the yard")
    assert assert_invisible(outsider_membership, finding) > 10


# ---------- The list page ----------


def test_filters_by_theme_severity_year_place_type_and_flags(
    client_for, head_membership, known_visit, leader, body
):
    _finding(known_visit, "overcrowding", text="Crowded 2023", created_at=_at(2023))
    _finding(known_visit, "food", text="Food 2024", created_at=_at(2024))
    _finding(
        known_visit,
        "food",
        text="Urgent food 2024",
        severity=Severity.URGENT,
        created_at=_at(2024, 12, 31),
    )
    _finding(known_visit, "food", text="Good kitchen", is_good_practice=True, created_at=_at(2025))
    psychiatric = TaxonomyTerm.objects.get(
        body=body, kind="place_type", code="psychiatric-hospital"
    )
    hospital = PlaceFactory(body=body, name="Hillside Hospital", place_type=psychiatric)
    other = _visit(leader, hospital)
    start(other, leader)
    _finding(other, "health-care", text="No psychiatrist", is_systemic=True)
    client = client_for(head_membership)
    url = reverse("visits:observations")

    def texts(**query) -> set[str]:
        page = client.get(url, query).content.decode()
        return {
            text
            for text in (
                "Crowded 2023",
                "Food 2024",
                "Urgent food 2024",
                "Good kitchen",
                "No psychiatrist",
            )
            if text in page
        }

    food = theme(body, "food").pk
    assert texts(theme=food) == {"Food 2024", "Urgent food 2024", "Good kitchen"}
    assert texts(theme=food, year=2024) == {"Food 2024", "Urgent food 2024"}
    assert texts(severity="urgent") == {"Urgent food 2024"}
    assert texts(place_type=psychiatric.pk) == {"No psychiatrist"}
    assert texts(is_good_practice="true") == {"Good kitchen"}
    assert texts(is_systemic="true") == {"No psychiatrist"}
    assert texts(visit=other.pk) == {"No psychiatrist"}
    # Oldest first puts 2023 ahead of 2024.
    page = client.get(url, {"sort": "created"}).content.decode()
    assert page.index("Crowded 2023") < page.index("Food 2024")
    page = client.get(url).content.decode()
    assert page.index("Food 2024") < page.index("Crowded 2023")


def _many(visit, count: int, start_year: int = 2020) -> None:
    overcrowding = theme(visit.body, "overcrowding")
    Observation.objects.bulk_create(
        Observation(
            visit=visit,
            theme=overcrowding,
            description=f"Finding number {number}",
            created_at=_at(start_year) + datetime.timedelta(hours=number),
        )
        for number in range(count)
    )


def test_the_list_costs_the_same_queries_at_25_and_100_findings(
    client_for, head_membership, known_visit, leader, body, django_assert_num_queries
):
    client = client_for(head_membership)
    url = reverse("visits:observations")
    _many(known_visit, 25)
    client.get(url)  # warm caches (session, body, translations)
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(db) as few:
        assert client.get(url).status_code == 200
    # More findings, over more visits and places.
    for number in range(3):
        place = PlaceFactory(body=body, name=f"Extra place {number}")
        more = _visit(leader, place)
        start(more, leader)
        _many(more, 25)
    with django_assert_num_queries(len(few.captured_queries)):
        assert client.get(url).status_code == 200


def test_counts_stop_at_the_cap_and_pages_are_bounded(
    client_for, head_membership, known_visit, monkeypatch
):
    from vigil.visits import views

    monkeypatch.setattr(views, "FINDINGS_COUNT_CAP", 20)
    monkeypatch.setattr(views, "FINDINGS_PAGE_SIZE", 5)
    monkeypatch.setattr(views, "FINDINGS_MAX_PAGE", 4)
    _many(known_visit, 30)
    client = client_for(head_membership)
    page = client.get(reverse("visits:observations")).content.decode()
    assert "More than 20 findings" in page
    last = client.get(reverse("visits:observations"), {"page": 99}).content.decode()
    assert "Page 4" in last
    assert 'rel="next"' not in last
    assert client.get(reverse("visits:observations"), {"page": "x"}).status_code == 200


def test_the_list_stacks_into_cards_on_phones_and_folds_its_filters(
    client_for, head_membership, known_visit
):
    _finding(known_visit)
    page = client_for(head_membership).get(reverse("visits:observations")).content.decode()
    assert 'class="data stacked"' in page
    assert 'data-label="Theme"' in page
    assert '<details class="filters-fold"' in page


# ---------- Exports ----------


def test_the_csv_export_holds_the_findings_neutralised(
    client_for, head_membership, known_visit, body
):
    _finding(
        known_visit,
        "food",
        text='=HYPERLINK("http://evil")',
        unit="+Unit A",
        severity=Severity.SERIOUS,
        is_systemic=True,
        created_at=_at(2024, 3, 5),
    )
    _finding(known_visit, "overcrowding", text="@SUM(1)", unit="-1", created_at=_at(2024, 3, 6))
    _finding(known_visit, "overcrowding", text="\tTabbed", unit="\rCR", created_at=_at(2024, 3, 7))
    response = client_for(head_membership).get(
        reverse("visits:observations_export", args=["csv"]), {"theme": theme(body, "food").pk}
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = _csv_rows(response)
    assert rows[0][:3] == ["Finding", "Visit", "Visit start"]
    assert len(rows) == 2  # filtered by theme
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["Description"] == '\'=HYPERLINK("http://evil")'
    assert row["Unit or area"] == "'+Unit A"
    assert row["Theme"] == "Food"
    assert row["Severity"] == "Serious"
    assert row["Systemic"] == "TRUE"
    assert row["Good practice"] == "FALSE"
    assert row["Place"] == known_visit.place.name
    assert row["Recorded"] == "2024-03-05 10:00:00"
    assert row["Visit start"] == known_visit.planned_start.isoformat()

    everything = _csv_rows(
        client_for(head_membership).get(reverse("visits:observations_export", args=["csv"]))
    )
    by_description = {row[11]: row for row in everything[1:]}
    assert "'@SUM(1)" in by_description
    assert by_description["'@SUM(1)"][6] == "'-1"
    assert by_description["'\tTabbed"][6] == "'\rCR"


def test_the_xlsx_export_and_the_audit_entry(client_for, head_membership, known_visit):
    _finding(known_visit, text="=1+1", created_at=_at(2024))
    client = client_for(head_membership)
    response = client.get(reverse("visits:observations_export", args=["xlsx"]), {"year": 2024})
    assert response.status_code == 200
    rows = _xlsx_rows(response)
    assert rows[0][0] == "Finding"
    assert rows[1][11] == "'=1+1"
    entry = AuditEntry.objects.filter(action="visits.observation.export").latest("id")
    assert entry.changes["format"] == "xlsx"
    assert "year=2024" in entry.changes["filters"]


def test_who_may_export(client_for, persona):
    assert (
        client_for(persona(Role.ADMIN))
        .get(reverse("visits:observations_export", args=["csv"]))
        .status_code
        == 403
    )
    assert (
        client_for(persona(Role.ANALYST))
        .get(reverse("visits:observations_export", args=["csv"]))
        .status_code
        == 200
    )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's")
def test_the_postgresql_export_matches_the_python_one(head_membership, known_visit, body):
    from vigil.visits.exports import copy_csv, export_headers, export_rows
    from vigil.visits.filters import ObservationFilters

    _finding(known_visit, "food", text='=A1, "quoted"\nand a new line', unit="@x")
    _finding(known_visit, "overcrowding", text="plain", is_good_practice=True)
    queryset = ObservationFilters(
        {}, queryset=visible_observations(head_membership), membership=head_membership
    ).qs
    copied = list(csv.reader(io.StringIO(b"".join(copy_csv(queryset)).decode("utf-8-sig"))))
    expected = [export_headers()] + [
        [
            str(value).replace("True", "TRUE").replace("False", "FALSE")
            if not isinstance(value, str)
            else value
            for value in row
        ]
        for row in export_rows(queryset)
    ]
    assert copied[0] == expected[0]
    assert len(copied) == len(expected)
    for got, want in zip(copied[1:], expected[1:], strict=True):
        assert got[11].startswith("'=") or got[11] == "plain"
        assert got[5] == want[5] and got[7] == want[7]


# ---------- API ----------


def test_the_api_list_takes_the_same_filters(client_for, head_membership, known_visit, body):
    _finding(known_visit, "food", text="Food 2024", created_at=_at(2024))
    _finding(known_visit, "overcrowding", text="Crowded 2023", created_at=_at(2023))
    client = client_for(head_membership)
    url = "/api/v1/observations/"
    data = client.get(url, {"theme": theme(body, "food").pk, "year": 2024}).json()
    assert [row["description"] for row in data["results"]] == ["Food 2024"]
    assert client.get(url, {"is_good_practice": "maybe"}).status_code == 400
    assert client.get(url, {"theme": ""}).status_code == 400


# ---------- Analytics ----------


def test_observation_counts_by_theme_place_type_and_year(head_membership, persona, known_visit):
    _finding(known_visit, "food", created_at=_at(2023))
    _finding(known_visit, "food", created_at=_at(2023, 8))
    _finding(known_visit, "food", created_at=_at(2024))
    _finding(known_visit, "overcrowding", created_at=_at(2024))
    place_type = known_visit.place.place_type_id
    food = theme(known_visit.body, "food").pk
    crowded = theme(known_visit.body, "overcrowding").pk
    counts = set(observation_counts(head_membership))
    assert counts == {
        (food, place_type, 2023, 2),
        (food, place_type, 2024, 1),
        (crowded, place_type, 2024, 1),
    }
    assert observation_counts(persona(Role.AUTHORITY_FOCAL_POINT)) == []


def test_observation_counts_leave_out_a_secret_visit(persona, secret_finding, leader):
    assert observation_counts(persona(Role.MONITOR)) == []
    assert sum(row[3] for row in observation_counts(leader)) == 1
