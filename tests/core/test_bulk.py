"""core/bulk.py on the database the suite runs on: COPY and VALUES on PostgreSQL, bulk_create,
executemany and VALUES on SQLite. Every value written is read back through Django."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import DataError, IntegrityError, connection, models, transaction
from django.utils import timezone

from tests.factories import PlaceFactory, RegionFactory, place_type
from vigil.core import bulk, crypto
from vigil.core.audit import build_entry
from vigil.core.models import AuditEntry, Job, JobStatus, TaxonomyTerm
from vigil.places.models import Place, PlaceStatus

# Text that the COPY text format and SQL literals must escape.
AWKWARD_TEXTS = [
    "tab\there",
    "line one\nline two\r\nline three",
    "back\\slash \\N \\t \\\\",
    "quotes ' \" and ; semicolons -- not a comment",
    "Ünïcödé: ذاكرة, 拘留所, emoji 🔒",
    "",
    " leading and trailing spaces ",
]
AWKWARD_JSON = {
    "text": 'tab\tnewline\nbackslash\\ quote" ذاكرة 🔒',
    "nothing": None,
    "numbers": [1, 2.5, -3],
    "nested": {"true": True, "false": False, "empty": []},
}
PLACE_FIELDS = [
    "body_id",
    "external_id",
    "name",
    "place_type_id",
    "subtype",
    "authority_name",
    "region_id",
    "address",
    "latitude",
    "longitude",
    "official_capacity",
    "population",
    "population_date",
    "status",
    "opened_on",
    "closed_on",
    "aliases",
    "former_names",
    "notes",
    "confidential_notes",
    "is_confidential",
    "search_text",
    "merged_into_id",
    "deleted_at",
    "deleted_by_id",
    "created_at",
    "updated_at",
]


def values_of(obj: models.Model, names: list[str]) -> dict[str, object]:
    return {name: getattr(obj, name) for name in names}


def raw_notes(place_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT confidential_notes FROM places_place WHERE id = %s", [place_id])
        return cursor.fetchone()[0]


def awkward_places(body, count: int = len(AWKWARD_TEXTS)) -> list[Place]:
    region = RegionFactory(body=body, name="Région Nord")
    now = timezone.now().replace(microsecond=123456)
    places = []
    for index in range(count):
        text = AWKWARD_TEXTS[index % len(AWKWARD_TEXTS)]
        empty = index % 2 == 0
        places.append(
            Place(
                body=body,
                external_id=f"X-{index}",
                name=f"Place {index} {text}"[:300],
                place_type=place_type(body),
                subtype=text,
                authority_name=text,
                region=None if empty else region,
                address=text,
                latitude=None if empty else Decimal("-12.345678"),
                longitude=None if empty else Decimal("179.999999"),
                official_capacity=None if empty else 2_147_483_647,
                population=None if empty else 0,
                population_date=None if empty else dt.date(2024, 2, 29),
                status=PlaceStatus.CLOSED if empty else PlaceStatus.OPEN,
                opened_on=dt.date(1950, 1, 1),
                closed_on=None,
                aliases=text,
                former_names=text,
                notes=text,
                confidential_notes=text,
                is_confidential=empty,
                search_text=text,
                deleted_at=None if empty else now,
                created_at=now,
                updated_at=now + dt.timedelta(days=1),
            )
        )
    return places


# --- bulk_insert -------------------------------------------------------------------------------


def test_instances_read_back_equal_and_get_their_ids(body):
    places = awkward_places(body)
    expected = [values_of(place, PLACE_FIELDS) for place in places]
    ids = bulk.bulk_insert(Place, places, return_ids=True)
    assert ids == [place.pk for place in places]
    assert None not in ids
    assert len(set(ids)) == len(places)
    assert all(not place._state.adding for place in places)
    stored = Place.objects.in_bulk(ids)
    assert [values_of(stored[pk], PLACE_FIELDS) for pk in ids] == expected


def test_instances_without_return_ids_still_get_their_ids(body):
    places = awkward_places(body, 3)
    assert bulk.bulk_insert(Place, places) is None
    assert sorted(Place.objects.filter(body=body).values_list("pk", flat=True)) == sorted(
        place.pk for place in places
    )


def test_json_and_datetimes_read_back_equal(body, head):
    started = timezone.now()
    jobs = [
        Job(
            body=body,
            created_by=head if index else None,
            kind="import",
            title=AWKWARD_TEXTS[index],
            status=JobStatus.SUCCEEDED,
            progress_done=index,
            progress_total=2_147_483_647 if index else 0,
            result=AWKWARD_JSON if index else {},
            created_at=started - dt.timedelta(minutes=index),
            started_at=started if index else None,
        )
        for index in range(len(AWKWARD_TEXTS))
    ]
    names = [field.attname for field in Job._meta.concrete_fields if not field.primary_key]
    expected = [values_of(job, names) for job in jobs]
    ids = bulk.bulk_insert(Job, jobs, return_ids=True)
    stored = Job.objects.in_bulk(ids)
    assert [values_of(stored[pk], names) for pk in ids] == expected
    assert stored[ids[1]].result["text"] == AWKWARD_JSON["text"]


def test_audit_entries_are_inserted_with_their_changes(body, head):
    place = PlaceFactory(body=body)
    entries = [
        build_entry(actor=head, action="places.place.update", obj=place, changes={"notes": [t, ""]})
        for t in AWKWARD_TEXTS
    ]
    bulk.bulk_insert(AuditEntry, entries)
    stored = list(AuditEntry.objects.filter(action="places.place.update").order_by("pk"))
    assert [entry.pk for entry in stored] == [entry.pk for entry in entries]
    assert [entry.changes["notes"][0] for entry in stored] == AWKWARD_TEXTS
    assert {entry.actor_id for entry in stored} == {head.pk}


@pytest.mark.parametrize("return_ids", [True, False])
def test_rows_read_back_equal(body, return_ids):
    parent = TaxonomyTerm.objects.filter(body=body, kind="theme").first()
    rows = [
        (body.pk, "theme", f"code-{index}", text, parent.pk if index % 2 else None, index, False)
        for index, text in enumerate(AWKWARD_TEXTS)
    ]
    fields = ["body", "kind", "code", "label", "parent_id", "position", "is_active"]
    ids = bulk.bulk_insert(TaxonomyTerm, rows, fields=fields, return_ids=return_ids)
    stored = {
        term.code: term for term in TaxonomyTerm.objects.filter(body=body, code__startswith="code-")
    }
    assert [
        (term.body_id, term.kind, term.code, term.label, term.parent_id, term.position, False)
        for term in (stored[row[2]] for row in rows)
    ] == rows
    if return_ids:
        assert ids == [stored[row[2]].pk for row in rows]
    else:
        assert ids is None


@pytest.mark.parametrize("return_ids", [True, False])
def test_fields_rows_leave_out_take_their_defaults(body, return_ids):
    before = timezone.now()
    ids = bulk.bulk_insert(
        Job,
        [(body.pk, "report", "one"), (body.pk, "report", "two")],
        fields=["body_id", "kind", "title"],
        return_ids=return_ids,
    )
    jobs = list(Job.objects.filter(kind="report").order_by("title"))
    assert [job.title for job in jobs] == ["one", "two"]
    for job in jobs:
        assert job.status == JobStatus.QUEUED
        assert job.result == {}
        assert job.progress_done == 0
        assert job.message == ""
        assert job.created_by_id is None
        assert job.started_at is None
        assert before <= job.created_at <= timezone.now()
    if return_ids:
        assert ids == [job.pk for job in jobs]


def test_rows_may_carry_their_own_ids(body):
    highest = TaxonomyTerm.objects.order_by("-pk").values_list("pk", flat=True).first()
    rows = [(highest + 100, body.pk, "theme", "own-id", "Own id")]
    ids = bulk.bulk_insert(
        TaxonomyTerm, rows, fields=["id", "body", "kind", "code", "label"], return_ids=True
    )
    assert ids == [highest + 100]
    assert TaxonomyTerm.objects.get(pk=highest + 100).label == "Own id"


def test_many_to_many_pairs(body):
    places = [PlaceFactory(body=body), PlaceFactory(body=body)]
    groups = list(TaxonomyTerm.objects.filter(body=body, kind="vulnerable_group")[:3])
    through = Place.population_groups.through
    pairs = [
        (places[0].pk, groups[0].pk),
        (places[0].pk, groups[2].pk),
        (places[1].pk, groups[1].pk),
    ]
    assert bulk.bulk_insert(through, pairs, fields=["place", "taxonomyterm"]) is None
    assert set(places[0].population_groups.all()) == {groups[0], groups[2]}
    assert list(places[1].population_groups.all()) == [groups[1]]


def test_encrypted_field_lands_encrypted_and_reads_back(body):
    places = awkward_places(body, 2)
    places[0].confidential_notes = "Informant: synthetic person 7\twith a tab"
    places[1].confidential_notes = ""
    bulk.bulk_insert(Place, places)
    raw = raw_notes(places[0].pk)
    assert "Informant" not in raw
    assert raw.startswith(crypto.TOKEN_PREFIX)
    assert crypto.decrypt_text(raw) == "Informant: synthetic person 7\twith a tab"
    assert raw_notes(places[1].pk) == ""
    assert Place.objects.get(pk=places[0].pk).confidential_notes == (
        "Informant: synthetic person 7\twith a tab"
    )


def test_a_failing_row_writes_nothing(body):
    rows = [(body.pk, "theme", "twice", "A"), (body.pk, "theme", "twice", "B")]
    count = TaxonomyTerm.objects.count()
    with pytest.raises(IntegrityError), transaction.atomic():
        bulk.bulk_insert(TaxonomyTerm, rows, fields=["body", "kind", "code", "label"])
    assert TaxonomyTerm.objects.count() == count


def test_bad_calls_are_refused_with_a_reason(body):
    term = TaxonomyTerm(body=body, kind="theme", code="x", label="X")
    with pytest.raises(ValueError, match="every field of instances"):
        bulk.bulk_insert(TaxonomyTerm, [term], fields=["label"])
    with pytest.raises(ValueError, match="names of the fields"):
        bulk.bulk_insert(TaxonomyTerm, [(body.pk, "theme")])
    with pytest.raises(TypeError, match="was given"):
        bulk.bulk_insert(TaxonomyTerm, [term, Job(body=body)])
    with pytest.raises(ValueError, match="2 values for 3 columns"):
        bulk.bulk_insert(TaxonomyTerm, [(body.pk, "theme")], fields=["body", "kind", "code"])
    with pytest.raises(ValueError, match="not a column"):
        bulk.bulk_insert(Place, [(1, 2)], fields=["id", "population_groups"])
    with pytest.raises(ValueError, match="named twice"):
        bulk.bulk_insert(TaxonomyTerm, [(1, 1)], fields=["body", "body_id"])
    assert not TaxonomyTerm.objects.filter(code="x").exists()


def test_empty_input_is_a_no_op(body, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert bulk.bulk_insert(Place, []) is None
        assert bulk.bulk_insert(Place, [], return_ids=True) == []
        assert bulk.bulk_insert(TaxonomyTerm, iter([]), fields=["label"]) is None
        bulk.bulk_update(TaxonomyTerm, [], ["label"])


# --- bulk_update -------------------------------------------------------------------------------


def test_update_changes_only_the_named_fields(body):
    places = awkward_places(body)
    bulk.bulk_insert(Place, places)
    untouched = PlaceFactory(body=body, name="Untouched", notes="keep")
    before = {place.pk: values_of(place, PLACE_FIELDS) for place in places}
    named = ["notes", "population_date", "latitude", "region_id", "is_confidential", "updated_at"]
    later = timezone.now() + dt.timedelta(days=30)
    for index, place in enumerate(places):
        # Named fields get new values, including NULLs where there were values and back.
        place.notes = AWKWARD_TEXTS[-1 - index]
        place.population_date = dt.date(2025, 12, 31) if place.population_date is None else None
        place.latitude = Decimal("89.000001") if place.latitude is None else None
        place.region = None
        place.is_confidential = not place.is_confidential
        place.updated_at = later
        # Fields left out change in memory only.
        place.name = "Not written"
        place.population = 99
    bulk.bulk_update(Place, places, named)
    stored = Place.objects.in_bulk([place.pk for place in places])
    for place in places:
        expected = dict(before[place.pk])
        expected.update(values_of(place, named))
        assert values_of(stored[place.pk], PLACE_FIELDS) == expected
    untouched_now = Place.objects.get(pk=untouched.pk)
    assert (untouched_now.name, untouched_now.notes) == ("Untouched", "keep")


def test_update_from_rows(body, head):
    jobs = [Job(body=body, kind="import", title=f"Job {n}") for n in range(3)]
    bulk.bulk_insert(Job, jobs)
    finished = timezone.now()
    rows = [(job.pk, JobStatus.FAILED, AWKWARD_JSON, finished, head.pk) for job in jobs[:2]]
    bulk.bulk_update(Job, rows, ["status", "result", "finished_at", "created_by"])
    stored = Job.objects.in_bulk([job.pk for job in jobs])
    for job in jobs[:2]:
        assert stored[job.pk].status == JobStatus.FAILED
        assert stored[job.pk].result == AWKWARD_JSON
        assert stored[job.pk].finished_at == finished
        assert stored[job.pk].created_by_id == head.pk
        assert stored[job.pk].title == job.title
    assert stored[jobs[2].pk].status == JobStatus.QUEUED
    assert stored[jobs[2].pk].result == {}


def test_update_in_several_batches(body):
    # More rows than one statement takes on either database (SQLite: 999 parameters).
    rows = [(body.pk, "theme", f"batch-{n}", f"Term {n}") for n in range(1200)]
    ids = bulk.bulk_insert(
        TaxonomyTerm, rows, fields=["body", "kind", "code", "label"], return_ids=True
    )
    bulk.bulk_update(
        TaxonomyTerm,
        [(pk, f"Renamed {n}\t\\", n) for n, pk in enumerate(ids)],
        ["label", "position"],
    )
    stored = TaxonomyTerm.objects.in_bulk(ids)
    assert [(stored[pk].label, stored[pk].position) for pk in ids] == [
        (f"Renamed {n}\t\\", n) for n in range(1200)
    ]


def test_update_keeps_encrypted_fields_encrypted(body):
    place = PlaceFactory(body=body, confidential_notes="old")
    place.confidential_notes = "new secret\nline"
    bulk.bulk_update(Place, [place], ["confidential_notes"])
    raw = raw_notes(place.pk)
    assert "secret" not in raw
    assert crypto.decrypt_text(raw) == "new secret\nline"
    assert Place.objects.get(pk=place.pk).confidential_notes == "new secret\nline"


def test_bad_updates_are_refused(body, head):
    entry = build_entry(actor=head, action="core.body.update_settings", body=body)
    bulk.bulk_insert(AuditEntry, [entry])
    entry.action = "rewritten"
    with pytest.raises(PermissionError):
        bulk.bulk_update(AuditEntry, [entry], ["action"])
    assert AuditEntry.objects.get(pk=entry.pk).action == "core.body.update_settings"
    term = TaxonomyTerm.objects.filter(body=body).first()
    with pytest.raises(ValueError, match="names of the fields"):
        bulk.bulk_update(TaxonomyTerm, [term], [])
    with pytest.raises(ValueError, match="cannot change ids"):
        bulk.bulk_update(TaxonomyTerm, [term], ["id"])
    with pytest.raises(ValueError, match="3 values for 2 columns"):
        bulk.bulk_update(TaxonomyTerm, [(term.pk, "a", "b")], ["label"])
    with pytest.raises(TypeError, match="was given"):
        bulk.bulk_update(TaxonomyTerm, [term, Job(pk=1)], ["label"])


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite does not limit lengths")
def test_update_refuses_a_text_too_long_rather_than_cutting_it(body):
    term = TaxonomyTerm.objects.filter(body=body).first()
    with pytest.raises(DataError), transaction.atomic():
        bulk.bulk_update(TaxonomyTerm, [(term.pk, "x" * 201)], ["label"])
    assert TaxonomyTerm.objects.get(pk=term.pk).label == term.label


# --- The short cut around Django's value conversion ----------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "values"),
    [
        (models.CharField(max_length=10), ["", "text\t\\", "ذاكرة"]),
        (models.TextField(), ["", "line\nline"]),
        (models.SlugField(), ["a-slug"]),
        (models.BooleanField(), [True, False]),
        (models.IntegerField(), [0, -5, 2_147_483_647]),
        (models.SmallIntegerField(), [-3]),
        (models.BigIntegerField(), [2**62]),
        (models.PositiveIntegerField(), [7]),
        (models.PositiveSmallIntegerField(), [7]),
        (models.PositiveBigIntegerField(), [2**40]),
        (models.AutoField(primary_key=True), [1]),
        (models.BigAutoField(primary_key=True), [2**40]),
        (models.SmallAutoField(primary_key=True), [3]),
        (Place._meta.get_field("region"), [1, 2**40]),
    ],
)
def test_plain_fields_are_written_as_django_would_write_them(field, values):
    """The short cut applies to these exact classes only; Django must agree it is lossless."""
    assert type(field) in bulk._PLAIN_FIELDS
    for value in values:
        prepared = field.get_db_prep_save(value, connection)
        # On PostgreSQL Django wraps integers in the driver's sized types (Int4, Int8), which
        # are ints; COPY and the VALUES casts do without the wrapper.
        assert prepared == value
        assert isinstance(prepared, type(value))
