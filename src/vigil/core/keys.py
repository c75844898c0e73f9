"""Which configured key protects each encrypted value and stored file.

One scan serves `vigil keys status`, `rotate_encryption_keys` (which skips what is already on the
first key, re-encrypts the rest one record and one file at a time, then verifies) and the start-up
check's bounded sample. Encrypted fields are found in every installed app through
`crypto.encrypted_fields()`; their raw tokens are read and written in SQL, so the plaintext never
enters a model instance and the field's own encryption is not applied twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import connection, models, transaction

from vigil.core.crypto import TOKEN_PREFIX, Keyring, encrypted_fields
from vigil.core.files import replace_file_atomically, stored_path
from vigil.core.models import KeyCheck, StoredFile

BATCH_SIZE = 500
# Fields whose values may be whole files (import uploads) are read one value at a time, and the
# start-up check decrypts only the oldest and the newest of them.
LARGE_VALUES_BATCH_SIZE = 1
LARGE_VALUES_SAMPLE = 1
SHOWN_IDS = 50  # ids listed per line before "… and N more"


@dataclass(frozen=True)
class Column:
    """One database column that holds Fernet tokens (`fernet:<token>`)."""

    model: type[models.Model]
    field_name: str

    @property
    def label(self) -> str:
        return f"{self.model._meta.label}.{self.field_name}"

    @property
    def large_values(self) -> bool:
        return bool(getattr(self.model._meta.get_field(self.field_name), "large_values", False))

    def _names(self) -> tuple[str, str, str]:
        quote = connection.ops.quote_name
        column = self.model._meta.get_field(self.field_name).column  # type: ignore[union-attr]
        pk = self.model._meta.pk
        assert pk is not None
        return quote(self.model._meta.db_table), quote(str(column)), quote(pk.column)

    def _select(self) -> tuple[str, str]:
        """SELECT of (pk, raw value) of the non-empty values, and the quoted pk column."""
        table, column, pk = self._names()
        where = f"{column} IS NOT NULL AND {column} <> ''"
        return f"SELECT {pk}, {column} FROM {table} WHERE {where}", pk  # noqa: S608  (quoted names)

    def rows(self) -> Iterator[tuple[Any, str]]:
        """(primary key, raw stored value) of every non-empty value, in batches by primary key,
        so a national-scale table is never loaded whole."""
        select, pk = self._select()
        batch_size = LARGE_VALUES_BATCH_SIZE if self.large_values else BATCH_SIZE
        last: Any = None
        while True:
            with connection.cursor() as cursor:
                if last is None:
                    cursor.execute(f"{select} ORDER BY {pk} LIMIT %s", [batch_size])
                else:
                    cursor.execute(
                        f"{select} AND {pk} > %s ORDER BY {pk} LIMIT %s", [last, batch_size]
                    )
                batch = cursor.fetchall()
            if not batch:
                return
            yield from batch
            last = batch[-1][0]

    def sample(self, size: int) -> list[tuple[Any, str]]:
        """The `size` oldest and `size` newest non-empty values (by primary key)."""
        if self.large_values:
            size = min(size, LARGE_VALUES_SAMPLE)
        select, pk = self._select()
        found: dict[Any, str] = {}
        with connection.cursor() as cursor:
            for order in ("ASC", "DESC"):
                cursor.execute(f"{select} ORDER BY {pk} {order} LIMIT %s", [size])
                found.update(cursor.fetchall())
        return list(found.items())

    def replace(self, pk: Any, old: str, new: str) -> bool:
        """Store `new` in place of `old`, in a transaction of its own; False when the value is no
        longer `old` (someone saved the record meanwhile, with the current key)."""
        table, column, pk_column = self._names()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET {column} = %s WHERE {pk_column} = %s AND {column} = %s",  # noqa: S608
                [new, pk, old],
            )
            return cursor.rowcount == 1


# The start-up check's own token: rotated last, see `rotate`.
KEY_CHECK = Column(KeyCheck, "token")


def value_columns() -> list[Column]:
    """Every encrypted field of every installed model."""
    return [Column(model, name) for model, name in encrypted_fields()]


def _token(raw: str) -> bytes | None:
    if not raw.startswith(TOKEN_PREFIX):
        return None  # plaintext where a token belongs: no key reads it as a token
    try:
        return raw[len(TOKEN_PREFIX) :].encode("ascii")
    except UnicodeEncodeError:
        return None


@dataclass(frozen=True)
class FileProblem:
    """A stored file that is missing on disk or that cannot be read or decrypted."""

    id: int
    name: str
    path: Path
    reason: str
    missing: bool = False

    def describe(self) -> str:
        return f"stored file {self.id} “{self.name}” ({self.path}): {self.reason}"


@dataclass
class KeyReport:
    """How many values and files each configured key protects (by position, 0 = the first key),
    and what no key can read or is missing on disk."""

    fingerprints: list[str]
    # column label -> key position (None: no configured key decrypts it) -> number of values
    values: dict[str, Counter[int | None]] = field(default_factory=dict)
    # first ids of the values no key decrypts, per column label
    unreadable_value_ids: dict[str, list[Any]] = field(default_factory=dict)
    files: Counter[int] = field(default_factory=Counter)
    # key position (never 0) -> ids of the stored files still on that old key
    old_file_ids: dict[int, list[int]] = field(default_factory=dict)
    unreadable_files: list[FileProblem] = field(default_factory=list)
    missing_files: list[FileProblem] = field(default_factory=list)

    def add_value(self, label: str, position: int | None, pk: Any) -> None:
        self.values.setdefault(label, Counter())[position] += 1
        if position is None:
            ids = self.unreadable_value_ids.setdefault(label, [])
            if len(ids) < SHOWN_IDS:
                ids.append(pk)

    def add_file(self, stored: StoredFile, found: tuple[int, bytes] | FileProblem) -> None:
        if isinstance(found, FileProblem):
            (self.missing_files if found.missing else self.unreadable_files).append(found)
            return
        position = found[0]
        self.files[position] += 1
        if position:
            self.old_file_ids.setdefault(position, []).append(stored.pk)

    def values_on(self, position: int | None) -> int:
        return sum(counts[position] for counts in self.values.values())

    def files_on(self, position: int) -> int:
        return self.files[position]

    @property
    def on_old_keys(self) -> int:
        """Values and files that would be lost if every key but the first were removed."""
        return sum(
            self.values_on(position) + self.files_on(position)
            for position in range(1, len(self.fingerprints))
        )

    @property
    def unreadable(self) -> int:
        return self.values_on(None) + len(self.unreadable_files)

    @property
    def complete(self) -> bool:
        """Everything is on the first key and nothing is missing."""
        return not (self.on_old_keys or self.unreadable or self.missing_files)


def scan_value(report: KeyReport, keyring: Keyring, column: Column, pk: Any, raw: str) -> None:
    token = _token(raw)
    found = keyring.find(token) if token is not None else None
    report.add_value(column.label, found[0] if found else None, pk)


def read_stored_file(stored: StoredFile, keyring: Keyring) -> tuple[int, bytes] | FileProblem:
    """(position of the key that decrypts it, plaintext) of a stored file, or what is wrong."""
    path = stored_path(stored)
    try:
        token = path.read_bytes()
    except FileNotFoundError:
        return FileProblem(stored.pk, stored.original_name, path, "missing on disk", missing=True)
    except OSError as exc:
        return FileProblem(stored.pk, stored.original_name, path, f"cannot be read: {exc}")
    found = keyring.find(token)
    if found is None:
        return FileProblem(stored.pk, stored.original_name, path, "no configured key decrypts it")
    return found


def _stored_files() -> Iterator[StoredFile]:
    return (
        StoredFile.objects.order_by("pk")
        .only("pk", "original_name", "storage_name")
        .iterator(chunk_size=BATCH_SIZE)
    )


def scan(
    keyring: Keyring | None = None,
    *,
    columns: Iterable[Column] | None = None,
    files: bool = True,
    report: KeyReport | None = None,
) -> KeyReport:
    """Decrypt every encrypted value (of `columns`, by default all of them and the key check)
    and, with `files`, every stored file, and count which key protects each."""
    keyring = keyring or Keyring.from_settings()
    report = report or KeyReport(fingerprints=keyring.fingerprints)
    for column in [*value_columns(), KEY_CHECK] if columns is None else columns:
        for pk, raw in column.rows():
            scan_value(report, keyring, column, pk, raw)
    if files:
        for stored in _stored_files():
            report.add_file(stored, read_stored_file(stored, keyring))
    return report


def scan_sample(
    keyring: Keyring, columns: Iterable[Column], *, files: int, values: int
) -> tuple[KeyReport, int]:
    """A bounded scan for the start-up check: the `files` oldest and `files` newest stored files
    and the `values` oldest and newest values of each of `columns`. Returns the report and the
    number of files sampled."""
    report = KeyReport(fingerprints=keyring.fingerprints)
    for column in columns:
        for pk, raw in column.sample(values):
            scan_value(report, keyring, column, pk, raw)
    fields = ("pk", "original_name", "storage_name")
    sample = {
        stored.pk: stored
        for order in (("created_at", "pk"), ("-created_at", "-pk"))
        for stored in StoredFile.objects.order_by(*order).only(*fields)[:files]
    }
    for stored in sample.values():
        report.add_file(stored, read_stored_file(stored, keyring))
    return report, len(sample)


# ---------- Rotation ----------


@dataclass
class RotationResult:
    values: int = 0  # re-encrypted with the first key
    values_changed_meanwhile: int = 0  # saved by someone else during the run, so left alone
    files: int = 0
    files_failed: list[FileProblem] = field(default_factory=list)  # read, but not rewritten


def rotate_column(column: Column, keyring: Keyring, result: RotationResult) -> KeyReport:
    """Re-encrypt, one record at a time, the values of `column` that are not on the first key;
    returns what was found before the run (which key protected each value)."""
    found_before = KeyReport(fingerprints=keyring.fingerprints)
    for pk, raw in column.rows():
        token = _token(raw)
        found = keyring.find(token) if token is not None else None
        found_before.add_value(column.label, found[0] if found else None, pk)
        if found is None or found[0] == 0:
            continue
        new = TOKEN_PREFIX + keyring.encrypt(found[1]).decode("ascii")
        if column.replace(pk, raw, new):
            result.values += 1
        else:
            result.values_changed_meanwhile += 1
    return found_before


def rotate_files(keyring: Keyring, result: RotationResult, log: Callable[[str], None]) -> None:
    """Re-encrypt every stored file not on the first key, each by an atomic replace; missing
    and unreadable files are reported and the run goes on."""
    for stored in _stored_files():
        found = read_stored_file(stored, keyring)
        if isinstance(found, FileProblem):
            log(f"  Skipped {found.describe()}.")
            continue
        position, plaintext = found
        if position == 0:
            continue
        path = stored_path(stored)
        try:
            replace_file_atomically(path, keyring.encrypt(plaintext))
        except OSError as exc:
            failure = FileProblem(
                stored.pk, stored.original_name, path, f"could not be rewritten: {exc}"
            )
            result.files_failed.append(failure)
            log(f"  Not re-encrypted: {failure.describe()}; it stays on key {position + 1}.")
            continue
        result.files += 1


def rotate(
    keyring: Keyring | None = None, *, log: Callable[[str], None] = lambda line: None
) -> tuple[RotationResult, KeyReport]:
    """Re-encrypt every value and stored file that is not on the first key, then verify by
    decrypting everything again. Safe to run again after a crash or a partial run: what is
    already on the first key is skipped.

    The start-up check's own token is re-encrypted last, and only when the verification finds
    nothing left on an old key: until then, starting Vigil without the old keys is refused.
    """
    keyring = keyring or Keyring.from_settings()
    result = RotationResult()
    for column in value_columns():
        before = result.values
        found = rotate_column(column, keyring, result)
        log(
            f"{column.label}: {count(result.values - before, 'value')} re-encrypted, "
            f"{found.values_on(0)} already on key 1, {found.values_on(None)} unreadable by "
            "any key."
        )
    log("Stored files:")
    rotate_files(keyring, result, log)
    log(f"  {count(result.files, 'file')} re-encrypted.")

    log("Verifying: decrypting every value and stored file again…")
    report = scan(keyring, columns=value_columns())
    if report.on_old_keys == 0:
        rotate_column(KEY_CHECK, keyring, result)
        log("Start-up key check: on key 1.")
    else:
        log(
            "The start-up key check stays on its old key while anything else is: Vigil will "
            "refuse to start without the old keys."
        )
    scan(keyring, columns=[KEY_CHECK], files=False, report=report)
    return result, report


# ---------- Reports people read ----------


def count(number: int, noun: str) -> str:
    """The number and the noun, plural unless the number is one: "1 file", "2 files"."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _ids(ids: list[Any], total: int | None = None) -> str:
    total = len(ids) if total is None else total
    shown = ", ".join(str(pk) for pk in ids[:SHOWN_IDS])
    more = total - min(len(ids), SHOWN_IDS)
    return f"{shown} … and {more} more" if more > 0 else shown


def describe(report: KeyReport) -> list[str]:
    """Per key (by position and fingerprint, never the key itself): the values and files it
    protects; then what no key decrypts and what is missing on disk."""
    lines = []
    for position, fingerprint in enumerate(report.fingerprints):
        role = "current key, encrypts new data" if position == 0 else "old key"
        values, files = report.values_on(position), report.files_on(position)
        lines.append(
            f"Key {position + 1} [{fingerprint}] ({role}): protects {count(values, 'value')} "
            f"and {count(files, 'file')}"
        )
        for label, counts in sorted(report.values.items()):
            if counts[position]:
                lines.append(f"    {label}: {count(counts[position], 'value')}")
        if report.old_file_ids.get(position):
            lines.append(f"    stored files: {_ids(report.old_file_ids[position])}")
    lines.append(
        f"No configured key decrypts: {count(report.values_on(None), 'value')} "
        f"and {count(len(report.unreadable_files), 'file')}"
    )
    for label, counts in sorted(report.values.items()):
        if counts[None]:
            ids = _ids(report.unreadable_value_ids.get(label, []), counts[None])
            lines.append(f"    {label}: {count(counts[None], 'value')} (ids {ids})")
    lines.extend(f"    {problem.describe()}" for problem in report.unreadable_files)
    lines.append(f"Missing on disk: {count(len(report.missing_files), 'file')}")
    lines.extend(f"    {problem.describe()}" for problem in report.missing_files)
    return lines


def advice(report: KeyReport) -> list[str]:
    """What the administrator may do next with the old keys."""
    old_keys = [
        str(position + 1)
        for position in range(1, len(report.fingerprints))
        if report.values_on(position) or report.files_on(position)
    ]
    has_old_keys = len(report.fingerprints) > 1
    lines = []
    if old_keys:
        lines.append(
            f"Key(s) {', '.join(old_keys)} still protect data: run "
            "`python manage.py rotate_encryption_keys` (again) and do not remove them yet."
        )
    if report.missing_files:
        lines.append(
            "Missing files: restore them from the backup of VIGIL_MEDIA_ROOT to the paths shown, "
            "then run the rotation again."
            + (
                " Keep the old keys until then: a restored file is encrypted with the key that "
                "was current when it was backed up, and cannot be read once that key is removed. "
                "A file that cannot be found is lost whatever the keys."
                if has_old_keys
                else ""
            )
        )
    if report.unreadable:
        lines.append(
            "Unreadable values or files: add the key they were encrypted with to "
            "VIGIL_ENCRYPTION_KEYS (after the current key) and run the rotation again."
        )
    if has_old_keys and not old_keys and report.missing_files:
        lines.append(
            "Apart from the missing files, the old keys protect nothing: remove them once those "
            "files are restored and re-encrypted, or given up as lost."
        )
    elif has_old_keys and not old_keys:
        lines.append(
            "The old keys protect nothing any more: they may be removed from "
            "VIGIL_ENCRYPTION_KEYS (keep a copy with the backups made while they were in use)."
        )
    if not lines:
        lines.append("Everything is on the current key.")
    return lines
