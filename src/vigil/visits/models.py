"""Visits to places of deprivation of liberty: the team, the interviews (whose people must never
be exposed), the observations and the sources that support them."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from vigil.core.crypto import EncryptedJSONField, EncryptedTextField
from vigil.core.models import Body, Membership, StoredFile, TaxonomyTerm
from vigil.places.models import Place


class VisitSettings(models.Model):
    """A body's rules for its visits (kept by the visits app, not on the body)."""

    body = models.OneToOneField(Body, on_delete=models.CASCADE, related_name="visit_settings")
    anonymity_k = models.PositiveSmallIntegerField(
        _("private interviews needed per unit"),
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=_(
            "A finding that rests only on private interviews may leave the team only when at "
            "least this many people were interviewed privately in the same unit."
        ),
    )

    class Meta:
        verbose_name = _("visit settings")

    def __str__(self) -> str:
        return f"{self.body}: k = {self.anonymity_k}"


class VisitKind(models.TextChoices):
    REGULAR = "regular", _("Regular")
    FOLLOW_UP = "follow_up", _("Follow-up")
    URGENT = "urgent", _("Urgent (reactive)")
    THEMATIC = "thematic", _("Thematic")
    JOINT_SPT = "joint_spt", _("Joint with the UN Subcommittee on Prevention of Torture")


class VisitStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    PREPARING = "preparing", _("Preparing")
    IN_PROGRESS = "in_progress", _("In progress")
    DEBRIEFED = "debriefed", _("Debriefed")
    REPORTING = "reporting", _("Reporting")
    CLOSED = "closed", _("Closed")


class Visit(models.Model):
    body = models.ForeignKey(Body, on_delete=models.PROTECT, related_name="visits")
    place = models.ForeignKey(
        Place, verbose_name=_("place"), on_delete=models.PROTECT, related_name="visits"
    )
    kind = models.CharField(
        _("kind"), max_length=16, choices=VisitKind.choices, default=VisitKind.REGULAR
    )
    is_announced = models.BooleanField(
        _("announced"),
        default=False,
        help_text=_(
            "An unannounced visit is secret until it starts: only its team, the heads and the "
            "visit leaders know it exists."
        ),
    )
    planned_start = models.DateField(_("planned start"))
    planned_end = models.DateField(_("planned end"))
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    areas_visited = models.TextField(_("areas and units visited"), blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=VisitStatus.choices, default=VisitStatus.PLANNED
    )
    summary = models.TextField(_("summary"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # Raised by every write (vigil.core.concurrency): a save based on an older version is refused
    # instead of silently overwriting someone else's.
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)

    class Meta:
        ordering = ["-planned_start", "-id"]
        indexes = [
            models.Index(fields=["body", "-planned_start", "-id"]),
            models.Index(fields=["place", "-planned_start"]),
        ]
        verbose_name = _("visit")

    def __str__(self) -> str:
        return f"{self.place} — {self.planned_start:%Y-%m-%d}"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("visits:detail", args=[self.pk])

    @property
    def is_secret(self) -> bool:
        return not self.is_announced and self.started_at is None


class TeamRole(models.TextChoices):
    LEADER = "leader", _("Visit leader")
    MEMBER = "member", _("Member")
    EXPERT = "expert", _("External expert")


class Expertise(models.TextChoices):
    NONE = "", _("—")
    DOCTOR = "doctor", _("Doctor")
    PSYCHIATRIST = "psychiatrist", _("Psychiatrist")
    LAWYER = "lawyer", _("Lawyer")
    CHILD_SPECIALIST = "child_specialist", _("Child specialist")
    INTERPRETER = "interpreter", _("Interpreter")
    OTHER = "other", _("Other")


class Gender(models.TextChoices):
    FEMALE = "female", _("Woman")
    MALE = "male", _("Man")
    OTHER = "other", _("Another gender")
    UNSPECIFIED = "unspecified", _("Not said")


class TeamMember(models.Model):
    """A member of a visit's team: a member of the body, or an external expert by name."""

    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="team")
    membership = models.ForeignKey(
        Membership,
        verbose_name=_("member"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="visit_teams",
    )
    external_name = models.CharField(_("external expert's name"), max_length=200, blank=True)
    team_role = models.CharField(
        _("role in the team"), max_length=16, choices=TeamRole.choices, default=TeamRole.MEMBER
    )
    expertise = models.CharField(
        _("expertise"), max_length=20, choices=Expertise.choices, blank=True, default=""
    )
    gender = models.CharField(
        _("gender"), max_length=16, choices=Gender.choices, default=Gender.UNSPECIFIED
    )
    languages = models.CharField(_("languages"), max_length=200, blank=True)
    conduct_confirmed_at = models.DateTimeField(_("code of conduct confirmed"), null=True)

    class Meta:
        ordering = ["team_role", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["visit", "membership"],
                condition=models.Q(membership__isnull=False),
                name="one_team_place_per_member",
            )
        ]
        verbose_name = _("team member")

    def __str__(self) -> str:
        if self.membership is not None:
            user = self.membership.user
            return user.get_full_name() or user.get_username()
        return self.external_name

    @property
    def body(self) -> Body:
        """The visit's body: audit entries and visibility follow it."""
        return self.visit.body


class InterviewKind(models.TextChoices):
    PRIVATE = "private", _("Private (one person)")
    GROUP = "group", _("Group")


class InterviewCategory(models.TextChoices):
    DETAINEE = "detainee", _("Detainee")
    STAFF = "staff", _("Staff")
    MANAGEMENT = "management", _("Management")
    HEALTH_STAFF = "health_staff", _("Health staff")
    RELATIVE = "relative", _("Relative")
    LAWYER = "lawyer", _("Lawyer")
    OTHER = "other", _("Other")


class ConsentUse(models.TextChoices):
    NONE = "none", _("No use of what was said")
    ANONYMOUS = "anonymous", _("Use, anonymously")


class Interview(models.Model):
    """What a person (or a group) told the team. The person is a pseudonym; their identity,
    when a case needs it, is encrypted apart from the notes and shown only to those who may."""

    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="interviews")
    kind = models.CharField(_("kind"), max_length=8, choices=InterviewKind.choices)
    category = models.CharField(_("category"), max_length=16, choices=InterviewCategory.choices)
    unit = models.CharField(_("unit or area"), max_length=200, blank=True)
    group_size = models.PositiveSmallIntegerField(_("people in the group"), null=True, blank=True)
    language = models.CharField(_("language"), max_length=100, blank=True)
    interpreter_used = models.BooleanField(_("through an interpreter"), default=False)
    vulnerable_groups = models.ManyToManyField(
        TaxonomyTerm,
        verbose_name=_("groups in a situation of vulnerability"),
        blank=True,
        related_name="+",
        limit_choices_to={"kind": "vulnerable_group"},
    )
    consent_use = models.CharField(
        _("consent to use the information"),
        max_length=16,
        choices=ConsentUse.choices,
        default=ConsentUse.ANONYMOUS,
    )
    consent_referral = models.BooleanField(_("consents to a referral of their case"), default=False)
    pseudonym = models.CharField(_("pseudonym"), max_length=20, editable=False)
    notes = EncryptedTextField(_("notes"), blank=True)
    identity = EncryptedTextField(
        _("identity"),
        blank=True,
        help_text=_("Only where a case or a follow-up needs it. Encrypted, kept apart."),
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # Raised by every write (vigil.core.concurrency): a save based on an older version is refused
    # instead of silently overwriting someone else's.
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["visit", "pseudonym"], name="one_pseudonym_per_visit")
        ]
        verbose_name = _("interview")

    def __str__(self) -> str:
        return self.pseudonym

    @property
    def body(self) -> Body:
        """The visit's body: audit entries and visibility follow it."""
        return self.visit.body


class Severity(models.TextChoices):
    INFORMATION = "information", _("Information")
    CONCERN = "concern", _("Concern")
    SERIOUS = "serious", _("Serious")
    URGENT = "urgent", _("Urgent")


class SourceKind(models.TextChoices):
    PRIVATE_INTERVIEW = "private_interview", _("Private interview")
    GROUP_INTERVIEW = "group_interview", _("Group interview")
    DIRECT_OBSERVATION = "direct_observation", _("Direct observation")
    DOCUMENTS = "documents", _("Documents or registers")
    PHOTOS = "photos", _("Photos")
    MEDICAL = "medical", _("Medical examination")
    STAFF = "staff", _("Statements by staff or management")


# Sources recorded on the observation itself (interviews are linked records).
OTHER_SOURCES = [
    SourceKind.DIRECT_OBSERVATION,
    SourceKind.DOCUMENTS,
    SourceKind.PHOTOS,
    SourceKind.MEDICAL,
    SourceKind.STAFF,
]


class Observation(models.Model):
    """One finding of a visit, with the sources that support it."""

    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="observations")
    theme = models.ForeignKey(
        TaxonomyTerm,
        verbose_name=_("theme"),
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"kind": "theme"},
    )
    unit = models.CharField(_("unit or area"), max_length=200, blank=True)
    description = models.TextField(_("description"))
    severity = models.CharField(
        _("severity"), max_length=16, choices=Severity.choices, default=Severity.CONCERN
    )
    is_good_practice = models.BooleanField(_("good practice"), default=False)
    is_systemic = models.BooleanField(
        _("systemic"), default=False, help_text=_("The problem is generic, not local.")
    )
    interviews = models.ManyToManyField(
        Interview, verbose_name=_("interviews"), blank=True, related_name="observations"
    )
    other_sources = models.JSONField(_("other sources"), default=list, blank=True)
    standards: models.ManyToManyField[Standard, Any] = models.ManyToManyField(
        "Standard", verbose_name=_("standards"), blank=True, related_name="observations"
    )
    held_back = models.BooleanField(
        _("held back"),
        default=False,
        help_text=_("Kept within the team: never used in a debriefing or a report."),
    )
    corroborated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    corroboration_reason = models.TextField(_("why it stands"), blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # Raised by every write (vigil.core.concurrency): a save based on an older version is refused
    # instead of silently overwriting someone else's.
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["visit", "theme"]),
            # The findings list's sorts (newest or oldest first, read backwards), alone or
            # within a theme or a severity, and the year filter's range.
            models.Index(fields=["-created_at", "-id"], name="visits_obs_created_idx"),
            models.Index(fields=["theme", "-created_at", "-id"], name="visits_obs_theme_idx"),
            models.Index(fields=["severity", "-created_at", "-id"], name="visits_obs_severity_idx"),
        ]
        verbose_name = _("observation")

    def __str__(self) -> str:
        text = " ".join(self.description.split())
        return text[:80] + ("…" if len(text) > 80 else "")

    @property
    def body(self) -> Body:
        """The visit's body: audit entries and visibility follow it."""
        return self.visit.body


# ---------- Standards, questionnaires and answers ----------


class Instrument(models.TextChoices):
    MANDELA = "mandela", _("Nelson Mandela Rules")
    BANGKOK = "bangkok", _("Bangkok Rules")
    BEIJING = "beijing", _("Beijing Rules")
    HAVANA = "havana", _("Havana Rules")
    BODY_OF_PRINCIPLES = "body_of_principles", _("Body of Principles on Detention")
    CAT = "cat", _("Convention against Torture")
    OPCAT = "opcat", _("Optional Protocol to the Convention against Torture")
    CRPD = "crpd", _("Convention on the Rights of Persons with Disabilities")
    OTHER = "other", _("Other")


class Standard(models.Model):
    """One rule or article of an international standard, which questions and findings cite.
    Each body has its own library, seeded with the common ones (`visits/standards.py`)."""

    body = models.ForeignKey(Body, on_delete=models.CASCADE, related_name="standards")
    code = models.SlugField(_("code"), max_length=60)
    instrument = models.CharField(_("instrument"), max_length=32, choices=Instrument.choices)
    rule = models.CharField(_("rule or article"), max_length=20)
    title = models.CharField(_("short title"), max_length=300)
    position = models.PositiveIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["position", "code"]
        constraints = [
            models.UniqueConstraint(fields=["body", "code"], name="unique_standard_code")
        ]
        verbose_name = _("standard")

    def __str__(self) -> str:
        # Seeded titles are in the translation catalogue; a body's own show as typed.
        return f"{Instrument(self.instrument).label} {self.rule}: {gettext(self.title)}"


class QuestionKind(models.TextChoices):
    TEXT = "text", _("Text")
    NUMBER = "number", _("Number")
    YES_NO = "yes_no", _("Yes or no")
    CHOICE = "choice", _("One choice from a list")
    DATE = "date", _("Date")
    NOTE = "note", _("Note (no answer)")


class Questionnaire(models.Model):
    """One version of a questionnaire (an XLSForm). A new version is a new row with copies of
    the sections and questions: answers keep pointing at the questions they answered."""

    body = models.ForeignKey(Body, on_delete=models.CASCADE, related_name="questionnaires")
    title = models.CharField(_("title"), max_length=200)
    # The XLSForm's form_id: the versions of one questionnaire share it.
    form_id = models.CharField(_("form identifier"), max_length=100)
    version = models.PositiveIntegerField(_("version"))
    # The XLSForm's own `version` setting, which ODK Collect and KoboCollect write into every
    # submission: a submissions file names it, and Vigil checks it.
    form_version = models.CharField(_("form version"), max_length=50)
    place_types = models.ManyToManyField(
        TaxonomyTerm,
        verbose_name=_("types of place"),
        blank=True,
        related_name="+",
        limit_choices_to={"kind": "place_type"},
    )
    is_active = models.BooleanField(_("in use"), default=False)
    # XLSForm names that are not questions (start, end, calculations): their columns in a
    # submissions file are expected, and ignored.
    other_names = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["title", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["body", "form_id", "version"], name="one_questionnaire_version"
            ),
            models.UniqueConstraint(
                fields=["body", "form_id", "form_version"], name="one_questionnaire_form_version"
            ),
        ]
        verbose_name = _("questionnaire")

    def __str__(self) -> str:
        return f"{self.title} (v{self.version})"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("questionnaires:detail", args=[self.pk])


class Section(models.Model):
    """A group of questions (an XLSForm group); `name` is empty for questions outside groups."""

    questionnaire = models.ForeignKey(
        Questionnaire, on_delete=models.CASCADE, related_name="sections"
    )
    name = models.CharField(_("name"), max_length=100, blank=True)
    title = models.CharField(_("title"), max_length=300, blank=True)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("section")

    def __str__(self) -> str:
        return self.title or self.name


class Question(models.Model):
    questionnaire = models.ForeignKey(
        Questionnaire, on_delete=models.CASCADE, related_name="questions"
    )
    section = models.ForeignKey(Section, on_delete=models.CASCADE, related_name="questions")
    # The XLSForm `name`: the column of the question in a submissions file.
    code = models.CharField(_("name"), max_length=100)
    label = models.TextField(_("label"))
    hint = models.TextField(_("hint"), blank=True)
    kind = models.CharField(_("kind"), max_length=8, choices=QuestionKind.choices)
    # [{"name": ..., "label": ...}] for yes/no and choice questions.
    choices = models.JSONField(_("choices"), default=list, blank=True)
    theme = models.ForeignKey(
        TaxonomyTerm,
        verbose_name=_("theme"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"kind": "theme"},
    )
    standards = models.ManyToManyField(
        Standard, verbose_name=_("standards"), blank=True, related_name="questions"
    )
    private_only = models.BooleanField(
        _("private interviews only"),
        default=False,
        help_text=_("Never asked in a group interview: people do not speak of it before others."),
    )
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["section__position", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["questionnaire", "code"], name="one_question_name")
        ]
        verbose_name = _("question")

    def __str__(self) -> str:
        return self.code

    def choice_label(self, value: str) -> str:
        for choice in self.choices:
            if choice.get("name") == value:
                return str(choice.get("label") or value)
        return value


class Answer(models.Model):
    """One answer to one question during a visit, alone or in an interview. What was answered
    is encrypted like interview notes; answers in an interview are read only by those who may
    read the interview."""

    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="answers")
    interview = models.ForeignKey(
        Interview,
        verbose_name=_("interview"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="answers",
    )
    value = EncryptedTextField(_("answer"), blank=True)
    # The submission (ODK's meta/instanceID) the answer came from, so that importing the same
    # file again adds nothing.
    instance_id = models.CharField(_("submission"), max_length=100, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["visit", "question"])]
        constraints = [
            models.UniqueConstraint(
                fields=["question", "instance_id"],
                condition=~models.Q(instance_id=""),
                name="one_answer_per_submission",
            )
        ]
        verbose_name = _("answer")

    def __str__(self) -> str:
        # Never the answer itself: this is what the audit trail keeps of the record.
        return f"{self.question.code} #{self.pk}"


# ---------- Registers and records checked ----------


class RegisterKind(models.TextChoices):
    CUSTODY = "custody", _("Custody register")
    USE_OF_FORCE = "use_of_force", _("Use of force")
    RESTRAINT = "restraint", _("Restraint")
    SOLITARY_CONFINEMENT = "solitary_confinement", _("Solitary confinement")
    DISCIPLINARY = "disciplinary", _("Disciplinary")
    MEDICAL = "medical", _("Medical")
    COMPLAINTS = "complaints", _("Complaints")
    DEATHS_INCIDENTS = "deaths_incidents", _("Deaths and incidents")
    OTHER = "other", _("Other")


class RegisterCheck(models.Model):
    """A register or set of records the team examined: which, over what period, how many
    entries; what did not add up is recorded as discrepancies."""

    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="register_checks")
    register_kind = models.CharField(_("register"), max_length=24, choices=RegisterKind.choices)
    period_from = models.DateField(_("period from"), null=True, blank=True)
    period_to = models.DateField(_("period to"), null=True, blank=True)
    sample_size = models.PositiveIntegerField(
        _("entries examined"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
    )
    notes = models.TextField(_("notes"), blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("register check")

    def __str__(self) -> str:
        return f"{self.get_register_kind_display()} — {self.visit}"

    @property
    def body(self) -> Body:
        return self.visit.body


class Discrepancy(models.Model):
    """Something in a register that did not add up; it may become a finding."""

    register_check = models.ForeignKey(
        RegisterCheck, on_delete=models.CASCADE, related_name="discrepancies"
    )
    description = models.CharField(_("discrepancy"), max_length=500)
    observation = models.ForeignKey(
        Observation,
        verbose_name=_("finding"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="discrepancies",
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("discrepancy")
        verbose_name_plural = _("discrepancies")

    def __str__(self) -> str:
        return self.description

    @property
    def body(self) -> Body:
        return self.register_check.visit.body


# ---------- The debriefing with the authorities ----------


class Debriefing(models.Model):
    """The meeting with the management at the end of the visit: who attended for the
    authorities, the findings presented (only those the anonymity guard clears) and the
    management's immediate commitments."""

    visit = models.OneToOneField(Visit, on_delete=models.CASCADE, related_name="debriefing")
    held_at = models.DateTimeField(_("held at"))
    attendees = models.TextField(
        _("attending for the authorities"),
        help_text=_("Names and functions of the officials present, one per line."),
    )
    summary = models.TextField(_("summary"), blank=True)
    findings: models.ManyToManyField[Observation, DebriefingFinding] = models.ManyToManyField(
        Observation,
        through="DebriefingFinding",
        verbose_name=_("findings presented"),
        related_name="debriefings",
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("debriefing")

    def __str__(self) -> str:
        return _("Debriefing of the visit to %(visit)s") % {"visit": self.visit}

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("visits:debriefing", args=[self.visit_id])

    @property
    def body(self) -> Body:
        return self.visit.body


class DebriefingFinding(models.Model):
    """A finding presented at the debriefing (cleared by the anonymity guard when presented)."""

    debriefing = models.ForeignKey(Debriefing, on_delete=models.CASCADE, related_name="presented")
    observation = models.ForeignKey(Observation, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["debriefing", "observation"], name="one_presentation_per_finding"
            )
        ]
        verbose_name = _("finding presented")

    def __str__(self) -> str:
        return str(self.observation)


class Commitment(models.Model):
    """What the management undertook at the debriefing to do, and by when."""

    debriefing = models.ForeignKey(Debriefing, on_delete=models.CASCADE, related_name="commitments")
    text = models.TextField(_("commitment"))
    due_on = models.DateField(_("due by"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["due_on", "id"]
        verbose_name = _("commitment")

    def __str__(self) -> str:
        text = " ".join(self.text.split())
        return text[:80] + ("…" if len(text) > 80 else "")

    @property
    def body(self) -> Body:
        return self.debriefing.visit.body


# ---------- Obstruction and operational difficulties ----------


class ObstructionKind(models.TextChoices):
    GATE_DELAY = "gate_delay", _("Delay at the gate")
    AREA_REFUSED = "area_refused", _("Access to an area refused")
    REGISTER_REFUSED = "register_refused", _("A register refused")
    DOCUMENT_REFUSED = "document_refused", _("A document refused")
    INTERVIEW_PREVENTED = "interview_prevented", _("A private interview prevented")
    INTERVIEW_OVERHEARD = "interview_overheard", _("A private interview overheard by staff")
    MEMBER_REFUSED = "member_refused", _("A team member refused")
    OTHER = "other", _("Other")


class ObstructionSeverity(models.TextChoices):
    MINOR = "minor", _("Minor")
    HAMPERED = "hampered", _("Hampered the visit")
    SERIOUS = "serious", _("Serious")


class Obstruction(models.Model):
    """An obstruction or operational difficulty met during a visit: the annual report counts
    them, and a serious one goes to the heads at once."""

    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="obstructions")
    kind = models.CharField(_("kind"), max_length=24, choices=ObstructionKind.choices)
    occurred_at = models.DateTimeField(_("when"))
    officials = models.CharField(
        _("officials involved"),
        max_length=300,
        blank=True,
        help_text=_("Their functions (for example: duty officer, deputy director)."),
    )
    description = models.TextField(_("what happened"))
    explanation = models.TextField(_("the authority's explanation"), blank=True)
    severity = models.CharField(
        _("severity"),
        max_length=16,
        choices=ObstructionSeverity.choices,
        default=ObstructionSeverity.MINOR,
    )
    escalated_at = models.DateTimeField(_("escalated"), null=True, blank=True)
    escalated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [models.Index(fields=["visit", "occurred_at"])]
        verbose_name = _("obstruction")

    def __str__(self) -> str:
        text = " ".join(self.description.split())
        return f"{self.get_kind_display()}: " + text[:80] + ("…" if len(text) > 80 else "")

    @property
    def body(self) -> Body:
        return self.visit.body


# ---------- Evidence files ----------


class EvidenceKind(models.TextChoices):
    PHOTO = "photo", _("Photo")
    DOCUMENT = "document", _("Document or scan")
    AUDIO = "audio", _("Audio recording")


class Evidence(models.Model):
    """A photo, scan or recording that supports a finding or belongs to an interview (exactly
    one of the two). The file is checked by its content, stripped of its metadata (a photo's
    GPS position, a recording's tags) and stored encrypted (vigil.core.files); an interview's
    evidence is read only by those who may read the interview."""

    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="evidence")
    observation = models.ForeignKey(
        Observation,
        verbose_name=_("finding"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="evidence",
    )
    interview = models.ForeignKey(
        Interview,
        verbose_name=_("interview"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="evidence",
    )
    file = models.ForeignKey(StoredFile, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=16, choices=EvidenceKind.choices)
    title = models.CharField(_("title"), max_length=300, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["visit", "created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(observation__isnull=False, interview__isnull=True)
                    | models.Q(observation__isnull=True, interview__isnull=False)
                ),
                name="evidence_of_one_record",
            )
        ]
        verbose_name = _("evidence file")

    def __str__(self) -> str:
        return self.title or f"{self.get_kind_display()} #{self.pk}"

    @property
    def body(self) -> Body:
        return self.visit.body


# ---------- Drafts of long forms ----------


class Draft(models.Model):
    """What a person has typed into a long form and not yet saved (an interview's notes, a
    finding, the debriefing), kept on the server as well as in the browser so that a dropped
    connection or a closed tab loses nothing. Encrypted: it may hold what an interview said.
    Only its author reads it; saving the form deletes it."""

    body = models.ForeignKey(Body, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="+")
    # Which form of the visit: "interview", "observation", "debriefing", "visit",
    # "interview-12" (the edit of one interview).
    key = models.CharField(max_length=60)
    data = EncryptedJSONField(default=dict)
    saved_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "visit", "key"], name="one_draft_per_form")
        ]
        verbose_name = _("draft")

    def __str__(self) -> str:
        return f"{self.key} #{self.pk}"
