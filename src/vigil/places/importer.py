"""Importing places from CSV/XLSX: the fields, per-row checks without queries, the bulk commit.

A row matches an existing place of the body by external identifier, or, failing that, by name
and address; re-importing a file therefore updates places and never duplicates them.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Count, Max, Sum
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from vigil.core import bulk
from vigil.core.audit import build_entry, diff, diff_new
from vigil.core.concurrency import VERSION_KEY, bump_version
from vigil.core.imports import (
    ACTION_KEY,
    CREATE,
    UNCHANGED,
    UPDATE,
    ImportContext,
    Importer,
    ImportField,
    register_importer,
)
from vigil.core.models import AuditEntry, Body, Membership, TabularImport, TaxonomyTerm
from vigil.places import permissions
from vigil.places.countries import COUNTRIES
from vigil.places.duplicates import haversine_m, match_text
from vigil.places.import_values import PlaceImportWizard
from vigil.places.models import OperatorKind, Place, PlaceIdentifier, PlaceStatus, Region
from vigil.places.queries import normalise_text
from vigil.places.services import (
    IDENTIFIER_MAX_LENGTH,
    flag_possible_duplicates,
    identifier_lines,
    index_place,
)
from vigil.places.spec import EDITABLE_FIELDS, TEXT_LIMITS, place_errors

MAX_POSITIVE_INT = 2_147_483_647
_LIST_SEPARATOR = re.compile(r"[;\n]")
_DMY = re.compile(r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4})$")
_SIX_PLACES = Decimal("0.000001")
# Places locked per query before an update (SQLite takes a limited number of parameters).
_LOCK_BATCH = 5000
# A row without an identifier is the place of the same name this close to its coordinates.
MATCH_DISTANCE_M = 250.0
# The identifier columns a file may map, each with its scheme (a column or, in the wizard, a
# constant such as "national code"); "identifiers" reads "scheme: value; scheme: value".
IDENTIFIER_SLOTS = [
    ("identifier_scheme", "identifier"),
    ("identifier_scheme_2", "identifier_2"),
    ("identifier_scheme_3", "identifier_3"),
]
# Import-only: a file's own identifier columns. The export writes every identifier in the one
# "identifiers" column instead, so these are the fields the export has no column for.
IMPORT_ONLY_FIELDS = [name for slot in IDENTIFIER_SLOTS for name in slot]


def _key(text: str) -> str:
    """Case-, accent- and spacing-insensitive comparison key."""
    if text.isascii():
        # The same result as normalise_text, without Unicode decomposition: most cells are ASCII.
        return " ".join(text.lower().split())
    return " ".join(normalise_text(text).split())


def _translations(label: str) -> set[str]:
    """A label in English and in every language Vigil speaks, as comparison keys."""
    keys = {_key(label)}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            keys.add(_key(translation.gettext(label)))
    return keys


def _term_lookup(terms: list[TaxonomyTerm]) -> dict[str, list[TaxonomyTerm]]:
    lookup: dict[str, list[TaxonomyTerm]] = {}
    for term in terms:
        for key in {_key(term.code), *_translations(term.label)}:
            entries = lookup.setdefault(key, [])
            if term not in entries:
                entries.append(term)
    return lookup


def _place_key(name: str, address: str) -> tuple[str, str]:
    # Without punctuation too: "St. Mary's Prison, 1 High St." is "st marys prison 1 high st".
    return (match_text(name), match_text(address))


def _identifier_key(scheme: str, value: str) -> tuple[str, str]:
    return (scheme.strip().casefold(), value.strip().casefold())


def region_lookups(regions: list[Region]) -> dict[str, Any]:
    """What `PlaceImporter.find_region` reads: the regions by name or code, and by parent."""
    regions_by_key: dict[str, list[Region]] = {}
    children: dict[tuple[int | None, str], list[Region]] = {}
    for region in regions:
        for key in {_key(region.name), _key(region.code)} - {""}:
            regions_by_key.setdefault(key, []).append(region)
            children.setdefault((region.parent_id, key), []).append(region)
    return {"regions_by_key": regions_by_key, "region_children": children}


def status_lookup() -> dict[str, str]:
    """A status by its value or its label in any of Vigil's languages, in any case."""
    lookup: dict[str, str] = {}
    for value, label in PlaceStatus.choices:
        lookup[_key(value)] = value
        for code, _name in settings.LANGUAGES:
            with translation.override(code):
                lookup[_key(str(label))] = value
    return lookup


def term_lookup(terms: list[TaxonomyTerm]) -> dict[str, list[TaxonomyTerm]]:
    return _term_lookup(terms)


comparison_key = _key


class _ExistingPlaces:
    """The body's places, as rows to match against; a Place is built only for a matched row.

    A national registry has thousands of places and a file often matches few of them: model
    instances for all of them were most of the time spent preparing an import."""

    def __init__(
        self, body: Any, terms_by_id: dict[int, TaxonomyTerm], regions_by_id: dict[int, Region]
    ) -> None:
        self.body = body
        self.terms_by_id = terms_by_id
        self.regions_by_id = regions_by_id
        # The confidential notes are never imported: left out, they are never decrypted.
        self.field_names = [
            field.attname
            for field in Place._meta.concrete_fields
            if field.name != "confidential_notes"
        ]
        position = {name: index for index, name in enumerate(self.field_names)}
        pk, external_id, name, address = (
            position[key] for key in ("id", "external_id", "name", "address")
        )
        latitude, longitude = position["latitude"], position["longitude"]
        self.rows: dict[int, tuple[Any, ...]] = {}
        self.by_id: dict[str, int] = {}
        self.by_key: dict[tuple[str, str], int] = {}
        # Located places by name, for rows matched on name and coordinates.
        self.by_name: dict[str, list[tuple[int, float, float]]] = {}
        queryset = Place.objects.filter(body=body, deleted_at__isnull=True).order_by("pk")
        self.db = queryset.db
        for row in queryset.values_list(*self.field_names):
            self.rows[row[pk]] = row
            if row[external_id]:
                self.by_id.setdefault(row[external_id].strip().casefold(), row[pk])
            place_key = _place_key(row[name], row[address])
            self.by_key.setdefault(place_key, row[pk])
            if row[latitude] is not None and row[longitude] is not None:
                self.by_name.setdefault(place_key[0], []).append(
                    (row[pk], float(row[latitude]), float(row[longitude]))
                )
        # Every identifier of the body, trashed places' too: a value names one place.
        self.identifiers: dict[int, dict[str, str]] = {}
        self.by_identifier: dict[tuple[str, str], int] = {}
        self.schemes: dict[str, str] = {}
        for place_id, scheme, value in PlaceIdentifier.objects.filter(body=body).values_list(
            "place_id", "scheme", "value"
        ):
            self.identifiers.setdefault(place_id, {})[scheme] = value
            self.by_identifier[_identifier_key(scheme, value)] = place_id
            self.schemes.setdefault(scheme.casefold(), scheme)
        self.instances: dict[int, Place] = {}

    def place(self, pk: int) -> Place:
        place = self.instances.get(pk)
        if place is None:
            place = Place.from_db(self.db, self.field_names, self.rows[pk])
            # Cached on the place, so audit entries and snapshots cost no query.
            place.body = self.body
            if place.place_type_id in self.terms_by_id:
                place.place_type = self.terms_by_id[place.place_type_id]
            if place.region_id in self.regions_by_id:
                place.region = self.regions_by_id[place.region_id]
            self.instances[pk] = place
        return place

    def by_pk(self, pk: int) -> Place | None:
        return self.place(pk) if pk in self.rows else None

    def by_external_id(self, external_id: str) -> Place | None:
        pk = self.by_id.get(external_id.strip().casefold())
        return None if pk is None else self.place(pk)

    def by_name_address(self, name: str, address: str) -> Place | None:
        pk = self.by_key.get(_place_key(name, address))
        return None if pk is None else self.place(pk)

    def by_name_near(self, name: str, latitude: Decimal, longitude: Decimal) -> Place | None:
        """The one live place of this name within MATCH_DISTANCE_M (none if two are)."""
        near = [
            pk
            for pk, other_latitude, other_longitude in self.by_name.get(match_text(name), [])
            if haversine_m(float(latitude), float(longitude), other_latitude, other_longitude)
            <= MATCH_DISTANCE_M
        ]
        return self.place(near[0]) if len(near) == 1 else None

    def identifier_owner(self, scheme: str, value: str) -> int | None:
        return self.by_identifier.get(_identifier_key(scheme, value))

    def identifiers_of(self, place: Place | None) -> dict[str, str]:
        return {} if place is None else dict(self.identifiers.get(place.pk, {}))


class PlaceImporter(PlaceImportWizard, Importer):
    kind = "places"
    title = gettext_lazy("Places")
    fields = {
        # The export's own columns (vigil.places.spec.COLUMNS), so an export imports back.
        "vigil_id": ImportField(
            gettext_lazy("Vigil ID"),
            ("vigil id", "vigil number"),
            help=gettext_lazy(
                "Vigil’s number of the place, as an export gives it: the row is that place."
            ),
        ),
        "body": ImportField(
            gettext_lazy("Body"),
            ("monitoring body", "organisme", "organismo"),
            help=gettext_lazy(
                "Your body, or one it coordinates: rows of another body’s places are only "
                "checked, since that body imports their changes."
            ),
        ),
        "external_id": ImportField(
            gettext_lazy("External identifier"),
            ("id", "identifier", "identifiant", "identificador", "code", "reference", "ref"),
            help=gettext_lazy("Used to recognise the place when the file is imported again."),
        ),
        "name": ImportField(
            gettext_lazy("Name"), ("place", "nom", "nombre", "lieu", "establishment"), True
        ),
        "place_type": ImportField(
            gettext_lazy("Type"),
            ("type", "place type", "category", "categorie", "tipo"),
            True,
            gettext_lazy("A type of place of your body, by code or by name."),
        ),
        "subtype": ImportField(gettext_lazy("Sub-type"), ("subtype", "sous type", "subtipo")),
        "authority_name": ImportField(
            gettext_lazy("Responsible authority"),
            ("authority", "ministry", "autorite", "autoridad", "ministere", "ministerio"),
        ),
        "region": ImportField(
            gettext_lazy("Region"),
            ("region", "district", "province", "state", "departement", "municipality"),
            help=gettext_lazy("A region by name or code, or a path such as “Region > District”."),
        ),
        "address": ImportField(
            gettext_lazy("Address"), ("adresse", "direccion", "location", "street", "rue", "calle")
        ),
        "locality": ImportField(
            gettext_lazy("Locality"),
            ("city", "town", "village", "commune", "ville", "localite", "localidad", "ciudad"),
        ),
        "postal_code": ImportField(
            gettext_lazy("Postal code"),
            ("zip", "zip code", "postcode", "code postal", "codigo postal", "cp"),
        ),
        "country": ImportField(
            gettext_lazy("Country"),
            ("country code", "pays", "pais", "iso"),
            help=gettext_lazy("An ISO 3166 code such as FR, or the country's English name."),
        ),
        "operator_kind": ImportField(
            gettext_lazy("Operated by"),
            ("operator type", "public or private", "management", "gestion", "gestion type"),
            help=gettext_lazy("“public” or “private”."),
        ),
        "operator_name": ImportField(
            gettext_lazy("Operator"),
            ("operator", "company", "contractor", "operateur", "operador", "empresa"),
            help=gettext_lazy("The company that runs a privately run place."),
        ),
        "source": ImportField(
            gettext_lazy("Source"),
            ("source", "data source", "fuente", "provenance"),
            help=gettext_lazy("Where the record comes from; the file's name when not mapped."),
        ),
        "latitude": ImportField(gettext_lazy("Latitude"), ("lat",)),
        "longitude": ImportField(gettext_lazy("Longitude"), ("lon", "lng", "long")),
        "official_capacity": ImportField(
            gettext_lazy("Official capacity"), ("capacity", "capacite", "capacidad", "places")
        ),
        "population": ImportField(
            gettext_lazy("Current population"),
            ("population", "detainees", "occupancy", "poblacion", "occupants"),
        ),
        "population_date": ImportField(
            gettext_lazy("Population counted on"),
            ("population date", "census date", "count date", "date of population"),
        ),
        "status": ImportField(gettext_lazy("Status"), ("statut", "estado", "state of place")),
        "opened_on": ImportField(
            gettext_lazy("Opened on"), ("opened", "opening date", "date opened", "ouverture")
        ),
        "closed_on": ImportField(
            gettext_lazy("Closed on"), ("closed", "closing date", "date closed", "fermeture")
        ),
        "aliases": ImportField(
            gettext_lazy("Other names"),
            ("aliases", "alias", "also known as", "aka", "autres noms", "otros nombres"),
            help=gettext_lazy("Separated by “;”."),
        ),
        "former_names": ImportField(
            gettext_lazy("Former names"),
            ("former name", "previous names", "anciens noms"),
            help=gettext_lazy("Separated by “;”."),
        ),
        "notes": ImportField(gettext_lazy("Notes"), ("remarks", "comments", "observations")),
        "population_groups": ImportField(
            gettext_lazy("Population groups held"),
            ("groups", "population groups", "vulnerable groups", "groupes", "grupos"),
            help=gettext_lazy("Groups in situations of vulnerability, separated by “;”."),
        ),
        "identifier_scheme": ImportField(
            gettext_lazy("Scheme of identifier 1"),
            ("identifier scheme", "scheme"),
            help=gettext_lazy("What the identifier is, such as “national code”."),
        ),
        "identifier": ImportField(
            gettext_lazy("Identifier 1"),
            ("national code", "national id", "code national"),
            help=gettext_lazy("An identifier under the scheme of identifier 1."),
        ),
        "identifier_scheme_2": ImportField(gettext_lazy("Scheme of identifier 2")),
        "identifier_2": ImportField(gettext_lazy("Identifier 2")),
        "identifier_scheme_3": ImportField(gettext_lazy("Scheme of identifier 3")),
        "identifier_3": ImportField(gettext_lazy("Identifier 3")),
        "identifiers": ImportField(
            gettext_lazy("Identifiers"),
            ("other identifiers",),
            help=gettext_lazy("As the export writes them: “scheme: value; scheme: value”."),
        ),
    }

    def can_view(self, membership: Membership | None) -> bool:
        return permissions.can(membership, "view")

    def template_headers(self) -> list[str]:
        # A file of new places has no Vigil ID yet, and is the importing body's own.
        return [
            str(field.label)
            for name, field in self.fields.items()
            if name not in {"vigil_id", "body"}
        ]

    def can_import(self, membership: Membership | None) -> bool:
        return permissions.can(membership, "import")

    def display(self, value: Any, field_name: str = "") -> str:
        if field_name == "status" and value:
            return str(PlaceStatus(value).label)
        if field_name in {"aliases", "former_names"} and value:
            return "; ".join(value.splitlines())
        if field_name == "operator_kind" and value:
            return str(OperatorKind(value).label)
        return super().display(value, field_name)

    def state_token(self, body: Any) -> Any:
        # Every write raises a place's version, so their sum moves with any change (a restore
        # moves no date the other aggregates see).
        places = Place.objects.filter(body=body).aggregate(
            count=Count("pk"),
            last=Max("pk"),
            updated=Max("updated_at"),
            deleted=Max("deleted_at"),
            versions=Sum("version"),
        )
        regions = Region.objects.filter(body=body).aggregate(count=Count("pk"), last=Max("pk"))
        terms = TaxonomyTerm.objects.filter(body=body).aggregate(count=Count("pk"), last=Max("pk"))
        identifiers = PlaceIdentifier.objects.filter(body=body).aggregate(
            count=Count("pk"), last=Max("pk")
        )
        return (places, regions, terms, identifiers)

    def result_links(self, imp: TabularImport) -> list[tuple[str, str]]:
        result = (imp.summary or {}).get("result", {})
        links = []
        if result.get("duplicates"):
            links.append((_("Review the possible duplicates"), reverse("places:duplicates")))
        links.append((_("Back to the places"), reverse("places:list")))
        return links

    # --- Preparing the lookups -------------------------------------------------------------

    def prepare(self, body: Any) -> ImportContext:
        terms = list(
            TaxonomyTerm.objects.filter(body=body, kind__in=["place_type", "vulnerable_group"])
        )
        regions = list(Region.objects.filter(body=body))
        groups_of_place: dict[int, list[TaxonomyTerm]] = {}
        terms_by_id = {term.pk: term for term in terms}
        regions_by_id = {region.pk: region for region in regions}
        through = Place.population_groups.through
        for place_id, term_id in through.objects.filter(place__body=body).values_list(
            "place_id", "taxonomyterm_id"
        ):
            if term_id in terms_by_id:
                groups_of_place.setdefault(place_id, []).append(terms_by_id[term_id])
        existing = _ExistingPlaces(body, terms_by_id, regions_by_id)

        lookups = region_lookups(regions)

        operator_lookup: dict[str, str] = {
            _key(word): OperatorKind.PUBLIC
            for word in ("public", "publique", "publico", "state", "government", "governmental")
        }
        operator_lookup.update(
            {
                _key(word): OperatorKind.PRIVATE
                for word in ("private", "prive", "privee", "privado", "privada", "contracted")
            }
        )
        for value, label in OperatorKind.choices:
            operator_lookup[_key(value)] = value
            operator_lookup.update(dict.fromkeys(_translations(str(label)), value))
        countries = {_key(name): code for code, name in COUNTRIES.items()}
        countries.update({code.casefold(): code for code in COUNTRIES})

        return ImportContext(
            body=body,
            data={
                "operator_kind": operator_lookup,
                "countries": countries,
                "place_types": _term_lookup([t for t in terms if t.kind == "place_type"]),
                "groups": _term_lookup([t for t in terms if t.kind == "vulnerable_group"]),
                **lookups,
                "existing": existing,
                "groups_of_place": groups_of_place,
                "status": status_lookup(),
                # Which row of this file claimed which place or key, to catch repeated rows.
                "seen_places": {},
                "seen_keys": {},
                "today": timezone.localdate(),
                "labels": {term.pk: str(term) for term in terms},
            },
        )

    # --- One row ---------------------------------------------------------------------------

    def validate_row(
        self, context: ImportContext, values: dict[str, str]
    ) -> tuple[dict[str, Any] | None, list[tuple[str, str]]]:
        data = context.data
        errors: list[tuple[str, str]] = []
        cleaned: dict[str, Any] = {}
        if "vigil_id" in values or "body" in values:
            member_row = _export_columns(context, values, cleaned, errors)
            if member_row is not None or errors:
                return member_row, errors

        for name, limit in TEXT_LIMITS.items():
            if name in values:
                text = values[name].strip()
                if limit and len(text) > limit:
                    errors.append(
                        (name, _("is longer than %(limit)d characters") % {"limit": limit})
                    )
                cleaned[name] = text
        if "name" in values and not cleaned.get("name"):
            errors.append(("name", _("is empty; every place needs a name")))

        if "place_type" in values:
            cleaned["place_type"] = self.find_term(
                values["place_type"], data["place_types"], "place_type", errors, required=True
            )
        if "region" in values:
            cleaned["region"] = self.find_region(values["region"], data, errors)
        for name in ("latitude", "longitude"):
            if name in values:
                limit = 90 if name == "latitude" else 180
                cleaned[name] = self._coordinate(values[name], limit, name, errors)
        for name in ("official_capacity", "population"):
            if name in values:
                cleaned[name] = self._whole_number(values[name], name, errors)
        for name in ("population_date", "opened_on", "closed_on"):
            if name in values:
                cleaned[name] = self._date(values[name], name, errors)
        if "status" in values:
            text = values["status"].strip()
            if text:
                status = data["status"].get(_key(text))
                if status is None:
                    errors.append(
                        (
                            "status",
                            _("“%(value)s” is not a status; use %(choices)s")
                            % {
                                "value": text,
                                "choices": ", ".join(
                                    f"“{label}”" for _value, label in PlaceStatus.choices
                                ),
                            },
                        )
                    )
                cleaned["status"] = status
        for name in ("aliases", "former_names"):
            if name in values:
                names = [part.strip() for part in _LIST_SEPARATOR.split(values[name])]
                cleaned[name] = "\n".join(dict.fromkeys(part for part in names if part))
        if "population_groups" in values:
            groups = []
            for part in _LIST_SEPARATOR.split(values["population_groups"]):
                if part.strip():
                    term = self.find_term(
                        part, data["groups"], "population_groups", errors, required=False
                    )
                    if term is not None and term not in groups:
                        groups.append(term)
            cleaned["population_groups"] = groups

        if "country" in values:
            text = values["country"].strip()
            cleaned["country"] = data["countries"].get(_key(text), "") if text else ""
            if text and not cleaned["country"]:
                errors.append(
                    (
                        "country",
                        _("“%(value)s” is not a country; use an ISO 3166 code such as FR")
                        % {"value": text},
                    )
                )
        if "operator_kind" in values:
            text = values["operator_kind"].strip()
            cleaned["operator_kind"] = data["operator_kind"].get(_key(text), "") if text else ""
            if text and not cleaned["operator_kind"]:
                errors.append(
                    (
                        "operator_kind",
                        _("“%(value)s” is not a kind of operator; use “public” or “private”")
                        % {"value": text},
                    )
                )
        identifiers = self._identifiers(values, data, errors)
        for scheme_field, value_field in IDENTIFIER_SLOTS:
            for name in (scheme_field, value_field):
                if name in values:
                    cleaned[name] = values[name].strip()
        if "identifiers" in values:
            cleaned["identifiers"] = values["identifiers"].strip()

        place = self._match(cleaned, identifiers, values, data, errors)
        if identifiers:
            cleaned["_identifiers"] = identifiers
            self._check_identifier_owners(identifiers, place, data, errors)
        self._check_rules(cleaned, place, data, errors)
        self._check_repeats(context, cleaned, place, errors)
        if errors:
            return None, errors

        cleaned["_place"] = place
        if place is None:
            cleaned[ACTION_KEY] = CREATE
        else:
            before, after = self._snapshots(place, cleaned, data)
            cleaned["_before"] = before
            cleaned["_changes"] = diff(before, after)
            cleaned[ACTION_KEY] = UPDATE if cleaned["_changes"] else UNCHANGED
        return cleaned, []

    def find_term(
        self,
        text: str,
        lookup: dict[str, list[TaxonomyTerm]],
        name: str,
        errors: list[tuple[str, str]],
        *,
        required: bool,
    ) -> TaxonomyTerm | None:
        text = text.strip()
        if not text:
            if required:
                errors.append((name, _("is empty")))
            return None
        found = lookup.get(_key(text), [])
        active = [term for term in found if term.is_active] or found
        if len(active) == 1:
            return active[0]
        if not found:
            message = (
                _("“%(value)s” is not a type of place of your body")
                if name == "place_type"
                else _("“%(value)s” is not a population group of your body")
            )
        else:
            message = _("“%(value)s” matches several terms; use the code")
        errors.append((name, message % {"value": text}))
        return None

    def find_region(
        self, text: str, data: dict[str, Any], errors: list[tuple[str, str]]
    ) -> Region | None:
        text = text.strip()
        if not text:
            return None
        parts = [_key(part) for part in text.split(">")]
        if any(not part for part in parts):
            errors.append(("region", _("“%(value)s” has an empty part") % {"value": text}))
            return None
        candidates = data["regions_by_key"].get(parts[0], [])
        for part in parts[1:]:
            candidates = [
                child
                for parent in candidates
                for child in data["region_children"].get((parent.pk, part), [])
            ]
        if len(candidates) > 1 and len(parts) == 1:
            # A name used at several levels: prefer the top-level region.
            top = [region for region in candidates if region.parent_id is None]
            candidates = top if len(top) == 1 else candidates
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            errors.append(
                ("region", _("“%(value)s” is not a region of your body") % {"value": text})
            )
        else:
            errors.append(
                (
                    "region",
                    _("“%(value)s” matches several regions; give the path, as “Region > District”")
                    % {"value": text},
                )
            )
        return None

    def _coordinate(
        self, text: str, limit: int, name: str, errors: list[tuple[str, str]]
    ) -> Decimal | None:
        text = text.strip().replace(",", ".")
        if not text:
            return None
        try:
            value = Decimal(text)
        except InvalidOperation:
            value = None
        if value is None or not value.is_finite():
            errors.append((name, _("must be a number in decimal degrees, such as 12.5")))
            return None
        if not -limit <= value <= limit:
            errors.append((name, _("must be between -%(limit)d and %(limit)d") % {"limit": limit}))
            return None
        return value.quantize(_SIX_PLACES, rounding=ROUND_HALF_UP)

    def _whole_number(self, text: str, name: str, errors: list[tuple[str, str]]) -> int | None:
        # Spaces (also non-breaking and thin ones) group thousands in many locales.
        text = re.sub(r"[\s\u00a0\u202f]", "", text)
        if not text:
            return None
        if not re.fullmatch(r"[+-]?\d+", text):
            errors.append((name, _("must be a whole number")))
            return None
        value = int(text)
        if value < 0:
            errors.append((name, _("must not be negative")))
            return None
        if value > MAX_POSITIVE_INT:
            errors.append((name, _("is too large")))
            return None
        return value

    def _date(self, text: str, name: str, errors: list[tuple[str, str]]) -> dt.date | None:
        text = text.strip()
        if not text:
            return None
        if text.isdigit() and 20_000 <= int(text) <= 80_000:
            # A date a workbook stores as a bare number (days since 1899-12-30: 1954 to 2119).
            return dt.date(1899, 12, 30) + dt.timedelta(days=int(text))
        try:
            if match := _DMY.match(text):
                day, month, year = (int(group) for group in match.groups())
                return dt.date(year, month, day)
            # Spreadsheets may give "2024-03-31 00:00:00"; the date part is what counts.
            return dt.date.fromisoformat(text[:10] if len(text) > 10 and text[10] in " T" else text)
        except ValueError:
            errors.append((name, _("must be a date such as 2024-03-31 or 31/03/2024")))
            return None

    def _identifiers(
        self, values: dict[str, str], data: dict[str, Any], errors: list[tuple[str, str]]
    ) -> dict[str, str]:
        """The row's identifiers, {scheme: value}, each scheme as the body first wrote it."""
        found: list[tuple[str, str, str]] = []  # (field, scheme, value)
        for scheme_field, value_field in IDENTIFIER_SLOTS:
            value = values.get(value_field, "").strip()
            if not value:
                continue
            scheme = values.get(scheme_field, "").strip()
            if not scheme:
                errors.append(
                    (
                        value_field,
                        _("“%(value)s” has no scheme: give one in “%(field)s”")
                        % {"value": value, "field": self.fields[scheme_field].label},
                    )
                )
                continue
            found.append((value_field, scheme, value))
        for part in _LIST_SEPARATOR.split(values.get("identifiers", "")):
            if not part.strip():
                continue
            scheme, colon, value = part.partition(":")
            if not colon or not scheme.strip() or not value.strip():
                errors.append(
                    (
                        "identifiers",
                        _("“%(value)s” is not “scheme: identifier”") % {"value": part.strip()},
                    )
                )
                continue
            found.append(("identifiers", scheme.strip(), value.strip()))
        identifiers: dict[str, str] = {}
        for field_name, scheme, value in found:
            if len(scheme) > IDENTIFIER_MAX_LENGTH or len(value) > IDENTIFIER_MAX_LENGTH:
                errors.append(
                    (
                        field_name,
                        _("“%(value)s” is longer than %(limit)d characters")
                        % {"value": value, "limit": IDENTIFIER_MAX_LENGTH},
                    )
                )
                continue
            scheme = data["existing"].schemes.get(scheme.casefold(), scheme)
            known = identifiers.get(scheme)
            if known is not None and known.casefold() != value.casefold():
                errors.append(
                    (
                        field_name,
                        _("gives two identifiers under “%(scheme)s”: %(first)s and %(second)s")
                        % {"scheme": scheme, "first": known, "second": value},
                    )
                )
                continue
            identifiers[scheme] = value
        return identifiers

    def _match(
        self,
        cleaned: dict[str, Any],
        identifiers: dict[str, str],
        values: dict[str, str],
        data: dict[str, Any],
        errors: list[tuple[str, str]],
    ) -> Place | None:
        """The existing place this row describes: by its Vigil ID (an export read back), by
        external identifier, then by an identifier under any scheme, then by name and address,
        then by name and coordinates."""
        existing = data["existing"]
        if cleaned.get("vigil_id") is not None:
            return existing.by_pk(cleaned["vigil_id"])
        external_id = cleaned.get("external_id", "")
        if external_id:
            place = existing.by_external_id(external_id)
            if place is not None:
                return place
        owners = {
            owner
            for scheme, value in identifiers.items()
            if (owner := existing.identifier_owner(scheme, value)) in existing.rows
        }
        if len(owners) == 1:
            return existing.place(owners.pop())
        if len(owners) > 1:
            names = sorted(existing.place(pk).name for pk in owners)
            errors.append(
                (
                    "identifiers" if "identifiers" in values else "identifier",
                    _("the identifiers name different places: %(places)s")
                    % {"places": ", ".join(f"“{name}”" for name in names)},
                )
            )
            return None
        if not cleaned.get("name"):
            return None
        place = existing.by_name_address(cleaned["name"], cleaned.get("address", ""))
        if place is not None and "address" not in values and place.address:
            place = None
        latitude, longitude = cleaned.get("latitude"), cleaned.get("longitude")
        if place is None and latitude is not None and longitude is not None:
            place = existing.by_name_near(cleaned["name"], latitude, longitude)
        if place is None:
            return None
        # A place that already has another identifier is another place with the same name.
        if (
            external_id
            and place.external_id
            and place.external_id.casefold() != external_id.casefold()
        ):
            return None
        known = {
            scheme.casefold(): value for scheme, value in existing.identifiers_of(place).items()
        }
        for scheme, value in identifiers.items():
            other = known.get(scheme.casefold())
            if other is not None and other.casefold() != value.casefold():
                return None
        return place

    def _check_identifier_owners(
        self,
        identifiers: dict[str, str],
        place: Place | None,
        data: dict[str, Any],
        errors: list[tuple[str, str]],
    ) -> None:
        """An identifier names one place: not one in the trash, not another live place."""
        existing = data["existing"]
        for scheme, value in identifiers.items():
            owner = existing.identifier_owner(scheme, value)
            if owner is None or (place is not None and owner == place.pk):
                continue
            if owner not in existing.rows:
                message = _(
                    "“%(scheme)s: %(value)s” is the identifier of a place in the trash; "
                    "restore it, or remove the identifier there"
                ) % {"scheme": scheme, "value": value}
            else:
                message = _("“%(scheme)s: %(value)s” is the identifier of “%(place)s”") % {
                    "scheme": scheme,
                    "value": value,
                    "place": existing.place(owner).name,
                }
            errors.append(("identifiers", message))

    def _check_rules(
        self,
        cleaned: dict[str, Any],
        place: Place | None,
        data: dict[str, Any],
        errors: list[tuple[str, str]],
    ) -> None:
        """The place's rules (places.spec.place_errors), on the place as it will be after this
        row, without queries; a field whose own value was refused is not judged again."""
        failed = {name for name, _message in errors}
        after = {
            name: cleaned[name] if name in cleaned else getattr(place, name, None)
            for name in EDITABLE_FIELDS
        }
        if place is None and after.get("status") is None:
            after["status"] = PlaceStatus.OPEN
        for field, messages in place_errors(after, today=data["today"]).items():
            if field in failed or (field == "longitude" and "latitude" in failed):
                continue
            if field == "latitude" and "longitude" in failed:
                continue
            errors.extend((field, message) for message in messages)

    def _check_repeats(
        self,
        context: ImportContext,
        cleaned: dict[str, Any],
        place: Place | None,
        errors: list[tuple[str, str]],
    ) -> None:
        """Two rows of one file must not describe the same place."""
        data = context.data
        first = None
        if place is not None:
            first = data["seen_places"].get(place.pk)
            data["seen_places"].setdefault(place.pk, context.row_number)
        keys: list[tuple[str, ...]] = []
        if cleaned.get("external_id"):
            keys.append(("id", cleaned["external_id"].casefold()))
        for scheme, value in cleaned.get("_identifiers", {}).items():
            keys.append(("scheme", *_identifier_key(scheme, value)))
        if cleaned.get("name"):
            keys.append(("name", *_place_key(cleaned["name"], cleaned.get("address", ""))))
        for key in keys:
            earlier = data["seen_keys"].get(key)
            if earlier is not None and first is None:
                first = earlier
            data["seen_keys"].setdefault(key, context.row_number)
        if first is not None and first != context.row_number:
            column = "external_id" if cleaned.get("external_id") else "name"
            errors.append(
                (
                    column,
                    _("repeats row %(first)d: both describe the same place") % {"first": first},
                )
            )

    # --- Commit ----------------------------------------------------------------------------

    def _snapshots(
        self, place: Place, cleaned: dict[str, Any], data: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        before = _snapshot(place, data["labels"])
        before["population_groups"] = sorted(
            data["labels"][term.pk] for term in data["groups_of_place"].get(place.pk, [])
        )
        after = dict(before)
        for name, new in self._field_values(cleaned, place).items():
            after[name] = _snapshot_value(new, data["labels"])
        if "population_groups" in cleaned:
            after["population_groups"] = sorted(
                data["labels"][term.pk] for term in cleaned["population_groups"]
            )
        known = data["existing"].identifiers_of(place)
        before["identifiers"] = identifier_lines(known)
        if cleaned.get("_identifiers"):
            cleaned["_all_identifiers"] = {**known, **cleaned["_identifiers"]}
            after["identifiers"] = identifier_lines(cleaned["_all_identifiers"])
        else:
            after["identifiers"] = before["identifiers"]
        return before, after

    def _field_values(self, cleaned: dict[str, Any], place: Place | None) -> dict[str, Any]:
        """The model field values this row sets.

        A mapped column is the truth, so an empty cell clears the field, except the status
        (it always has one) and the external identifier: a row matched on name and address must
        not wipe the identifier that the next import will match on."""
        values = {name: cleaned[name] for name in EDITABLE_FIELDS if name in cleaned}
        if values.get("status") is None:
            values.pop("status", None)
        if not values.get("external_id"):
            values.pop("external_id", None)
        return values

    def _check_versions(self, changed: list[tuple[Place, dict[str, Any]]]) -> None:
        """Lock the places to update and refuse the import if one of them was changed after its
        row was checked: the import would silently undo that change. Once locked, a person's
        save waits for the import and then sees the import's version as newer than theirs."""
        if not changed:
            return
        pks = [place.pk for place, _changes in changed]
        locked: dict[int, int] = {}
        for start in range(0, len(pks), _LOCK_BATCH):
            locked.update(
                Place.objects.select_for_update()
                .filter(pk__in=pks[start : start + _LOCK_BATCH])
                .values_list("pk", "version")
            )
        for place, changes in changed:
            if locked.get(place.pk) != changes[VERSION_KEY][0]:
                raise ValidationError(
                    _(
                        "“%(name)s” was changed by someone else while the file was being "
                        "imported, so nothing was imported. Start the import again: it will "
                        "be checked against the place as it is now."
                    )
                    % {"name": place.name}
                )

    def commit(
        self,
        *,
        job: Any,
        imp: TabularImport,
        valid_rows: list[tuple[int, dict[str, Any]]],
        actor: Any,
    ) -> dict[str, Any]:
        body = imp.body
        now = timezone.now()
        new_places: list[Place] = []
        new_groups: list[list[TaxonomyTerm]] = []
        changed: list[tuple[Place, dict[str, Any]]] = []
        groups_to_set: dict[int, list[TaxonomyTerm]] = {}
        new_identifiers: list[dict[str, str]] = []
        identifiers_to_set: dict[int, dict[str, str]] = {}
        unchanged = 0
        for _row_number, cleaned in valid_rows:
            action = cleaned[ACTION_KEY]
            if action == UNCHANGED:
                unchanged += 1
                continue
            if action == CREATE:
                place = Place(
                    body=body,
                    created_at=now,
                    updated_at=now,
                    source_import=imp,
                    created_by=actor,
                    source=imp.file_name[:300],
                )
                for name, value in self._field_values(cleaned, None).items():
                    setattr(place, name, value)
                index_place(place)
                new_places.append(place)
                new_groups.append(cleaned.get("population_groups", []))
                new_identifiers.append(cleaned.get("_identifiers", {}))
                continue
            place = cleaned["_place"]
            for name, value in self._field_values(cleaned, place).items():
                setattr(place, name, value)
            if "identifiers" in cleaned["_changes"]:
                identifiers_to_set[place.pk] = cleaned["_all_identifiers"]
            index_place(place)
            place.updated_at = now
            # A new version, as any other write: a form opened before the import is stale.
            changed.append((place, bump_version(place, dict(cleaned["_changes"]))))
            if "population_groups" in cleaned["_changes"]:
                groups_to_set[place.pk] = cleaned["population_groups"]

        self._check_versions(changed)
        bulk.bulk_insert(Place, new_places)
        changed_fields = {name for _place, changes in changed for name in changes}
        update_fields = [name for name in EDITABLE_FIELDS if name in changed_fields]
        update_fields += ["search_text", "updated_at", "version"]
        bulk.bulk_update(Place, [place for place, _changes in changed], update_fields)

        through = Place.population_groups.through
        if groups_to_set:
            through.objects.filter(place_id__in=list(groups_to_set)).delete()
        links = [(place_pk, term.pk) for place_pk, terms in groups_to_set.items() for term in terms]
        links += [
            (place.pk, term.pk)
            for place, terms in zip(new_places, new_groups, strict=True)
            for term in terms
        ]
        bulk.bulk_insert(through, links, fields=["place", "taxonomyterm"])

        if identifiers_to_set:
            PlaceIdentifier.objects.filter(place_id__in=list(identifiers_to_set)).delete()
        identifier_rows = [
            (body.pk, place_pk, scheme, value)
            for place_pk, identifiers in identifiers_to_set.items()
            for scheme, value in identifiers.items()
        ]
        identifier_rows += [
            (body.pk, place.pk, scheme, value)
            for place, identifiers in zip(new_places, new_identifiers, strict=True)
            for scheme, value in identifiers.items()
        ]
        bulk.bulk_insert(
            PlaceIdentifier, identifier_rows, fields=["body", "place", "scheme", "value"]
        )

        # Labels are translated once per term, not once per row.
        used_terms = {place.place_type for place in new_places if place.place_type_id}
        used_terms.update(term for terms in new_groups for term in terms)
        labels = {term.pk: str(term) for term in used_terms}
        entries = []
        for place, terms, identifiers in zip(new_places, new_groups, new_identifiers, strict=True):
            after = _snapshot(place, labels)
            after["population_groups"] = sorted(labels[term.pk] for term in terms)
            after["identifiers"] = identifier_lines(identifiers)
            entries.append(
                build_entry(
                    actor=actor,
                    action="places.place.create",
                    obj=place,
                    changes=diff_new(after),
                    body=body,
                )
            )
        for place, changes in changed:
            entries.append(
                build_entry(
                    actor=actor, action="places.place.update", obj=place, changes=changes, body=body
                )
            )
        for entry in entries:
            entry.changes.setdefault("import", [None, imp.pk])
        bulk.bulk_insert(AuditEntry, entries)

        # New places, and places whose name, position or identifiers an update changed.
        moved = {"name", "latitude", "longitude", "address", "identifiers"}
        duplicates = flag_possible_duplicates(
            [*new_places, *(place for place, changes in changed if moved & changes.keys())]
        )
        return {
            "created": len(new_places),
            "updated": len(changed),
            "unchanged": unchanged,
            "duplicates": duplicates,
        }


# ---------- The export's Vigil ID and body columns ----------


def _member_exports(context: ImportContext) -> dict[str, Any]:
    """The bodies a coordinating body sees, by name and slug, and their places as its export
    writes them (read once per import, on the first row that names such a body)."""
    data = context.data
    if "member_exports" not in data:
        from vigil.core.tabular import neutralise_cell
        from vigil.places.exports import build_lookups, export_rows
        from vigil.places.spec import COLUMNS

        body = context.body
        members = list(Body.objects.filter(coordinator_id=body.pk))
        by_key = {}
        for member in members:
            by_key[_key(member.name)] = member
            by_key[_key(member.slug)] = member
        lookups = build_lookups([body.pk, *(member.pk for member in members)])
        fields = [column.field for column in COLUMNS]
        rows = {}
        queryset = Place.objects.filter(
            body_id__in=[member.pk for member in members],
            deleted_at__isnull=True,
            is_confidential=False,
        ).order_by("pk")
        for row in export_rows(queryset, lookups):
            # Each value as the CSV writes it, which is what the file read back holds.
            texts = {name: neutralise_cell(value) for name, value in zip(fields, row, strict=True)}
            rows[int(texts["vigil_id"])] = texts
        data["member_exports"] = {"bodies": by_key, "rows": rows}
    return data["member_exports"]


def _export_columns(
    context: ImportContext,
    values: dict[str, str],
    cleaned: dict[str, Any],
    errors: list[tuple[str, str]],
) -> dict[str, Any] | None:
    """Read the Vigil ID and body columns. A row of a place of the body goes on to the usual
    checks, matched by its Vigil ID; a row of a place of a body it coordinates is compared with
    that place as exported and returned as unchanged (its changes are that body's to import)."""
    body = context.body
    body_text = values.get("body", "").strip()
    id_text = values.get("vigil_id", "").strip()
    pk = None
    if id_text:
        if not id_text.isdigit():
            errors.append(
                (
                    "vigil_id",
                    _("“%(value)s” is not a Vigil ID (a whole number)") % {"value": id_text},
                )
            )
            return None
        pk = int(id_text)
    if body_text and _key(body_text) not in {_key(body.name), _key(body.slug)}:
        member = _member_exports(context)["bodies"].get(_key(body_text))
        if member is None:
            errors.append(
                (
                    "body",
                    _("“%(value)s” is not your body nor one it coordinates") % {"value": body_text},
                )
            )
            return None
        exported = _member_exports(context)["rows"].get(pk) if pk is not None else None
        if exported is None or exported["body"] != member.name:
            errors.append(
                (
                    "vigil_id",
                    _("“%(value)s” is not the Vigil ID of a place of %(body)s")
                    % {"value": id_text, "body": member.name},
                )
            )
            return None
        for name, text in values.items():
            if name in exported and text.strip() != exported[name].strip():
                errors.append(
                    (
                        name,
                        _(
                            "“%(value)s” differs from the place of %(body)s; that body imports "
                            "its own changes"
                        )
                        % {"value": text.strip(), "body": member.name},
                    )
                )
        if errors:
            return None
        shown: dict[str, Any] = {name: text.strip() for name, text in values.items()}
        if shown.get("status"):
            shown["status"] = context.data["status"].get(_key(shown["status"]))
        if shown.get("operator_kind"):
            shown["operator_kind"] = context.data["operator_kind"].get(_key(shown["operator_kind"]))
        return {**shown, ACTION_KEY: UNCHANGED}
    if pk is not None:
        if context.data["existing"].by_pk(pk) is None:
            errors.append(
                (
                    "vigil_id",
                    _(
                        "“%(value)s” is not the Vigil ID of a place of your body; leave the "
                        "column unmapped to add the rows as new places"
                    )
                    % {"value": id_text},
                )
            )
            return None
        cleaned["vigil_id"] = pk
    if body_text:
        cleaned["body"] = body.name
    return None


def _snapshot_value(value: Any, labels: dict[int, str]) -> Any:
    """A value as `vigil.core.audit.snapshot` records it, with term labels translated once
    per import rather than once per row."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, TaxonomyTerm):
        return labels[value.pk]
    return str(value)


def _snapshot(place: Place, labels: dict[int, str]) -> dict[str, Any]:
    """`vigil.core.audit.snapshot(place, EDITABLE_FIELDS)`, without its per-row gettext."""
    values = {}
    for name in EDITABLE_FIELDS:
        if name == "place_type":
            values[name] = labels.get(place.place_type_id) if place.place_type_id else None
        else:
            values[name] = _snapshot_value(getattr(place, name), labels)
    return values


register_importer(PlaceImporter())
