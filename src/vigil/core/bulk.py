"""Writing many rows at once, for importers and demo data at the scale of a national registry.

`bulk_insert` uses COPY on PostgreSQL and bulk_create or executemany elsewhere; `bulk_update`
joins the table to a VALUES list on both. Neither runs `save()`, signals or validation: the
services calling them have already checked every row, and write the audit entries themselves
(audit entries can be inserted here too, sealed into their chain, never updated).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db import connections, models, router, transaction
from django.db.models.fields import AutoFieldMixin

from vigil.core.audit_chain import seal
from vigil.core.models import AuditEntry

# Models whose rows are written once and never changed (their save() refuses it).
_APPEND_ONLY: tuple[type[models.Model], ...] = (AuditEntry,)

# Field classes (exactly these, not subclasses such as the encrypted text field) whose database
# value is the Python value itself when that already has the field's type. Django's own
# conversion was most of the cost of inserting 5,000 places and their audit entries.
_PLAIN_FIELDS: dict[type[models.Field[Any, Any]], tuple[type, ...]] = {
    models.CharField: (str,),
    models.TextField: (str,),
    models.SlugField: (str,),
    models.BooleanField: (bool,),
    models.IntegerField: (int,),
    models.SmallIntegerField: (int,),
    models.BigIntegerField: (int,),
    models.PositiveIntegerField: (int,),
    models.PositiveSmallIntegerField: (int,),
    models.PositiveBigIntegerField: (int,),
    models.ForeignKey: (int,),
    models.AutoField: (int,),
    models.BigAutoField: (int,),
    models.SmallAutoField: (int,),
}

# Rows per UPDATE statement: large enough to cost few round trips, small enough for any plan.
_UPDATE_BATCH = 1000


def bulk_insert(
    model: type[models.Model],
    items: Iterable[Any],
    *,
    fields: Sequence[str] | None = None,
    return_ids: bool = False,
) -> list[Any] | None:
    """Insert many new rows of `model`; the new ids, in order, when `return_ids` is true.

    `items` are either unsaved instances of `model`, written with every concrete field (each
    gets its id, as with bulk_create), or rows: tuples of database values (ids for foreign
    keys) of the `fields` named, such as (place id, term id) pairs for a many-to-many table,
    which save building an instance per row. A field a row leaves out takes its default.
    """
    items = list(items)
    if not items:
        return [] if return_ids else None
    # Bad calls are refused before anything is written, so they leave the caller's
    # transaction usable.
    if isinstance(items[0], models.Model):
        if fields is not None:
            raise ValueError("bulk_insert writes every field of instances; pass rows to choose.")
        _check_instances(model, items)
    elif fields is None:
        raise ValueError("bulk_insert needs the names of the fields the rows hold.")
    elif issubclass(model, AuditEntry):
        raise ValueError("Audit entries are inserted as instances, so that they are sealed.")
    connection = connections[router.db_for_write(model)]
    if fields is None:
        with transaction.atomic(using=connection.alias, savepoint=False):
            if issubclass(model, AuditEntry):
                seal(items, using=connection.alias)
            _insert_instances(connection, model, items)
        return [item.pk for item in items] if return_ids else None
    named = _resolve(model, fields)
    _check_rows(items, len(named))
    pk = model._meta.pk
    if return_ids and pk not in named and not isinstance(pk, AutoFieldMixin):
        raise ValueError(
            f"Name the id among the fields to learn the ids of new {model._meta.label}."
        )
    with transaction.atomic(using=connection.alias, savepoint=False):
        return _insert_rows(connection, model, items, named, return_ids)


def bulk_update(model: type[models.Model], items: Iterable[Any], fields: Sequence[str]) -> None:
    """UPDATE the named `fields` of many rows of `model`, one statement per batch.

    `items` are saved instances of `model`, or rows: (id, value of each field in order)
    tuples of database values. Django's bulk_update writes one CASE WHEN per row and column,
    which the database evaluates in quadratic time (thousands of rows took seconds); a join on
    VALUES is linear."""
    if not fields:
        raise ValueError("bulk_update needs the names of the fields to write.")
    if issubclass(model, _APPEND_ONLY):
        raise PermissionError(f"{model._meta.verbose_name_plural} cannot be changed.")
    items = list(items)
    if not items:
        return
    meta = model._meta
    pk = meta.pk
    assert pk is not None
    model_fields = _resolve(model, fields)
    if pk in model_fields:
        raise ValueError("bulk_update cannot change ids.")
    width = len(model_fields) + 1
    instances = isinstance(items[0], models.Model)
    if instances:
        _check_instances(model, items)
    else:
        _check_rows(items, width)
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    columns = [quote(field.column) for field in model_fields]
    if connection.vendor == "postgresql":
        # VALUES columns are typed from the literals; say what each column really is.
        sources = [
            f"CAST(v.{column} AS {_cast_type(field, connection)})"
            for column, field in zip(columns, model_fields, strict=True)
        ]
        pk_source = f"CAST(v.vigil_pk AS {_cast_type(pk, connection)})"
    else:
        # SQLite's CAST would turn "2024-01-31" into 2024; column affinity converts correctly.
        sources = [f"v.{column}" for column in columns]
        pk_source = "v.vigil_pk"
    assignments = ", ".join(
        f"{column} = {source}" for column, source in zip(columns, sources, strict=True)
    )
    max_params = connection.features.max_query_params or 30_000
    batch_size = max(1, min(_UPDATE_BATCH, max_params // width))
    placeholders = "(" + ", ".join(["%s"] * width) + ")"
    if instances:
        readers = [_attribute_reader(pk, connection, pre_save=False)]
        readers += [_attribute_reader(field, connection, pre_save=False) for field in model_fields]

        def values(item: Any) -> list[Any]:
            return [read(item) for read in readers]

    else:
        converters = [
            _value_converter(pk, connection),
            *(_value_converter(field, connection) for field in model_fields),
        ]

        def values(item: Any) -> list[Any]:
            return [convert(value) for convert, value in zip(converters, item, strict=True)]

    with transaction.atomic(using=connection.alias, savepoint=False), connection.cursor() as cursor:
        for start in range(0, len(items), batch_size):
            batch = items[start : start + batch_size]
            params: list[Any] = []
            for item in batch:
                params.extend(values(item))
            sql = (
                f"WITH v(vigil_pk, {', '.join(columns)}) AS "  # noqa: S608  (names from the model)
                f"(VALUES {', '.join([placeholders] * len(batch))}) "
                f"UPDATE {table} SET {assignments} FROM v "
                f"WHERE {table}.{quote(pk.column)} = {pk_source}"
            )
            cursor.execute(sql, params)


# --- Inserting ---------------------------------------------------------------------------------


def _insert_instances(connection: Any, model: type[models.Model], objects: list[Any]) -> None:
    """On PostgreSQL through COPY, with ids taken from the table's sequence first: several
    times faster than bulk_create, whose UNNEST of arrays escapes every value in Python (5,000
    audit entries took 0.9 s, COPY takes 0.3 s). Elsewhere through bulk_create."""
    meta = model._meta
    fields = _writable_fields(model)
    if connection.vendor != "postgresql" or any(_has_db_default(field) for field in fields):
        # A column the database fills cannot be left out of a COPY row by row.
        model._default_manager.bulk_create(objects, batch_size=1000)
        return
    pk = meta.pk
    assert pk is not None
    if isinstance(pk, AutoFieldMixin):
        without_id = [obj for obj in objects if obj.pk is None]
        for obj, new_id in zip(
            without_id, _new_ids(connection, model, len(without_id)), strict=True
        ):
            obj.pk = new_id
    readers = [_attribute_reader(field, connection, pre_save=True) for field in fields]
    _copy(connection, model, fields, ([read(obj) for read in readers] for obj in objects))
    for obj in objects:
        obj._state.adding = False
        obj._state.db = connection.alias


def _insert_rows(
    connection: Any,
    model: type[models.Model],
    rows: list[Any],
    named: list[models.Field[Any, Any]],
    return_ids: bool,
) -> list[Any] | None:
    meta = model._meta
    pk = meta.pk
    assert pk is not None
    auto_pk = isinstance(pk, AutoFieldMixin)
    if connection.vendor != "postgresql" and return_ids:
        # bulk_create is the portable way to learn the ids the database gives new rows.
        attnames = [field.attname for field in named]
        objects = [model(**dict(zip(attnames, row, strict=True))) for row in rows]
        model._default_manager.bulk_create(objects, batch_size=1000)
        return [obj.pk for obj in objects]

    # A field the rows leave out takes its default, as `model(...)` would give it; an
    # automatic id and a default of the database's own are left to the database.
    columns = list(named)
    converters = [_value_converter(field, connection) for field in named]
    fillers: list[Callable[[], Any]] = []
    for field in _writable_fields(model):
        if field in named or _has_db_default(field) or (field is pk and auto_pk):
            continue
        columns.append(field)
        fillers.append(_default_filler(field, connection))

    def values(row: Any) -> list[Any]:
        converted = [convert(value) for convert, value in zip(converters, row, strict=True)]
        converted.extend(fill() for fill in fillers)
        return converted

    ids: list[Any] | None = None
    if return_ids and pk in named:
        ids = [row[named.index(pk)] for row in rows]
    elif return_ids:
        ids = _new_ids(connection, model, len(rows))
        columns.insert(0, pk)
    if connection.vendor == "postgresql":
        if ids is not None and pk not in named:
            written = ([new_id, *values(row)] for new_id, row in zip(ids, rows, strict=True))
        else:
            written = (values(row) for row in rows)
        _copy(connection, model, columns, written)
    else:
        quote = connection.ops.quote_name
        sql = (
            f"INSERT INTO {quote(meta.db_table)} "  # noqa: S608  (names from the model)
            f"({', '.join(quote(field.column) for field in columns)}) "
            f"VALUES ({', '.join(['%s'] * len(columns))})"
        )
        with connection.cursor() as cursor:
            cursor.executemany(sql, [values(row) for row in rows])
    return ids


def _new_ids(connection: Any, model: type[models.Model], count: int) -> list[int]:
    """`count` ids from the table's sequence, so rows can be linked before they are written."""
    if not count:
        return []
    meta = model._meta
    assert meta.pk is not None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [connection.ops.quote_name(meta.db_table), meta.pk.column, count],
        )
        return [new_id for (new_id,) in cursor.fetchall()]


def _copy(
    connection: Any,
    model: type[models.Model],
    fields: list[models.Field[Any, Any]],
    rows: Iterable[list[Any]],
) -> None:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    statement = f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN"
    # The driver's own cursor, past Django's wrapper: its errors are turned into Django's here,
    # so callers catch IntegrityError and DataError as for any other write.
    with (
        connection.cursor() as cursor,
        connection.wrap_database_errors,
        cursor.cursor.copy(statement) as copy,
    ):
        for row in rows:
            copy.write_row(row)


# --- Fields and values -------------------------------------------------------------------------


def _writable_fields(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    return [
        field for field in model._meta.concrete_fields if not getattr(field, "generated", False)
    ]


def _resolve(model: type[models.Model], names: Sequence[str]) -> list[models.Field[Any, Any]]:
    """The concrete fields named (by name or column attribute, "place" or "place_id")."""
    writable = _writable_fields(model)
    resolved = []
    for name in names:
        field = model._meta.get_field(name)
        if field not in writable:
            raise ValueError(f"{model._meta.label}.{name} is not a column that can be written.")
        if field in resolved:
            raise ValueError(f"{model._meta.label}.{name} is named twice.")
        resolved.append(field)
    return resolved  # type: ignore[return-value]


def _has_db_default(field: Any) -> bool:
    return bool(field.has_db_default())


def _default_filler(field: Any, connection: Any) -> Callable[[], Any]:
    """() -> the database value of `field`'s default: a callable default is called for each
    row (no two rows share one dict), a constant is converted once."""
    if field.has_default() and callable(field.default):
        convert = _value_converter(field, connection)
        return lambda: convert(field.get_default())
    constant = field.get_db_prep_save(field.get_default(), connection)
    return lambda: constant


def _cast_type(field: Any, connection: Any) -> str:
    """The type a VALUES column is read as on PostgreSQL: the column's own, but text without
    its length limit, because an explicit cast to varchar(n) silently cuts a longer text that
    writing it must refuse."""
    db_type = str(field.db_type(connection))
    return "varchar" if db_type.startswith("varchar(") else db_type


def _check_rows(rows: list[Any], width: int) -> None:
    for row in rows:
        if len(row) != width:
            raise ValueError(f"A row has {len(row)} values for {width} columns: {row!r}.")


def _check_instances(model: type[models.Model], objects: list[Any]) -> None:
    for obj in objects:
        if not isinstance(obj, model):
            raise TypeError(f"A bulk write of {model._meta.label} was given {obj!r}.")


def _value_converter(field: Any, connection: Any) -> Callable[[Any], Any]:
    """value -> what the database receives for `field`: Django's own conversion, skipped only
    where it would return the value unchanged."""
    prepare = field.get_db_prep_save
    plain = _PLAIN_FIELDS.get(type(field))
    if plain is None:
        return lambda value: prepare(value, connection)

    def convert(value: Any) -> Any:
        if value is None or type(value) in plain:
            return value
        return prepare(value, connection)

    return convert


def _attribute_reader(field: Any, connection: Any, *, pre_save: bool) -> Callable[[Any], Any]:
    """instance -> what the database receives for `field`. With `pre_save`, as an insert
    would: automatic dates are set and files saved, as bulk_create does."""
    attname = field.attname
    prepare = field.get_db_prep_save
    plain = _PLAIN_FIELDS.get(type(field))
    automatic = getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
    if plain is not None and not (pre_save and automatic):

        def read(obj: Any) -> Any:
            value = getattr(obj, attname)
            if value is None or type(value) in plain:
                return value
            return prepare(value, connection)

        return read
    if pre_save:
        return lambda obj: prepare(field.pre_save(obj, True), connection)
    return lambda obj: prepare(getattr(obj, attname), connection)
