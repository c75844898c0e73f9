"""The visit programme: each place's risk score, the monitors' availability, and the programmes
the planner proposes (visits by month and week, with their teams) until they become planned
visits."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from vigil.core.models import Body, Membership
from vigil.places.models import Place
from vigil.visits.models import Expertise, Gender, Visit

# Maximum months between two visits by type of place (the body may change them).
DEFAULT_INTERVALS = {
    "prison": 12,
    "pre-trial-detention": 12,
    "police-custody": 36,
    "immigration-detention": 12,
    "psychiatric-hospital": 18,
    "social-care-home": 24,
    "juvenile-institution": 12,
    "military-detention": 24,
    "transport": 36,
    "other": 36,
}

# How much each factor weighs in a place's risk score.
DEFAULT_WEIGHTS = {
    "overdue": 3.0,
    "occupancy": 2.0,
    "findings": 2.0,
    "vulnerable": 1.0,
    "never_visited": 1.0,
}


def default_intervals() -> dict[str, int]:
    return dict(DEFAULT_INTERVALS)


def default_weights() -> dict[str, float]:
    return dict(DEFAULT_WEIGHTS)


class PlanningSettings(models.Model):
    body = models.OneToOneField(Body, on_delete=models.CASCADE, related_name="planning_settings")
    reserve_percent = models.PositiveSmallIntegerField(
        _("capacity held back for follow-up and urgent visits (%)"), default=20
    )
    default_interval_months = models.PositiveSmallIntegerField(
        _("maximum months between visits, for other types"), default=24
    )
    intervals = models.JSONField(
        _("maximum months between visits, by type"), default=default_intervals
    )
    weights = models.JSONField(_("weights of the risk factors"), default=default_weights)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return str(_("Planning settings of %(body)s") % {"body": self.body})

    def interval_for(self, place_type_code: str) -> int:
        return int(self.intervals.get(place_type_code, self.default_interval_months))


class MonitorProfile(models.Model):
    """What the planner needs to know of a member who goes on visits."""

    membership = models.OneToOneField(
        Membership, on_delete=models.CASCADE, related_name="monitor_profile"
    )
    gender = models.CharField(
        _("gender"), max_length=16, choices=Gender.choices, default=Gender.UNSPECIFIED
    )
    expertise = models.CharField(
        _("expertise"), max_length=24, choices=Expertise.choices, blank=True, default=""
    )
    languages = models.CharField(_("languages"), max_length=200, blank=True)
    days_per_month = models.PositiveSmallIntegerField(
        _("visit days available per month"), default=6
    )
    conflicts = models.ManyToManyField(
        Place,
        verbose_name=_("places they may not visit (conflict of interest)"),
        blank=True,
        related_name="+",
    )

    def __str__(self) -> str:
        return str(self.membership)


class PlaceRisk(models.Model):
    """A place's risk score with the factors that make it, recomputed nightly and on demand."""

    place = models.OneToOneField(Place, on_delete=models.CASCADE, related_name="risk")
    body = models.ForeignKey(Body, on_delete=models.CASCADE, related_name="+")
    score = models.FloatField(_("risk score"))
    factors = models.JSONField(_("factors"), default=dict)
    months_since_visit = models.PositiveIntegerField(null=True, blank=True)
    interval_months = models.PositiveSmallIntegerField(default=24)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["body", "-score", "place"])]

    def __str__(self) -> str:
        return f"{self.place}: {self.score:.2f}"


class ProgrammeStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    APPROVED = "approved", _("Approved")


class Programme(models.Model):
    body = models.ForeignKey(Body, on_delete=models.PROTECT, related_name="programmes")
    title = models.CharField(_("title"), max_length=200)
    starts_on = models.DateField(_("first month"))
    months = models.PositiveSmallIntegerField(_("months"), default=3)
    status = models.CharField(
        _("status"), max_length=16, choices=ProgrammeStatus.choices, default=ProgrammeStatus.DRAFT
    )
    time_limit = models.PositiveSmallIntegerField(_("time limit of the planner (s)"), default=10)
    # What the planner found: its objective, proven bound, and what could not be met.
    objective = models.FloatField(null=True, blank=True)
    bound = models.FloatField(null=True, blank=True)
    solve_seconds = models.FloatField(null=True, blank=True)
    solver_status = models.CharField(max_length=16, blank=True)
    diagnosis = models.JSONField(default=list, blank=True)
    capacity = models.JSONField(default=list, blank=True)  # member-days per month
    last_change = models.JSONField(default=dict, blank=True)  # what a re-plan made worse
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    approved_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        indexes = [models.Index(fields=["body", "-starts_on", "-id"])]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("planning:detail", args=[self.pk])

    @property
    def gap(self) -> float | None:
        if self.bound is None or self.objective is None:
            return None
        return max(0.0, self.bound - self.objective) / max(1.0, abs(self.bound))


class ProgrammeVisit(models.Model):
    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="entries")
    place = models.ForeignKey(Place, on_delete=models.PROTECT, related_name="+")
    month = models.PositiveSmallIntegerField(_("month"))  # 0-based within the programme
    week = models.PositiveSmallIntegerField(_("week of the month"), default=0)
    days = models.PositiveSmallIntegerField(_("days"), default=1)
    team_size = models.PositiveSmallIntegerField(_("team size"), default=2)
    value = models.FloatField(default=0.0)
    locked = models.BooleanField(_("locked"), default=False)
    warnings = models.JSONField(default=list, blank=True)
    visit = models.ForeignKey(
        Visit, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["programme", "place"], name="one_entry_per_place")
        ]
        indexes = [models.Index(fields=["programme", "month", "week", "id"])]

    def __str__(self) -> str:
        return f"{self.place} ({self.month})"

    @property
    def body(self) -> Body:
        return self.programme.body


class ProgrammeTeamMember(models.Model):
    entry = models.ForeignKey(ProgrammeVisit, on_delete=models.CASCADE, related_name="team")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["entry", "membership"], name="one_seat_per_member")
        ]

    def __str__(self) -> str:
        return str(self.membership)


def month_start(programme: Programme, month: int) -> Any:
    """The first day of the programme's `month` (0-based)."""
    year = programme.starts_on.year + (programme.starts_on.month - 1 + month) // 12
    number = (programme.starts_on.month - 1 + month) % 12 + 1
    return programme.starts_on.replace(year=year, month=number, day=1)
