"""The registry of places of deprivation of liberty, their regions, documents and duplicates."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from vigil.core.crypto import EncryptedTextField
from vigil.core.models import Body, StoredFile, TabularImport, TaxonomyTerm


class Region(models.Model):
    """An administrative unit; regions nest (e.g. region > district > municipality)."""

    body = models.ForeignKey(Body, on_delete=models.CASCADE, related_name="regions")
    name = models.CharField(_("name"), max_length=200)
    code = models.CharField(_("code"), max_length=40, blank=True)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("part of"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    level = models.PositiveSmallIntegerField(_("level"), default=1)
    path = models.CharField(max_length=1000, editable=False, db_index=True)

    class Meta:
        ordering = ["path"]
        verbose_name = _("region")

    def __str__(self) -> str:
        return self.name


def _live_sort_indexes() -> list[models.Index]:
    live = models.Q(deleted_at__isnull=True)
    indexes = [
        models.Index(fields=[column, "id"], name=f"place_live_{short}", condition=live)
        for column, short in (
            ("name", "name"),
            ("status", "status"),
            ("authority_name", "authority"),
            ("updated_at", "updated"),
            ("official_capacity", "capacity"),
            ("population", "population"),
        )
    ]
    return indexes


class PlaceStatus(models.TextChoices):
    OPEN = "open", _("Open")
    TEMPORARY = "temporary", _("Temporary")
    CLOSED = "closed", _("Closed")


class OperatorKind(models.TextChoices):
    PUBLIC = "public", _("Public")
    PRIVATE = "private", _("Private company")


class Place(models.Model):
    """A place where people are or may be deprived of their liberty."""

    body = models.ForeignKey(Body, on_delete=models.PROTECT, related_name="places")
    external_id = models.CharField(
        _("external identifier"),
        max_length=100,
        blank=True,
        help_text=_("The identifier the authorities or a previous system use for this place."),
    )
    name = models.CharField(_("name"), max_length=300)
    place_type = models.ForeignKey(
        TaxonomyTerm,
        verbose_name=_("type"),
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"kind": "place_type"},
    )
    subtype = models.CharField(_("sub-type"), max_length=200, blank=True)
    authority_name = models.CharField(_("responsible authority"), max_length=300, blank=True)
    region = models.ForeignKey(
        Region, verbose_name=_("region"), null=True, blank=True, on_delete=models.PROTECT
    )
    address = models.TextField(_("address"), blank=True)
    locality = models.CharField(
        _("locality"), max_length=200, blank=True, default="", db_default=""
    )
    postal_code = models.CharField(
        _("postal code"), max_length=20, blank=True, default="", db_default=""
    )
    country = models.CharField(
        _("country"),
        max_length=2,
        blank=True,
        default="",
        db_default="",
        help_text=_("ISO 3166 code, e.g. FR."),
    )
    operator_kind = models.CharField(
        _("operated by"),
        max_length=16,
        choices=OperatorKind.choices,
        blank=True,
        default="",
        db_default="",
    )
    operator_name = models.CharField(
        _("operator"),
        max_length=300,
        blank=True,
        default="",
        db_default="",
        help_text=_("The company that runs the place, when it is privately run."),
    )
    latitude = models.DecimalField(
        _("latitude"),
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(-90), MaxValueValidator(90)],
    )
    longitude = models.DecimalField(
        _("longitude"),
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(-180), MaxValueValidator(180)],
    )
    official_capacity = models.PositiveIntegerField(_("official capacity"), null=True, blank=True)
    population = models.PositiveIntegerField(_("current population"), null=True, blank=True)
    population_date = models.DateField(_("population counted on"), null=True, blank=True)
    population_groups = models.ManyToManyField(
        TaxonomyTerm,
        verbose_name=_("population groups held"),
        blank=True,
        related_name="+",
        limit_choices_to={"kind": "vulnerable_group"},
    )
    status = models.CharField(
        _("status"), max_length=16, choices=PlaceStatus.choices, default=PlaceStatus.OPEN
    )
    opened_on = models.DateField(_("opened on"), null=True, blank=True)
    closed_on = models.DateField(_("closed on"), null=True, blank=True)
    aliases = models.TextField(_("other names"), blank=True, help_text=_("One per line."))
    former_names = models.TextField(_("former names"), blank=True, help_text=_("One per line."))
    notes = models.TextField(_("notes"), blank=True)
    source = models.CharField(
        _("source"),
        max_length=300,
        blank=True,
        default="",
        db_default="",
        help_text=_("Where this record comes from: a list, a file, a visit."),
    )
    # The import that created the record, and who created it (a person or an import's starter).
    source_import = models.ForeignKey(
        TabularImport, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    confidential_notes = EncryptedTextField(
        _("confidential notes"),
        blank=True,
        help_text=_(
            "Encrypted; every read is recorded in the audit trail. For access arrangements, "
            "contacts and anything that must not leave the body."
        ),
    )
    is_confidential = models.BooleanField(
        _("confidential record"),
        default=False,
        help_text=_("Hidden from the coordinating body."),
    )
    # Name, other names and address, lower-cased, for full-text search on both databases.
    search_text = models.TextField(editable=False, blank=True)
    # The name as duplicates are compared (places.duplicates.match_text); PostgreSQL keeps a
    # trigram index on it.
    match_name = models.CharField(
        max_length=300, editable=False, blank=True, default="", db_default=""
    )
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_places"
    )
    deleted_at = models.DateTimeField(null=True, blank=True, db_index=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # Raised by every write (vigil.core.concurrency): a save based on an older version is refused
    # instead of silently overwriting someone else's change.
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            models.Index(fields=["body", "deleted_at", "name"]),
            models.Index(fields=["body", "external_id"]),
            # One per sort the list offers (places.filters.SORTS), in that sort's exact order,
            # over live places only: a page walks the index and stops after its rows, instead
            # of sorting the whole table. The descending orders of the columns that may be
            # empty (empty values last) are in migration 0004, on PostgreSQL only: SQLite
            # cannot write NULLS LAST in an index.
            *_live_sort_indexes(),
        ]
        verbose_name = _("place")
        verbose_name_plural = _("places")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("places:detail", args=[self.pk])

    @property
    def alias_list(self) -> list[str]:
        return [line.strip() for line in self.aliases.splitlines() if line.strip()]

    @property
    def former_name_list(self) -> list[str]:
        return [line.strip() for line in self.former_names.splitlines() if line.strip()]

    @property
    def occupancy_percent(self) -> int | None:
        if not self.official_capacity or self.population is None:
            return None
        return round(100 * self.population / self.official_capacity)


class PlaceIdentifier(models.Model):
    """An identifier a list gives the place ("national code", "ministry list id"), under a
    scheme the body names freely; one value per scheme per place, one place per value."""

    body = models.ForeignKey(Body, on_delete=models.CASCADE, related_name="+")
    place = models.ForeignKey(Place, on_delete=models.CASCADE, related_name="identifiers")
    scheme = models.CharField(_("scheme"), max_length=100)
    value = models.CharField(_("identifier"), max_length=100)

    class Meta:
        ordering = ["scheme", "value"]
        constraints = [
            models.UniqueConstraint(
                fields=["body", "scheme", "value"], name="one_place_per_identifier"
            ),
            models.UniqueConstraint(fields=["place", "scheme"], name="one_identifier_per_scheme"),
        ]
        verbose_name = _("identifier")

    def __str__(self) -> str:
        return f"{self.scheme}: {self.value}"


class PlaceDocument(models.Model):
    place = models.ForeignKey(Place, on_delete=models.CASCADE, related_name="documents")
    file = models.ForeignKey(StoredFile, on_delete=models.PROTECT, related_name="+")
    title = models.CharField(_("title"), max_length=300)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("document")

    def __str__(self) -> str:
        return self.title


class PossibleDuplicate(models.Model):
    """Two places that may be the same one, flagged for a person to merge or dismiss."""

    class Status(models.TextChoices):
        OPEN = "open", _("To review")
        MERGED = "merged", _("Merged")
        DISMISSED = "dismissed", _("Not a duplicate")

    body = models.ForeignKey(Body, on_delete=models.CASCADE, related_name="+")
    place = models.ForeignKey(Place, on_delete=models.CASCADE, related_name="+")
    other = models.ForeignKey(Place, on_delete=models.CASCADE, related_name="+")
    score = models.FloatField()
    # What the score was made of: the names' trigram similarity, the distance between the two
    # places (None: one has no coordinates) and whether they share an identifier.
    name_similarity = models.FloatField(null=True, blank=True)
    distance_m = models.FloatField(null=True, blank=True)
    shared_identifier = models.BooleanField(default=False, db_default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["place", "other"], name="one_flag_per_pair")]
        indexes = [models.Index(fields=["body", "status", "score"])]

    def __str__(self) -> str:
        return f"{self.place} ≈ {self.other}"
