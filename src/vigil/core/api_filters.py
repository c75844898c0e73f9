"""The API's query filters (django-filter): a boolean filter refuses a value that is neither
true nor false, and a filter of ids, choices or booleans an empty value, with a 400 naming the
parameter, instead of silently not filtering."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_filters.rest_framework import BooleanFilter, CharFilter, DjangoFilterBackend, FilterSet
from django_filters.widgets import BooleanWidget


class StrictBooleanWidget(BooleanWidget):
    """`true`/`false`/`1`/`0` as DRF's widget reads them; any other value is passed on as it
    was sent, for the field to refuse."""

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        parsed = super().value_from_datadict(data, files, name)
        raw = data.get(name)
        if parsed is None and raw not in (None, ""):
            return raw
        return parsed


class StrictNullBooleanField(forms.NullBooleanField):
    widget = StrictBooleanWidget

    def to_python(self, value: Any) -> bool | None:  # type: ignore[override]
        if isinstance(value, str):
            raise forms.ValidationError(_("Use true or false."), code="invalid")
        return value if value in (True, False) else None


class StrictBooleanFilter(BooleanFilter):
    field_class = StrictNullBooleanField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", StrictBooleanWidget)
        super().__init__(*args, **kwargs)


class StrictFilterSetMixin:
    """An empty value (`?visit=`) for a filter that takes an id, a choice or a boolean is a 400,
    as any other value that is not one; only a text filter may be empty (and then filters
    nothing)."""

    def is_valid(self) -> bool:
        valid: bool = super().is_valid()  # type: ignore[misc]
        filterset: Any = self
        for name, filter_ in filterset.filters.items():
            if isinstance(filter_, CharFilter) or filterset.data.get(name) != "":
                continue
            if name in filterset.form.fields:
                filterset.form.add_error(name, _("Give a value, or leave the parameter out."))
                valid = False
        return valid


class VigilFilterSet(StrictFilterSetMixin, FilterSet):
    FILTER_DEFAULTS = {
        **FilterSet.FILTER_DEFAULTS,
        models.BooleanField: {"filter_class": StrictBooleanFilter},
    }


class VigilFilterBackend(DjangoFilterBackend):
    """REST_FRAMEWORK's DEFAULT_FILTER_BACKENDS: the FilterSets made from `filterset_fields`."""

    filterset_base = VigilFilterSet
