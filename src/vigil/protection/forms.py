"""Forms of the protection pages. Identity, contact and medical details are never put back into
a form: left empty, they stay as they are; revealing them is an act of its own."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from vigil.core.access import visible
from vigil.core.forms import VigilFormMixin
from vigil.core.models import Membership
from vigil.places.models import Place, PlaceStatus
from vigil.protection.models import (
    Case,
    CaseSource,
    CaseStatus,
    Consent,
    ContactKind,
    InvestigationState,
    Outcome,
    PerpetratorCategory,
    ProtectedPerson,
    Referral,
    ReferralTarget,
    ReportedBy,
    ReprisalAction,
    ReprisalKind,
    RiskLevel,
)
from vigil.protection.services import case_holders_choices, terms_of_ill_treatment

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
SECRET = forms.Textarea(attrs={"rows": 3, "autocomplete": "off"})
KEEP_HELP = _("Leave empty to keep what is recorded; what you type replaces it.")


def _places(membership: Membership, *, open_only: bool = False) -> Any:
    places = visible(membership, Place).filter(body_id=membership.body_id).order_by("name", "id")
    if open_only:
        places = places.exclude(status=PlaceStatus.CLOSED)
    return places


class VersionedForm(VigilFormMixin, forms.Form):
    # The version the person opened (vigil.core.concurrency).
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)


class CaseForm(VersionedForm):
    storage_model = Case

    source = forms.ChoiceField(
        label=_("Source"),
        choices=[c for c in CaseSource.choices if c[0] != CaseSource.VISIT_INTERVIEW],
    )
    events_date = forms.DateField(
        label=_("Date of the alleged events"), required=False, widget=DATE
    )
    events_place = forms.ModelChoiceField(
        label=_("Place of the alleged events"), queryset=Place.objects.none(), required=False
    )
    current_place = forms.ModelChoiceField(
        label=_("Place where the person is now"), queryset=Place.objects.none(), required=False
    )
    perpetrator_category = forms.ChoiceField(
        label=_("Alleged perpetrators"), choices=PerpetratorCategory.choices
    )
    ill_treatment = forms.ModelChoiceField(
        label=_("Type of ill-treatment"), queryset=Place.objects.none(), required=False
    )
    has_injuries = forms.BooleanField(label=_("Injuries reported"), required=False)
    medical_documentation = forms.BooleanField(
        label=_("Medical documentation exists"), required=False
    )
    istanbul_protocol_reference = forms.CharField(
        label=_("Istanbul Protocol examination"),
        max_length=100,
        required=False,
        help_text=_("The reference of the forensic examination, where one was done."),
    )
    consent = forms.ChoiceField(label=_("Informed consent"), choices=Consent.choices)
    consent_targets = forms.MultipleChoiceField(
        label=_("Bodies the person agreed the case may be referred to"),
        choices=ReferralTarget.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    consent_date = forms.DateField(label=_("Consent given on"), required=False, widget=DATE)
    consent_withdrawn_on = forms.DateField(
        label=_("Consent withdrawn on"), required=False, widget=DATE
    )
    status = forms.ChoiceField(label=_("Status"), choices=CaseStatus.choices)
    legal_hold = forms.BooleanField(label=_("Legal hold"), required=False)
    narrative = forms.CharField(
        label=_("What the person says happened"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "autocomplete": "off"}),
        help_text=_("Encrypted; every reading is recorded in the audit trail."),
    )
    identity = forms.CharField(
        label=_("Identity"),
        required=False,
        widget=SECRET,
        help_text=_("Encrypted; shown only on request, with a purpose, recorded."),
    )
    contact = forms.CharField(label=_("Contact details"), required=False, widget=SECRET)
    medical_details = forms.CharField(
        label=_("Injuries and medical details"), required=False, widget=SECRET
    )

    def __init__(
        self,
        *args: Any,
        membership: Membership,
        case: Case | None = None,
        from_interview: bool = False,
        **kwargs: Any,
    ) -> None:
        if case is not None:
            initial = {
                name: getattr(case, name)
                for name in (
                    "source",
                    "events_date",
                    "events_place",
                    "current_place",
                    "perpetrator_category",
                    "ill_treatment",
                    "has_injuries",
                    "medical_documentation",
                    "istanbul_protocol_reference",
                    "consent",
                    "consent_targets",
                    "consent_date",
                    "consent_withdrawn_on",
                    "status",
                    "legal_hold",
                )
            }
            initial["version"] = case.version
            kwargs.setdefault("initial", {}).update(initial)
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        fields["events_place"].queryset = _places(membership)
        fields["current_place"].queryset = _places(membership)
        fields["ill_treatment"].queryset = terms_of_ill_treatment(membership)
        if from_interview or (case is not None and case.source == CaseSource.VISIT_INTERVIEW):
            del self.fields["source"]
        if case is not None:
            for name in ("identity", "contact", "medical_details"):
                self.fields[name].help_text = KEEP_HELP
        else:
            del self.fields["status"]

    def service_data(self) -> dict[str, Any]:
        data = {k: v for k, v in self.cleaned_data.items() if k != "version"}
        data["consent_targets"] = list(data.get("consent_targets") or [])
        return data


class RevealForm(VigilFormMixin, forms.Form):
    purpose = forms.CharField(label=_("Why you need to see who this person is"), max_length=500)


class HoldersForm(VigilFormMixin, forms.Form):
    holders = forms.ModelMultipleChoiceField(
        label=_("Case holders"),
        queryset=Membership.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Only they and the heads know this record exists."),
    )

    def __init__(self, *args: Any, membership: Membership, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["holders"]
        field.queryset = case_holders_choices(membership)
        field.label_from_instance = lambda m: (
            f"{m.user.get_full_name() or m.user} ({m.get_role_display()})"
        )


class ReferralForm(VersionedForm):
    storage_model = Referral

    target = forms.ChoiceField(label=_("Referred to"), choices=ReferralTarget.choices)
    addressee = forms.CharField(
        label=_("Name of the body or person"), max_length=300, required=False
    )
    referred_on = forms.DateField(label=_("Referred on"), widget=DATE)
    reference = forms.CharField(label=_("Their reference"), max_length=100, required=False)
    answered_on = forms.DateField(label=_("Answered on"), required=False, widget=DATE)
    investigation = forms.ChoiceField(
        label=_("Investigation"), choices=InvestigationState.choices, required=False
    )
    investigation_by = forms.CharField(label=_("Investigated by"), max_length=300, required=False)
    investigation_opened_on = forms.DateField(
        label=_("Investigation opened on"), required=False, widget=DATE
    )
    investigation_steps = forms.CharField(
        label=_("Steps of the investigation"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    outcome = forms.ChoiceField(label=_("Outcome"), choices=Outcome.choices, required=False)
    outcome_on = forms.DateField(label=_("Outcome on"), required=False, widget=DATE)
    remedies = forms.CharField(
        label=_("Remedies and reparation"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, referral: Referral | None = None, **kwargs: Any) -> None:
        if referral is not None:
            initial = {
                name: getattr(referral, name) for name in self.base_fields if name != "version"
            }
            initial["version"] = referral.version
            kwargs.setdefault("initial", {}).update(initial)
        super().__init__(*args, **kwargs)

    def service_data(self) -> dict[str, Any]:
        data = {k: v for k, v in self.cleaned_data.items() if k != "version"}
        data["investigation"] = data.get("investigation") or InvestigationState.UNKNOWN
        data["outcome"] = data.get("outcome") or Outcome.PENDING
        return data


class PersonForm(VersionedForm):
    storage_model = ProtectedPerson

    current_place = forms.ModelChoiceField(
        label=_("Place where the person is held"), queryset=Place.objects.none(), required=False
    )
    risk_level = forms.ChoiceField(label=_("Risk level"), choices=RiskLevel.choices)
    risk_reason = forms.CharField(
        label=_("Why the person is at risk"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off"}),
        help_text=_("Encrypted; every reading is recorded in the audit trail."),
    )
    follow_up_days = forms.IntegerField(
        label=_("Contact at least every (days)"), min_value=1, max_value=365, initial=30
    )
    follow_up_every_visit = forms.BooleanField(
        label=_("Contact at every visit to their place"), required=False, initial=True
    )
    next_follow_up_on = forms.DateField(label=_("Next contact due"), required=False, widget=DATE)
    is_active = forms.BooleanField(label=_("Followed up"), required=False, initial=True)
    identity = forms.CharField(label=_("Identity"), required=False, widget=SECRET)
    contact = forms.CharField(label=_("Contact details"), required=False, widget=SECRET)

    def __init__(
        self,
        *args: Any,
        membership: Membership,
        person: ProtectedPerson | None = None,
        **kwargs: Any,
    ) -> None:
        if person is not None:
            initial = {
                name: getattr(person, name)
                for name in (
                    "risk_level",
                    "follow_up_days",
                    "follow_up_every_visit",
                    "next_follow_up_on",
                    "is_active",
                )
            }
            initial["version"] = person.version
            kwargs.setdefault("initial", {}).update(initial)
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        if person is not None:
            # A move is a transfer, recorded apart.
            del self.fields["current_place"]
            for name in ("identity", "contact"):
                self.fields[name].help_text = KEEP_HELP
        else:
            fields["current_place"].queryset = _places(membership, open_only=True)
            del self.fields["is_active"]

    def service_data(self) -> dict[str, Any]:
        return {k: v for k, v in self.cleaned_data.items() if k != "version"}


class TransferForm(VigilFormMixin, forms.Form):
    to_place = forms.ModelChoiceField(label=_("Moved to"), queryset=Place.objects.none())
    transferred_on = forms.DateField(label=_("Transferred on"), widget=DATE)
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    def __init__(self, *args: Any, membership: Membership, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Closed places are listed too, so the refusal says why rather than hiding the choice.
        self.fields["to_place"].queryset = _places(membership)  # type: ignore[attr-defined]


class ReprisalForm(VigilFormMixin, forms.Form):
    kind = forms.ChoiceField(label=_("What happened"), choices=ReprisalKind.choices)
    occurred_on = forms.DateField(label=_("When"), required=False, widget=DATE)
    reported_by = forms.ChoiceField(label=_("Reported by"), choices=ReportedBy.choices)
    is_external_concern = forms.BooleanField(
        label=_("A concern raised from outside the body"),
        required=False,
        help_text=_("The person's holders and the heads are told at once."),
    )
    description = forms.CharField(
        label=_("Description"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "autocomplete": "off"}),
        help_text=_("Encrypted."),
    )
    actions = forms.MultipleChoiceField(
        label=_("Actions taken"),
        choices=ReprisalAction.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    actions_note = forms.CharField(
        label=_("Notes on the actions"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class FollowUpForm(VigilFormMixin, forms.Form):
    due_on = forms.DateField(label=_("Due on"), widget=DATE)
    contact_kind = forms.ChoiceField(label=_("Contact"), choices=ContactKind.choices)


class FollowUpRecordForm(VigilFormMixin, forms.Form):
    done_on = forms.DateField(label=_("Made on"), widget=DATE)
    contact_kind = forms.ChoiceField(label=_("Contact"), choices=ContactKind.choices)
    notes = forms.CharField(
        label=_("Notes"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Encrypted."),
    )


class CaseFilterForm(VigilFormMixin, forms.Form):
    status = forms.ChoiceField(
        label=_("Status"), choices=[("", _("Any")), *CaseStatus.choices], required=False
    )
    source = forms.ChoiceField(
        label=_("Source"), choices=[("", _("Any")), *CaseSource.choices], required=False
    )
    sort = forms.ChoiceField(
        label=_("Order"),
        choices=[("recent", _("Newest first")), ("events", _("By date of the events"))],
        required=False,
    )


class RetentionForm(VigilFormMixin, forms.Form):
    case_retention_years = forms.IntegerField(
        label=_("Keep closed cases for (years)"), min_value=1, max_value=100
    )
    person_retention_years = forms.IntegerField(
        label=_("Keep ended follow-ups for (years)"), min_value=1, max_value=100
    )
