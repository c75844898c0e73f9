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
from vigil.places.queries import region_descendant_ids, search_places, visible_regions

SORTS = {
    "name": "name",
    "type": "place_type__position",
    "region": "region__path",
    "status": "status",
    "capacity": "official_capacity",
    "population": "population",
    "authority": "authority_name",
    "updated": "updated_at",
}


class RegionSelect(forms.Select):
    """The region choice, drawn in one pass with each level indented.

    A national registry has hundreds of municipalities: rendering each <option> through
    Django's widget templates cost more than the rest of the list page together."""

    def __init__(self, *args: Any, regions: models.QuerySet[Region], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.regions = regions

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        final_attrs = self.build_attrs(self.attrs, {**(attrs or {}), "name": name})
        selected = str(value) if value not in (None, "") else ""
        indent = "\u00a0\u00a0"
        options = [
            format_html(
                '<option value="{}"{}>{}{}</option>',
                pk,
                " selected" if str(pk) == selected else "",
                indent * (level - 1),
                label,
            )
            for pk, label, level in self.regions.order_by("path").values_list("pk", "name", "level")
        ]
        return format_html(
            '<select{}><option value="">{}</option>{}</select>',
            flatatt(final_attrs),
            _("Any"),
            SafeString("".join(options)),
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
        descending = value.startswith("-")
        field = SORTS.get(value.lstrip("-"), "name")
        expression = models.F(field)
        order = expression.desc(nulls_last=True) if descending else expression.asc(nulls_last=True)
        return queryset.order_by(order, "id")


def type_filter_by_code(queryset: models.QuerySet[Place], code: str) -> models.QuerySet[Place]:
    return queryset.filter(Q(place_type__code=code))
