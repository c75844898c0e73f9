"""Forms of the visits pages: input only; the services hold the rules."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from vigil.core.access import visible
from vigil.core.forms import VigilFormMixin
from vigil.core.models import Membership, Role, TaxonomyTerm
from vigil.core.text import NameField
from vigil.places.models import Place
from vigil.visits.models import (
    OTHER_SOURCES,
    Answer,
    Commitment,
    Debriefing,
    Discrepancy,
    Expertise,
    Gender,
    Interview,
    InterviewCategory,
    InterviewKind,
    Observation,
    Obstruction,
    ObstructionSeverity,
    Question,
    QuestionKind,
    Questionnaire,
    RegisterCheck,
    Severity,
    TeamRole,
    Visit,
    VisitKind,
    VisitStatus,
)
from vigil.visits.standards import library

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
# The upload form's file field: a workbook only.
XLSX_INPUT = forms.ClearableFileInput(attrs={"accept": ".xlsx"})


class VisitForm(VigilFormMixin, forms.ModelForm):
    # The version the person opened: a save based on an older one is refused, not applied over
    # someone else's change (vigil.core.concurrency).
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    class Meta:
        model = Visit
        fields = [
            "place",
            "kind",
            "is_announced",
            "planned_start",
            "planned_end",
            "areas_visited",
            "summary",
        ]
        widgets = {
            "planned_start": DATE,
            "planned_end": DATE,
            "areas_visited": forms.Textarea(attrs={"rows": 2}),
            "summary": forms.Textarea(attrs={"rows": 4}),
        }

    def __init__(self, *args: Any, membership: Membership, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        fields["place"].queryset = visible(membership, Place).filter(body_id=membership.body_id)
        if self.instance.pk is not None:
            self.initial["version"] = self.instance.version
        else:
            del fields["version"]

    def _post_clean(self) -> None:
        # Model validation runs in the service.
        pass

    def service_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data.pop("version", None)
        return data


class StatusForm(VigilFormMixin, forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=VisitStatus.choices)


class TeamMemberForm(VigilFormMixin, forms.Form):
    member = forms.ModelChoiceField(
        label=_("Member of the body"), queryset=Membership.objects.none(), required=False
    )
    external_name = forms.CharField(
        label=_("Or an external expert's name"), max_length=200, required=False
    )
    team_role = forms.ChoiceField(
        label=_("Role in the team"), choices=TeamRole.choices, initial=TeamRole.MEMBER
    )
    expertise = forms.ChoiceField(label=_("Expertise"), choices=Expertise.choices, required=False)
    gender = forms.ChoiceField(
        label=_("Gender"), choices=Gender.choices, initial=Gender.UNSPECIFIED
    )
    languages = forms.CharField(label=_("Languages"), max_length=200, required=False)

    def __init__(self, *args: Any, visit: Visit, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        fields["member"].queryset = (
            Membership.objects.filter(body_id=visit.body_id, is_active=True)
            .exclude(role=Role.AUTHORITY_FOCAL_POINT)
            .exclude(pk__in=visit.team.exclude(membership=None).values("membership_id"))
            .select_related("user")
        )
        fields["member"].label_from_instance = lambda m: (
            f"{m.user.get_full_name() or m.user.get_username()} — {m.get_role_display()}"
        )


class InterviewForm(VigilFormMixin, forms.ModelForm):
    class Meta:
        model = Interview
        fields = [
            "kind",
            "category",
            "unit",
            "group_size",
            "language",
            "interpreter_used",
            "vulnerable_groups",
            "consent_use",
            "consent_referral",
            "notes",
            "identity",
        ]
        widgets = {
            "kind": forms.RadioSelect,
            "vulnerable_groups": forms.CheckboxSelectMultiple,
            "notes": forms.Textarea(attrs={"rows": 8, "autocomplete": "off"}),
            "identity": forms.Textarea(attrs={"rows": 2, "autocomplete": "off"}),
        }

    def __init__(self, *args: Any, visit: Visit, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        fields["kind"].choices = InterviewKind.choices
        fields["category"].choices = InterviewCategory.choices
        fields["vulnerable_groups"].queryset = TaxonomyTerm.objects.filter(
            body_id=visit.body_id, kind="vulnerable_group", is_active=True
        )

    def _post_clean(self) -> None:
        pass


class ObservationForm(VigilFormMixin, forms.ModelForm):
    other_sources = forms.MultipleChoiceField(
        label=_("Other sources"),
        choices=[(str(source), source.label) for source in OTHER_SOURCES],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    class Meta:
        model = Observation
        fields = [
            "theme",
            "unit",
            "description",
            "severity",
            "is_good_practice",
            "is_systemic",
            "interviews",
            "standards",
            "held_back",
        ]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 5}),
            "interviews": forms.CheckboxSelectMultiple,
            "standards": forms.SelectMultiple(attrs={"size": 8}),
        }

    def __init__(self, *args: Any, visit: Visit, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        fields["theme"].queryset = TaxonomyTerm.objects.filter(
            body_id=visit.body_id, kind="theme", is_active=True
        )
        fields["severity"].choices = Severity.choices
        fields["interviews"].queryset = visit.interviews.all()
        fields["interviews"].label_from_instance = lambda i: (
            f"{i.pseudonym} — {i.get_kind_display()}, {i.get_category_display()}"
            + (f", {i.unit}" if i.unit else "")
        )
        fields["interviews"].required = False
        fields["standards"].queryset = library(visit.body)
        fields["standards"].required = False
        fields["standards"].help_text = _("The international rules this finding is measured by.")
        # Fields are laid out in this order.
        self.order_fields(
            [
                "theme",
                "unit",
                "description",
                "severity",
                "interviews",
                "other_sources",
                "standards",
                "is_good_practice",
                "is_systemic",
                "held_back",
            ]
        )

    def _post_clean(self) -> None:
        pass


class InterviewEditForm(VigilFormMixin, forms.ModelForm):
    """Correcting an interview: not its kind (a private interview stays one), and not the
    identity (seeing it is an act of its own, on the interview's page)."""

    # The version the person opened: a save based on an older one is refused, not applied over
    # someone else's change (vigil.core.concurrency).
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    class Meta:
        model = Interview
        fields = [
            "category",
            "unit",
            "group_size",
            "language",
            "interpreter_used",
            "vulnerable_groups",
            "consent_use",
            "consent_referral",
            "notes",
        ]
        widgets = {
            "vulnerable_groups": forms.CheckboxSelectMultiple,
            "notes": forms.Textarea(attrs={"rows": 8, "autocomplete": "off"}),
        }

    def __init__(self, *args: Any, visit: Visit, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        fields["category"].choices = InterviewCategory.choices
        fields["vulnerable_groups"].queryset = TaxonomyTerm.objects.filter(
            body_id=visit.body_id, kind="vulnerable_group", is_active=True
        )
        self.initial["version"] = self.instance.version

    def _post_clean(self) -> None:
        pass

    def service_data(self) -> tuple[dict[str, Any], list[TaxonomyTerm], int | None]:
        data = dict(self.cleaned_data)
        groups = list(data.pop("vulnerable_groups", []))
        return data, groups, data.pop("version", None)


class ObservationEditForm(ObservationForm):
    """Correcting a finding (holding it back is an act of its own, on the visit's page)."""

    # The version the person opened: a save based on an older one is refused, not applied over
    # someone else's change (vigil.core.concurrency).
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    def __init__(self, *args: Any, visit: Visit, **kwargs: Any) -> None:
        super().__init__(*args, visit=visit, **kwargs)
        del self.fields["held_back"]
        self.initial["version"] = self.instance.version
        self.initial.setdefault("other_sources", list(self.instance.other_sources or []))

    def service_data(self) -> tuple[dict[str, Any], list[Any], list[Any], int | None]:
        data = dict(self.cleaned_data)
        interviews = list(data.pop("interviews", []))
        standards = list(data.pop("standards", []))
        return data, interviews, standards, data.pop("version", None)


class EvidenceForm(VigilFormMixin, forms.Form):
    file = forms.FileField(
        label=_("Photo, scan or recording"),
        help_text=_(
            "JPEG, PNG or WebP photos, PDF scans, MP3, M4A, Ogg or WAV recordings. A photo's "
            "location and camera details are removed before it is stored."
        ),
        widget=forms.ClearableFileInput(
            attrs={"accept": ".jpg,.jpeg,.png,.webp,.pdf,.mp3,.m4a,.ogg,.oga,.wav"}
        ),
    )
    title = forms.CharField(label=_("Title"), max_length=300, required=False)


class CorroborateForm(VigilFormMixin, forms.Form):
    reason = forms.CharField(
        label=_("Why the finding stands"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class RevealForm(VigilFormMixin, forms.Form):
    purpose = forms.CharField(
        label=_("Why you need to see who this person is"),
        max_length=500,
    )


class VisitFilterForm(VigilFormMixin, forms.Form):
    place = forms.ModelChoiceField(label=_("Place"), queryset=Place.objects.none(), required=False)
    kind = forms.ChoiceField(
        label=_("Kind"), choices=[("", _("All")), *VisitKind.choices], required=False
    )
    status = forms.ChoiceField(
        label=_("Status"), choices=[("", _("All")), *VisitStatus.choices], required=False
    )
    year = forms.IntegerField(label=_("Year"), min_value=1990, max_value=2100, required=False)
    member = forms.ModelChoiceField(
        label=_("Team member"), queryset=Membership.objects.none(), required=False
    )

    def __init__(self, *args: Any, membership: Membership, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        # Only places of visits the member may see: a secret visit must not show as a choice.
        fields["place"].queryset = (
            visible(membership, Place)
            .filter(pk__in=visible(membership, Visit).values("place_id"))
            .order_by("name")
        )
        fields["member"].queryset = Membership.objects.filter(
            body_id=membership.body_id, is_active=True
        ).select_related("user")
        fields["member"].label_from_instance = lambda m: m.user.get_full_name() or m.user.username


# ---------- Questionnaires and answers ----------


class QuestionnaireUploadForm(VigilFormMixin, forms.Form):
    # Empty files reach the service, which says what is wrong with them.
    file = forms.FileField(
        label=_("XLSForm"),
        allow_empty_file=True,
        help_text=_(
            "An Excel workbook (.xlsx) with survey, choices and settings sheets. Vigil's own "
            "columns: vigil_theme, vigil_standard, vigil_private_only."
        ),
        widget=XLSX_INPUT,
    )
    place_types = forms.ModelMultipleChoiceField(
        label=_("Types of place it is for"),
        queryset=TaxonomyTerm.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    def __init__(self, *args: Any, membership: Membership, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        fields["place_types"].queryset = TaxonomyTerm.objects.filter(
            body_id=membership.body_id, kind="place_type", is_active=True
        )


class SubmissionUploadForm(VigilFormMixin, forms.Form):
    questionnaire = forms.ModelChoiceField(
        label=_("Questionnaire version the submissions answer"),
        queryset=Questionnaire.objects.none(),
    )
    file = forms.FileField(
        label=_("Submissions file"),
        allow_empty_file=True,
        help_text=_(
            "The CSV that ODK Central or KoboToolbox exports for the form, with the questions' "
            "names as headers."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx"}),
    )

    def __init__(self, *args: Any, visit: Visit, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        fields["questionnaire"].queryset = Questionnaire.objects.filter(
            body_id=visit.body_id
        ).order_by("title", "-version")


def _answer_field(question: Question) -> forms.Field:
    label = question.label or question.code
    help_text = question.hint
    if question.private_only:
        help_text = " ".join(
            filter(None, [help_text, str(_("Private interviews only: never in a group."))])
        )
    common: dict[str, Any] = {"label": label, "required": False, "help_text": help_text}
    if question.kind == QuestionKind.NUMBER:
        return forms.CharField(
            max_length=30, widget=forms.TextInput(attrs={"inputmode": "decimal"}), **common
        )
    if question.kind == QuestionKind.DATE:
        return forms.CharField(max_length=10, widget=DATE, **common)
    if question.kind in {QuestionKind.YES_NO, QuestionKind.CHOICE}:
        choices = [
            (str(c.get("name")), str(c.get("label") or c.get("name"))) for c in question.choices
        ]
        if question.kind == QuestionKind.YES_NO and not choices:
            choices = [("yes", str(_("Yes"))), ("no", str(_("No")))]
        return forms.ChoiceField(
            choices=[("", _("— No answer —")), *choices], widget=forms.RadioSelect, **common
        )
    return forms.CharField(max_length=10_000, widget=forms.Textarea(attrs={"rows": 2}), **common)


class AnswersForm(VigilFormMixin, forms.Form):
    """One set of answers to a questionnaire: a field per question (notes are shown as text),
    and the interview they were given in, if any."""

    storage_model = Answer
    interview = forms.ModelChoiceField(
        label=_("Given in an interview"),
        queryset=Interview.objects.none(),
        required=False,
        empty_label=_("No: the team's own checks"),
    )

    def __init__(
        self, *args: Any, visit: Visit, questionnaire: Questionnaire, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        fields["interview"].queryset = visit.interviews.all()
        fields["interview"].label_from_instance = lambda i: (
            f"{i.pseudonym} — {i.get_kind_display()}, {i.get_category_display()}"
        )
        self.sections: list[tuple[Any, list[Any]]] = []
        for section in questionnaire.sections.prefetch_related("questions"):
            items: list[Any] = []
            for question in section.questions.all():
                if question.kind == QuestionKind.NOTE:
                    items.append(question)
                    continue
                name = f"q_{question.code}"
                fields[name] = _answer_field(question)
                items.append(self[name])
            self.sections.append((section, items))

    def answer_values(self) -> dict[str, str]:
        return {
            name.removeprefix("q_"): value or ""
            for name, value in self.cleaned_data.items()
            if name.startswith("q_")
        }


DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]


class RegisterCheckForm(VigilFormMixin, forms.ModelForm):
    discrepancies = forms.CharField(
        label=_("Discrepancies found"),
        help_text=_("One per line, in a few words. Each can then become a finding."),
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        max_length=20000,
    )

    class Meta:
        model = RegisterCheck
        fields = ["register_kind", "period_from", "period_to", "sample_size", "notes"]
        widgets = {
            "period_from": DATE,
            "period_to": DATE,
            "sample_size": forms.NumberInput(attrs={"inputmode": "numeric"}),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }

    def _post_clean(self) -> None:
        pass

    def discrepancy_lines(self) -> list[str]:
        return str(self.cleaned_data.get("discrepancies") or "").splitlines()

    def service_data(self) -> dict[str, Any]:
        return {name: self.cleaned_data.get(name) for name in self._meta.fields or []}


class DiscrepancyForm(VigilFormMixin, forms.Form):
    description = forms.CharField(
        label=_("Another discrepancy"),
        max_length=Discrepancy._meta.get_field("description").max_length,
    )


class DebriefingForm(VigilFormMixin, forms.ModelForm):
    # Officials' names are read by others: nothing hidden in them.
    attendees = NameField(
        label=_("Attending for the authorities"),
        help_text=Debriefing._meta.get_field("attendees").help_text,
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=5000,
    )
    findings = forms.ModelMultipleChoiceField(
        label=_("Findings presented"),
        queryset=Observation.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    mark_debriefed = forms.BooleanField(
        label=_("Move the visit to “debriefed”"), required=False, initial=True
    )

    class Meta:
        model = Debriefing
        fields = ["held_at", "attendees", "summary"]
        widgets = {
            "held_at": DATETIME,
            "summary": forms.Textarea(attrs={"rows": 4}),
        }

    def __init__(self, *args: Any, visit: Visit, may_move: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        fields["held_at"].input_formats = DATETIME_FORMATS
        # Every finding of the visit is a choice, so that the service (the anonymity guard)
        # is the one that refuses a blocked finding, with its reason.
        fields["findings"].queryset = visit.observations.all()
        if not may_move or visit.status != VisitStatus.IN_PROGRESS:
            del self.fields["mark_debriefed"]

    def _post_clean(self) -> None:
        pass


class CommitmentForm(VigilFormMixin, forms.ModelForm):
    class Meta:
        model = Commitment
        fields = ["text", "due_on"]
        widgets = {"text": forms.Textarea(attrs={"rows": 2}), "due_on": DATE}

    def _post_clean(self) -> None:
        pass


class ObstructionForm(VigilFormMixin, forms.ModelForm):
    officials = NameField(
        label=_("Officials involved"),
        help_text=Obstruction._meta.get_field("officials").help_text,
        max_length=300,
        required=False,
    )
    escalate = forms.BooleanField(
        label=_("Tell the heads now"),
        help_text=_("Only for a serious obstruction: the heads get a notification at once."),
        required=False,
    )

    class Meta:
        model = Obstruction
        fields = ["kind", "occurred_at", "officials", "description", "explanation", "severity"]
        widgets = {
            "occurred_at": DATETIME,
            "description": forms.Textarea(attrs={"rows": 3}),
            "explanation": forms.Textarea(attrs={"rows": 2}),
            "severity": forms.RadioSelect,
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        fields["occurred_at"].input_formats = DATETIME_FORMATS
        fields["severity"].choices = ObstructionSeverity.choices

    def _post_clean(self) -> None:
        pass
