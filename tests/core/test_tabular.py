"""Tests for the database-free CSV/XLSX reading and writing in vigil.core.tabular."""

import csv
import datetime as dt
import io
import os
import time
import zipfile
from collections.abc import Iterator
from decimal import Decimal

import django
import openpyxl
import pytest
from django.conf import settings
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

# These tests need no database, so they must also run before the project's settings and
# conftest exist (`pytest -p no:django`); when real settings are configured they are used.
if not settings.configured and "DJANGO_SETTINGS_MODULE" not in os.environ:
    settings.configure(USE_I18N=True, USE_TZ=True, TIME_ZONE="Europe/Paris")
    django.setup()

from vigil.core.tabular import (
    DEFAULT_MAX_ROWS,
    FORMULA_PREFIXES,
    Limits,
    Table,
    TabularError,
    guess_mapping,
    neutralise_cell,
    normalise_header,
    parse_size,
    read_table,
    rows_to_csv_bytes,
    stream_csv,
    write_xlsx,
)

BOM = b"\xef\xbb\xbf"


def xlsx_bytes(rows: list[list[object]], *, extra_first_sheet: bool = False) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    if extra_first_sheet:
        # The active sheet is now the second one; read_table must still take the first.
        notes = workbook.create_sheet("Notes", 0)
        notes.append(["first", "sheet"])
        notes.append(["wins", "anyway"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def error_message(data: bytes, filename: str) -> str:
    with pytest.raises(TabularError) as excinfo:
        read_table(data, filename)
    return str(excinfo.value)


# --- CSV decoding ----------------------------------------------------------------------------


def test_reads_utf8_csv() -> None:
    table = read_table("Nom,Ville\nMaison d’arrêt,Lyon\n".encode(), "places.csv")

    assert table == Table(
        headers=["Nom", "Ville"],
        rows=[["Maison d’arrêt", "Lyon"]],
        source_format="csv",
        encoding="utf-8",
        delimiter=",",
        source_rows=(2,),
    )


def test_strips_utf8_bom_and_reports_it() -> None:
    table = read_table(BOM + "name,city\nCentre pénitentiaire,Rennes\n".encode(), "places.csv")

    assert table.encoding == "utf-8-sig"
    assert table.headers == ["name", "city"]
    assert table.rows == [["Centre pénitentiaire", "Rennes"]]


def test_falls_back_to_cp1252() -> None:
    data = "name;city\nPrison de Fresnes – Unité 2;Fresnes\n".encode("cp1252")

    table = read_table(data, "places.csv")

    assert table.encoding == "cp1252"
    assert table.rows == [["Prison de Fresnes – Unité 2", "Fresnes"]]


def test_reads_latin1_text() -> None:
    data = "nombre,ciudad\nComisaría Central,Asunción\n".encode("latin-1")

    table = read_table(data, "lugares.csv")

    # cp1252 agrees with latin-1 on every printable character, so it is tried first and the
    # text comes out right either way.
    assert table.encoding == "cp1252"
    assert table.rows == [["Comisaría Central", "Asunción"]]


def test_uses_latin1_when_cp1252_cannot_decode() -> None:
    # 0x81 is undefined in cp1252 (a C1 control in latin-1).
    data = b"name,code\nComisar\xeda,\x81\n"

    table = read_table(data, "places.csv")

    assert table.encoding == "latin-1"
    assert table.rows == [["Comisaría", "\x81"]]


# --- CSV separators and quoting --------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_detects_separator(delimiter: str) -> None:
    lines = [["name", "type", "city"], ["Fresnes", "prison", "Fresnes"], ["CRA 1", "cra", "Lyon"]]
    data = "\n".join(delimiter.join(line) for line in lines).encode()

    table = read_table(data, "places.csv")

    assert table.delimiter == delimiter
    assert table.headers == ["name", "type", "city"]
    assert table.rows == [["Fresnes", "prison", "Fresnes"], ["CRA 1", "cra", "Lyon"]]


def test_separator_ties_go_to_comma() -> None:
    table = read_table(b"a;b,c\n1;2,3\n", "places.csv")

    assert table.delimiter == ","
    assert table.headers == ["a;b", "c"]


def test_quoted_separators_do_not_count_or_split() -> None:
    data = (
        '"Name, official";code;address\n'
        '"Centre; aile B";C-1;"1, rue de la Paix\nBâtiment 2"\n'
        "Fresnes;C-2;Allée des Thuyas\n"
    ).encode()

    table = read_table(data, "places.csv")

    assert table.delimiter == ";"
    assert table.headers == ["Name, official", "code", "address"]
    assert table.rows == [
        ["Centre; aile B", "C-1", "1, rue de la Paix\nBâtiment 2"],
        ["Fresnes", "C-2", "Allée des Thuyas"],
    ]
    # The quoted line break keeps the first record on spreadsheet row 2.
    assert [table.row_number(0), table.row_number(1)] == [2, 3]


def test_accepts_space_after_separator_before_quote() -> None:
    table = read_table(b'name, city\n"Fresnes, A", "Paris, 14e"\n', "places.csv")

    assert table.rows == [["Fresnes, A", "Paris, 14e"]]


def test_strips_cells_pads_short_rows_and_ignores_trailing_empty_cells() -> None:
    data = b"name , code,city,,\n  Fresnes ,F1\nLyon,L1,Lyon,,,\n"

    table = read_table(data, "places.csv")

    assert table.headers == ["name", "code", "city"]
    assert table.rows == [["Fresnes", "F1", ""], ["Lyon", "L1", "Lyon"]]


def test_skips_empty_rows_and_keeps_spreadsheet_row_numbers() -> None:
    data = b"\nname,code\n\nFresnes,F1\n , \nLyon,L1\n"

    table = read_table(data, "places.csv")

    assert table.rows == [["Fresnes", "F1"], ["Lyon", "L1"]]
    assert [table.row_number(0), table.row_number(1)] == [4, 6]


def test_row_number_without_source_rows_counts_from_header() -> None:
    table = Table(["a"], [["1"], ["2"]], "csv", "utf-8", ",")

    assert [table.row_number(0), table.row_number(1)] == [2, 3]


# --- CSV errors ------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"   \r\n\n\t ", BOM, BOM + b"\n"])
def test_empty_file(data: bytes) -> None:
    assert "empty" in error_message(data, "places.csv")


def test_header_without_data_rows() -> None:
    message = error_message(b"name,code\n\n,\n", "places.csv")

    assert "no data rows" in message
    assert "places.csv" in message


def test_row_with_too_many_cells_names_row_and_counts() -> None:
    data = b"name,code,city\nFresnes,F1,Fresnes\nLyon,L1,Lyon,extra\n"

    message = error_message(data, "places.csv")

    assert "Row 3" in message
    assert "4 cells" in message
    assert "3 columns" in message


def test_a_repeated_header_gets_its_column_letter() -> None:
    table = read_table(b"name,code,Name,code\nA,1,B,2\n", "places.csv")

    assert table.headers == ["name", "code", "Name (C)", "code (D)"]
    assert table.rows == [["A", "1", "B", "2"]]


def test_an_empty_header_is_named_after_its_column() -> None:
    table = read_table(b"name,,city\nA,1,B\n", "places.csv")

    assert table.headers == ["name", "Column B", "city"]


def test_unclosed_quote_names_the_row() -> None:
    data = b'name,code\nFresnes,F1\n"Lyon,L1\nMarseille,M1\n'

    message = error_message(data, "places.csv")

    assert "Row 3" in message


def test_too_many_rows() -> None:
    assert DEFAULT_MAX_ROWS == 200_000
    limits = Limits(max_rows=3)
    header = b"name\n"

    assert len(read_table(header + b"a\nb\nc\n", "places.csv", limits=limits).rows) == 3
    with pytest.raises(TabularError, match="more than 3 data rows"):
        read_table(header + b"a\nb\nc\nd\n", "places.csv", limits=limits)


def test_the_row_limit_comes_from_the_settings(settings) -> None:
    settings.VIGIL_IMPORT_MAX_ROWS = 2

    assert "“places.csv” has more than 2 data rows" in error_message(
        b"name\na\nb\nc\n", "places.csv"
    )


@pytest.mark.parametrize(
    "data",
    [
        b"name,code\x00\x00\x00\x01\x02",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        bytes(range(256)),
    ],
    ids=["nul-bytes", "png", "all-bytes"],
)
def test_binary_data_is_rejected(data: bytes) -> None:
    assert "does not look like a CSV or Excel file" in error_message(data, "places.csv")


def test_utf16_gets_a_specific_message() -> None:
    data = "name\tcode\nFresnes\tF1\n".encode("utf-16")

    assert "UTF-16" in error_message(data, "places.csv")


def test_old_excel_gets_a_specific_message() -> None:
    data = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100

    assert ".xls" in error_message(data, "places.xls")
    assert ".xls" in error_message(data, "places.csv")


@pytest.mark.parametrize("filename", ["places.CSV", "places.tsv", "places.txt", "upload"])
def test_accepts_text_extensions_and_no_extension(filename: str) -> None:
    assert read_table(b"name\tcode\nFresnes\tF1\n", filename).rows == [["Fresnes", "F1"]]


@pytest.mark.parametrize("filename", ["report.pdf", "places.docx", "places.ods", "notes.json"])
def test_unsupported_extension_names_accepted_formats(filename: str) -> None:
    # A .docx is a zip file too: the extension must be checked before the magic bytes.
    message = error_message(b"PK\x03\x04 whatever", filename)

    assert filename in message
    assert ".csv" in message
    assert ".xlsx" in message


# --- XLSX ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"this is not a workbook",
        b"PK\x03\x04 truncated zip",
        BOM + b"name,code\nA,1\n",
    ],
)
def test_xlsx_name_with_garbage_bytes(data: bytes) -> None:
    assert "is not a valid Excel workbook" in error_message(data, "places.xlsx")


def test_xlsx_name_with_a_zip_that_is_not_a_workbook() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<document/>")

    assert "is not a valid Excel workbook" in error_message(buffer.getvalue(), "places.xlsx")


def test_reads_real_xlsx_with_numbers_dates_and_empty_rows() -> None:
    data = xlsx_bytes(
        [
            [" name ", "capacity", "rate", "opened", "inspected", "active", None],
            ["Fresnes", 1200, 12.0, dt.date(1898, 7, 19), dt.datetime(2024, 3, 5, 14, 30), True],
            [None, None, None, None],
            ["Lyon-Corbas", -3, 0.1, dt.datetime(2009, 5, 1), None, False],
            [],
            ["CRA 1", Decimal("2.50"), 1e-7, None, None, None, None],
        ]
    )

    table = read_table(data, "places.xlsx")

    assert table.source_format == "xlsx"
    assert table.encoding is None
    assert table.delimiter is None
    assert table.headers == ["name", "capacity", "rate", "opened", "inspected", "active"]
    assert table.rows == [
        ["Fresnes", "1200", "12", "1898-07-19", "2024-03-05 14:30:00", "TRUE"],
        ["Lyon-Corbas", "-3", "0.1", "2009-05-01", "", "FALSE"],
        ["CRA 1", "2.5", "0.0000001", "", "", ""],
    ]
    assert [table.row_number(index) for index in range(3)] == [2, 4, 6]


def test_xlsx_reads_the_first_of_equal_sheets_not_the_active_one() -> None:
    data = xlsx_bytes([["name"], ["Fresnes"]], extra_first_sheet=True)

    table = read_table(data, "places.xlsx")

    assert table.headers == ["first", "sheet"]
    assert table.rows == [["wins", "anyway"]]
    assert table.sheets == (("Notes", 2), ("Sheet", 2))


def test_xlsx_detected_by_magic_bytes_whatever_the_name() -> None:
    data = xlsx_bytes([["name", "code"], ["Fresnes", 1]])

    assert read_table(data, "export.csv").rows == [["Fresnes", "1"]]
    assert read_table(data, "upload").source_format == "xlsx"


def test_xlsx_applies_the_same_checks_as_csv() -> None:
    assert "empty" in error_message(xlsx_bytes([]), "places.xlsx")
    assert "no data rows" in error_message(xlsx_bytes([["name"], [None]]), "places.xlsx")
    assert read_table(xlsx_bytes([["name", "Name"], ["a", "b"]]), "p.xlsx").headers == [
        "name",
        "Name (B)",
    ]
    message = error_message(xlsx_bytes([["name"], ["a"], ["b", "c"]]), "places.xlsx")
    assert "Row 3" in message


# --- Workbooks as they come: notes sheets, title rows, merged cells, formulas ------------------


def notes_first_workbook() -> bytes:
    """A notes sheet first (a paragraph per row, some wider than a table), then the table under
    two title rows, with a merged title, a formula, a date stored as a number and a hidden row."""
    workbook = openpyxl.Workbook()
    notes = workbook.active
    notes.title = "Notes"
    notes.append(["About this list"])
    notes.append(["Source", "Ministry of Justice", "2024", "revised", "by hand"])
    table = workbook.create_sheet("Prisons")
    table.append(["Prisons of the Republic, 2024"])
    table.merge_cells("A1:D1")
    table.append([])
    table.append(["ID", "Name", "Capacity", "Opened"])
    table.append(["P1", "Central Prison", 400, 45000])
    table.append(["P2", "North Prison", "=C4+100", dt.date(2001, 5, 4)])
    table.append(["P3", "Hidden Prison", 50, None])
    table.row_dimensions[6].hidden = True
    for number in range(20):
        table.append([f"Q{number}", f"Jail {number}", 10, None])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_a_notes_sheet_first_is_passed_over_for_the_table() -> None:
    table = read_table(notes_first_workbook(), "prisons.xlsx")

    assert table.sheet == "Prisons"
    assert [title for title, _rows in table.sheets] == ["Notes", "Prisons"]
    assert table.header_row == 3
    assert table.headers == ["ID", "Name", "Capacity", "Opened"]
    assert table.row_number(0) == 4


def test_the_notes_sheet_chosen_names_the_sheet_without_csv_advice() -> None:
    with pytest.raises(TabularError) as excinfo:
        read_table(notes_first_workbook(), "prisons.xlsx", sheet="Notes", header_row=1)
    message = str(excinfo.value)

    assert "sheet “Notes”" in message
    assert "separator" not in message


def test_an_unknown_sheet_is_named() -> None:
    with pytest.raises(TabularError, match="no sheet “Nope”"):
        read_table(notes_first_workbook(), "prisons.xlsx", sheet="Nope")


def test_workbook_cells_read_as_a_person_sees_them() -> None:
    table = read_table(notes_first_workbook(), "prisons.xlsx", sheet="Prisons")
    rows = {row[0]: row for row in table.rows}

    # A date stored as a bare number stays a number (the importer reads it as a date); a
    # formatted date is a date; a formula without a computed value is empty, never its text;
    # hidden rows are data like the others.
    assert rows["P1"] == ["P1", "Central Prison", "400", "45000"]
    assert rows["P2"][2:] == ["", "2001-05-04"]
    assert rows["P3"][:2] == ["P3", "Hidden Prison"]
    assert len(table.rows) == 23


def test_the_header_row_can_be_chosen() -> None:
    data = b"Title of the list\n\nID,Name\nP1,Central\nP2,North\n"

    assert read_table(data, "p.csv").headers == ["ID", "Name"]
    table = read_table(data, "p.csv", header_row=4)
    assert table.headers == ["P1", "Central"]
    assert table.rows == [["P2", "North"]]
    with pytest.raises(TabularError, match=r"Row 2 .* is empty"):
        read_table(data, "p.csv", header_row=2)


def test_header_detection_keeps_an_ordinary_first_row() -> None:
    assert read_table(b"name\nA\nB\n", "p.csv").headers == ["name"]
    assert read_table(b"a,b,c\n1,,\n2,3,4\n", "p.csv").rows[0] == ["1", "", ""]


# --- Hostile files: every limit is enforced while reading ------------------------------------


def zip_workbook(parts: dict[str, str]) -> bytes:
    """A zip with the given parts, deflated: a few KB that may decompress to megabytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def test_a_csv_wider_than_the_column_limit_is_refused_with_the_limit() -> None:
    # 18,279 columns crashed the reader (no spreadsheet letter beyond ZZZ) and 18,000 built a
    # mapping page of 23 MB.
    header = ",".join(f"c{number}" for number in range(18_279))
    data = f"{header}\n{'x,' * 18_278}x\n".encode()

    message = error_message(data, "wide.csv")

    assert message == (
        "“wide.csv” has 18279 columns; Vigil imports at most 500. Remove the columns you do not "
        "need and upload it again."
    )


def test_the_column_limit_is_a_setting(settings) -> None:
    settings.VIGIL_IMPORT_MAX_COLUMNS = 2
    assert read_table(b"a,b\n1,2\n", "ok.csv").headers == ["a", "b"]
    assert "has 3 columns; Vigil imports at most 2" in error_message(b"a,b,c\n1,2,3\n", "x.csv")


def test_a_cell_longer_than_the_limit_is_refused_with_its_row_and_column() -> None:
    long_cell = "y" * 10_001
    message = error_message(f"name,notes\nFresnes,ok\nLyon,{long_cell}\n".encode(), "p.csv")
    assert message == (
        "Row 3, column 2 (B) of “p.csv” has 10001 characters; a cell may hold at most 10000."
    )
    # A header is a cell too.
    assert "Row 1, column 1 (A)" in error_message(f"{long_cell}\nx\n".encode(), "p.csv")
    assert read_table(f"name\n{'y' * 10_000}\n".encode(), "p.csv").rows == [["y" * 10_000]]


def test_a_cell_past_the_csv_modules_own_cap_gets_the_same_message() -> None:
    message = error_message(b"name\n" + b"z" * 200_000 + b"\n", "p.csv")
    assert message.startswith("Row 2 of “p.csv” has a cell of more than 131072 characters")
    assert "at most 10000" in message


def test_column_letters_go_past_zzz() -> None:
    from vigil.core.tabular import column_letter

    assert [column_letter(n) for n in (1, 26, 27, 702, 703, 18_278, 18_279)] == [
        "A",
        "Z",
        "AA",
        "ZZ",
        "AAA",
        "ZZZ",
        "AAAA",
    ]


def test_a_workbook_that_decompresses_past_the_limit_is_refused_before_it_is_opened() -> None:
    # 2 MB of inline cells in a few KB of zip: refused from the zip's directory alone. The
    # sheet is not even a valid one, so a refusal for anything but its size would show that
    # the reader opened it.
    row = '<row><c t="inlineStr"><is><t>x</t></is></c></row>' * 40_000
    data = zip_workbook({"xl/worksheets/sheet1.xml": f"<broken>{row}"})
    assert len(data) < 50_000
    limits = Limits(max_xlsx_bytes=1024 * 1024)

    with pytest.raises(TabularError) as excinfo:
        read_table(data, "bomb.xlsx", limits=limits)

    assert str(excinfo.value) == (
        "“bomb.xlsx” would take 1.9 MB once uncompressed; Vigil opens workbooks of at most "
        "1.0 MB. Save it as CSV, or split it into smaller files."
    )
    with pytest.raises(TabularError, match=r"would take 1\.9 MB"):
        parse_size(data, "bomb.xlsx", limits=limits)


def test_a_workbook_declaring_400_mb_is_refused_at_the_default_limit_without_inflating() -> None:
    # The 2 MB workbook of 200,000 rows of 50 inline cells that timed the web worker out
    # decompresses to about 400 MB. Its directory says so, and that is all that is read: here
    # the declared size is forged over a tiny part, which inflating would expose as a lie.
    data = bytearray(zip_workbook({"xl/worksheets/sheet1.xml": "<worksheet/>"}))
    directory = data.index(b"PK\x01\x02")
    data[directory + 24 : directory + 28] = (400 * 1024 * 1024).to_bytes(4, "little")

    started = time.perf_counter()
    message = error_message(bytes(data), "inline.xlsx")

    assert message.startswith(
        "“inline.xlsx” would take 400.0 MB once uncompressed; Vigil opens workbooks of at most "
        "100.0 MB."
    )
    assert time.perf_counter() - started < 0.5


def test_a_shared_strings_bomb_is_refused_before_it_is_loaded() -> None:
    strings = "<si><t>" + "s" * 1000 + "</t></si>"
    data = zip_workbook({"xl/sharedStrings.xml": f"<sst>{strings * 1500}</sst>"})
    limits = Limits(max_xlsx_bytes=4 * 1024 * 1024)  # 1 MB of shared strings at most

    with pytest.raises(TabularError) as excinfo:
        read_table(data, "strings.xlsx", limits=limits)

    assert str(excinfo.value).startswith(
        "The text of the cells of “strings.xlsx” takes 1.5 MB once uncompressed; Vigil opens "
        "workbooks with at most 1.0 MB of it."
    )


def test_a_workbook_cell_longer_than_the_limit_is_refused() -> None:
    data = xlsx_bytes([["name", "notes"], ["Fresnes", "n" * 10_001]])
    assert error_message(data, "p.xlsx") == (
        "Row 2, column 2 (B) of “p.xlsx” has 10001 characters; a cell may hold at most 10000."
    )


def test_a_workbook_wider_than_the_column_limit_is_refused() -> None:
    data = xlsx_bytes([[f"c{number}" for number in range(501)], ["x"]])
    assert "has 501 columns; Vigil imports at most 500" in error_message(data, "wide.xlsx")


def test_head_rows_reads_the_header_and_a_sample_only() -> None:
    data = b"name\n" + b"".join(f"p{number}\n".encode() for number in range(100))
    # A broken row after the sample is not reached.
    data += b'"unclosed\n'

    table = read_table(data, "p.csv", head_rows=3)

    assert table.rows == [["p0"], ["p1"], ["p2"]]
    assert table.complete is False
    assert read_table(b"name\na\n", "p.csv", head_rows=3).complete is True


def test_parse_size_is_the_text_to_read() -> None:
    assert parse_size(b"name\na\n", "p.csv") == 7
    data = xlsx_bytes([["name"], ["a"]])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        declared = sum(part.file_size for part in archive.infolist())
    assert parse_size(data, "p.xlsx") == declared


# --- Header normalisation and mapping --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Name", "name"),
        ("  Nom du lieu ", "nom_du_lieu"),
        ("Établissement", "etablissement"),
        ("N° d'identification", "n_d_identification"),
        ("External-ID", "external_id"),
        ("Straße", "strasse"),
        ("Comisaría / Sede", "comisaria_sede"),
        ("__Код__", "код"),
        ("***", ""),
    ],
)
def test_normalise_header(text: str, expected: str) -> None:
    assert normalise_header(text) == expected


PLACE_FIELDS = {
    "name": ["name", "place", "nom", "nombre", "lieu"],
    "external_id": ["id", "external id", "code"],
    "city": ["city", "ville", "ciudad", "commune"],
}


def test_guess_mapping_with_accents_and_synonyms() -> None:
    headers = ["NOMBRE", "Código", "Ciudad", "Observaciones"]

    assert guess_mapping(headers, PLACE_FIELDS) == {
        0: "name",
        1: None,  # "codigo" is not "code": synonyms are words, not stems
        2: "city",
        3: None,
    }


def test_guess_mapping_matches_field_names_and_multiword_synonyms() -> None:
    headers = ["External ID", "Name", "Ville"]

    assert guess_mapping(headers, PLACE_FIELDS) == {0: "external_id", 1: "name", 2: "city"}


def test_exact_match_beats_prefix_and_contains() -> None:
    headers = ["Lieu de privation", "ID externe", "Nom", "Commune du lieu"]

    mapping = guess_mapping(headers, PLACE_FIELDS)

    # "Nom" is exact and wins "name" although "Lieu de privation" comes first.
    assert mapping == {0: None, 1: "external_id", 2: "name", 3: "city"}


def test_each_field_is_used_once_and_first_column_wins() -> None:
    mapping = guess_mapping(["Name", "name (short)", "Place"], PLACE_FIELDS)

    assert mapping == {0: "name", 1: None, 2: None}


def test_contains_matches_whole_words_only() -> None:
    mapping = guess_mapping(["Paid", "Valid until", "Place ID"], PLACE_FIELDS)

    # "place_id" starts with "place" (name) and contains "id" (external_id); the prefix match is
    # stronger, so the column goes to name and "id" finds no other column.
    assert mapping == {0: None, 1: None, 2: "name"}


# --- Formula neutralising --------------------------------------------------------------------


@pytest.mark.parametrize("prefix", FORMULA_PREFIXES)
def test_neutralise_cell_prefixes_formula_text(prefix: str) -> None:
    assert neutralise_cell(prefix + "cmd|' /C calc'!A0") == "'" + prefix + "cmd|' /C calc'!A0"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        ("", ""),
        ("Fresnes", "Fresnes"),
        ("a=b", "a=b"),
        (-3, "-3"),
        (-3.5, "-3.5"),
        (-2.0, "-2"),
        (Decimal("-12.50"), "-12.5"),
        (0, "0"),
        (True, "TRUE"),
        (dt.date(2024, 2, 29), "2024-02-29"),
        (dt.datetime(2024, 2, 29, 8, 5), "2024-02-29 08:05:00"),
        ("-3", "'-3"),  # text is text, even when it looks like a number
    ],
)
def test_neutralise_cell_values(value: object, expected: str) -> None:
    assert neutralise_cell(value) == expected


def test_neutralise_cell_shows_aware_datetimes_in_current_time_zone() -> None:
    value = dt.datetime(2024, 1, 15, 12, 0, tzinfo=dt.UTC)

    with timezone.override("Europe/Paris"):
        assert neutralise_cell(value) == "2024-01-15 13:00:00+01:00"


def decode_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(BOM)
    return list(csv.reader(io.StringIO(data[len(BOM) :].decode(), newline="")))


def test_csv_export_neutralises_every_prefix() -> None:
    rows = [[prefix + "1+1", -3, Decimal("-1.5")] for prefix in FORMULA_PREFIXES]

    written = decode_csv(rows_to_csv_bytes(["=header", "n", "d"], rows))

    assert written[0] == ["'=header", "n", "d"]
    for prefix, row in zip(FORMULA_PREFIXES, written[1:], strict=True):
        assert row == ["'" + prefix + "1+1", "-3", "-1.5"]


def test_xlsx_export_neutralises_text_and_keeps_numbers_and_dates_typed() -> None:
    rows = [
        [prefix + "1+1", -3, -2.5, Decimal("-1.5"), dt.date(2024, 1, 2)]
        for prefix in FORMULA_PREFIXES
    ]
    buffer = io.BytesIO()

    count = write_xlsx(["=header", "i", "f", "d", "date"], rows, buffer, sheet_title="Places")

    assert count == len(FORMULA_PREFIXES)
    sheet = openpyxl.load_workbook(io.BytesIO(buffer.getvalue()))["Places"]
    values = list(sheet.iter_rows(values_only=True))
    assert values[0] == ("'=header", "i", "f", "d", "date")
    assert sheet["A1"].font.bold
    for row_number in range(2, len(FORMULA_PREFIXES) + 2):
        cell = sheet.cell(row=row_number, column=1)
        assert cell.data_type == "s"
        assert isinstance(cell.value, str)
        assert cell.value.startswith("'")
        assert values[row_number - 1][1:4] == (-3, -2.5, -1.5)
        assert sheet.cell(row=row_number, column=5).value == dt.datetime(2024, 1, 2)


def test_xlsx_export_survives_awkward_values() -> None:
    buffer = io.BytesIO()
    aware = dt.datetime(2024, 7, 1, 10, 0, tzinfo=dt.UTC)

    with timezone.override("Europe/Paris"):
        write_xlsx(
            ["text", "when", "nan"],
            [["bell\x07 and nul\x00", aware, float("nan")]],
            buffer,
            sheet_title="Places: [2024]/* an overly long title",
        )

    workbook = openpyxl.load_workbook(io.BytesIO(buffer.getvalue()))
    sheet = workbook.worksheets[0]
    assert sheet.title == "Places 2024 an overly long titl"
    assert [cell.value for cell in sheet[2]] == [
        "bell and nul",
        dt.datetime(2024, 7, 1, 12, 0),
        "nan",
    ]


def test_xlsx_export_reads_back_through_read_table() -> None:
    buffer = io.BytesIO()
    write_xlsx(["name", "capacity", "opened"], [["Fresnes", 1200, dt.date(1898, 7, 19)]], buffer)

    table = read_table(buffer.getvalue(), "export.xlsx")

    assert table.rows == [["Fresnes", "1200", "1898-07-19"]]


# --- CSV streaming ---------------------------------------------------------------------------


def test_stream_csv_starts_with_bom_then_header_and_uses_crlf() -> None:
    chunks = list(stream_csv(["name", "city"], iter([["Fresnes", "Fresnes, Val-de-Marne"]])))

    assert chunks[0] == BOM
    assert chunks[1] == b"name,city\r\n"
    assert b"".join(chunks[2:]) == b'Fresnes,"Fresnes, Val-de-Marne"\r\n'


def test_stream_csv_with_semicolon_reads_back() -> None:
    data = rows_to_csv_bytes(["nom", "ville"], [["Unité; B", "Lyon"]], delimiter=";")

    table = read_table(data, "export.csv")

    assert table.delimiter == ";"
    assert table.encoding == "utf-8-sig"
    assert table.rows == [["Unité; B", "Lyon"]]


def test_stream_csv_is_lazy_and_chunked() -> None:
    total = 100_000
    consumed = 0

    def rows() -> Iterator[list[object]]:
        nonlocal consumed
        for number in range(total):
            consumed += 1
            yield [f"Place {number}", number, "Ville"]

    # A generator has no len(): any attempt to size or materialise it up front would fail or
    # show up in `consumed` before the first rows are out.
    stream = stream_csv(["name", "number", "city"], rows())
    assert next(stream) == BOM
    assert next(stream) == b"name,number,city\r\n"
    assert consumed == 0

    first_rows = next(stream)
    assert 60 * 1024 <= len(first_rows) <= 70 * 1024
    assert consumed < total

    rest = list(stream)
    assert consumed == total
    assert len(rest) > 10
    assert all(len(chunk) <= 70 * 1024 for chunk in rest)
    lines = b"".join([first_rows, *rest]).split(b"\r\n")
    assert len(lines) == total + 1  # the last split is the empty string after the final CRLF
    assert lines[-2] == b"Place 99999,99999,Ville"


# --- Round trip property ---------------------------------------------------------------------

# Headers made of letters, digits and inner spaces: the separator is sniffed from the header line,
# so a header containing the other candidate separator would make the file genuinely ambiguous.
header_names = st.text(
    alphabet=st.characters(categories=("L", "N", "Zs")), min_size=1, max_size=12
).filter(lambda text: text.strip() != "")
cell_texts = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=15)


@st.composite
def csv_tables(draw: st.DrawFn) -> tuple[list[str], list[list[str]]]:
    # At least two columns: with a single column there is no separator to sniff at all.
    headers = draw(
        st.lists(
            header_names, min_size=2, max_size=5, unique_by=lambda text: text.strip().casefold()
        )
    )
    rows = draw(
        st.lists(st.lists(cell_texts, min_size=len(headers), max_size=len(headers)), max_size=8)
    )
    return headers, rows


@given(table=csv_tables(), delimiter=st.sampled_from([",", ";"]))
def test_csv_round_trip(table: tuple[list[str], list[list[str]]], delimiter: str) -> None:
    headers, rows = table
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(headers)
    writer.writerows(rows)
    data = buffer.getvalue().encode("utf-8")
    expected = [[cell.strip() for cell in row] for row in rows]
    expected = [row for row in expected if any(row)]

    if not expected:
        with pytest.raises(TabularError):
            read_table(data, "places.csv")
        return
    result = read_table(data, "places.csv")

    assert result.delimiter == delimiter
    assert result.encoding == "utf-8"
    assert result.headers == [header.strip() for header in headers]
    assert result.rows == expected
