"""The protection of persons: individual cases of alleged torture or ill-treatment (the national
register of allegations, referrals and outcomes) and persons at risk of reprisals, with their
transfers, reprisal incidents and follow-up contacts.

Whatever could identify a person (identity, contact details, medical details, narratives) is
encrypted at rest; a record's `__str__` is a code, never a name, because the audit trail and
notifications keep it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from vigil.core.crypto import EncryptedTextField
from vigil.core.models import Body, Membership, TaxonomyTerm
from vigil.places.models import Place


class CaseSource(models.TextChoices):
    VISIT_INTERVIEW = "visit_interview", _("Interview during a visit")
    LETTER = "letter", _("Letter")
    HOTLINE = "hotline", _("Hotline")
    LAWYER = "lawyer", _("Lawyer")
    FAMILY = "family", _("Family")
    MEDIA = "media", _("Media")
    INTAKE = "intake", _("Information from the public")
    OTHER = "other", _("Other")


class PerpetratorCategory(models.TextChoices):
    POLICE = "police", _("Police")
    PRISON_STAFF = "prison_staff", _("Prison staff")
    HEALTH_STAFF = "health_staff", _("Health staff")
    OTHER_DETAINEES = "other_detainees", _("Other detainees")
    MILITARY = "military", _("Military or security forces")
    IMMIGRATION_STAFF = "immigration_staff", _("Immigration staff")
    CARE_STAFF = "care_staff", _("Care home staff")
    UNKNOWN = "unknown", _("Unknown")
    OTHER = "other", _("Other")


class Consent(models.TextChoices):
    NONE = "none", _("No consent: nothing may be used or referred")
    ANONYMOUS = "anonymous", _("Anonymous use only: no referral")
    REFERRAL = "referral", _("Referral to the bodies named")


class ReferralTarget(models.TextChoices):
    PROSECUTOR = "prosecutor", _("Prosecutor")
    INTERNAL_INSPECTION = "internal_inspection", _("Internal inspection")
    OMBUDSMAN = "ombudsman", _("Ombudsman complaints unit")
    MEDICAL_SERVICE = "medical_service", _("Medical service")
    LAWYER = "lawyer", _("Lawyer")


class CaseStatus(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")


class Case(models.Model):
    """One person's allegation of torture or ill-treatment, followed to its outcome."""

    body = models.ForeignKey(Body, on_delete=models.PROTECT, related_name="protection_cases")
    # What the register, the trail and notifications call the case: never a name.
    reference = models.CharField(_("reference"), max_length=20, editable=False)
    pseudonym = models.CharField(_("pseudonym"), max_length=20, editable=False)
    source = models.CharField(_("source"), max_length=20, choices=CaseSource.choices)
    interview = models.ForeignKey(
        "visits.Interview",
        verbose_name=_("interview"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="protection_cases",
    )
    events_date = models.DateField(_("date of the alleged events"), null=True, blank=True)
    events_place = models.ForeignKey(
        Place,
        verbose_name=_("place of the alleged events"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    current_place = models.ForeignKey(
        Place,
        verbose_name=_("place where the person is now"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    perpetrator_category = models.CharField(
        _("alleged perpetrators"),
        max_length=20,
        choices=PerpetratorCategory.choices,
        default=PerpetratorCategory.UNKNOWN,
    )
    ill_treatment = models.ForeignKey(
        TaxonomyTerm,
        verbose_name=_("type of ill-treatment"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"kind": "theme"},
    )
    has_injuries = models.BooleanField(_("injuries reported"), default=False)
    medical_documentation = models.BooleanField(_("medical documentation exists"), default=False)
    istanbul_protocol_reference = models.CharField(
        _("Istanbul Protocol examination"),
        max_length=100,
        blank=True,
        help_text=_("The reference of the forensic examination under the Istanbul Protocol."),
    )
    consent = models.CharField(
        _("informed consent"), max_length=12, choices=Consent.choices, default=Consent.NONE
    )
    # The kinds of body (ReferralTarget values) the person agreed the case may go to.
    consent_targets = models.JSONField(_("bodies the person agreed to"), default=list, blank=True)
    consent_date = models.DateField(_("consent given on"), null=True, blank=True)
    consent_withdrawn_on = models.DateField(_("consent withdrawn on"), null=True, blank=True)
    narrative = EncryptedTextField(_("what the person says happened"), blank=True)
    identity = EncryptedTextField(_("identity"), blank=True)
    contact = EncryptedTextField(_("contact details"), blank=True)
    medical_details = EncryptedTextField(_("injuries and medical details"), blank=True)
    status = models.CharField(
        _("status"), max_length=8, choices=CaseStatus.choices, default=CaseStatus.OPEN
    )
    holders = models.ManyToManyField(
        Membership, verbose_name=_("case holders"), blank=True, related_name="protection_cases"
    )
    legal_hold = models.BooleanField(
        _("legal hold"),
        default=False,
        help_text=_("Kept past the retention period (proceedings under way)."),
    )
    # When the personal data was erased or anonymised (retention, or a person's request).
    anonymised_at = models.DateTimeField(_("personal data erased"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["body", "-created_at", "-id"], name="protection_case_recent"),
            models.Index(
                fields=["body", "status", "-created_at", "-id"], name="protection_case_status"
            ),
            models.Index(fields=["body", "-events_date", "-id"], name="protection_case_events"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["body", "reference"], name="one_case_reference")
        ]
        verbose_name = _("case")

    def __str__(self) -> str:
        return self.reference

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("protection:case_detail", args=[self.pk])

    @property
    def consent_live(self) -> bool:
        return self.consent_withdrawn_on is None


class InvestigationState(models.TextChoices):
    UNKNOWN = "unknown", _("Not known yet")
    OPENED = "opened", _("Opened")
    REFUSED = "refused", _("Not opened")


class Outcome(models.TextChoices):
    PENDING = "pending", _("Pending")
    PROSECUTION = "prosecution", _("Prosecution")
    CONVICTION = "conviction", _("Conviction")
    DISCIPLINARY = "disciplinary", _("Disciplinary sanction")
    DISMISSED = "dismissed", _("Dismissed")
    NO_RESPONSE = "no_response", _("No response")


class Referral(models.Model):
    """The case sent to a body that can act on it, and what became of it there."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="referrals")
    target = models.CharField(_("referred to"), max_length=24, choices=ReferralTarget.choices)
    addressee = models.CharField(_("name of the body or person"), max_length=300, blank=True)
    referred_on = models.DateField(_("referred on"))
    reference = models.CharField(_("their reference"), max_length=100, blank=True)
    answered_on = models.DateField(_("answered on"), null=True, blank=True)
    investigation = models.CharField(
        _("investigation"),
        max_length=12,
        choices=InvestigationState.choices,
        default=InvestigationState.UNKNOWN,
    )
    investigation_by = models.CharField(_("investigated by"), max_length=300, blank=True)
    investigation_opened_on = models.DateField(_("investigation opened on"), null=True, blank=True)
    investigation_steps = models.TextField(_("steps of the investigation"), blank=True)
    outcome = models.CharField(
        _("outcome"), max_length=16, choices=Outcome.choices, default=Outcome.PENDING
    )
    outcome_on = models.DateField(_("outcome on"), null=True, blank=True)
    remedies = models.TextField(_("remedies and reparation"), blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)

    class Meta:
        ordering = ["referred_on", "id"]
        indexes = [models.Index(fields=["case", "referred_on"])]
        verbose_name = _("referral")

    def __str__(self) -> str:
        return f"{self.case.reference} → {self.get_target_display()}"

    def get_absolute_url(self) -> str:
        return self.case.get_absolute_url() + f"#referral-{self.pk}"

    @property
    def body(self) -> Body:
        return self.case.body


class RiskLevel(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")


class ProtectedPerson(models.Model):
    """A person at risk of reprisals, followed up wherever they are held."""

    body = models.ForeignKey(Body, on_delete=models.PROTECT, related_name="protected_persons")
    pseudonym = models.CharField(_("pseudonym"), max_length=20, editable=False)
    case = models.ForeignKey(
        Case,
        verbose_name=_("case"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="persons",
    )
    interview = models.ForeignKey(
        "visits.Interview",
        verbose_name=_("interview"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    identity = EncryptedTextField(_("identity"), blank=True)
    contact = EncryptedTextField(_("contact details"), blank=True)
    current_place = models.ForeignKey(
        Place,
        verbose_name=_("place where the person is held"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    risk_level = models.CharField(
        _("risk level"), max_length=8, choices=RiskLevel.choices, default=RiskLevel.MEDIUM
    )
    risk_reason = EncryptedTextField(_("why the person is at risk"), blank=True)
    follow_up_days = models.PositiveSmallIntegerField(
        _("contact at least every (days)"), default=30
    )
    follow_up_every_visit = models.BooleanField(
        _("contact at every visit to their place"), default=True
    )
    next_follow_up_on = models.DateField(_("next contact due"), null=True, blank=True)
    is_active = models.BooleanField(_("followed up"), default=True)
    holders = models.ManyToManyField(
        Membership, verbose_name=_("case holders"), blank=True, related_name="protected_persons"
    )
    legal_hold = models.BooleanField(_("legal hold"), default=False)
    anonymised_at = models.DateTimeField(_("personal data erased"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["body", "-created_at", "-id"], name="protection_person_recent"),
            models.Index(fields=["current_place", "is_active"], name="protection_person_place"),
            models.Index(fields=["body", "next_follow_up_on"], name="protection_person_due"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["body", "pseudonym"], name="one_person_pseudonym")
        ]
        verbose_name = _("person at risk")
        verbose_name_plural = _("persons at risk")

    def __str__(self) -> str:
        return self.pseudonym

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("protection:person_detail", args=[self.pk])


class Transfer(models.Model):
    """A person moved to another place: their follow-up moves with them."""

    person = models.ForeignKey(ProtectedPerson, on_delete=models.CASCADE, related_name="transfers")
    from_place = models.ForeignKey(
        Place, verbose_name=_("from"), null=True, on_delete=models.PROTECT, related_name="+"
    )
    to_place = models.ForeignKey(
        Place, verbose_name=_("to"), on_delete=models.PROTECT, related_name="+"
    )
    transferred_on = models.DateField(_("transferred on"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-transferred_on", "-id"]
        verbose_name = _("transfer")

    def __str__(self) -> str:
        return f"{self.person.pseudonym}: {self.transferred_on:%Y-%m-%d}"

    @property
    def body(self) -> Body:
        return self.person.body


class ReprisalKind(models.TextChoices):
    INTIMIDATION = "intimidation", _("Intimidation")
    THREATS = "threats", _("Threats")
    TRANSFER = "transfer", _("Punitive transfer")
    SANCTION = "sanction", _("Disciplinary sanction")
    LOSS_OF_PRIVILEGES = "loss_of_privileges", _("Loss of privileges")
    VIOLENCE = "violence", _("Violence")
    OTHER = "other", _("Other")


class ReportedBy(models.TextChoices):
    MONITOR = "monitor", _("A member of the body")
    PERSON = "person", _("The person")
    NGO = "ngo", _("An NGO")
    LAWYER = "lawyer", _("A lawyer")
    FAMILY = "family", _("The family")
    OTHER = "other", _("Someone else")


# Warnings from outside the body: recorded as a concern and told to the holders and heads at once.
EXTERNAL_REPORTERS = frozenset(
    {ReportedBy.NGO, ReportedBy.LAWYER, ReportedBy.FAMILY, ReportedBy.OTHER}
)


class ReprisalAction(models.TextChoices):
    NGO_ASSISTANCE = "ngo_assistance", _("Assistance sought from an NGO")
    LAWYER_ASSISTANCE = "lawyer_assistance", _("Assistance sought from a lawyer")
    AUTHORITIES = "authorities", _("Intervention with the authorities")
    SPT_INFORMED = "spt_informed", _("UN Subcommittee on Prevention of Torture informed")
    INVESTIGATION = "investigation", _("Investigation requested")


class ReprisalIncident(models.Model):
    """Intimidation, threats or worse against a person who spoke to the body."""

    person = models.ForeignKey(
        ProtectedPerson, on_delete=models.CASCADE, related_name="reprisal_incidents"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=ReprisalKind.choices)
    occurred_on = models.DateField(_("when"), null=True, blank=True)
    reported_by = models.CharField(
        _("reported by"), max_length=12, choices=ReportedBy.choices, default=ReportedBy.MONITOR
    )
    is_external_concern = models.BooleanField(_("concern raised from outside"), default=False)
    description = EncryptedTextField(_("what happened"), blank=True)
    actions = models.JSONField(_("actions taken"), default=list, blank=True)
    actions_note = EncryptedTextField(_("notes on the actions"), blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("reprisal incident")

    def __str__(self) -> str:
        return f"{self.person.pseudonym}: {self.get_kind_display()}"

    @property
    def action_labels(self) -> list[str]:
        return [str(ReprisalAction(action).label) for action in self.actions or []]

    @property
    def body(self) -> Body:
        return self.person.body


class ContactKind(models.TextChoices):
    VISIT = "visit", _("In person, during a visit")
    PHONE = "phone", _("Telephone")
    LETTER = "letter", _("Letter")
    LAWYER = "lawyer", _("Through a lawyer")
    FAMILY = "family", _("Through the family")
    OTHER = "other", _("Other")


class FollowUp(models.Model):
    """A contact with a person at risk: planned (`due_on`) or made (`done_on`)."""

    person = models.ForeignKey(ProtectedPerson, on_delete=models.CASCADE, related_name="follow_ups")
    # Where the contact is to be made: moves with the person when they are transferred.
    place = models.ForeignKey(
        Place,
        verbose_name=_("place"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    due_on = models.DateField(_("due on"))
    done_on = models.DateField(_("made on"), null=True, blank=True)
    contact_kind = models.CharField(
        _("contact"), max_length=8, choices=ContactKind.choices, default=ContactKind.VISIT
    )
    notes = EncryptedTextField(_("notes"), blank=True)
    alerted_at = models.DateTimeField(null=True, blank=True, editable=False)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["due_on", "id"]
        indexes = [models.Index(fields=["place", "done_on"], name="protection_followup_place")]
        verbose_name = _("follow-up contact")

    def __str__(self) -> str:
        return f"{self.person.pseudonym}: {self.due_on:%Y-%m-%d}"

    @property
    def body(self) -> Body:
        return self.person.body


class ProtectionSettings(models.Model):
    """A body's retention periods for protection records (kept by this app, not on the body)."""

    body = models.OneToOneField(Body, on_delete=models.CASCADE, related_name="protection_settings")
    case_retention_years = models.PositiveSmallIntegerField(
        _("keep closed cases for (years)"),
        default=10,
        help_text=_("Then their personal data is erased, unless a legal hold is set."),
    )
    person_retention_years = models.PositiveSmallIntegerField(
        _("keep ended follow-ups for (years)"),
        default=5,
        help_text=_("Then the person's data is erased, unless a legal hold is set."),
    )

    class Meta:
        verbose_name = _("protection settings")

    def __str__(self) -> str:
        return f"{self.body}: {self.case_retention_years} / {self.person_retention_years}"
