"""The generic import pipeline with a minimal importer: registry, mapping rules, the job runner."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from vigil.core import imports
from vigil.core.audit import build_entry
from vigil.core.models import AuditEntry, JobStatus, Membership, Role, TabularImport
from vigil.core.tasks import run_job


class CounterImporter(imports.Importer):
    """Writes one audit entry per valid row; enough to exercise every step of the pipeline."""

    kind = "counters"
    title = "Counters"
    fields = {
        "title": imports.ImportField("Title", ("heading",), required=True),
        "count": imports.ImportField("Count", ("number",)),
        "colour": imports.ImportField("Colour", ()),
    }
    fail_on_commit = False

    def can_import(self, membership: Membership | None) -> bool:
        return membership is not None and membership.role == Role.HEAD

    def validate_row(self, context, values):
        errors = []
        if not values.get("title"):
            errors.append(("title", "is empty"))
        count = values.get("count", "")
        if count and not count.isdigit():
            errors.append(("count", "must be a whole number"))
        if errors:
            return None, errors
        return {"title": values["title"], "count": int(count or 0)}, []

    def commit(self, *, job, imp, valid_rows, actor) -> dict[str, Any]:
        AuditEntry.objects.bulk_create(
            build_entry(actor=actor, action="tests.counter.count", changes=cleaned, body=imp.body)
            for _row, cleaned in valid_rows
        )
        if self.fail_on_commit:
            raise RuntimeError("disk full")
        return {"created": len(valid_rows)}


@pytest.fixture
def importer():
    counter = imports.register_importer(CounterImporter())
    yield counter
    imports._IMPORTERS.pop(counter.kind)


@pytest.fixture
def head_membership(head, body):
    return Membership.objects.get(user=head, body=body)


def csv_file(text: str, name: str = "counters.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode())


def upload(membership, text: str) -> TabularImport:
    return imports.import_upload(membership=membership, kind="counters", upload=csv_file(text))


def test_registry(importer):
    assert imports.get_importer("counters") is importer
    assert "counters" in imports.importer_kinds()
    with pytest.raises(KeyError):
        imports.get_importer("nothing")


def test_header_keys_include_names_synonyms_and_labels(importer):
    keys = importer.header_keys()
    assert keys["title"][:2] == ["heading", "Title"]


@pytest.mark.django_db
def test_upload_stores_file_headers_guess_and_samples(importer, head_membership):
    imp = upload(head_membership, "Heading;Number;Other\r\nA;1;x\r\nB;2;y\r\nC;3;z\r\nD;4;w\r\n")
    assert imp.headers == ["Heading", "Number", "Other"]
    assert imp.mapping == {"0": "title", "1": "count"}
    assert imp.row_count == 4
    assert imp.samples[0] == ["A", "B", "C"]
    assert imp.summary["delimiter"] == ";"
    assert bytes(imp.data).startswith(b"Heading")
    assert AuditEntry.objects.filter(action="core.import.upload", object_id=str(imp.pk)).exists()


@pytest.mark.django_db
def test_upload_of_unknown_kind_or_without_role(importer, body, persona):
    monitor = persona(Role.MONITOR)
    with pytest.raises(PermissionDenied):
        upload(monitor, "Title\r\nA\r\n")
    head = persona(Role.HEAD)
    with pytest.raises(ValidationError, match="Unknown kind of import"):
        imports.import_upload(membership=head, kind="nothing", upload=csv_file("Title\r\nA\r\n"))
    assert not TabularImport.objects.exists()


@pytest.mark.django_db
def test_mapping_rules(importer, head_membership):
    imp = upload(head_membership, "A,B,C\r\n1,2,3\r\n")

    def set_mapping(mapping):
        return imports.import_set_mapping(membership=head_membership, imp=imp, mapping=mapping)

    with pytest.raises(ValidationError) as missing:
        set_mapping({0: "count"})
    assert missing.value.messages == ["Choose a column for the required field “Title”."]
    with pytest.raises(ValidationError) as twice:
        set_mapping({0: "title", 1: "title", 2: "count"})
    assert twice.value.messages == ["“Title” is chosen for several columns (‘A’, ‘B’); choose one."]
    with pytest.raises(ValidationError, match="not a field"):
        set_mapping({0: "title", 1: "secret"})
    with pytest.raises(ValidationError, match="no column 8"):
        set_mapping({0: "title", 7: "count"})
    imp = set_mapping({"0": "title", "1": "", "2": "count"})
    assert imp.mapping == {"0": "title", "2": "count"}
    assert AuditEntry.objects.filter(action="core.import.map", object_id=str(imp.pk)).exists()


@pytest.mark.django_db
def test_mapping_of_another_body_is_refused(importer, head_membership, other_body):
    imp = upload(head_membership, "Title\r\nA\r\n")
    stranger = Membership.objects.create(
        user=head_membership.user.__class__.objects.create(username="stranger"),
        body=other_body,
        role=Role.HEAD,
    )
    with pytest.raises(PermissionDenied):
        imports.import_set_mapping(membership=stranger, imp=imp, mapping={"0": "title"})


@pytest.mark.django_db
def test_validate_counts_and_locates_errors(importer, head_membership):
    imp = upload(head_membership, "Title,Count\r\nA,1\r\n\r\n,2\r\nC,x\r\n")
    summary = imports.import_validate(imp)
    assert summary["counts"] == {"rows": 3, "create": 1, "update": 0, "unchanged": 0, "invalid": 2}
    # The blank line is row 3 in the spreadsheet, so the errors are on rows 4 and 5.
    assert [imports.format_error(error) for error in imp.errors] == [
        "Row 4, column ‘Title’: is empty",
        "Row 5, column ‘Count’: “x” must be a whole number",
    ]
    assert imp.status == TabularImport.Status.VALIDATED
    assert imp.preview[1] == {"row": 4, "action": "error", "values": ["", "2"]}


def test_format_error_without_column():
    assert imports.format_error({"row": 3, "column": "", "message": "repeats row 2"}) == (
        "Row 3: repeats row 2"
    )


@pytest.mark.django_db
def test_job_reports_progress_and_commits(importer, head_membership, monkeypatch):
    monkeypatch.setattr(imports, "PROGRESS_EVERY", 2)
    imp = upload(head_membership, "Title,Count\r\n" + "".join(f"T{n},{n}\r\n" for n in range(5)))
    imp = imports.import_start(membership=head_membership, imp=imp, mode="all")
    assert imp.status == TabularImport.Status.QUEUED
    run_job.call(imp.job_id)
    imp.refresh_from_db()
    imp.job.refresh_from_db()
    assert imp.status == TabularImport.Status.DONE
    assert imp.job.status == JobStatus.SUCCEEDED
    assert imp.job.progress_done == imp.job.progress_total == 5
    assert imp.summary["result"]["created"] == 5
    assert AuditEntry.objects.filter(action="tests.counter.count").count() == 5
    entry = AuditEntry.objects.get(action="core.import.finish")
    assert entry.changes["created"] == [None, 5]


@pytest.mark.django_db
def test_failed_commit_writes_nothing(importer, head_membership):
    importer.fail_on_commit = True
    imp = upload(head_membership, "Title\r\nA\r\nB\r\n")
    imp = imports.import_start(membership=head_membership, imp=imp, mode="all")
    with pytest.raises(RuntimeError):
        run_job.call(imp.job_id)
    imp.refresh_from_db()
    imp.job.refresh_from_db()
    assert imp.status == TabularImport.Status.FAILED
    assert imp.job.status == JobStatus.FAILED
    assert not AuditEntry.objects.filter(action__in=["counted", "import"]).exists()


@pytest.mark.django_db
def test_job_rechecks_the_role(importer, head_membership):
    imp = upload(head_membership, "Title\r\nA\r\n")
    imp = imports.import_start(membership=head_membership, imp=imp, mode="all")
    Membership.objects.filter(pk=head_membership.pk).update(role=Role.MONITOR)
    with pytest.raises(PermissionDenied):
        run_job.call(imp.job_id)
    imp.refresh_from_db()
    assert imp.status == TabularImport.Status.FAILED
    assert "no longer allows" in imp.summary["failure"]
    assert not AuditEntry.objects.filter(action="tests.counter.count").exists()


@pytest.mark.django_db
def test_rejected_rows_csv_neutralises_formulas(importer, head_membership):
    imp = upload(head_membership, "Title,Count\r\n=HYPERLINK(1),x\r\nB,2\r\n")
    imp = imports.import_start(membership=head_membership, imp=imp, mode="valid")
    run_job.call(imp.job_id)
    imp.refresh_from_db()
    assert imp.status == TabularImport.Status.DONE
    content = imports.rejected_rows_csv(imp).decode("utf-8-sig")
    assert content.splitlines() == [
        "Title,Count,Row,Problem",
        "'=HYPERLINK(1),x,2,Count: must be a whole number",
    ]


@pytest.mark.django_db
def test_start_needs_a_known_mode(importer, head_membership):
    imp = upload(head_membership, "Title\r\nA\r\n")
    with pytest.raises(ValidationError, match="Choose what to do"):
        imports.import_start(membership=head_membership, imp=imp, mode="some")


@pytest.mark.django_db
def test_a_long_file_name_fits(importer, head_membership):
    name = "x" * 240 + ".csv"
    imp = imports.import_upload(
        membership=head_membership,
        kind="counters",
        upload=SimpleUploadedFile(name, b"Title\r\nA\r\n"),
    )
    imp = imports.import_start(membership=head_membership, imp=imp, mode="all")
    assert imp.file_name == name
    assert len(imp.job.title) == 200
