"""Forms of the recommendation pages and of the authorities' portal. They read input; the
services decide (every rule is in `services` and `rules`)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from vigil.core.access import visible
from vigil.core.forms import VigilFormMixin
from vigil.core.models import Membership, Role, TaxonomyTerm
from vigil.places.models import Place
from vigil.recommendations.models import (
    Assessment,
    Authority,
    ExchangeKind,
    Position,
    Priority,
    Recommendation,
    RecommendationSettings,
    SourceKind,
    VerificationMethod,
)
from vigil.recommendations.rules import GIVEN_POSITIONS
from vigil.visits.models import Observation

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _themes(membership: Membership) -> Any:
    return TaxonomyTerm.objects.filter(body_id=membership.body_id, kind="theme", is_active=True)


def _places(membership: Membership) -> Any:
    return visible(membership, Place).filter(body_id=membership.body_id, deleted_at__isnull=True)


def _authorities(membership: Membership) -> Any:
    return visible(membership, Authority).filter(body_id=membership.body_id)


class VersionMixin(forms.Form):
    # The version the person opened: a save based on an older one is refused, not applied over
    # someone else's change.
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)


class RecommendationFilterForm(VigilFormMixin, forms.Form):
    SORTS = [
        ("-issued", _("Latest issued first")),
        ("issued", _("Oldest issued first")),
        ("due", _("Response due first")),
    ]

    q = forms.CharField(label=_("Words in the text"), required=False, max_length=200)
    position = forms.ChoiceField(
        label=_("Authority's position"),
        required=False,
        choices=[("", _("Any")), *Position.choices],
    )
    assessment = forms.ChoiceField(
        label=_("Implementation"),
        required=False,
        choices=[("", _("Any")), ("open", _("Still open")), *Assessment.choices],
    )
    authority = forms.ModelChoiceField(
        label=_("Authority"), queryset=Authority.objects.none(), required=False
    )
    place = forms.ModelChoiceField(label=_("Place"), queryset=Place.objects.none(), required=False)
    theme = forms.ModelChoiceField(
        label=_("Theme"), queryset=TaxonomyTerm.objects.none(), required=False
    )
    source_kind = forms.ChoiceField(
        label=_("Source"), required=False, choices=[("", _("Any")), *SourceKind.choices]
    )
    priority = forms.ChoiceField(
        label=_("Priority"), required=False, choices=[("", _("Any")), *Priority.choices]
    )
    overdue = forms.BooleanField(label=_("Overdue only"), required=False)
    sort = forms.ChoiceField(label=_("Order"), required=False, choices=SORTS)

    def __init__(self, *args: Any, membership: Membership, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        fields["authority"].queryset = _authorities(membership)
        fields["place"].queryset = _places(membership)
        fields["theme"].queryset = _themes(membership)


class RecommendationForm(VigilFormMixin, forms.ModelForm):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)
    observations = forms.ModelMultipleChoiceField(
        label=_("Findings it rests on"),
        queryset=Observation.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Recommendation
        fields = [
            "reference",
            "text",
            "rationale",
            "authority",
            "is_systemic",
            "places",
            "themes",
            "priority",
            "source_kind",
            "source_reference",
            "issued_on",
            "response_due",
            "implementation_due",
            "repeats",
        ]
        widgets = {
            "text": forms.Textarea(attrs={"rows": 4}),
            "rationale": forms.Textarea(attrs={"rows": 3}),
            "issued_on": DATE,
            "response_due": DATE,
            "implementation_due": DATE,
            "repeats": forms.HiddenInput,
        }
        help_texts = {
            "response_due": _("Leave empty for the body's default (urgent ones sooner)."),
        }

    def __init__(
        self,
        *args: Any,
        membership: Membership,
        observations: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        fields["authority"].queryset = _authorities(membership)
        fields["places"].queryset = _places(membership)
        fields["themes"].queryset = _themes(membership)
        fields["themes"].required = False
        fields["places"].required = False
        fields["response_due"].required = False
        fields["issued_on"].required = False
        fields["repeats"].queryset = visible(membership, Recommendation).filter(
            body_id=membership.body_id
        )
        if observations is None:
            del fields["observations"]
        else:
            fields["observations"].queryset = observations
        if self.instance.pk:
            self.initial["version"] = self.instance.version
            fields.pop("observations", None)

    def _post_clean(self) -> None:
        # The service validates the record; the model's own clean would run before it does.
        pass

    def service_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            name: data.get(name)
            for name in (
                "reference",
                "text",
                "rationale",
                "authority",
                "is_systemic",
                "priority",
                "source_kind",
                "source_reference",
                "issued_on",
                "response_due",
                "implementation_due",
                "repeats",
            )
        }


class PositionForm(VigilFormMixin, VersionMixin):
    position = forms.ChoiceField(
        label=_("Position"),
        choices=[(value, label) for value, label in Position.choices if value in GIVEN_POSITIONS],
        widget=forms.RadioSelect,
    )
    changed_on = forms.DateField(label=_("Date"), required=False, widget=DATE)
    note = forms.CharField(
        label=_("Reasons or note"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Required for a rejection or a partial acceptance."),
    )
    action_plan = forms.CharField(
        label=_("Action plan"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    planned_by = forms.DateField(label=_("Planned completion"), required=False, widget=DATE)
    evidence = forms.FileField(label=_("Evidence file"), required=False)


class PortalResponseForm(PositionForm):
    """The focal point's answer: the date is the day it is given."""

    changed_on = None  # type: ignore[assignment]


class AssessmentForm(VigilFormMixin, VersionMixin):
    assessment = forms.ChoiceField(label=_("Assessment"), choices=Assessment.choices)
    changed_on = forms.DateField(label=_("Date"), required=False, widget=DATE)
    verified_on = forms.DateField(label=_("Verified on"), required=False, widget=DATE)
    verification_method = forms.ChoiceField(
        label=_("How it was verified"), choices=VerificationMethod.choices, required=False
    )
    evidence_text = forms.CharField(
        label=_("Evidence"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    evidence = forms.FileField(label=_("Evidence file"), required=False)
    note = forms.CharField(
        label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class ExchangeForm(VigilFormMixin, forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=ExchangeKind.choices)
    occurred_on = forms.DateField(label=_("Date"), required=False, widget=DATE)
    subject = forms.CharField(label=_("Subject"), max_length=300)
    summary = forms.CharField(
        label=_("Summary"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    participants = forms.CharField(
        label=_("Participants"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One per line; for a meeting."),
    )
    file = forms.FileField(label=_("Letter or minutes"), required=False)
    recommendations = forms.ModelMultipleChoiceField(
        label=_("Recommendations it is about"),
        queryset=Recommendation.objects.none(),
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, membership: Membership, authority: Authority, **kwargs: Any):
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        fields["recommendations"].queryset = (
            visible(membership, Recommendation)
            .filter(authority=authority)
            .order_by("-issued_on", "-id")
        )


class AuthorityForm(VigilFormMixin, forms.ModelForm):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    class Meta:
        model = Authority
        fields = [
            "name",
            "kind",
            "parent",
            "email",
            "phone",
            "address",
            "contact_points",
            "places",
        ]
        widgets = {"address": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args: Any, membership: Membership, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        parents = _authorities(membership)
        if self.instance.pk:
            parents = parents.exclude(pk=self.instance.pk)
            self.initial["version"] = self.instance.version
        fields["parent"].queryset = parents
        fields["places"].queryset = _places(membership)
        fields["places"].required = False

    def _post_clean(self) -> None:
        pass

    def service_data(self) -> dict[str, Any]:
        return {name: self.cleaned_data.get(name) for name in AuthorityForm.Meta.fields[:-1]}


class FocalPointForm(VigilFormMixin, forms.Form):
    member = forms.ModelChoiceField(label=_("Focal point"), queryset=Membership.objects.none())
    include_subordinates = forms.BooleanField(label=_("Also its subordinate units"), required=False)

    def __init__(self, *args: Any, membership: Membership, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        fields["member"].queryset = Membership.objects.filter(
            body_id=membership.body_id, role=Role.AUTHORITY_FOCAL_POINT, is_active=True
        ).select_related("user")


class SettingsForm(VigilFormMixin, forms.ModelForm):
    class Meta:
        model = RecommendationSettings
        fields = [
            "response_days",
            "urgent_response_days",
            "review_months",
            "reminder_days",
            "escalation_days",
        ]
