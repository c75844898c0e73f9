"""Import files at rest: encrypted, kept only as long as needed, deleted after the body's
retention period; and hostile files refused within bounded work."""

from __future__ import annotations

import datetime as dt
import io
import time
import zipfile
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.template.defaultfilters import date as date_filter
from django.urls import reverse
from django.utils import timezone

from tests.core.test_imports import CounterImporter
from tests.factories import BodyFactory, MembershipFactory
from vigil.core import crypto, imports, keys
from vigil.core.checks import KEY_CHECK_PLAINTEXT
from vigil.core.models import AuditEntry, Body, KeyCheck, Membership, Role, TabularImport
from vigil.core.tasks import run_job

SECRET = "Synthetic-Detainee-Witness-4711"


@pytest.fixture
def importer():
    counter = imports.register_importer(CounterImporter())
    yield counter
    imports._IMPORTERS.pop(counter.kind)


@pytest.fixture
def head_membership(head, body):
    return Membership.objects.get(user=head, body=body)


def upload(membership, text: str | bytes, name: str = "counters.csv") -> TabularImport:
    data = text.encode() if isinstance(text, str) else text
    return imports.import_upload(
        membership=membership, kind="counters", upload=SimpleUploadedFile(name, data)
    )


def raw_row(imp: TabularImport) -> dict[str, str]:
    """The import's row as the database stores it, every column as text."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM core_tabularimport WHERE id = %s", [imp.pk])
        names = [column[0] for column in cursor.description]
        values = cursor.fetchone()
    return {
        name: bytes(value).decode("latin-1")
        if isinstance(value, bytes | memoryview)
        else str(value)
        for name, value in zip(names, values, strict=True)
    }


def age(imp: TabularImport, days: int) -> None:
    TabularImport.objects.filter(pk=imp.pk).update(
        created_at=timezone.now() - dt.timedelta(days=days)
    )


# A file whose title column is imported and whose "Notes" column is not: the notes hold what
# must never reach the database in clear, nor stay once the columns are chosen.
FILE = f"Title,Count,Notes\r\nA,1,{SECRET}\r\nB,x,{SECRET}\r\nC,3,ok\r\n"


# --- Encrypted at rest -------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_file_and_every_cell_shown_of_it_are_encrypted_in_the_database(
    importer, head_membership
):
    imp = upload(head_membership, FILE.replace("B,x", f"{SECRET}-title,x"))
    imports.import_set_mapping(
        membership=head_membership, imp=imp, mapping={"0": "title", "1": "count"}
    )
    imports.import_check(membership=head_membership, imp=imp)
    imp.refresh_from_db()
    # What the pages show holds the secret (samples, preview, an error quoting a cell)...
    assert SECRET in imp.samples[2][0]
    assert any(SECRET in str(row["values"]) for row in imp.preview)
    assert SECRET.encode() in bytes(imp.data)

    raw = raw_row(imp)
    # ...and the database holds none of it in clear.
    assert SECRET not in "".join(raw.values())
    for column in ("data", "samples", "preview", "errors", "options"):
        assert raw[column].startswith(crypto.TOKEN_PREFIX), column
    assert set(imp.summary) == {
        "format",
        "encoding",
        "delimiter",
        "counts",
        "missing_counts",
        "preview_fields",
    }


@pytest.mark.django_db
def test_samples_are_cut_so_the_mapping_page_stays_small(importer, head_membership):
    imp = upload(head_membership, f"Title,Notes\r\nA,{'n' * 5000}\r\n")
    assert imp.samples[1] == ["n" * 99 + "…"]


# --- Kept only as long as needed ---------------------------------------------------------------


@pytest.mark.django_db
def test_starting_drops_the_first_values_and_finishing_keeps_only_rejected_imported_columns(
    importer, head_membership
):
    imp = upload(head_membership, FILE)
    imp = imports.import_set_mapping(
        membership=head_membership, imp=imp, mapping={"0": "title", "1": "count"}
    )
    imports.import_check(membership=head_membership, imp=imp)
    imp = imports.import_start(membership=head_membership, imp=imp, mode="valid")
    imp.refresh_from_db()
    assert imp.samples is None
    assert SECRET.encode() in bytes(imp.data)  # the job has not read it yet

    run_job.call(imp.job_id)
    imp.refresh_from_db()
    assert imp.status == TabularImport.Status.DONE
    assert imp.samples is None and imp.preview is None
    # Only the rejected row is kept, without the column that was not imported.
    report = imports.rejected_rows_csv(imp).decode("utf-8-sig")
    assert report.splitlines() == ["Title,Count,Row,Problem", "B,x,3,Count: must be a whole number"]
    assert SECRET not in bytes(imp.data).decode("utf-8-sig")
    assert len(imp.errors) == 1


@pytest.mark.django_db
def test_nothing_of_the_file_is_kept_when_no_row_was_rejected(importer, head_membership):
    imp = upload(head_membership, f"Title,Notes\r\nA,{SECRET}\r\n")
    imp = imports.import_start(membership=head_membership, imp=imp, mode="all")
    run_job.call(imp.job_id)
    imp.refresh_from_db()
    assert imp.status == TabularImport.Status.DONE
    assert imp.data == b""
    assert imp.errors == []
    assert raw_row(imp)["data"] == ""


@pytest.mark.django_db
def test_nothing_of_the_file_is_kept_when_the_import_fails(importer, head_membership):
    imp = upload(head_membership, f"Title,Notes\r\nA,{SECRET}\r\n")
    imp = imports.import_start(membership=head_membership, imp=imp, mode="all")
    Membership.objects.filter(pk=head_membership.pk).update(role=Role.MONITOR)
    with pytest.raises(Exception, match="no longer allows"):
        run_job.call(imp.job_id)
    imp.refresh_from_db()
    assert imp.status == TabularImport.Status.FAILED
    assert imp.data == b"" and imp.samples is None and imp.errors is None


# --- Deleted after the retention period --------------------------------------------------------


@pytest.mark.django_db
def test_the_sweep_deletes_files_older_than_the_bodys_retention(importer, head_membership):
    old = upload(head_membership, FILE)
    imports.import_check(membership=head_membership, imp=old)
    recent = upload(head_membership, FILE)
    age(old, 31)
    age(recent, 29)

    assert imports.import_purge_expired() == 1

    old.refresh_from_db()
    assert old.status == TabularImport.Status.EXPIRED
    assert old.data == b"" and old.samples is None and old.preview is None
    assert old.errors is None
    assert old.data_deleted_at is not None
    assert "counts" in old.summary  # what was found stays; the cells go
    raw = raw_row(old)
    assert (raw["data"], raw["samples"], raw["preview"], raw["errors"]) == ("", "", "", "")
    recent.refresh_from_db()
    assert recent.status == TabularImport.Status.UPLOADED
    assert SECRET.encode() in bytes(recent.data)
    entry = AuditEntry.objects.get(action="core.import.purge")
    assert entry.object_id == str(old.pk)
    assert entry.changes == {"file": ["counters.csv", None], "retention_days": 30}
    # A second sweep finds nothing more to do.
    assert imports.import_purge_expired() == 0


@pytest.mark.django_db
def test_each_body_has_its_own_retention(importer, head_membership):
    other = BodyFactory(slug="short-retention", import_retention_days=3)
    other_head = MembershipFactory(body=other, role=Role.HEAD)
    ours = upload(head_membership, FILE)
    theirs = upload(other_head, FILE)
    age(ours, 5)
    age(theirs, 5)

    assert imports.import_purge_expired() == 1

    theirs.refresh_from_db()
    ours.refresh_from_db()
    assert theirs.status == TabularImport.Status.EXPIRED
    assert ours.status == TabularImport.Status.UPLOADED


@pytest.mark.django_db
def test_a_finished_import_keeps_its_result_but_not_its_rejected_rows(importer, head_membership):
    imp = upload(head_membership, FILE)
    imp = imports.import_start(membership=head_membership, imp=imp, mode="valid")
    run_job.call(imp.job_id)
    age(imp, 40)

    call_command("vigil", "imports", "purge", stdout=(out := StringIO()))

    assert out.getvalue().strip() == ("Deleted the files of 1 import past their retention period.")
    imp.refresh_from_db()
    assert imp.status == TabularImport.Status.DONE
    assert imp.summary["result"]["created"] == 2
    assert imp.data == b"" and imp.errors is None


@pytest.mark.django_db
def test_each_import_job_runs_the_sweep_first(importer, head_membership):
    forgotten = upload(head_membership, FILE)
    age(forgotten, 31)
    imp = upload(head_membership, "Title\r\nA\r\n")
    imp = imports.import_start(membership=head_membership, imp=imp, mode="all")

    run_job.call(imp.job_id)

    forgotten.refresh_from_db()
    assert forgotten.status == TabularImport.Status.EXPIRED
    assert forgotten.data == b""


@pytest.mark.django_db
def test_an_import_whose_file_was_deleted_says_so_everywhere(importer, head_membership, client_for):
    imp = upload(head_membership, FILE)
    age(imp, 31)
    imports.import_purge_expired()
    imp.refresh_from_db()

    for service in (imports.import_check, imports.import_set_mapping):
        kwargs = {"mapping": {"0": "title"}} if service is imports.import_set_mapping else {}
        with pytest.raises(ValidationError, match="deleted 30 days after it was uploaded"):
            service(membership=head_membership, imp=imp, **kwargs)
    with pytest.raises(ValidationError, match="deleted 30 days after it was uploaded"):
        imports.import_start(membership=head_membership, imp=imp, mode="all")

    client = client_for(head_membership)
    response = client.get(reverse("import_mapping", args=[imp.pk]))
    assert response.status_code == 302
    page = client.get(reverse("import_detail", args=[imp.pk])).content.decode()
    assert "the file was deleted 30 days after it was uploaded" in page
    assert client.get(reverse("import_rejected", args=[imp.pk])).status_code == 404


@pytest.mark.django_db
def test_the_upload_page_says_when_files_are_deleted(importer, head_membership, client_for):
    Body.objects.filter(pk=head_membership.body_id).update(import_retention_days=7)
    page = client_for(head_membership).get(reverse("import_upload", args=["counters"]))
    assert "deletes it 7 days after the upload at the latest" in page.content.decode()


@pytest.mark.django_db
def test_the_result_page_says_until_when_rejected_rows_are_kept(
    importer, head_membership, client_for
):
    imp = upload(head_membership, FILE)
    imp = imports.import_start(membership=head_membership, imp=imp, mode="valid")
    run_job.call(imp.job_id)
    imp.refresh_from_db()
    page = client_for(head_membership).get(reverse("import_detail", args=[imp.pk]))
    until = date_filter(timezone.localtime(imp.created_at + dt.timedelta(days=30)), "DATE_FORMAT")
    assert f"keeps the rejected rows, encrypted, until {until}" in page.content.decode()


@pytest.mark.django_db
def test_the_retention_is_a_body_setting_changed_by_the_head_and_audited(head, body, client_for):
    client = client_for(head)
    url = reverse("body_settings")
    assert 'name="import_retention_days" value="30"' in client.get(url).content.decode()

    response = client.post(url, {"import_retention_days": "7"})

    assert response.status_code == 302
    body.refresh_from_db()
    assert body.import_retention_days == 7
    entry = AuditEntry.objects.get(action="core.body.update_settings")
    assert entry.changes == {"import_retention_days": [30, 7]}

    for wrong in ("0", "366", "2147483648", "soon"):
        response = client.post(url, {"import_retention_days": wrong})
        assert response.status_code == 200
        assert "errorlist" in response.content.decode()
    body.refresh_from_db()
    assert body.import_retention_days == 7


# --- Key rotation --------------------------------------------------------------------------


@pytest.mark.django_db
def test_key_rotation_finds_and_re_encrypts_import_files(importer, head_membership, settings):
    labels = {column.label for column in keys.value_columns()}
    assert {
        "core.TabularImport.data",
        "core.TabularImport.samples",
        "core.TabularImport.preview",
        "core.TabularImport.errors",
    } <= labels
    old_key = settings.VIGIL_ENCRYPTION_KEYS[0]
    imp = upload(head_membership, FILE)
    imports.import_check(membership=head_membership, imp=imp)
    KeyCheck.objects.all().delete()
    KeyCheck.objects.create(token=crypto.encrypt_text(KEY_CHECK_PLAINTEXT))
    new_key = Fernet.generate_key().decode()
    settings.VIGIL_ENCRYPTION_KEYS = [new_key, old_key]

    call_command("rotate_encryption_keys", stdout=StringIO())

    raw = raw_row(imp)
    for column in ("data", "samples", "preview", "errors"):
        token = raw[column].removeprefix(crypto.TOKEN_PREFIX).encode()
        Fernet(new_key.encode()).decrypt(token)  # raises unless on the new key
    settings.VIGIL_ENCRYPTION_KEYS = [new_key]
    imp.refresh_from_db()
    assert SECRET.encode() in bytes(imp.data)
    assert imp.samples[2][0] == SECRET


# --- Hostile files through the upload page ----------------------------------------------------


@pytest.mark.django_db
def test_hostile_files_are_refused_on_the_upload_page_with_the_limit(
    importer, head_membership, client_for
):
    client = client_for(head_membership)
    url = reverse("import_upload", args=["counters"])
    wide = (",".join(f"c{n}" for n in range(18_279)) + "\r\n" + "x," * 18_278 + "x\r\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "xl/sharedStrings.xml", "<sst>" + "<si><t>" + "s" * 30_000_000 + "</t></si></sst>"
        )
    cases = {
        "wide.csv": (wide, "“wide.csv” has 18279 columns; Vigil imports at most 500."),
        "strings.xlsx": (
            buffer.getvalue(),
            "The text of the cells of “strings.xlsx” takes 28.6 MB once uncompressed; Vigil "
            "opens workbooks with at most 25.0 MB of it.",
        ),
    }
    for name, (data, message) in cases.items():
        response = client.post(url, {"file": SimpleUploadedFile(name, data)})
        assert response.status_code == 400, name
        assert message in response.content.decode(), name
    assert not TabularImport.objects.exists()


@pytest.mark.django_db
def test_a_large_file_is_read_whole_only_in_the_background(
    importer, head_membership, client_for, monkeypatch
):
    monkeypatch.setattr(imports, "SYNC_READ_BYTES", 100)
    rows = "".join(f"T{n},{n}\r\n" for n in range(50))
    imp = upload(head_membership, "Title,Count\r\n" + rows)
    # The request read the header and the first rows only.
    assert imp.rows_counted is False and imp.row_count == 0
    assert imp.samples == [["T0", "T1", "T2"], ["0", "1", "2"]]
    client = client_for(head_membership)
    page = client.get(reverse("import_mapping", args=[imp.pk])).content.decode()
    assert "is a large file: its rows are counted and checked in the background" in page

    response = client.post(
        reverse("import_mapping", args=[imp.pk]), {"column_0": "title", "column_1": "count"}
    )
    assert response.status_code == 302
    imp.refresh_from_db()
    assert imports.is_checking(imp)
    run_job.call(imp.job_id)
    imp.refresh_from_db()
    assert imp.status == TabularImport.Status.VALIDATED
    assert (imp.rows_counted, imp.row_count) == (True, 50)
    imp.job.refresh_from_db()
    assert imp.job.progress_total == 50


@pytest.mark.django_db
def test_a_large_file_that_breaks_a_limit_past_its_first_rows_fails_with_the_message(
    importer, head_membership, client_for, monkeypatch, settings
):
    monkeypatch.setattr(imports, "SYNC_READ_BYTES", 100)
    settings.VIGIL_IMPORT_MAX_ROWS = 20
    imp = upload(head_membership, "Title\r\n" + "".join(f"T{n}\r\n" for n in range(30)))
    imports.import_set_mapping(membership=head_membership, imp=imp, mapping={"0": "title"})
    imp = imports.import_check(membership=head_membership, imp=imp)

    run_job.call(imp.job_id)

    imp.refresh_from_db()
    assert imp.status == TabularImport.Status.FAILED
    message = "“counters.csv” has more than 20 data rows."
    assert message in imp.summary["failure"]
    assert imp.data == b""
    page = client_for(head_membership).get(reverse("import_detail", args=[imp.pk]))
    assert message in page.content.decode()


@pytest.mark.django_db
def test_the_mapping_page_stays_small_for_the_widest_file_with_the_longest_cells(
    importer, head_membership, client_for
):
    # 500 columns (the limit) whose headers and first values are 10,000 characters long (the
    # limit): 15 MB of text, of which the page shows a bounded part.
    headers = [f"{number:03d}" + "h" * 9_997 for number in range(500)]
    rows = [["v" * 10_000] * 500 for _row in range(3)]
    text = "\r\n".join(",".join(row) for row in [headers, *rows]) + "\r\n"
    imp = upload(head_membership, text)

    started = time.perf_counter()
    response = client_for(head_membership).get(reverse("import_mapping", args=[imp.pk]))

    assert response.status_code == 200
    assert len(response.content) < 1_000_000
    assert time.perf_counter() - started < 5
