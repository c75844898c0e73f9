"""Read CSV/XLSX uploads into a plain `Table` and write CSV/XLSX exports safely.

This is the database-free half of Vigil's import/export pipeline: parsing, column guessing and
formula-injection-safe output. Domain apps turn `Table` rows into objects themselves.

Reading enforces limits as it goes (`Limits`: columns, rows, characters per cell, and for a
workbook its uncompressed size, checked from the zip's directory before anything is
decompressed), so a hostile file is refused after a bounded amount of work, never after it has
been read whole.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from itertools import chain
from pathlib import PurePath
from typing import BinaryIO

import openpyxl
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

# Defaults of the VIGIL_IMPORT_* settings (settings.py), for callers without Vigil's settings.
DEFAULT_MAX_COLUMNS = 500
DEFAULT_MAX_ROWS = 200_000
DEFAULT_MAX_CELL_CHARS = 10_000
DEFAULT_MAX_XLSX_BYTES = 100 * 1024 * 1024
# openpyxl loads a workbook's shared strings (the text of its cells) whole when it opens it,
# even to read one row: that part gets a quarter of the workbook's allowance, so that opening
# one stays quick.
XLSX_SHARED_STRINGS_SHARE = 4

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

# About 64 KB per yielded chunk: big enough that a 100k-row export is a few hundred writes to the
# socket rather than 100k, small enough that memory stays flat.
CSV_CHUNK_SIZE = 64 * 1024

UTF8_BOM = b"\xef\xbb\xbf"
_ZIP_MAGIC = b"PK\x03\x04"
# Excel 97-2003 (.xls) and other OLE2 files: common enough among users to deserve their own message.
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")

_CSV_EXTENSIONS = frozenset({".csv", ".tsv", ".txt"})
_XLSX_EXTENSION = ".xlsx"
_DELIMITERS = (",", ";", "\t")  # order matters: it breaks ties in favour of the comma
_SNIFF_CHARS = 64 * 1024
_NON_ALPHANUMERIC_RE = re.compile(r"[\W_]+")
# Excel refuses these in sheet names and caps the length at 31 characters.
_SHEET_TITLE_FORBIDDEN_RE = re.compile(r"[\[\]:*?/\\]")
_SHEET_TITLE_MAX_LENGTH = 31


class TabularError(Exception):
    """A file-level problem a user must fix; str(exc) is a translated, specific message."""


@dataclass(frozen=True)
class Limits:
    """How much of a file Vigil reads before refusing it (see the VIGIL_IMPORT_* settings)."""

    max_columns: int = DEFAULT_MAX_COLUMNS
    max_rows: int = DEFAULT_MAX_ROWS
    max_cell_chars: int = DEFAULT_MAX_CELL_CHARS
    max_xlsx_bytes: int = DEFAULT_MAX_XLSX_BYTES

    @classmethod
    def from_settings(cls) -> Limits:
        return cls(
            max_columns=getattr(settings, "VIGIL_IMPORT_MAX_COLUMNS", DEFAULT_MAX_COLUMNS),
            max_rows=getattr(settings, "VIGIL_IMPORT_MAX_ROWS", DEFAULT_MAX_ROWS),
            max_cell_chars=getattr(settings, "VIGIL_IMPORT_MAX_CELL_CHARS", DEFAULT_MAX_CELL_CHARS),
            max_xlsx_bytes=getattr(settings, "VIGIL_IMPORT_MAX_XLSX_BYTES", DEFAULT_MAX_XLSX_BYTES),
        )

    @property
    def max_shared_strings_bytes(self) -> int:
        return self.max_xlsx_bytes // XLSX_SHARED_STRINGS_SHARE


@dataclass(frozen=True)
class Table:
    """A parsed upload: stripped text cells, one list per non-empty data row."""

    headers: list[str]
    rows: list[list[str]]
    source_format: str
    encoding: str | None
    delimiter: str | None
    # Spreadsheet row number of each data row. Skipped empty rows (and blank lines before the
    # header) make `index + 2` wrong, and error reports must point at the row the user sees.
    source_rows: tuple[int, ...] = field(default=(), repr=False)
    # False when only the first rows were read (`read_table(..., head_rows=n)`): `rows` is then
    # a sample, and the file's other rows were neither counted nor checked.
    complete: bool = True
    # The spreadsheet row of the header (rows above it, a title, are skipped), and for a
    # workbook the sheet read and every sheet with its number of rows.
    header_row: int = 1
    sheet: str | None = None
    sheets: tuple[tuple[str, int], ...] = ()

    def row_number(self, index: int) -> int:
        """Return the spreadsheet row number of data row `index` (the header is row 1)."""
        if self.source_rows:
            return self.source_rows[index]
        return index + 2


# --- Reading ---------------------------------------------------------------------------------


def read_table(
    data: bytes,
    filename: str,
    *,
    head_rows: int | None = None,
    limits: Limits | None = None,
    sheet: str | None = None,
    header_row: int | None = None,
) -> Table:
    """Parse an uploaded CSV or XLSX file, raising `TabularError` with a message for the user.

    With `head_rows`, stop after that many data rows: the header and a sample, for a file too
    large to read while a person waits (`parse_size`); the result is marked incomplete.
    `sheet` names the sheet of a workbook to read (by default the one with the most rows);
    `header_row` the spreadsheet row of the header (by default it is detected: title rows above
    a table are skipped).
    """
    limits = limits or Limits.from_settings()
    name, is_xlsx, named_xlsx = _check_type(data, filename)
    if is_xlsx:
        return _read_xlsx(
            data,
            name,
            named_xlsx=named_xlsx,
            head_rows=head_rows,
            limits=limits,
            sheet_name=sheet,
            header_row=header_row,
        )
    return _read_csv(data, name, head_rows=head_rows, limits=limits, header_row=header_row)


def parse_size(data: bytes, filename: str, *, limits: Limits | None = None) -> int:
    """How many bytes of text reading the file means: the file itself for a CSV, the declared
    uncompressed size of its parts for a workbook. Raises `TabularError` for a workbook over the
    limits, without decompressing anything."""
    limits = limits or Limits.from_settings()
    name, is_xlsx, named_xlsx = _check_type(data, filename)
    if not is_xlsx:
        return len(data)
    if not data.startswith(_ZIP_MAGIC):
        return len(data)  # _read_xlsx will say what is wrong with it
    return _check_xlsx_sizes(data, name, named_xlsx=named_xlsx, limits=limits)


def _check_type(data: bytes, filename: str) -> tuple[str, bool, bool]:
    """(the file's name, whether to read it as a workbook, whether it is named .xlsx)."""
    name = PurePath(filename).name
    extension = PurePath(filename).suffix.lower()
    # An empty extension is accepted because API clients do not always send a file name; the
    # content decides then.
    if extension not in _CSV_EXTENSIONS | {_XLSX_EXTENSION, ""}:
        if extension == ".xls":
            raise TabularError(_old_excel_message(name))
        raise TabularError(
            _("“%(name)s” is not a supported file type. Upload a CSV (.csv) or Excel (.xlsx) file.")
            % {"name": name}
        )
    if not data.removeprefix(UTF8_BOM).strip():
        raise TabularError(_("The file “%(name)s” is empty.") % {"name": name})
    named_xlsx = extension == _XLSX_EXTENSION
    return name, named_xlsx or data.startswith(_ZIP_MAGIC), named_xlsx


def _old_excel_message(name: str) -> str:
    return _(
        "“%(name)s” is an old Excel 97-2003 (.xls) workbook. "
        "Save it as an Excel workbook (.xlsx) or as CSV UTF-8 and upload it again."
    ) % {"name": name}


def _not_tabular_message(name: str) -> str:
    return _("“%(name)s” does not look like a CSV or Excel file.") % {"name": name}


def _invalid_xlsx(name: str, *, named_xlsx: bool) -> TabularError:
    if named_xlsx:
        return TabularError(_("“%(name)s” is not a valid Excel workbook.") % {"name": name})
    return TabularError(_not_tabular_message(name))


def _check_xlsx_sizes(data: bytes, name: str, *, named_xlsx: bool, limits: Limits) -> int:
    """Refuse a workbook whose parts would decompress past the limits; return their total size.

    The sizes are those the zip's directory declares: Python's zipfile never inflates a part
    past its declared size (it stops there and the checksum fails), so a zip bomb cannot lie
    its way past this check.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise _invalid_xlsx(name, named_xlsx=named_xlsx) from exc
    total = sum(part.file_size for part in parts)
    if total > limits.max_xlsx_bytes:
        raise TabularError(
            _(
                "“%(name)s” would take %(size)s once uncompressed; Vigil opens workbooks of at "
                "most %(limit)s. Save it as CSV, or split it into smaller files."
            )
            % {"name": name, "size": size_text(total), "limit": size_text(limits.max_xlsx_bytes)}
        )
    shared = sum(
        part.file_size for part in parts if part.filename.lower().endswith("sharedstrings.xml")
    )
    if shared > limits.max_shared_strings_bytes:
        raise TabularError(
            _(
                "The text of the cells of “%(name)s” takes %(size)s once uncompressed; Vigil "
                "opens workbooks with at most %(limit)s of it. Save it as CSV, or split it into "
                "smaller files."
            )
            % {
                "name": name,
                "size": size_text(shared),
                "limit": size_text(limits.max_shared_strings_bytes),
            }
        )
    return total


def size_text(size: int) -> str:
    """A size in bytes as people read it: "20.0 MB", "35 KB"."""
    megabytes = size / (1024 * 1024)
    if megabytes >= 1:
        return _("%(size).1f MB") % {"size": megabytes}
    return _("%(size)d KB") % {"size": max(1, round(size / 1024))}


def _sheet_rows(sheet: object, limits: Limits) -> int:
    """How many rows a sheet has, from its declared dimensions, else counted (up to the limit)."""
    declared = getattr(sheet, "max_row", None)
    if isinstance(declared, int) and declared > 0:
        return declared
    count = 0
    for _values in sheet.iter_rows(values_only=True):  # type: ignore[attr-defined]
        count += 1
        if count > limits.max_rows:
            break
    return count


def _read_xlsx(
    data: bytes,
    name: str,
    *,
    named_xlsx: bool,
    head_rows: int | None,
    limits: Limits,
    sheet_name: str | None = None,
    header_row: int | None = None,
) -> Table:
    def invalid() -> TabularError:
        return _invalid_xlsx(name, named_xlsx=named_xlsx)

    if not data.startswith(_ZIP_MAGIC):
        if data.startswith(_OLE2_MAGIC):
            raise TabularError(_old_excel_message(name))
        raise invalid()
    _check_xlsx_sizes(data, name, named_xlsx=named_xlsx, limits=limits)
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        # openpyxl reports damaged or foreign zip files (a .docx, a truncated upload) through many
        # unrelated exception types (BadZipFile, KeyError, XML parse errors...); for the user
        # they all mean the same thing.
        raise invalid() from exc
    try:
        if not workbook.worksheets:
            raise TabularError(_("The file “%(name)s” is empty.") % {"name": name})
        sheets = tuple((str(each.title), _sheet_rows(each, limits)) for each in workbook.worksheets)
        if sheet_name is None:
            # A notes or cover sheet often comes first: the table is the sheet with most rows
            # (the first of equals).
            most = max(rows for _title, rows in sheets)
            index = next(i for i, (_title, rows) in enumerate(sheets) if rows == most)
        else:
            titles = [title for title, _rows in sheets]
            if sheet_name not in titles:
                raise TabularError(
                    _("“%(name)s” has no sheet “%(sheet)s”.") % {"name": name, "sheet": sheet_name}
                )
            index = titles.index(sheet_name)
        sheet = workbook.worksheets[index]
        # Some generators write a wrong <dimension> element, and read-only mode would then cut
        # rows short; resetting makes openpyxl report the cells that are really there.
        sheet.reset_dimensions()
        numbered_rows = (
            (number, [_cell_text(value) for value in values])
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1)
        )
        table = _build_table(
            numbered_rows,
            name,
            source_format="xlsx",
            encoding=None,
            delimiter=None,
            head_rows=head_rows,
            limits=limits,
            header_row=header_row,
            sheet=sheets[index][0] if len(sheets) > 1 else None,
        )
        return replace(table, sheet=sheets[index][0], sheets=sheets)
    except TabularError:
        raise
    except Exception as exc:
        # Read-only mode parses lazily, so a corrupt sheet only shows up while iterating.
        raise invalid() from exc
    finally:
        workbook.close()


def _read_csv(
    data: bytes,
    name: str,
    *,
    head_rows: int | None,
    limits: Limits,
    header_row: int | None = None,
) -> Table:
    if data.startswith(_OLE2_MAGIC):
        raise TabularError(_old_excel_message(name))
    if data.startswith(_UTF16_BOMS):
        raise TabularError(
            _(
                "“%(name)s” is encoded as UTF-16 (Excel’s “Unicode text”). "
                "Save it as CSV UTF-8 and upload it again."
            )
            % {"name": name}
        )
    # Text files never contain NUL bytes; images, PDFs, zip archives and old Office files do.
    if b"\x00" in data:
        raise TabularError(_not_tabular_message(name))

    text, encoding = _decode(data)
    delimiter = _sniff_delimiter(text)
    # strict=True turns an unclosed quote into an error instead of silently swallowing the rest
    # of the file into one cell; skipinitialspace accepts the common `a, "b"` style.
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=delimiter, strict=True, skipinitialspace=True
    )

    def numbered_rows() -> Iterator[tuple[int, list[str]]]:
        # Count records rather than physical lines: a quoted cell may span several lines but is
        # one row in a spreadsheet, and blank lines are rows there too.
        number = 0
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                if "field larger than field limit" in str(exc):
                    # The csv module's own cap (131,072 characters) is above Vigil's.
                    raise _long_cell_error(
                        name, number + 1, None, csv.field_size_limit(), limits
                    ) from exc
                raise TabularError(
                    _("Row %(row)d of “%(name)s” could not be read as CSV (%(detail)s).")
                    % {"row": number + 1, "name": name, "detail": exc}
                ) from exc
            number += 1
            yield number, [cell.strip() for cell in cells]

    return _build_table(
        numbered_rows(),
        name,
        source_format="csv",
        encoding=encoding,
        delimiter=delimiter,
        head_rows=head_rows,
        limits=limits,
        header_row=header_row,
    )


def _decode(data: bytes) -> tuple[str, str]:
    if data.startswith(UTF8_BOM):
        try:
            return data[len(UTF8_BOM) :].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError:
            pass
    else:
        try:
            return data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass
    # Excel on Windows saves "CSV" in the ANSI code page, cp1252 for Western European languages.
    # cp1252 leaves five bytes undefined; latin-1 maps every byte, so it is the last resort.
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def _sniff_delimiter(text: str) -> str:
    """Pick the separator that occurs most often, outside quotes, in the first non-blank line
    (its first 64 KB: enough to tell, and a bound on the work for a hostile file)."""
    counts = dict.fromkeys(_DELIMITERS, 0)
    in_quotes = False
    started = False
    for char in text[:_SNIFF_CHARS]:
        if char == '"':
            in_quotes = not in_quotes
        elif not in_quotes and char in "\r\n":
            if started:
                break
            continue
        elif not in_quotes and char in counts:
            counts[char] += 1
        started = True
    return max(_DELIMITERS, key=counts.__getitem__)


def _long_cell_error(
    name: str, row: int, position: int | None, found: int, limits: Limits
) -> TabularError:
    values = {"name": name, "row": row, "found": found, "limit": limits.max_cell_chars}
    if position is None:
        return TabularError(
            _(
                "Row %(row)d of “%(name)s” has a cell of more than %(found)d characters; a cell "
                "may hold at most %(limit)d."
            )
            % values
        )
    return TabularError(
        _(
            "Row %(row)d, column %(position)d (%(letter)s) of “%(name)s” has %(found)d "
            "characters; a cell may hold at most %(limit)d."
        )
        % {**values, "position": position, "letter": column_letter(position)}
    )


def _check_cells(cells: list[str], name: str, row: int, limits: Limits) -> None:
    limit = limits.max_cell_chars
    for position, cell in enumerate(cells, start=1):
        if len(cell) > limit:
            raise _long_cell_error(name, row, position, len(cell), limits)


def column_letter(position: int) -> str:
    """The spreadsheet letter of a 1-based column: 1 -> "A", 28 -> "AB", for any width."""
    letters = ""
    while position > 0:
        position, remainder = divmod(position - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


# How many non-empty rows at the top are looked at to find the header.
HEADER_SEARCH_ROWS = 30


def detect_header_row(rows: Sequence[tuple[int, list[str]]]) -> int:
    """The spreadsheet row of the header among the first non-empty rows: the first row filled
    across most of the table's usual width (the commonest number of filled cells): a title or a
    note above a table fills one or two cells."""
    widths = [sum(1 for cell in cells if cell) for _number, cells in rows]
    if not widths:
        return 0
    usual = max(set(widths), key=lambda width: (widths.count(width), width))
    threshold = max(1, math.ceil(0.6 * usual))
    for (number, _cells), width in zip(rows, widths, strict=True):
        if width >= threshold:
            return number
    return rows[0][0]


def _build_table(
    numbered_rows: Iterable[tuple[int, list[str]]],
    name: str,
    *,
    source_format: str,
    encoding: str | None,
    delimiter: str | None,
    head_rows: int | None,
    limits: Limits,
    header_row: int | None = None,
    sheet: str | None = None,
) -> Table:
    iterator = iter(numbered_rows)
    top: list[tuple[int, list[str]]] = []
    if header_row is None:
        for number, cells in iterator:
            if any(cells):
                top.append((number, cells))
                if len(top) >= HEADER_SEARCH_ROWS:
                    break
        header_row = detect_header_row(top)
    else:
        for number, cells in iterator:
            top.append((number, cells))
            if number >= header_row:
                break
    headers: list[str] | None = None
    rest: list[tuple[int, list[str]]] = []
    for number, cells in top:
        if headers is not None:
            rest.append((number, cells))
        elif number == header_row and any(cells):
            headers = _trim_trailing_empty(cells)
    if headers is None:
        if top and header_row and top[-1][0] >= header_row:
            raise TabularError(
                _("Row %(row)d of “%(name)s” is empty: it cannot be the header.")
                % {"row": header_row, "name": name}
            )
        raise TabularError(_("The file “%(name)s” is empty.") % {"name": name})
    if len(headers) > limits.max_columns:
        raise TabularError(
            _(
                "“%(name)s” has %(found)d columns; Vigil imports at most %(limit)d. Remove the "
                "columns you do not need and upload it again."
            )
            % {"name": name, "found": len(headers), "limit": limits.max_columns}
        )
    _check_cells(headers, name, header_row, limits)
    headers = name_headers(headers)

    width = len(headers)
    rows: list[list[str]] = []
    source_rows: list[int] = []
    max_rows = limits.max_rows
    complete = True
    for number, cells in chain(rest, iterator):
        if not any(cells):
            continue
        if head_rows is not None and len(rows) >= head_rows:
            complete = False
            break
        # Trailing empty cells are ignored rather than reported: Excel writes `;;;` for columns
        # that merely had formatting, and users cannot see them.
        cells = _trim_trailing_empty(cells)
        if len(cells) > width:
            values = {"row": number, "name": name, "found": len(cells), "expected": width}
            if sheet is not None:
                raise TabularError(
                    _(
                        "Row %(row)d of sheet “%(sheet)s” of “%(name)s” has %(found)d cells but "
                        "its header (row %(header)d) has only %(expected)d columns. Choose the "
                        "sheet and the header row of the table to import."
                    )
                    % {**values, "sheet": sheet, "header": header_row}
                )
            if source_format == "xlsx":
                raise TabularError(
                    _(
                        "Row %(row)d of “%(name)s” has %(found)d cells but its header (row "
                        "%(header)d) has only %(expected)d columns. Choose the header row of the "
                        "table to import."
                    )
                    % {**values, "header": header_row}
                )
            raise TabularError(
                _(
                    "Row %(row)d of “%(name)s” has %(found)d cells but the header has only "
                    "%(expected)d columns. Check for an unquoted separator in that row."
                )
                % values
            )
        if len(rows) >= max_rows:
            raise TabularError(
                _(
                    "“%(name)s” has more than %(max_rows)d data rows. "
                    "Split it into smaller files and upload them one by one."
                )
                % {"name": name, "max_rows": max_rows}
            )
        _check_cells(cells, name, number, limits)
        cells.extend([""] * (width - len(cells)))
        rows.append(cells)
        source_rows.append(number)

    if not rows:
        raise TabularError(_("“%(name)s” has a header row but no data rows.") % {"name": name})
    return Table(
        headers=headers,
        rows=rows,
        source_format=source_format,
        encoding=encoding,
        delimiter=delimiter,
        source_rows=tuple(source_rows),
        complete=complete,
        header_row=header_row,
    )


def _trim_trailing_empty(cells: list[str]) -> list[str]:
    end = len(cells)
    while end and not cells[end - 1]:
        end -= 1
    return cells[:end]


def name_headers(headers: list[str]) -> list[str]:
    """Give every column a header of its own: an empty header (a merged cell, a forgotten
    title) becomes "Column C"; a header that repeats an earlier one (case aside) gets its
    column letter, "Name (D)", so that the two can be told apart when matching columns."""
    named: list[str] = []
    seen: set[str] = set()
    for position, header in enumerate(headers, start=1):
        letter = column_letter(position)
        text = header or _("Column %(letter)s") % {"letter": letter}
        if text.casefold() in seen:
            text = f"{text} ({letter})"
        seen.add(text.casefold())
        named.append(text)
    return named


def _cell_text(value: object) -> str:
    """Render an XLSX cell as the text a user would type for it."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float | Decimal):
        return _number_text(value)
    if isinstance(value, dt.datetime):
        # Excel stores dates as datetimes at midnight; a plain date is what the user typed.
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value).strip()


def _number_text(value: int | float | Decimal) -> str:
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value.is_integer():
            return str(int(value))
        # Through Decimal(repr()) to get "0.0000001" rather than "1e-07", with no binary noise.
        value = Decimal(repr(value))
    if not value.is_finite():
        return str(value)
    if value == value.to_integral_value():
        return str(value.to_integral_value())
    return format(value.normalize(), "f")


# --- Column mapping --------------------------------------------------------------------------


def fold(text: str) -> str:
    """Text without case or accents: "Été" -> "ete"."""
    if text.isascii():
        return text.casefold()
    # casefold before decomposing: casefold can itself produce combining marks (İ -> i̇).
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def normalise_header(text: str) -> str:
    """Reduce a header to a comparable key: " Nom du lieu" -> "nom_du_lieu", "Été" -> "ete"."""
    # casefold before decomposing: casefold can itself produce combining marks (İ -> i̇).
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    without_accents = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _NON_ALPHANUMERIC_RE.sub("_", without_accents).strip("_")


def guess_mapping(
    headers: list[str],
    fields: Mapping[str, Sequence[str]],
    *,
    excluded: Mapping[str, set[int]] | None = None,
) -> dict[int, str | None]:
    """Propose a target field for each column index, or None when nothing fits.

    An exact match of the field name or a synonym beats a column whose header starts with it,
    which beats one that merely contains it. Matching is by whole words, so the synonym "id"
    finds "ID externe" but not "Paid". Each field goes to one column at most; among equal
    matches the leftmost column and the first field listed win.
    """
    header_words = [_words(header) for header in headers]
    candidates: list[tuple[int, int, int, str]] = []
    for field_order, (field_name, synonyms) in enumerate(fields.items()):
        keys = {_words(key) for key in (field_name, *synonyms)} - {()}
        for column, words in enumerate(header_words):
            if excluded and column in excluded.get(field_name, ()):
                continue
            score = max((_match_score(words, key) for key in keys), default=0)
            if score:
                candidates.append((-score, column, field_order, field_name))

    mapping: dict[int, str | None] = dict.fromkeys(range(len(headers)))
    used_fields: set[str] = set()
    for _score, column, _field_order, field_name in sorted(candidates):
        if mapping[column] is None and field_name not in used_fields:
            mapping[column] = field_name
            used_fields.add(field_name)
    return mapping


def _words(text: str) -> tuple[str, ...]:
    normalised = normalise_header(text)
    return tuple(normalised.split("_")) if normalised else ()


def _match_score(header: tuple[str, ...], key: tuple[str, ...]) -> int:
    if not header:
        return 0
    if header == key:
        return 3
    if header[: len(key)] == key:
        return 2
    if any(header[start : start + len(key)] == key for start in range(1, len(header))):
        return 1
    return 0


# --- Writing ---------------------------------------------------------------------------------


def neutralise_cell(value: object) -> str:
    """Render a value as export text that spreadsheets will not evaluate as a formula.

    Text starting with a formula character gets a leading apostrophe (the OWASP CSV-injection
    advice); real numbers are left alone, since a negative number is data, not a formula.
    """
    if type(value) is str:  # the common case first: exports are mostly text
        return "'" + value if value.startswith(FORMULA_PREFIXES) else value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float | Decimal):
        return _number_text(value)
    if isinstance(value, dt.datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def stream_csv(
    headers: Sequence[str], rows: Iterable[Sequence[object]], *, delimiter: str = ","
) -> Iterator[bytes]:
    """Yield a UTF-8 CSV export in ~64 KB chunks, for a StreamingHttpResponse.

    `rows` is consumed lazily, so a queryset `.iterator()` keeps memory flat however long the
    export is. Pass `delimiter=";"` for users whose Excel expects it (French locales).
    """
    # The BOM is what makes Excel read the file as UTF-8 instead of the ANSI code page.
    yield UTF8_BOM
    buffer = io.StringIO()
    writer = csv.writer(
        buffer, delimiter=delimiter, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n"
    )
    writer.writerow([neutralise_cell(header) for header in headers])
    # The header goes out on its own so the download starts before the first slow row.
    yield _drain(buffer)
    prefixes = FORMULA_PREFIXES
    for row in rows:
        # Text is most cells: handled inline, the rest through neutralise_cell.
        writer.writerow(
            [
                ("'" + value if value.startswith(prefixes) else value)
                if type(value) is str
                else neutralise_cell(value)
                for value in row
            ]
        )
        if buffer.tell() >= CSV_CHUNK_SIZE:
            yield _drain(buffer)
    if buffer.tell():
        yield _drain(buffer)


def _drain(buffer: io.StringIO) -> bytes:
    # "replace" because an unencodable character (a lone surrogate from a legacy import) must
    # not abort a download halfway through.
    chunk = buffer.getvalue().encode("utf-8", errors="replace")
    buffer.seek(0)
    buffer.truncate()
    return chunk


def rows_to_csv_bytes(
    headers: Sequence[str], rows: Iterable[Sequence[object]], *, delimiter: str = ","
) -> bytes:
    """Build a whole CSV in memory; only for small reports such as the rejected-rows download."""
    return b"".join(stream_csv(headers, rows, delimiter=delimiter))


def write_xlsx(
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    fileobj: BinaryIO,
    sheet_title: str = "Export",
) -> int:
    """Write an XLSX export to `fileobj` and return the number of data rows written.

    openpyxl's write-only mode spools rows to a temporary file, so memory stays bounded.
    Numbers and dates stay typed so users can sort and sum them; text is neutralised.
    """
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet(title=_sheet_title(sheet_title))
    bold = Font(bold=True)
    header_cells = []
    for header in headers:
        cell = WriteOnlyCell(sheet, value=_xlsx_value(header))
        cell.font = bold
        header_cells.append(cell)
    sheet.append(header_cells)
    count = 0
    for row in rows:
        sheet.append([_xlsx_value(value) for value in row])
        count += 1
    workbook.save(fileobj)
    return count


def _xlsx_value(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # Excel has no NaN or infinity
    if isinstance(value, Decimal) and not value.is_finite():
        return str(value)
    if isinstance(value, int | float | Decimal | dt.time):
        return value
    if isinstance(value, dt.datetime):
        # Excel has no time zones: show the time the user would see on the site.
        if timezone.is_aware(value):
            return timezone.make_naive(value)
        return value
    if isinstance(value, dt.date):
        return value
    # openpyxl stores a string starting with "=" as a formula, so neutralising matters here too;
    # and it refuses control characters outright, which would abort the whole export.
    return ILLEGAL_CHARACTERS_RE.sub("", neutralise_cell(value))


def _sheet_title(title: str) -> str:
    cleaned = " ".join(_SHEET_TITLE_FORBIDDEN_RE.sub(" ", title).split()).strip("'")
    return cleaned[:_SHEET_TITLE_MAX_LENGTH].rstrip() or "Export"
