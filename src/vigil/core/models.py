"""Bodies, memberships and roles, the audit trail, the taxonomy, jobs and stored files, and the
credentials people sign in with besides their password (API tokens, authenticator apps)."""

from __future__ import annotations

import hashlib
import secrets
import time
from base64 import b32encode
from binascii import unhexlify
from typing import Any
from urllib.parse import quote, urlencode

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, router, transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_otp.models import Device, ThrottlingMixin, TimestampMixin
from django_otp.oath import TOTP
from django_otp.util import random_hex

from vigil.core.crypto import EncryptedBinaryField, EncryptedJSONField, EncryptedTextField

# The longest grace period a body may give its members to set up two-factor sign-in.
MAX_TOTP_GRACE_DAYS = 90

# How long a body may keep import files at most (its setting goes from 1 day to this).
MAX_IMPORT_RETENTION_DAYS = 365


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
    totp_grace_days = models.PositiveSmallIntegerField(
        _("days to set up two-factor sign-in"),
        default=7,
        validators=[MaxValueValidator(MAX_TOTP_GRACE_DAYS)],
        help_text=_(
            "How long a member without an authenticator app may set one up by themselves, from "
            "when the requirement was turned on or from when they joined. After that, a head "
            "has to allow it."
        ),
    )
    # When require_totp was last turned on: the start of the members' grace period.
    totp_required_since = models.DateTimeField(null=True, blank=True, editable=False)
    import_retention_days = models.PositiveSmallIntegerField(
        _("keep import files for (days)"),
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_IMPORT_RETENTION_DAYS)],
        help_text=_(
            "Uploaded import files, and what Vigil keeps of their rows, are deleted this many "
            "days after the upload."
        ),
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
    # When a head last reset this member's two-factor sign-in (or allowed them to set it up):
    # it opens a new period in which the member may set up an app by themselves.
    totp_setup_allowed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["body__name", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["user", "body"], name="one_membership_per_body")
        ]
        verbose_name = _("membership")

    def __str__(self) -> str:
        return f"{self.user} — {self.body} ({self.get_role_display()})"


class InvitationStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for an answer")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class Invitation(models.Model):
    """A body's offer of a role to a person who already has an account.

    Adding an existing account is never done for the person: until they accept, the inviting
    body has no membership of theirs, so it sees nothing of them (name, email, sign-ins) beyond
    the username it typed."""

    body = models.ForeignKey(Body, on_delete=models.CASCADE, related_name="invitations")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="invitations"
    )
    # What the inviting manager typed: the only thing of the person their body is shown.
    username = models.CharField(_("username"), max_length=150)
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=InvitationStatus.choices,
        default=InvitationStatus.PENDING,
    )
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("invited by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("invited"), default=timezone.now)
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "body"],
                condition=models.Q(status="pending"),
                name="one_pending_invitation_per_body",
            )
        ]
        verbose_name = _("invitation")

    def __str__(self) -> str:
        return f"{self.username} → {self.body} ({self.get_role_display()})"


class AuditEntryQuerySet(models.QuerySet["AuditEntry"]):
    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> list[AuditEntry]:
        # Every way of writing entries seals them into their body's chain (core/audit_chain.py).
        from vigil.core.audit_chain import seal

        objs = list(objs)
        with transaction.atomic(using=self.db, savepoint=False):
            seal(objs, using=self.db)
            return super().bulk_create(objs, *args, **kwargs)


class AuditEntry(models.Model):
    """One line of the append-only audit trail, written by services in the same transaction.

    Each entry is sealed into its body's hash chain when written (`chain_position`, `prev_hash`,
    `hash`; entries of no body form one chain of their own): `manage.py vigil audit verify`
    finds an entry changed, removed or slipped in afterwards."""

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
    chain_position = models.PositiveBigIntegerField(
        _("position in the chain"), null=True, blank=True, editable=False
    )
    prev_hash = models.CharField(_("previous seal"), max_length=64, blank=True, editable=False)
    hash = models.CharField(_("seal"), max_length=64, blank=True, editable=False)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id", "-created_at"])]
        constraints = [
            # Two entries at one position would fork the chain: refused rather than hidden.
            models.UniqueConstraint(
                fields=["body", "chain_position"], name="one_audit_entry_per_chain_position"
            ),
            models.UniqueConstraint(
                fields=["chain_position"],
                condition=models.Q(body__isnull=True),
                name="one_bodyless_audit_entry_per_chain_position",
            ),
        ]
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
        from vigil.core.audit_chain import seal

        using = kwargs.get("using") or router.db_for_write(AuditEntry, instance=self)
        with transaction.atomic(using=using, savepoint=False):
            seal([self], using=using)
            super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise PermissionError("Audit entries cannot be deleted.")


class AuditChainHead(models.Model):
    """Where one chain of the audit trail ends: its length and its last entry's seal.

    Writers lock this row to append, so two transactions never take the same position; `vigil
    audit verify` compares it with the trail, so entries cut off at the end are found too."""

    # The body's id; 0 for the entries of no body (failed sign-ins of unknown usernames).
    chain = models.PositiveBigIntegerField(primary_key=True)
    count = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, blank=True)

    objects: models.Manager[AuditChainHead] = models.Manager()

    class Meta:
        verbose_name = _("audit chain head")

    def __str__(self) -> str:
        return f"chain {self.chain}: {self.count} entries"


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
        # Never imported, and its file was deleted at the end of the body's retention period.
        EXPIRED = "expired", _("File deleted")

    body = models.ForeignKey(Body, on_delete=models.CASCADE, related_name="imports")
    kind = models.CharField(max_length=40)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    file_name = models.CharField(_("file name"), max_length=255)
    # What Vigil still needs of the file, encrypted: the upload until the import runs, then
    # only its rejected rows (core/imports.py says when each goes).
    data = EncryptedBinaryField()
    headers = models.JSONField(default=list)
    mapping = models.JSONField(default=dict)
    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.ALL_OR_NOTHING)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UPLOADED)
    # 0 while a large file's rows have not been counted yet (`rows_counted`).
    row_count = models.PositiveIntegerField(default=0)
    rows_counted = models.BooleanField(default=True)
    # Facts about the file and the counts of the check and the result: no cell of the file.
    summary = models.JSONField(default=dict, blank=True)
    # The cells of the file Vigil shows, encrypted like the file: the first values of each
    # column (for the mapping), the first rows as they would be imported, and the problems
    # found, which quote the cells at fault.
    samples = EncryptedJSONField(default=list)
    preview = EncryptedJSONField(default=list)
    errors = EncryptedJSONField(default=list)
    # How the file is read and its fields filled beyond one column each, encrypted as it quotes
    # the file (core/imports.py, `ImportOptions`): the sheet and header row, constant values and
    # joined columns, missing-value tokens, the value mapping, and what the pages show of it.
    options = EncryptedJSONField(default=dict)
    # The rows as the check validated them (zlib-compressed JSON), so that the import commits
    # them without checking every row again when nothing changed since (core/imports.py).
    validated = EncryptedBinaryField()
    # A digest of the headers, so that a file with the same columns gets its earlier matching.
    headers_key = models.CharField(max_length=64, blank=True, db_index=True)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    data_deleted_at = models.DateTimeField(_("file deleted"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("import")

    def __str__(self) -> str:
        return self.file_name


class ImportValueMapping(models.Model):
    """What a body said a file's value means for one field of one kind of import (“CNTR. PEN.”
    is the place type “Prison”; “NOT AVAILABLE” is empty), remembered for its next imports."""

    body = models.ForeignKey(Body, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=40)
    field = models.CharField(max_length=60)
    # The file's value, as a comparison key (case, accents and spacing aside).
    value = models.CharField(max_length=255)
    # The importer's key of the chosen term or region (its primary key, a status value), or ""
    # for "treat as empty".
    target = models.CharField(max_length=64, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["body", "kind", "field", "value"], name="unique_import_value_mapping"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind}.{self.field}: {self.value} → {self.target or '∅'}"


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


class ApiToken(models.Model):
    """A person's key to the REST API (`Authorization: Token <key>`).

    Only the key's SHA-256 is stored: the key is shown once, when it is created, so a copy of the
    database (a backup, a read-only replica) cannot be used to call the API as anyone. The key is
    random and long, so an unsalted hash is enough and lets a request's key be looked up by it.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(_("starts with"), max_length=8)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("API token")

    def __str__(self) -> str:
        return f"{self.prefix}…"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode("utf-8")).hexdigest()

    @classmethod
    def issue(cls, user: Any) -> tuple[ApiToken, str]:
        """A new token for `user` and its key, which exists nowhere else once returned."""
        key = secrets.token_hex(20)
        token = cls.objects.create(user=user, key_hash=cls.hash_key(key), prefix=key[:8])
        return token, key


def new_totp_secret() -> str:
    """A new 20-byte TOTP seed, hex-encoded (as django-otp expects it)."""
    return random_hex(20)


class AuthenticatorDevice(TimestampMixin, ThrottlingMixin, Device):
    """A person's authenticator app: the seed their phone shares with Vigil to make the six-digit
    codes (TOTP, RFC 6238).

    django-otp's own TOTP device keeps the seed in plain hex; here it is encrypted at rest like
    every other secret, so whoever reads the database cannot make the person's codes. It is a
    django-otp `Device`, so `django_otp.login`, `user.is_verified()` and the OTP middleware work
    with it as with theirs.
    """

    # django-otp has no type hints, so its Device is Any to mypy: the fields say their types.
    key = EncryptedTextField(default=new_totp_secret)
    step: models.PositiveSmallIntegerField[int, int] = models.PositiveSmallIntegerField(default=30)
    t0: models.BigIntegerField[int, int] = models.BigIntegerField(default=0)
    digits: models.PositiveSmallIntegerField[int, int] = models.PositiveSmallIntegerField(default=6)
    tolerance: models.PositiveSmallIntegerField[int, int] = models.PositiveSmallIntegerField(
        default=1
    )
    drift: models.SmallIntegerField[int, int] = models.SmallIntegerField(default=0)
    # The time step of the last accepted code: a code is never accepted twice.
    last_t: models.BigIntegerField[int, int] = models.BigIntegerField(default=-1)

    class Meta:
        verbose_name = _("authenticator app")

    @property
    def bin_key(self) -> bytes:
        return unhexlify(self.key.encode())

    def get_throttle_factor(self) -> int:
        return int(getattr(settings, "OTP_TOTP_THROTTLE_FACTOR", 1))

    def verify_token(self, token: Any) -> bool:
        """Whether `token` is the app's current code (saving the step it was for, so it is not
        accepted again); wrong codes slow down the next tries (django-otp's throttling)."""
        allowed, _details = self.verify_is_allowed()
        if not allowed:
            return False
        try:
            code = int(token)
        except (TypeError, ValueError):
            verified = False
        else:
            totp = TOTP(self.bin_key, self.step, self.t0, self.digits, self.drift)
            totp.time = time.time()
            verified = totp.verify(code, self.tolerance, self.last_t + 1)
            if verified:
                self.last_t = totp.t()
                self.drift = totp.drift
                self.throttle_reset(commit=False)
                self.set_last_used_timestamp(commit=False)
                self.save()
        if not verified:
            self.throttle_increment(commit=True)
        return verified

    @property
    def config_url(self) -> str:
        """The otpauth:// address the set-up page shows as a QR code."""
        issuer = str(getattr(settings, "OTP_TOTP_ISSUER", "") or "").replace(":", "")
        label = self.user.get_username()
        query = urlencode(
            {
                "secret": b32encode(self.bin_key).decode("ascii").rstrip("="),
                "algorithm": "SHA1",
                "digits": self.digits,
                "period": self.step,
            }
        )
        if issuer:
            label = f"{issuer}:{label}"
            query += f"&issuer={quote(issuer)}"
        return f"otpauth://totp/{quote(label)}?{query}"
