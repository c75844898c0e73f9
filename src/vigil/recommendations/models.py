"""Recommendations and the dialogue with the authorities they are addressed to: the authorities'
directory, each recommendation with its two separate history tracks (the authority's position,
the body's assessment of implementation), the exchanges of letters and meetings, and the
messages the deadline job sent."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from vigil.core.models import Body, Membership, StoredFile, TaxonomyTerm
from vigil.places.models import Place


class RecommendationSettings(models.Model):
    """A body's deadlines for recommendations (kept by this app, not on the body)."""

    body = models.OneToOneField(
        Body, on_delete=models.CASCADE, related_name="recommendation_settings"
    )
    response_days = models.PositiveSmallIntegerField(
        _("days to respond"),
        default=28,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text=_("The authority's response is due this many days after the issue date."),
    )
    urgent_response_days = models.PositiveSmallIntegerField(
        _("days to respond to an urgent recommendation"),
        default=7,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
    )
    review_months = models.PositiveSmallIntegerField(
        _("months between implementation reviews"),
        default=6,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
    )
    reminder_days = models.PositiveSmallIntegerField(
        _("days before a deadline to remind"),
        default=7,
        validators=[MinValueValidator(0), MaxValueValidator(90)],
    )
    escalation_days = models.PositiveSmallIntegerField(
        _("days overdue before escalating"),
        default=14,
        validators=[MinValueValidator(0), MaxValueValidator(365)],
        help_text=_(
            "A recommendation still unanswered this many days after its deadline is escalated "
            "to the parent authority and to the body's heads."
        ),
    )

    class Meta:
        verbose_name = _("recommendation settings")

    def __str__(self) -> str:
        return f"{self.body}: {self.response_days} / {self.urgent_response_days} days"


class AuthorityKind(models.TextChoices):
    MINISTRY = "ministry", _("Ministry")
    AGENCY = "agency", _("Agency or service")
    REGIONAL = "regional", _("Regional administration")
    INSTITUTION = "institution", _("Management of an institution")
    OTHER = "other", _("Other")


class Authority(models.Model):
    """A ministry, agency, regional administration or institution management that
    recommendations are addressed to; authorities nest (a prison's management under the prison
    service under the ministry of justice)."""

    body = models.ForeignKey(Body, on_delete=models.CASCADE, related_name="authorities")
    name = models.CharField(_("name"), max_length=300)
    kind = models.CharField(
        _("kind"), max_length=16, choices=AuthorityKind.choices, default=AuthorityKind.OTHER
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("part of"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=60, blank=True)
    address = models.TextField(_("address"), blank=True)
    contact_points = models.TextField(
        _("contact points"),
        blank=True,
        help_text=_("People to write to or meet, one per line (name, function, email or phone)."),
    )
    places = models.ManyToManyField(
        Place,
        verbose_name=_("places it is responsible for"),
        blank=True,
        related_name="authorities",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["body", "name", "id"])]
        constraints = [
            models.UniqueConstraint(fields=["body", "name"], name="unique_authority_name")
        ]
        verbose_name = _("authority")
        verbose_name_plural = _("authorities")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("recommendations:authority_detail", args=[self.pk])


class FocalPoint(models.Model):
    """Links a member with the role `authority_focal_point` to the authority they answer for;
    with `include_subordinates` they also see what is addressed to its subordinate units."""

    membership = models.OneToOneField(
        Membership, on_delete=models.CASCADE, related_name="focal_point"
    )
    authority = models.ForeignKey(Authority, on_delete=models.CASCADE, related_name="focal_points")
    include_subordinates = models.BooleanField(_("also its subordinate units"), default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("focal point")

    def __str__(self) -> str:
        return f"{self.membership.user} → {self.authority}"

    @property
    def body(self) -> Body:
        return self.authority.body


class Priority(models.TextChoices):
    URGENT = "urgent", _("Urgent")
    HIGH = "high", _("High")
    NORMAL = "normal", _("Normal")
    LOW = "low", _("Low")


class SourceKind(models.TextChoices):
    VISIT = "visit", _("The body's visit report")
    THEMATIC = "thematic", _("The body's thematic report")
    ANNUAL = "annual", _("The body's annual report")
    SPT = "spt", _("UN Subcommittee on Prevention of Torture (SPT)")
    SPT_RESPONSE = "spt_response", _("The State's response to the SPT")
    CPT = "cpt", _("European CPT or another regional body")
    TREATY_BODY = "treaty_body", _("UN treaty body")
    UPR = "upr", _("Universal Periodic Review")
    COURT = "court", _("Court or another mechanism")


class Position(models.TextChoices):
    """The authority's position: what it says it will do."""

    NO_RESPONSE = "no_response", _("No response yet")
    ACCEPTED = "accepted", _("Accepted")
    PARTIALLY_ACCEPTED = "partially_accepted", _("Partially accepted")
    REJECTED = "rejected", _("Rejected")


class Assessment(models.TextChoices):
    """The body's own assessment of what was done, on one scale."""

    NOT_STARTED = "not_started", _("Not started")
    IN_PROGRESS = "in_progress", _("In progress")
    PARTIALLY_IMPLEMENTED = "partially_implemented", _("Partially implemented")
    IMPLEMENTED = "implemented", _("Implemented")
    NOT_IMPLEMENTED = "not_implemented", _("Not implemented")
    NO_LONGER_RELEVANT = "no_longer_relevant", _("No longer relevant")


# Assessments after which nothing is expected any more: no reminders, not overdue.
CLOSED_ASSESSMENTS = frozenset({Assessment.IMPLEMENTED, Assessment.NO_LONGER_RELEVANT})


class VerificationMethod(models.TextChoices):
    NONE = "", _("—")
    DOCUMENT = "document", _("Document")
    FOLLOW_UP_VISIT = "follow_up_visit", _("Follow-up visit")
    STATEMENT = "statement", _("Statement")
    OTHER = "other", _("Other")


class Recommendation(models.Model):
    """One recommendation, from the findings it rests on to its verified implementation."""

    body = models.ForeignKey(Body, on_delete=models.PROTECT, related_name="recommendations")
    reference = models.CharField(
        _("reference"), max_length=100, blank=True, help_text=_("The number in the report.")
    )
    text = models.TextField(_("recommendation"))
    rationale = models.TextField(_("rationale"), blank=True)
    observations: models.ManyToManyField[Any, Any] = models.ManyToManyField(
        "visits.Observation",
        verbose_name=_("findings it rests on"),
        blank=True,
        related_name="recommendations",
    )
    places = models.ManyToManyField(
        Place, verbose_name=_("places"), blank=True, related_name="recommendations"
    )
    is_systemic = models.BooleanField(
        _("national or systemic"),
        default=False,
        help_text=_("Concerns the whole system rather than particular places."),
    )
    themes = models.ManyToManyField(
        TaxonomyTerm,
        verbose_name=_("themes"),
        blank=True,
        related_name="+",
        limit_choices_to={"kind": "theme"},
    )
    priority = models.CharField(
        _("priority"), max_length=8, choices=Priority.choices, default=Priority.NORMAL
    )
    authority = models.ForeignKey(
        Authority,
        verbose_name=_("addressed to"),
        on_delete=models.PROTECT,
        related_name="recommendations",
    )
    source_kind = models.CharField(
        _("source"), max_length=16, choices=SourceKind.choices, default=SourceKind.VISIT
    )
    source_reference = models.CharField(
        _("source reference"),
        max_length=300,
        blank=True,
        help_text=_("The report, its paragraph or its symbol (e.g. CAT/OP/MDV/1, § 42)."),
    )
    visit = models.ForeignKey(
        "visits.Visit",
        verbose_name=_("visit"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="recommendations",
    )
    repeats = models.ForeignKey(
        "self",
        verbose_name=_("repeats"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="repetitions",
        help_text=_("An earlier recommendation this one repeats."),
    )
    repetition_count = models.PositiveSmallIntegerField(_("times made"), default=1, editable=False)
    issued_on = models.DateField(_("issued on"))
    response_due = models.DateField(_("response due"))
    implementation_due = models.DateField(_("implementation due"), null=True, blank=True)
    # The current state of each track, kept with the row so lists filter and sort on an index;
    # the history is in PositionChange and AssessmentChange.
    position = models.CharField(
        _("authority's position"),
        max_length=20,
        choices=Position.choices,
        default=Position.NO_RESPONSE,
    )
    position_on = models.DateField(_("position given on"), null=True, blank=True)
    assessment = models.CharField(
        _("implementation"),
        max_length=24,
        choices=Assessment.choices,
        default=Assessment.NOT_STARTED,
    )
    verified_on = models.DateField(_("last verified on"), null=True, blank=True)
    next_review_on = models.DateField(_("next review"), null=True, blank=True)
    overdue_since = models.DateField(_("overdue since"), null=True, blank=True)
    escalated_on = models.DateField(_("escalated on"), null=True, blank=True)
    search_text = models.TextField(editable=False, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)

    class Meta:
        ordering = ["-issued_on", "-id"]
        indexes = [
            # One index per sort and filter the list offers, each ending in the list's order.
            models.Index(fields=["body", "-issued_on", "-id"]),
            models.Index(fields=["body", "response_due", "id"]),
            models.Index(fields=["body", "authority", "-issued_on", "-id"]),
            models.Index(fields=["body", "position", "-issued_on", "-id"]),
            models.Index(fields=["body", "assessment", "-issued_on", "-id"]),
            models.Index(fields=["body", "priority", "-issued_on", "-id"]),
            models.Index(fields=["body", "source_kind", "-issued_on", "-id"]),
            models.Index(fields=["body", "overdue_since", "id"]),
        ]
        verbose_name = _("recommendation")
        verbose_name_plural = _("recommendations")

    def __str__(self) -> str:
        text = " ".join(self.text.split())
        label = text[:80] + ("…" if len(text) > 80 else "")
        return f"{self.reference} {label}".strip()

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("recommendations:detail", args=[self.pk])

    @property
    def is_closed(self) -> bool:
        return self.assessment in CLOSED_ASSESSMENTS


class PositionChange(models.Model):
    """One step of the authority's position, as it gave it (through the portal or in a letter
    the body recorded)."""

    recommendation = models.ForeignKey(
        Recommendation, on_delete=models.CASCADE, related_name="position_changes"
    )
    position = models.CharField(_("position"), max_length=20, choices=Position.choices)
    changed_on = models.DateField(_("date"))
    note = models.TextField(_("reasons or note"), blank=True)
    action_plan = models.TextField(_("action plan"), blank=True)
    planned_by = models.DateField(_("planned completion"), null=True, blank=True)
    evidence = models.ForeignKey(
        StoredFile,
        verbose_name=_("evidence"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # Given by the authority itself through the portal, or recorded by the body.
    through_portal = models.BooleanField(_("given through the portal"), default=False)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-changed_on", "-id"]
        indexes = [models.Index(fields=["recommendation", "-changed_on", "-id"])]
        verbose_name = _("change of position")

    def __str__(self) -> str:
        return f"{self.get_position_display()} ({self.changed_on})"

    @property
    def body(self) -> Body:
        return self.recommendation.body


class AssessmentChange(models.Model):
    """One step of the body's assessment of implementation, with how it was verified."""

    recommendation = models.ForeignKey(
        Recommendation, on_delete=models.CASCADE, related_name="assessment_changes"
    )
    assessment = models.CharField(_("assessment"), max_length=24, choices=Assessment.choices)
    changed_on = models.DateField(_("date"))
    verified_on = models.DateField(_("verified on"), null=True, blank=True)
    verification_method = models.CharField(
        _("how it was verified"),
        max_length=20,
        choices=VerificationMethod.choices,
        blank=True,
        default="",
    )
    evidence_text = models.TextField(_("evidence"), blank=True)
    evidence = models.ForeignKey(
        StoredFile,
        verbose_name=_("evidence file"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    visit = models.ForeignKey(
        "visits.Visit",
        verbose_name=_("follow-up visit"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    note = models.TextField(_("note"), blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-changed_on", "-id"]
        indexes = [models.Index(fields=["recommendation", "-changed_on", "-id"])]
        verbose_name = _("assessment of implementation")

    def __str__(self) -> str:
        return f"{self.get_assessment_display()} ({self.changed_on})"

    @property
    def body(self) -> Body:
        return self.recommendation.body


class ExchangeKind(models.TextChoices):
    LETTER = "letter", _("Letter from the authority")
    MEETING = "meeting", _("Meeting")
    BODY_REPLY = "body_reply", _("The body's reply")
    ACTION_PLAN = "action_plan", _("Action plan")


class Exchange(models.Model):
    """One entry of the dialogue with an authority: a letter (with its file), a meeting (with
    its participants) or the body's reply, about one or many recommendations."""

    body = models.ForeignKey(Body, on_delete=models.CASCADE, related_name="+")
    authority = models.ForeignKey(
        Authority,
        verbose_name=_("authority"),
        on_delete=models.PROTECT,
        related_name="exchanges",
    )
    kind = models.CharField(_("kind"), max_length=16, choices=ExchangeKind.choices)
    occurred_on = models.DateField(_("date"))
    subject = models.CharField(_("subject"), max_length=300)
    summary = models.TextField(_("summary"), blank=True)
    participants = models.TextField(_("participants"), blank=True, help_text=_("One per line."))
    file = models.ForeignKey(
        StoredFile,
        verbose_name=_("file"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    recommendations = models.ManyToManyField(
        Recommendation, verbose_name=_("recommendations"), related_name="exchanges"
    )
    through_portal = models.BooleanField(_("sent through the portal"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-occurred_on", "-id"]
        indexes = [models.Index(fields=["body", "authority", "-occurred_on", "-id"])]
        verbose_name = _("exchange with an authority")

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.subject}"


class MessageKind(models.TextChoices):
    RESPONSE_REMINDER = "response_reminder", _("Reminder: response due")
    IMPLEMENTATION_REMINDER = "implementation_reminder", _("Reminder: implementation due")
    REVIEW_DUE = "review_due", _("Implementation review due")
    OVERDUE = "overdue", _("Marked overdue")
    ESCALATION = "escalation", _("Escalated")


class SentMessage(models.Model):
    """A message the deadline job sent about a recommendation; one per kind and deadline, so
    the job can run again without sending twice."""

    recommendation = models.ForeignKey(
        Recommendation, on_delete=models.CASCADE, related_name="messages"
    )
    kind = models.CharField(_("kind"), max_length=24, choices=MessageKind.choices)
    due_on = models.DateField(_("deadline"))
    sent_at = models.DateTimeField(_("sent"), default=timezone.now)
    recipients = models.TextField(_("recipients"), blank=True)

    class Meta:
        ordering = ["-sent_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["recommendation", "kind", "due_on"], name="one_message_per_deadline"
            )
        ]
        verbose_name = _("message sent")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.due_on})"

    @property
    def body(self) -> Body:
        return self.recommendation.body
