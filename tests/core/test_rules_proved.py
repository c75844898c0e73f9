"""Core rules a mutation review broke without any test noticing (issue 19, "Tests that prove the
rules"), each written so that it fails when its rule is removed: literal values, never the
constant the code itself uses."""

from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.core.test_imports import CounterImporter
from vigil.core import imports
from vigil.core.models import AuditEntry, Membership
from vigil.core.tabular import neutralise_cell, rows_to_csv_bytes, write_xlsx

# What a spreadsheet may take as the start of a formula (OWASP's CSV injection list), written
# out here rather than read from the code: dropping one from the code must fail a test.
LITERAL_PREFIXES = ["=", "+", "-", "@", "\t", "\r"]
PAYLOADS = ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1+1", "\r=1+1", "\tcmd", "\rcmd"]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_every_formula_start_is_neutralised_written_out(payload):
    assert neutralise_cell(payload) == "'" + payload


@pytest.mark.parametrize("payload", ["\t=HYPERLINK(1)", "\r=HYPERLINK(1)"])
def test_tab_and_carriage_return_are_neutralised_in_csv_and_xlsx(payload):
    written = rows_to_csv_bytes(["name"], [[payload]]).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(written, newline="")))
    assert rows[1] == ["'" + payload]
    buffer = io.BytesIO()
    write_xlsx(["name"], [[payload]], buffer, sheet_title="Places")
    sheet = openpyxl.load_workbook(io.BytesIO(buffer.getvalue()))["Places"]
    # XML reads a carriage return back as a line feed; the apostrophe is what matters.
    value = sheet.cell(row=2, column=1).value
    assert value.startswith("'") and value[1:].replace("\n", "\r") == payload


@pytest.mark.parametrize("text", ["a=b", " =1", "x\t", "Fresnes", "1-2"])
def test_text_that_does_not_start_a_formula_is_left_alone(text):
    assert neutralise_cell(text) == text


class _Label:
    """Not a str, but shown as text (a lazy translation, a model): neutralised all the same."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text


@pytest.mark.parametrize("payload", PAYLOADS)
def test_objects_shown_as_formula_text_are_neutralised(payload):
    assert neutralise_cell(_Label(payload)) == "'" + payload
    assert neutralise_cell(_Label("Fresnes")) == "Fresnes"


def test_dates_and_times_are_written_as_iso_text():
    assert neutralise_cell(dt.time(8, 5)) == "08:05:00"
    assert neutralise_cell(dt.date(2024, 2, 29)) == "2024-02-29"


def test_only_formula_starts_get_the_apostrophe():
    for character in map(chr, range(32, 127)):
        expected = "'" + character + "x" if character in LITERAL_PREFIXES else character + "x"
        assert neutralise_cell(character + "x") == expected


@pytest.mark.django_db
def test_starting_an_import_is_in_the_trail(head, body):
    membership = Membership.objects.get(user=head, body=body)
    counter = imports.register_importer(CounterImporter())
    try:
        imp = imports.import_upload(
            membership=membership,
            kind="counters",
            upload=SimpleUploadedFile("counters.csv", b"Title,Count\r\nA,1\r\n"),
        )
        assert not AuditEntry.objects.filter(action="core.import.start").exists()
        imp = imports.import_start(membership=membership, imp=imp, mode="all")
    finally:
        imports._IMPORTERS.pop(counter.kind)
    entry = AuditEntry.objects.get(action="core.import.start")
    assert entry.body == body
    assert entry.actor == head
    assert entry.object_id == str(imp.pk)
