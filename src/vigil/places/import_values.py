"""What the import wizard needs of places beyond checking rows: the identifier field, the
file values it maps to the body's types, regions and statuses, and the rules between fields.

Kept apart from `places.importer` (the row checks and the commit), which only inherits it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import translation
from django.utils.translation import gettext as _

from vigil.core import permissions as core_permissions
from vigil.core.imports import ImportContext, ValueChoice
from vigil.core.models import Membership, TaxonomyKind, TaxonomyTerm
from vigil.places import permissions
from vigil.places.models import Place, PlaceStatus, Region

# The rules between fields (places.spec.place_errors), by their message: each names both
# columns. Their msgids, translated when compared.
_RULE_FIELDS = {
    "Give both latitude and longitude, or neither.": ("latitude", "longitude"),
    "The closing date is before the opening date.": ("closed_on", "opened_on"),
    "Give the date the place closed.": ("closed_on", "status"),
    "Give the date the population was counted.": ("population_date", "population"),
}


def _region_labels(regions: list[Region]) -> dict[int, str]:
    """Each region's path of names, "Region > District", which the importer reads back."""
    by_id = {region.pk: region for region in regions}
    labels: dict[int, str] = {}
    for region in regions:
        names: list[str] = []
        node: Region | None = region
        while node is not None and len(names) < 20:
            names.append(node.name)
            node = by_id.get(node.parent_id) if node.parent_id else None
        labels[region.pk] = " > ".join(reversed(names))
    return labels


class PlaceImportWizard:
    identifier_fields: tuple[str, ...] = ("external_id",)
    value_fields: tuple[str, ...] = ("place_type", "region", "status")

    def value_choices(self, body: Any, field_name: str) -> list[ValueChoice]:
        if field_name == "place_type":
            terms = TaxonomyTerm.objects.filter(
                body=body, kind=TaxonomyKind.PLACE_TYPE, is_active=True
            ).order_by("position", "label")
            return [ValueChoice(str(term.pk), str(term), term.code) for term in terms]
        if field_name == "region":
            regions = list(Region.objects.filter(body=body).only("pk", "name", "parent_id"))
            labels = _region_labels(regions)
            return sorted(
                (ValueChoice(str(pk), label, label) for pk, label in labels.items()),
                key=lambda choice: choice.label.casefold(),
            )
        if field_name == "status":
            return [ValueChoice(value, str(label), value) for value, label in PlaceStatus.choices]
        return []

    def recognise_values(self, body: Any, field_name: str, texts: list[str]) -> dict[str, str]:
        """{text: the label of what it already means} for the texts the body recognises."""
        from vigil.places.importer import PlaceImporter, _key, _term_lookup

        importer = PlaceImporter()
        terms = list(TaxonomyTerm.objects.filter(body=body, kind=TaxonomyKind.PLACE_TYPE))
        regions_by_key: dict[str, list[Region]] = {}
        children: dict[tuple[int | None, str], list[Region]] = {}
        for region in Region.objects.filter(body=body):
            for key in {_key(region.name), _key(region.code)} - {""}:
                regions_by_key.setdefault(key, []).append(region)
                children.setdefault((region.parent_id, key), []).append(region)
        statuses: dict[str, str] = {}
        for status_value, status_label in PlaceStatus.choices:
            statuses[_key(status_value)] = status_value
            for code, _name in settings.LANGUAGES:
                with translation.override(code):
                    statuses[_key(str(status_label))] = status_value
        data: dict[str, Any] = {
            "place_types": _term_lookup(terms),
            "regions_by_key": regions_by_key,
            "region_children": children,
            "status": statuses,
        }
        found: dict[str, str] = {}
        for text in texts:
            errors: list[tuple[str, str]] = []
            label: str | None = None
            if field_name == "place_type":
                term = importer.find_term(
                    text, data["place_types"], "place_type", errors, required=False
                )
                label = str(term) if term is not None else None
            elif field_name == "region":
                matched = importer.find_region(text, data, errors)
                label = matched.name if matched is not None else None
            elif field_name == "status":
                status = data["status"].get(_key(text))
                label = str(PlaceStatus(status).label) if status else None
            if label:
                found[text] = label
        return found

    def can_create_value(self, membership: Membership | None, field_name: str) -> bool:
        if field_name == "place_type":
            return core_permissions.can(membership, "manage_settings")
        if field_name == "region":
            return permissions.can(membership, "edit")
        return False

    def create_value(self, *, membership: Membership, field_name: str, label: str) -> ValueChoice:
        from django.core.exceptions import PermissionDenied

        from vigil.core.taxonomy import term_create
        from vigil.places.services import region_create

        if not self.can_create_value(membership, field_name):
            raise PermissionDenied(_("Your role does not allow this."))
        if field_name == "place_type":
            term = term_create(membership=membership, kind=TaxonomyKind.PLACE_TYPE, label=label)
            return ValueChoice(str(term.pk), str(term), term.code)
        region = region_create(membership=membership, name=label)
        return ValueChoice(str(region.pk), region.name, region.name)

    def resolve_records(
        self, context: ImportContext, model: type[models.Model], pks: set[Any]
    ) -> dict[Any, models.Model]:
        """From the lookups `prepare` made: no query per row, relations already cached."""
        existing = context.data["existing"]
        if model is Place:
            return {pk: existing.place(pk) for pk in pks if pk in existing.rows}
        if model is TaxonomyTerm:
            return {pk: existing.terms_by_id[pk] for pk in pks if pk in existing.terms_by_id}
        if model is Region:
            return {pk: existing.regions_by_id[pk] for pk in pks if pk in existing.regions_by_id}
        return dict(model._default_manager.in_bulk(list(pks)))

    def fields_involved(self, field_name: str, message: str) -> tuple[str, ...]:
        for msgid, fields in _RULE_FIELDS.items():
            if message in {msgid, _(msgid)}:
                return fields
        return (field_name,)
