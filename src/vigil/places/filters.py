"""The place filters, shared by the list page, the map, the exports and the API."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db import models
from django.db.models import Q
from django.forms.utils import flatatt
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from vigil.core.models import Membership, TaxonomyTerm
from vigil.places.models import Place, PlaceStatus, Region
from vigil.places.queries import (
    region_descendant_ids,
    search_places,
    visible_places,
    visible_regions,
)

# The sorts offered, each walked in the order of an index (places.0004_list_indexes), so a page
# costs the same at any size. Sorting by type or region would order by another table's column,
# which no index on places can serve: those columns are filters instead.
SORTS = {
    "name": "name",
    "status": "status",
    "capacity": "official_capacity",
    "population": "population",
    "authority": "authority_name",
    "updated": "updated_at",
}
# Columns that may be empty: their descending order keeps the empty ones last, which an index
# written in that order serves (an index read backwards would put them first).
NULLABLE_SORTS = {"official_capacity", "population"}

# How many regions the finder proposes at a time.
REGION_MATCHES = 30


def region_options(
    regions: models.QuerySet[Region], selected: Region | None, *, search: str = ""
) -> SafeString:
    """The <option>s of the region filter: "Any" always first (a browser selects the first option
    when none is marked, so nothing is ever filtered unasked), then the open branch of the tree:
    the top-level regions and, down to the chosen one, the children of each region on its path.
    With `search`, the regions whose name or code contains it instead (a national registry has
    hundreds of municipalities: listing them all cost more than the rest of the list page)."""
    indent = "\u00a0\u00a0"
    if search:
        matches = list(
            regions.filter(Q(name__icontains=search) | Q(code__iexact=search))
            .select_related("parent")
            .order_by("path")[:REGION_MATCHES]
        )
        if selected is not None and selected not in matches:
            matches.insert(0, selected)
        rows = [
            (
                region.pk,
                f"{region.name} ({region.parent.name})" if region.parent else region.name,
                1,
            )
            for region in matches
        ]
    else:
        open_ids = [int(part) for part in selected.path.split("/")] if selected else []
        rows = list(
            regions.filter(Q(parent__isnull=True) | Q(parent_id__in=open_ids))
            .order_by("path")
            .values_list("pk", "name", "level")
        )
    chosen = selected.pk if selected is not None else None
    options = [
        format_html(
            '<option value="{}"{}>{}{}</option>',
            pk,
            " selected" if pk == chosen else "",
            indent * (level - 1),
            label,
        )
        for pk, label, level in rows
    ]
    return format_html('<option value="">{}</option>{}', _("Any"), SafeString("".join(options)))


class RegionSelect(forms.Select):
    """The region choice, drawn in one pass from the open branch of the tree, with a finder
    (vigil.js fills the options from places:region_options as one types)."""

    def __init__(self, *args: Any, regions: models.QuerySet[Region], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.regions = regions

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        from django.urls import reverse

        final_attrs = self.build_attrs(self.attrs, {**(attrs or {}), "name": name})
        selected = None
        if value not in (None, "") and str(value).isdigit():
            selected = self.regions.filter(pk=int(value)).first()
        options_url = reverse("places:region_options")
        final_attrs.update(
            {
                "hx-get": options_url,
                "hx-trigger": "change",
                "hx-target": "this",
                "hx-swap": "innerHTML",
            }
        )
        finder_id = f"{final_attrs.get('id', name)}_finder"
        # The finder belongs to no form (form=""): what one types in it is never a filter.
        finder = format_html(
            '<input type="search" id="{}" name="region_q" form="region-finder" '
            'class="region-finder" autocomplete="off" placeholder="{}" aria-label="{}" '
            'hx-get="{}" hx-trigger="input changed delay:300ms" hx-target="#{}" '
            'hx-swap="innerHTML" hx-include="#{}">',
            finder_id,
            _("Find a region…"),
            _("Find a region"),
            options_url,
            final_attrs.get("id", name),
            final_attrs.get("id", name),
        )
        return format_html(
            "<select{}>{}</select>{}",
            flatatt(final_attrs),
            region_options(self.regions, selected),
            finder,
        )


class PlaceFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("Search"), method="filter_search")
    place_type = django_filters.ModelChoiceFilter(
        label=_("Type"), queryset=TaxonomyTerm.objects.none(), empty_label=_("Any")
    )
    region = django_filters.ModelChoiceFilter(
        label=_("Region (and its sub-regions)"),
        queryset=Region.objects.none(),
        method="filter_region",
    )
    status = django_filters.ChoiceFilter(
        label=_("Status"), choices=PlaceStatus.choices, empty_label=_("Any")
    )
    authority = django_filters.CharFilter(
        label=_("Authority"), field_name="authority_name", lookup_expr="icontains"
    )
    population_group = django_filters.ModelChoiceFilter(
        label=_("Population group held"),
        queryset=TaxonomyTerm.objects.none(),
        field_name="population_groups",
        empty_label=_("Any"),
    )
    sort = django_filters.ChoiceFilter(
        label=_("Sort by"),
        choices=[(key, key) for key in SORTS] + [(f"-{key}", f"-{key}") for key in SORTS],
        method="filter_sort",
        empty_label=None,
    )

    class Meta:
        model = Place
        fields: list[str] = []

    def __init__(self, *args: Any, membership: Membership | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if membership is not None:
            body_ids = [membership.body_id]
            terms = TaxonomyTerm.objects.filter(body_id__in=body_ids, is_active=True)
            self.filters["place_type"].queryset = terms.filter(kind="place_type")
            self.filters["population_group"].queryset = terms.filter(kind="vulnerable_group")
            regions = visible_regions(membership)
            self.filters["region"].queryset = regions
            self.filters["region"].extra["widget"] = RegionSelect(regions=regions)

    def filter_search(self, queryset: models.QuerySet[Place], name: str, value: str):
        return search_places(queryset, value)

    def filter_region(self, queryset: models.QuerySet[Place], name: str, value: Region | None):
        if value is None:
            return queryset
        return queryset.filter(region_id__in=region_descendant_ids(value))

    def filter_sort(self, queryset: models.QuerySet[Place], name: str, value: str):
        return queryset.order_by(*sort_order(value))


def type_filter_by_code(queryset: models.QuerySet[Place], code: str) -> models.QuerySet[Place]:
    return queryset.filter(Q(place_type__code=code))


def sort_order(value: str) -> list[Any]:
    """The ORDER BY of a sort key, in the exact form of its index (places.0004_list_indexes):
    the id breaks ties in the same direction, and empty values come last both ways."""
    descending = value.startswith("-")
    field = SORTS.get(value.lstrip("-"), "name")
    column = models.F(field)
    if not descending:
        return [column.asc(), models.F("id").asc()]
    if field in NULLABLE_SORTS:
        return [column.desc(nulls_last=True), models.F("id").desc()]
    return [column.desc(), models.F("id").desc()]


def filtered_places(
    membership: Membership, query: Any
) -> tuple[PlaceFilter, models.QuerySet[Place]]:
    """The places of the list for a query string (a QueryDict): the page, its exports and the
    export job read the same places in the same order."""
    place_filter = PlaceFilter(
        query or None,
        queryset=visible_places(membership).select_related("place_type", "region"),
        membership=membership,
    )
    queryset = (
        place_filter.qs
        if place_filter.is_bound and place_filter.is_valid()
        else place_filter.queryset
    )
    if "sort" not in query:
        queryset = queryset.order_by("name", "id")
    return place_filter, queryset
