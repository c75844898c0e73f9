"""The filters of findings across visits, shared by the list page, the exports and the API."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db import models
from django.utils.translation import gettext_lazy as _

from vigil.core.api_filters import StrictBooleanFilter, StrictFilterSetMixin
from vigil.core.models import Membership, TaxonomyTerm
from vigil.visits.models import Observation, Severity, VisitKind
from vigil.visits.queries import year_bounds

# Each sort is served by an index of visits' 0005_observation_indexes, alone or after the
# theme or visit it is filtered by.
SORTS = {
    "-created": ("-created_at", "-id"),
    "created": ("created_at", "id"),
}
SORT_LABELS = {"-created": _("Newest first"), "created": _("Oldest first")}


class FindingFilters(django_filters.FilterSet):
    """What a finding can be filtered by, wherever findings are listed."""

    theme = django_filters.ModelChoiceFilter(
        label=_("Theme"), queryset=TaxonomyTerm.objects.none(), empty_label=_("Any")
    )
    severity = django_filters.ChoiceFilter(
        label=_("Severity"), choices=Severity.choices, empty_label=_("Any")
    )
    year = django_filters.NumberFilter(
        label=_("Year"), method="filter_year", min_value=1990, max_value=2100
    )
    place_type = django_filters.ModelChoiceFilter(
        label=_("Type of place"),
        queryset=TaxonomyTerm.objects.none(),
        field_name="visit__place__place_type",
        empty_label=_("Any"),
    )
    visit_kind = django_filters.ChoiceFilter(
        label=_("Kind of visit"),
        choices=VisitKind.choices,
        field_name="visit__kind",
        empty_label=_("Any"),
    )
    visit = django_filters.NumberFilter(label=_("Visit"), field_name="visit_id", min_value=1)
    is_good_practice = django_filters.BooleanFilter(label=_("Good practice"))
    is_systemic = django_filters.BooleanFilter(label=_("Systemic"))

    class Meta:
        model = Observation
        fields: list[str] = []

    def __init__(self, *args: Any, membership: Membership | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if membership is not None:
            terms = TaxonomyTerm.objects.filter(body_id=membership.body_id, is_active=True)
            self.filters["theme"].queryset = terms.filter(kind="theme")
            self.filters["place_type"].queryset = terms.filter(kind="place_type")

    def filter_year(
        self, queryset: models.QuerySet[Observation], name: str, value: Any
    ) -> models.QuerySet[Observation]:
        if value in (None, ""):
            return queryset
        start, end = year_bounds(int(value))
        return queryset.filter(created_at__gte=start, created_at__lt=end)


class ObservationFilters(FindingFilters):
    """The list page's and the exports' filters: newest first unless sorted otherwise."""

    sort = django_filters.ChoiceFilter(
        label=_("Sort by"),
        choices=list(SORT_LABELS.items()),
        method="filter_sort",
        empty_label=None,
    )

    def filter_queryset(self, queryset: models.QuerySet[Observation]) -> Any:
        return super().filter_queryset(queryset.order_by(*SORTS["-created"]))

    def filter_sort(
        self, queryset: models.QuerySet[Observation], name: str, value: str
    ) -> models.QuerySet[Observation]:
        return queryset.order_by(*SORTS.get(value, SORTS["-created"]))


class ObservationApiFilters(StrictFilterSetMixin, FindingFilters):
    """The same filters for the API, where a yes/no takes only true or false and an empty id
    or choice is a 400; the API pages by cursor in its own order, so it offers no sort."""

    is_good_practice = StrictBooleanFilter(label=_("Good practice"))
    is_systemic = StrictBooleanFilter(label=_("Systemic"))
