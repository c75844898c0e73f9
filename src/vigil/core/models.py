"""Bodies, memberships and roles, the audit trail, the taxonomy, jobs and stored files."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class Body(models.Model):
    """A monitoring body: the NPM, or one member body of a multi-body NPM."""

    name = models.CharField(_("name"), max_length=200)
    short_name = models.CharField(_("short name"), max_length=40, blank=True)
    slug = models.SlugField(_("identifier"), max_length=60, unique=True)
    coordinator = models.ForeignKey(
        "self",
        verbose_name=_("coordinating body"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="member_bodies",
        help_text=_("A coordinating body sees its member bodies' non-confidential records."),
    )
    require_totp = models.BooleanField(
        _("require two-factor sign-in"),
        default=False,
        help_text=_("Members must confirm each sign-in with a one-time code from an app."),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("body")
        verbose_name_plural = _("bodies")

    def __str__(self) -> str:
        return self.short_name or self.name


class Role(models.TextChoices):
    HEAD = "head", _("Head")
    VISIT_LEADER = "visit_leader", _("Visit leader")
    MONITOR = "monitor", _("Monitor")
    ANALYST = "analyst", _("Analyst")
    ADMIN = "admin", _("Administrator")
    AUDITOR = "auditor", _("Auditor")
    AUTHORITY_FOCAL_POINT = "authority_focal_point", _("Authority focal point")


class Membership(models.Model):
    """A user's role in one body; a person can belong to several bodies."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    body = models.ForeignKey(Body, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["body__name", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["user", "body"], name="one_membership_per_body")
        ]
        verbose_name = _("membership")

    def __str__(self) -> str:
        return f"{self.user} — {self.body} ({self.get_role_display()})"


class AuditEntry(models.Model):
    """One line of the append-only audit trail, written by services in the same transaction."""

    created_at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    body = models.ForeignKey(Body, null=True, blank=True, on_delete=models.PROTECT)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_label = models.CharField(_("who"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=100, db_index=True)
    object_type = models.CharField(_("record type"), max_length=80, blank=True)
    object_id = models.CharField(_("record id"), max_length=64, blank=True)
    object_repr = models.CharField(_("record"), max_length=255, blank=True)
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    sensitive = models.BooleanField(_("sensitive read"), default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id", "-created_at"])]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")

    def __str__(self) -> str:
        return (
            f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.object_repr}"
        )

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Append-only: an entry is written once and never changed.
        if self.pk is not None and not kwargs.get("force_insert"):
            raise PermissionError("Audit entries cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise PermissionError("Audit entries cannot be deleted.")


class TaxonomyKind(models.TextChoices):
    THEME = "theme", _("Theme")
    VULNERABLE_GROUP = "vulnerable_group", _("Group in a situation of vulnerability")
    PLACE_TYPE = "place_type", _("Type of place")


class TaxonomyTerm(models.Model):
    """A configurable term (theme, vulnerable group, place type), seeded per body."""

    body = models.ForeignKey(Body, on_delete=models.CASCADE, related_name="taxonomy_terms")
    kind = models.CharField(_("kind"), max_length=32, choices=TaxonomyKind.choices)
    code = models.SlugField(_("code"), max_length=60)
    label = models.CharField(_("label"), max_length=200)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    position = models.PositiveIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["kind", "position", "label"]
        constraints = [
            models.UniqueConstraint(fields=["body", "kind", "code"], name="unique_term_code")
        ]
        verbose_name = _("taxonomy term")

    def __str__(self) -> str:
        # Seeded labels are in the translation catalogue; a body's own labels show as typed.
        return gettext(self.label)


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Finished")
    FAILED = "failed", _("Failed")


class Job(models.Model):
    """Background work a person waits for (imports, exports, reports), with progress to show."""

    body = models.ForeignKey(Body, on_delete=models.CASCADE, related_name="jobs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=40)
    title = models.CharField(_("title"), max_length=200)
    status = models.CharField(
        _("status"), max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED
    )
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    message = models.CharField(_("message"), max_length=500, blank=True)
    result = models.JSONField(default=dict, blank=True)
    task_result_id = models.CharField(max_length=64, blank=True)
    # The address of the request that started the job: the worker's audit entries carry it.
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The worker's last sign of life while the job runs (vigil.core.tasks): a running job whose
    # heartbeat stops was lost with its worker.
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("background job")

    def __str__(self) -> str:
        return self.title

    @property
    def percent(self) -> int:
        if self.status == JobStatus.SUCCEEDED:
            return 100
        if not self.progress_total:
            return 0
        return min(100, int(100 * self.progress_done / self.progress_total))

    @property
    def is_finished(self) -> bool:
        return self.status in {JobStatus.SUCCEEDED, JobStatus.FAILED}


class StoredFile(models.Model):
    """An uploaded file, checked, cleaned of metadata and stored encrypted outside the web root."""

    body = models.ForeignKey(Body, on_delete=models.PROTECT, related_name="stored_files")
    original_name = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size"))
    sha256 = models.CharField(max_length=64)
    storage_name = models.CharField(max_length=255, unique=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("stored file")

    def __str__(self) -> str:
        return self.original_name


class TabularImport(models.Model):
    """One upload through the tabular import pipeline, from mapping to the committed result."""

    class Mode(models.TextChoices):
        ALL_OR_NOTHING = "all", _("Import nothing if any row has an error")
        VALID_ROWS = "valid", _("Import the valid rows and give me a report of the rest")

    class Status(models.TextChoices):
        UPLOADED = "uploaded", _("Uploaded")
        VALIDATED = "validated", _("Checked")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Importing")
        DONE = "done", _("Imported")
        REJECTED = "rejected", _("Nothing imported")
        FAILED = "failed", _("Failed")

    body = models.ForeignKey(Body, on_delete=models.CASCADE, related_name="imports")
    kind = models.CharField(max_length=40)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    file_name = models.CharField(_("file name"), max_length=255)
    data = models.BinaryField()
    headers = models.JSONField(default=list)
    mapping = models.JSONField(default=dict)
    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.ALL_OR_NOTHING)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UPLOADED)
    row_count = models.PositiveIntegerField(default=0)
    summary = models.JSONField(default=dict, blank=True)
    errors = models.JSONField(default=list, blank=True)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("import")

    def __str__(self) -> str:
        return self.file_name


class LoginFailure(models.Model):
    """A failed sign-in, kept to slow down password guessing."""

    username = models.CharField(max_length=150, db_index=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"{self.username} {self.created_at:%Y-%m-%d %H:%M}"


class KeyCheck(models.Model):
    """A known value encrypted with the keys in use, to refuse start-up with the wrong keys."""

    token = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"key check {self.pk}"


class AccessGrant(models.Model):
    """Need-to-know access to one restricted object, given by a head to a member, with a reason
    and an end date. It expires by itself and can be revoked; both acts are audited."""

    body = models.ForeignKey(Body, on_delete=models.CASCADE, related_name="access_grants")
    grantee = models.ForeignKey(
        Membership,
        verbose_name=_("member"),
        on_delete=models.CASCADE,
        related_name="access_grants",
    )
    content_type = models.ForeignKey(
        "contenttypes.ContentType", verbose_name=_("record type"), on_delete=models.CASCADE
    )
    object_id = models.PositiveBigIntegerField(_("record id"))
    object_repr = models.CharField(_("record"), max_length=255, blank=True)
    reason = models.TextField(_("reason"))
    expires_at = models.DateTimeField(_("ends"))
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("given by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("given"), default=timezone.now)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["grantee", "content_type", "object_id"]),
        ]
        verbose_name = _("access grant")

    def __str__(self) -> str:
        return f"{self.grantee} → {self.object_repr or self.object_id}"

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()


class Notification(models.Model):
    """One notice to one member in one body: a neutral line and a link to the object, which the
    member must still be allowed to see for the notice to show (core.notify)."""

    recipient = models.ForeignKey(
        Membership,
        verbose_name=_("recipient"),
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    kind = models.CharField(_("kind"), max_length=100)
    content_type = models.ForeignKey(
        "contenttypes.ContentType",
        verbose_name=_("record type"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
    )
    object_id = models.PositiveBigIntegerField(_("record id"), null=True, blank=True)
    # Written by the kind's `describe`: never the content of a sensitive record.
    text = models.CharField(_("text"), max_length=500)
    url = models.CharField(_("link"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("sent"), default=timezone.now)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "read_at"]),
            models.Index(fields=["recipient", "-created_at"]),
        ]
        verbose_name = _("notification")

    def __str__(self) -> str:
        return self.text

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class NotificationPreference(models.Model):
    """Whether a member wants email for one kind of notification (no row: the kind's default)."""

    membership = models.ForeignKey(
        Membership, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    kind = models.CharField(_("kind"), max_length=100)
    email = models.BooleanField(_("send an email"), default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["membership", "kind"], name="one_notification_preference_per_kind"
            )
        ]
        verbose_name = _("notification preference")

    def __str__(self) -> str:
        return f"{self.membership} {self.kind}: {'email' if self.email else 'no email'}"
