"""A place's fields and rules, written once.

The service, the form, the importer, the API and the export all read this module: which fields a
person edits, which a merge fills, which columns an export has and how each is shown, and the
rules a place's values must keep (`place_errors`). Each says the same thing about the same bad
value, whichever way it came in.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from vigil.places.countries import COUNTRIES
from vigil.places.models import OperatorKind


@dataclass(frozen=True)
class PlaceField:
    name: str
    # Edited by a person (form, API, import); the history shows changes to it.
    editable: bool = True
    # Filled from the merged place when the kept place has no value.
    merge_fill: bool = False
    # The longest text the model holds (None: unlimited, or not text).
    max_length: int | None = None
    # Text the importer reads as it is (after trimming).
    plain_text: bool = False


FIELDS = [
    PlaceField("external_id", merge_fill=True, max_length=100, plain_text=True),
    PlaceField("name", max_length=300, plain_text=True),
    PlaceField("place_type"),
    PlaceField("subtype", merge_fill=True, max_length=200, plain_text=True),
    PlaceField("authority_name", merge_fill=True, max_length=300, plain_text=True),
    PlaceField("region", merge_fill=True),
    PlaceField("address", merge_fill=True, plain_text=True),
    PlaceField("locality", merge_fill=True, max_length=200, plain_text=True),
    PlaceField("postal_code", merge_fill=True, max_length=20, plain_text=True),
    PlaceField("country", merge_fill=True),
    PlaceField("operator_kind", merge_fill=True),
    PlaceField("operator_name", merge_fill=True, max_length=300, plain_text=True),
    PlaceField("latitude", merge_fill=True),
    PlaceField("longitude", merge_fill=True),
    PlaceField("official_capacity", merge_fill=True),
    PlaceField("population", merge_fill=True),
    PlaceField("population_date", merge_fill=True),
    PlaceField("status"),
    PlaceField("opened_on", merge_fill=True),
    PlaceField("closed_on", merge_fill=True),
    PlaceField("aliases"),
    PlaceField("former_names"),
    PlaceField("notes", merge_fill=True, plain_text=True),
    PlaceField("source", merge_fill=True, max_length=300, plain_text=True),
    PlaceField("is_confidential"),
]

# The range of each coordinate, in decimal degrees, and what is said of a value outside it: by
# place_errors (the form, the API and the importer), by the API's own field check and by the
# form's check in the browser, in the same words.
COORDINATE_LIMITS = {"latitude": 90, "longitude": 180}
COORDINATE_RANGE_MESSAGES = {
    "latitude": gettext_lazy("Latitude is between -90 and 90."),
    "longitude": gettext_lazy("Longitude is between -180 and 180."),
}

EDITABLE_FIELDS = [field.name for field in FIELDS if field.editable]
# The identifiers under the body's schemes are tracked as "scheme: value" lines.
TRACKED_FIELDS = [*EDITABLE_FIELDS, "population_groups", "identifiers"]
MERGE_FILL_FIELDS = [field.name for field in FIELDS if field.merge_fill]
TEXT_LIMITS = {field.name: field.max_length for field in FIELDS if field.plain_text}
# What the API returns beside the editable fields (and never the confidential notes).
# `version` is the one the ETag names (vigil.core.concurrency).
API_FIELDS = [
    "id",
    "body",
    *EDITABLE_FIELDS,
    "population_groups",
    "identifiers",
    "source_import",
    "created_by",
    "created_at",
    "updated_at",
    "version",
]


def place_errors(
    values: Mapping[str, Any], *, today: datetime.date | None = None
) -> dict[str, list[str]]:
    """The rules between a place's values, as {field: [messages]}; `values` holds the place as
    it will be after the write (every field of EDITABLE_FIELDS that has a value). No query:
    the importer checks thousands of rows with it."""
    from django.utils import timezone

    today = today or timezone.localdate()
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    latitude, longitude = values.get("latitude"), values.get("longitude")
    for name, value in (("latitude", latitude), ("longitude", longitude)):
        limit = COORDINATE_LIMITS[name]
        if value is not None and not -limit <= value <= limit:
            add(name, str(COORDINATE_RANGE_MESSAGES[name]))
    if (latitude is None) != (longitude is None):
        add(
            "longitude" if longitude is None else "latitude",
            _("Give both latitude and longitude, or neither."),
        )
    opened_on, closed_on = values.get("opened_on"), values.get("closed_on")
    if opened_on and closed_on and closed_on < opened_on:
        add("closed_on", _("The closing date is before the opening date."))
    # A closed place may have no closing date: lists often say a place closed, not when.
    country = values.get("country")
    if country and country not in COUNTRIES:
        add(
            "country",
            _("“%(value)s” is not an ISO 3166 country code, such as FR.") % {"value": country},
        )
    if values.get("operator_name") and values.get("operator_kind") == OperatorKind.PUBLIC:
        add("operator_name", _("A company's name is given for a privately run place."))
    population_date = values.get("population_date")
    if values.get("population") is not None and population_date is None:
        add("population_date", _("Give the date the population was counted."))
    if population_date and population_date > today:
        add("population_date", _("The date is in the future."))
    return errors


# ---------- The export's columns ----------


@dataclass(frozen=True)
class Column:
    """One export column: the import field it is read back into (its header is that field's
    label, so an unchanged export imports as "unchanged"), the place's column it reads, and how
    its value is written. Both writers (vigil.places.exports: Python's and PostgreSQL's COPY)
    follow `kind`:

    - "text": as stored; "number": a whole number; "decimal": without trailing zeros;
      "date": ISO; "lines": one name per line, written separated by "; ";
    - "lookup": through a per-export table of labels (`lookup` names it: the type's translated
      label, the region's path, the body's name, the status's and the operator kind's labels);
    - "groups": the population groups' labels, sorted, separated by "; ";
    - "identifiers": the place's identifiers under the body's schemes, as "scheme: value",
      sorted, separated by "; " (the importer's "Identifiers" field reads them back)."""

    field: str
    source: str
    kind: str = "text"
    lookup: str = ""


# In the import's field order (vigil.places.importer.PlaceImporter.fields); a test holds the two
# lists equal, so a new field of a place is exported as soon as it can be imported.
COLUMNS = [
    Column("vigil_id", "id", "number"),
    Column("body", "body_id", "lookup", "bodies"),
    Column("external_id", "external_id"),
    Column("name", "name"),
    Column("place_type", "place_type_id", "lookup", "types"),
    Column("subtype", "subtype"),
    Column("authority_name", "authority_name"),
    Column("region", "region_id", "lookup", "regions"),
    Column("address", "address"),
    Column("locality", "locality"),
    Column("postal_code", "postal_code"),
    Column("country", "country"),
    Column("operator_kind", "operator_kind", "lookup", "operators"),
    Column("operator_name", "operator_name"),
    Column("source", "source"),
    Column("latitude", "latitude", "decimal"),
    Column("longitude", "longitude", "decimal"),
    Column("official_capacity", "official_capacity", "number"),
    Column("population", "population", "number"),
    Column("population_date", "population_date", "date"),
    Column("status", "status", "lookup", "statuses"),
    Column("opened_on", "opened_on", "date"),
    Column("closed_on", "closed_on", "date"),
    Column("aliases", "aliases", "lines"),
    Column("former_names", "former_names", "lines"),
    Column("notes", "notes"),
    Column("population_groups", "id", "groups"),
    Column("identifiers", "id", "identifiers"),
]
