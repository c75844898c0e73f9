"""Forms of the places pages; the services hold the rules, forms hold the input."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from vigil.core.forms import VigilFormMixin
from vigil.core.models import Membership, TaxonomyTerm
from vigil.core.text import NameField, validate_visible_text
from vigil.places.countries import COUNTRIES
from vigil.places.models import Place, PossibleDuplicate, Region
from vigil.places.queries import visible_regions
from vigil.places.spec import COORDINATE_LIMITS, COORDINATE_RANGE_MESSAGES, EDITABLE_FIELDS


class PlaceForm(VigilFormMixin, forms.ModelForm):
    # The version the person opened: a save based on an older one is refused, not applied over
    # someone else's change (vigil.core.concurrency).
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)
    country = forms.ChoiceField(label=_("Country"), required=False, choices=())
    identifiers = forms.CharField(
        label=_("Identifiers"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "One per line, as “scheme: identifier”, e.g. “national code: PR-0042”: the codes "
            "other lists give this place."
        ),
    )

    class Meta:
        model = Place
        # The service's editable fields, plus the two it takes separately; the template lays
        # them out in its own order.
        fields = [*EDITABLE_FIELDS, "population_groups", "confidential_notes"]
        widgets = {
            "address": forms.Textarea(attrs={"rows": 3}),
            "aliases": forms.Textarea(attrs={"rows": 3}),
            "former_names": forms.Textarea(attrs={"rows": 3}),
            "notes": forms.Textarea(attrs={"rows": 4}),
            "confidential_notes": forms.Textarea(attrs={"rows": 4, "autocomplete": "off"}),
            "population_date": forms.DateInput(attrs={"type": "date"}),
            "opened_on": forms.DateInput(attrs={"type": "date"}),
            "closed_on": forms.DateInput(attrs={"type": "date"}),
            "population_groups": forms.CheckboxSelectMultiple,
        }

    def __init__(self, *args: Any, membership: Membership, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        terms = TaxonomyTerm.objects.filter(body_id=membership.body_id, is_active=True)
        fields: Any = self.fields
        fields["place_type"].queryset = terms.filter(kind="place_type")
        fields["population_groups"].queryset = terms.filter(kind="vulnerable_group")
        fields["region"].queryset = Region.objects.filter(body_id=membership.body_id)
        fields["country"].choices = [
            ("", "—"),
            *sorted(
                ((code, f"{name} ({code})") for code, name in COUNTRIES.items()), key=lambda c: c[1]
            ),
        ]
        if self.instance.pk:
            self.initial["identifiers"] = "\n".join(
                f"{item.scheme}: {item.value}" for item in self.instance.identifiers.all()
            )
        # The form never shows stored confidential notes: revealing them is a separate,
        # audited act. Left empty on edit, the notes stay as they are.
        self.fields["confidential_notes"].initial = ""
        if self.instance.pk:
            self.initial["version"] = self.instance.version
            self.initial["confidential_notes"] = ""
            self.fields["confidential_notes"].help_text = _(
                "Leave empty to keep the current confidential notes; what you type replaces them."
            )
        # The browser checks the range too (vigil.js shows data-range-message beside the field
        # when the value leaves it), in the words the service would use on submit.
        for name, limit in COORDINATE_LIMITS.items():
            self.fields[name].widget.attrs.update(
                {
                    "min": -limit,
                    "max": limit,
                    "step": "any",
                    "inputmode": "decimal",
                    "data-range-message": COORDINATE_RANGE_MESSAGES[name],
                }
            )
        # Names others read: nothing hidden in them (core.text).
        for name in ("name", "authority_name", "aliases", "former_names"):
            self.fields[name].validators.append(validate_visible_text)

    def _post_clean(self) -> None:
        # Model validation runs in the service (validate_place); only field cleaning here.
        pass

    def clean_identifiers(self) -> dict[str, str]:
        identifiers: dict[str, str] = {}
        for line in (self.cleaned_data.get("identifiers") or "").splitlines():
            if not line.strip():
                continue
            scheme, colon, value = line.partition(":")
            if not colon or not scheme.strip() or not value.strip():
                raise forms.ValidationError(
                    _("Write “%(line)s” as “scheme: identifier”.") % {"line": line.strip()}
                )
            if scheme.strip() in identifiers:
                raise forms.ValidationError(
                    _("One identifier per scheme: “%(scheme)s” is given twice.")
                    % {"scheme": scheme.strip()}
                )
            identifiers[scheme.strip()] = value.strip()
        return identifiers

    def service_data(self) -> dict[str, Any]:
        data = {
            name: self.cleaned_data[name] for name in EDITABLE_FIELDS if name in self.cleaned_data
        }
        notes = self.cleaned_data.get("confidential_notes") or ""
        if notes or not self.instance.pk:
            data["confidential_notes"] = notes
        return data


class DocumentForm(VigilFormMixin, forms.Form):
    title = forms.CharField(label=_("Title"), max_length=300, required=False)
    file = forms.FileField(
        label=_("File"),
        help_text=_(
            "PDF, Word, OpenDocument, Excel, images, text or CSV. Photos are stripped of "
            "their location and camera data."
        ),
    )


class MergeForm(VigilFormMixin, forms.Form):
    other = forms.ModelChoiceField(
        label=_("Place to merge into this one"),
        queryset=Place.objects.none(),
        error_messages={
            "invalid_choice": _(
                "“%(value)s” is not a place of your body that can be merged into this one; "
                "choose one from the list."
            )
        },
        help_text=_(
            "Its names become other names of this place; its documents and history are "
            "kept here; it goes to the trash."
        ),
    )

    def __init__(self, *args: Any, queryset: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        fields["other"].queryset = queryset


class RegionForm(VigilFormMixin, forms.Form):
    name = NameField(label=_("Name"), max_length=200)
    code = forms.CharField(label=_("Code"), max_length=40, required=False)
    parent = forms.ModelChoiceField(
        label=_("Part of"), queryset=Region.objects.none(), required=False
    )

    def __init__(self, *args: Any, membership: Membership, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        fields["parent"].queryset = visible_regions(membership).filter(body_id=membership.body_id)


class DuplicateFilterForm(VigilFormMixin, forms.Form):
    """The review page's filters: a region (and its parts), a least score, a greatest distance."""

    region = forms.ModelChoiceField(
        label=_("Region"), queryset=Region.objects.none(), required=False
    )
    min_score = forms.IntegerField(
        label=_("Similarity at least (%)"), min_value=0, max_value=100, required=False
    )
    max_distance_km = forms.DecimalField(
        label=_("Distance at most (km)"),
        min_value=0,
        max_digits=7,
        decimal_places=2,
        required=False,
        help_text=_("Pairs without coordinates are left out when a distance is given."),
    )

    def __init__(self, *args: Any, membership: Membership, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        fields["region"].queryset = Region.objects.filter(body_id=membership.body_id)


class DuplicateDismissForm(VigilFormMixin, forms.Form):
    """The pairs a person ticked to keep apart."""

    flags = forms.ModelMultipleChoiceField(
        label=_("Pairs"),
        queryset=PossibleDuplicate.objects.none(),
        error_messages={"required": _("Tick the pairs to keep apart.")},
    )

    def __init__(self, *args: Any, queryset: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        fields["flags"].queryset = queryset
