"""Every write to the registry of places: validation, the audit entry, in one transaction."""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from vigil.core.audit import audit, audit_read, diff, diff_new, snapshot
from vigil.core.concurrency import bump_version, check_version
from vigil.core.files import store_file
from vigil.core.models import AuditEntry, Body, Membership, TaxonomyTerm
from vigil.places import permissions
from vigil.places.models import Place, PlaceDocument, PossibleDuplicate, Region
from vigil.places.queries import normalise_text
from vigil.places.spec import EDITABLE_FIELDS, MERGE_FILL_FIELDS, TRACKED_FIELDS, place_errors

DUPLICATE_THRESHOLD = 0.88


def _require(membership: Membership, action: str, place: Place | None = None) -> None:
    permissions.PLACES.require(membership, action, place)


def compute_search_text(place: Place) -> str:
    return normalise_text(
        " ".join([place.name, place.aliases, place.former_names, place.address, place.external_id])
    )


def validate_place(place: Place) -> None:
    """Rules that hold whichever way a place is written (form, API, import)."""
    errors: dict[str, list[str]] = defaultdict(list)
    if place.place_type_id and place.place_type.body_id != place.body_id:
        errors["place_type"].append(_("Choose a type of place of this body."))
    if place.region is not None and place.region.body_id != place.body_id:
        errors["region"].append(_("Choose a region of this body."))
    for field, messages in place_errors(
        {name: getattr(place, name) for name in EDITABLE_FIELDS}
    ).items():
        errors[field].extend(messages)
    if place.external_id:
        clash = Place.objects.filter(
            body_id=place.body_id, external_id=place.external_id, deleted_at__isnull=True
        ).exclude(pk=place.pk)
        if clash.exists():
            errors["external_id"].append(
                _("Another place of this body already has this identifier.")
            )
    if errors:
        raise ValidationError(dict(errors))


def _check_groups(body: Body, groups: Iterable[TaxonomyTerm]) -> list[TaxonomyTerm]:
    groups = list(groups)
    if any(group.body_id != body.pk or group.kind != "vulnerable_group" for group in groups):
        raise ValidationError({"population_groups": [_("Choose groups of this body.")]})
    return groups


@transaction.atomic
def place_create(
    *,
    membership: Membership,
    data: Mapping[str, Any],
    population_groups: Iterable[TaxonomyTerm] = (),
) -> Place:
    _require(membership, "create")
    place = Place(body=membership.body, **{k: v for k, v in data.items() if k in EDITABLE_FIELDS})
    if "confidential_notes" in data:
        place.confidential_notes = data["confidential_notes"] or ""
    validate_place(place)
    groups = _check_groups(membership.body, population_groups)
    place.search_text = compute_search_text(place)
    place.save()
    place.population_groups.set(groups)
    changes = diff_new(snapshot(place, TRACKED_FIELDS))
    if place.confidential_notes:
        changes["confidential_notes"] = ["", "(encrypted)"]
    audit(actor=membership.user, action="places.place.create", obj=place, changes=changes)
    flag_possible_duplicates([place])
    return place


@transaction.atomic
def place_update(
    *,
    membership: Membership,
    place: Place,
    data: Mapping[str, Any],
    population_groups: Iterable[TaxonomyTerm] | None = None,
    expected_version: int | None = None,
) -> Place:
    """Change a place; `expected_version` is the version the person saw (their form, their
    If-Match), and a change based on an older one is refused with StaleVersion."""
    _require(membership, "edit", place)
    place = Place.objects.select_for_update().get(pk=place.pk)
    check_version(place, expected_version)
    before = snapshot(place, TRACKED_FIELDS)
    for field, value in data.items():
        if field in EDITABLE_FIELDS:
            setattr(place, field, value)
    notes_changed = False
    if "confidential_notes" in data and data["confidential_notes"] is not None:
        notes_changed = (data["confidential_notes"] or "") != place.confidential_notes
        place.confidential_notes = data["confidential_notes"] or ""
    validate_place(place)
    groups = None if population_groups is None else _check_groups(place.body, population_groups)
    after = snapshot(place, EDITABLE_FIELDS)
    after["population_groups"] = (
        before["population_groups"] if groups is None else sorted(str(group) for group in groups)
    )
    changes = diff(before, after)
    if notes_changed:
        # The history says that the notes changed, never what they say.
        changes["confidential_notes"] = ["(encrypted)", "(encrypted)"]
    if changes:
        # A save that changes nothing is no new version: nobody else's form goes stale.
        bump_version(place, changes)
    place.search_text = compute_search_text(place)
    place.updated_at = timezone.now()
    place.save()
    if groups is not None:
        place.population_groups.set(groups)
    if changes:
        audit(actor=membership.user, action="places.place.update", obj=place, changes=changes)
    return place


@transaction.atomic
def place_delete(
    *, membership: Membership, place: Place, expected_version: int | None = None
) -> Place:
    """Move a place to the trash; a head can restore it."""
    _require(membership, "delete", place)
    place = Place.objects.select_for_update().get(pk=place.pk)
    check_version(place, expected_version)
    place.deleted_at = timezone.now()
    place.deleted_by = membership.user
    changes = bump_version(place, {"trash": [False, True]})
    place.save(update_fields=["deleted_at", "deleted_by", "version"])
    audit(actor=membership.user, action="places.place.delete", obj=place, changes=changes)
    return place


@transaction.atomic
def place_restore(*, membership: Membership, place: Place) -> Place:
    _require(membership, "restore", place)
    place = Place.objects.select_for_update().get(pk=place.pk)
    if place.merged_into_id:
        raise ValidationError(_("A merged place cannot be restored; it lives on in the other."))
    place.deleted_at = None
    place.deleted_by = None
    validate_place(place)
    changes = bump_version(place, {"trash": [True, False]})
    place.save(update_fields=["deleted_at", "deleted_by", "version"])
    audit(actor=membership.user, action="places.place.restore", obj=place, changes=changes)
    return place


def reveal_confidential_notes(*, membership: Membership, place: Place) -> str:
    """Show the encrypted notes: a recorded act, never a side effect of opening the page."""
    _require(membership, "reveal_confidential", place)
    with transaction.atomic():
        audit_read(actor=membership.user, obj=place, fields=["confidential_notes"])
    return place.confidential_notes


@transaction.atomic
def place_attach_document(
    *, membership: Membership, place: Place, upload: UploadedFile, title: str
) -> PlaceDocument:
    _require(membership, "attach_document", place)
    stored = store_file(actor=membership.user, body=place.body, upload=upload)
    document = PlaceDocument.objects.create(
        place=place, file=stored, title=title or stored.original_name, created_by=membership.user
    )
    audit(
        actor=membership.user,
        action="places.place.attach_document",
        obj=place,
        changes={"document": [None, document.title]},
    )
    return document


@transaction.atomic
def place_remove_document(*, membership: Membership, document: PlaceDocument) -> None:
    _require(membership, "attach_document", document.place)
    document.deleted_at = timezone.now()
    document.save(update_fields=["deleted_at"])
    audit(
        actor=membership.user,
        action="places.place.remove_document",
        obj=document.place,
        changes={"document": [document.title, None]},
    )


@transaction.atomic
def place_merge(*, membership: Membership, keep: Place, merge: Place) -> Place:
    """Fold `merge` into `keep`: empty fields are filled, names become other names, documents
    and flags move, and `merge` goes to the trash pointing at `keep`. Both histories stay."""
    _require(membership, "merge", keep)
    _require(membership, "merge", merge)
    if keep.pk == merge.pk:
        raise ValidationError(_("A place cannot be merged with itself."))
    keep = Place.objects.select_for_update().get(pk=keep.pk)
    merge = Place.objects.select_for_update().get(pk=merge.pk)
    before = snapshot(keep, TRACKED_FIELDS)
    for field in MERGE_FILL_FIELDS:
        if getattr(keep, field) in (None, "") and getattr(merge, field) not in (None, ""):
            setattr(keep, field, getattr(merge, field))
    names = keep.alias_list
    for name in [merge.name, *merge.alias_list]:
        if name != keep.name and name not in names:
            names.append(name)
    keep.aliases = "\n".join(names)
    # A merge never lowers confidentiality: what was hidden from the coordinating body stays
    # hidden, names, documents and notes included.
    keep.is_confidential = keep.is_confidential or merge.is_confidential
    keep.former_names = "\n".join(dict.fromkeys([*keep.former_name_list, *merge.former_name_list]))
    if merge.confidential_notes:
        keep.confidential_notes = "\n\n".join(
            note for note in [keep.confidential_notes, merge.confidential_notes] if note
        )
    merge.external_id = ""
    merge.merged_into = keep
    merge.deleted_at = timezone.now()
    merge.deleted_by = membership.user
    merged_changes = bump_version(merge, {"merged_into": [None, keep.pk]})
    merge.save(update_fields=["external_id", "merged_into", "deleted_at", "deleted_by", "version"])
    keep.search_text = compute_search_text(keep)
    keep.updated_at = timezone.now()
    kept_version = bump_version(keep)
    keep.save()
    keep.population_groups.add(*merge.population_groups.all())
    PlaceDocument.objects.filter(place=merge).update(place=keep)
    PossibleDuplicate.objects.filter(
        status=PossibleDuplicate.Status.OPEN, place__in=[keep, merge], other__in=[keep, merge]
    ).update(status=PossibleDuplicate.Status.MERGED, resolved_by=membership.user)
    changes = diff(before, snapshot(keep, TRACKED_FIELDS))
    changes["merged"] = [None, f"{merge.name} (#{merge.pk})"]
    changes.update(kept_version)
    audit(actor=membership.user, action="places.place.merge", obj=keep, changes=changes)
    audit(
        actor=membership.user,
        action="places.place.merged_into",
        obj=merge,
        changes=merged_changes,
    )
    return keep


@transaction.atomic
def duplicate_dismiss(*, membership: Membership, flag: PossibleDuplicate) -> None:
    _require(membership, "merge", flag.place)
    flag.status = PossibleDuplicate.Status.DISMISSED
    flag.resolved_by = membership.user
    flag.save(update_fields=["status", "resolved_by"])
    audit(
        actor=membership.user,
        action="places.place.dismiss_duplicate",
        obj=flag.place,
        changes={"other": [None, flag.other_id]},
    )


def flag_possible_duplicates(places: Iterable[Place]) -> int:
    """Flag pairs of places with similar names in the same region; returns new flags.

    Names are normalised once, and difflib's cheap upper bounds rule most pairs out before the
    full ratio is computed: an import of thousands of places compares tens of thousands of pairs.
    """
    places = [place for place in places if place.region_id is not None]
    if not places:
        return 0
    region_ids = {place.region_id for place in places}
    by_region: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for pk, region_id, name in Place.objects.filter(
        region_id__in=region_ids, deleted_at__isnull=True
    ).values_list("pk", "region_id", "name"):
        by_region[region_id].append((pk, normalise_text(name)))
    existing = set(
        PossibleDuplicate.objects.filter(place__region_id__in=region_ids).values_list(
            "place_id", "other_id"
        )
    )
    flags = []
    for place in places:
        # The new place is sequence b: difflib caches what it knows about b, and b is fixed here.
        matcher = difflib.SequenceMatcher(None, b=normalise_text(place.name), autojunk=False)
        for other_pk, other_name in by_region[place.region_id or 0]:
            if other_pk == place.pk:
                continue
            pair = (min(place.pk, other_pk), max(place.pk, other_pk))
            if pair in existing:
                continue
            matcher.set_seq1(other_name)
            if matcher.real_quick_ratio() < DUPLICATE_THRESHOLD:
                continue
            if matcher.quick_ratio() < DUPLICATE_THRESHOLD:
                continue
            score = matcher.ratio()
            if score >= DUPLICATE_THRESHOLD:
                existing.add(pair)
                flags.append(
                    PossibleDuplicate(
                        body_id=place.body_id, place_id=pair[0], other_id=pair[1], score=score
                    )
                )
    PossibleDuplicate.objects.bulk_create(flags)
    return len(flags)


def region_path(region: Region) -> str:
    parts = []
    node: Region | None = region
    while node is not None:
        parts.append(f"{node.pk:08d}")
        node = node.parent
    return "/".join(reversed(parts))


@transaction.atomic
def region_create(
    *, membership: Membership, name: str, parent: Region | None = None, code: str = ""
) -> Region:
    _require(membership, "edit")
    body = membership.body
    if parent is not None and parent.body_id != body.pk:
        raise ValidationError({"parent": [_("Choose a region of this body.")]})
    region = Region.objects.create(
        body=body, name=name, parent=parent, code=code, level=(parent.level + 1) if parent else 1
    )
    region.path = region_path(region)
    region.save(update_fields=["path"])
    audit(
        actor=membership.user,
        action="places.region.create",
        obj=region,
        changes={"name": [None, name]},
    )
    return region


def places_export(
    *, membership: Membership, queryset: Any, fmt: str, filters: str, api: bool = False
) -> Any:
    """Export the places of `queryset` (already visible to the member) and record the export
    once, whichever way it was asked for: CSV streamed at once; Excel (minutes for a national
    registry) written by the task worker, which returns the job."""
    from vigil.places.exports import csv_response
    from vigil.places.tasks import start_xlsx_export

    _require(membership, "export")
    changes: dict[str, Any] = {"format": fmt, "filters": filters}
    if api:
        changes["api"] = True
    with transaction.atomic():
        audit(
            actor=membership.user,
            action="places.place.export",
            body=membership.body,
            changes=changes,
        )
        if fmt == "xlsx":
            return start_xlsx_export(membership=membership, filters=filters)
    return csv_response(queryset, membership)


def bulk_audit(entries: list[AuditEntry]) -> None:
    AuditEntry.objects.bulk_create(entries, batch_size=1000)
