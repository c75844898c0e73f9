"""Forms of the visit programme pages."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.core.validators import MaxValueValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from vigil.core.forms import VigilFormMixin
from vigil.planning.models import DEFAULT_INTERVALS, MonitorProfile, PlanningSettings
from vigil.planning.risk import risk_factors

PERIODS = [
    (3, _("A quarter (3 months)")),
    (6, _("Half a year (6 months)")),
    (12, _("A year (12 months)")),
]


def _next_quarter() -> datetime.date:
    today = timezone.localdate()
    month = ((today.month - 1) // 3 + 1) * 3 + 1
    return datetime.date(today.year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


class GenerateForm(VigilFormMixin, forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    starts_on = forms.DateField(
        label=_("First month"),
        help_text=_("The programme starts on the first day of this date's month."),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    months = forms.TypedChoiceField(label=_("Period"), choices=PERIODS, coerce=int, initial=3)
    time_limit = forms.IntegerField(
        label=_("Time the planner may take (seconds)"), min_value=1, max_value=600, initial=10
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        start = _next_quarter()
        self.fields["starts_on"].initial = start
        self.fields["title"].initial = _("Programme from %(month)s") % {
            "month": start.strftime("%Y-%m")
        }


class VersionForm(VigilFormMixin, forms.Form):
    """The version of the programme the page showed: a change made since is refused."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class MoveForm(VersionForm):
    month = forms.TypedChoiceField(label=_("Month"), coerce=int, choices=())
    week = forms.TypedChoiceField(
        label=_("Week"), coerce=int, choices=[(w, _("week %(n)s") % {"n": w + 1}) for w in range(4)]
    )

    def __init__(self, *args: Any, months: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        month: Any = self.fields["month"]
        month.choices = months


class SettingsForm(VigilFormMixin, forms.ModelForm):
    reserve_percent = forms.IntegerField(
        label=_("Capacity held back for follow-up and urgent visits (%)"), min_value=0, max_value=90
    )

    class Meta:
        model = PlanningSettings
        fields = ["reserve_percent", "default_interval_months"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for code in DEFAULT_INTERVALS:
            self.fields[f"interval_{code}"] = forms.IntegerField(
                label=_("Maximum months between visits: %(type)s") % {"type": code},
                min_value=1,
                max_value=120,
                initial=self.instance.interval_for(code),
            )
        weights = {**{f.key: f.default_weight for f in risk_factors()}, **self.instance.weights}
        for key in ["overdue", "never_visited", *[f.key for f in risk_factors()]]:
            self.fields[f"weight_{key}"] = forms.FloatField(
                label=_("Weight of the factor “%(factor)s”") % {"factor": key},
                min_value=0,
                max_value=100,
                initial=weights.get(key, 1.0),
            )

    def intervals(self) -> dict[str, int]:
        return {code: self.cleaned_data[f"interval_{code}"] for code in DEFAULT_INTERVALS}

    def weights(self) -> dict[str, float]:
        return {
            name.removeprefix("weight_"): value
            for name, value in self.cleaned_data.items()
            if name.startswith("weight_")
        }


class ProfileForm(VigilFormMixin, forms.ModelForm):
    class Meta:
        model = MonitorProfile
        fields = ["gender", "expertise", "languages", "days_per_month"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["days_per_month"].validators.append(MaxValueValidator(31))
        self.fields["days_per_month"].widget.attrs["max"] = 31
