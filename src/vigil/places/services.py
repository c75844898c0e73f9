"""Every write to the registry of places: validation, the audit entry, in one transaction."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _

from vigil.core.audit import audit, audit_read, build_entry, diff, diff_new, snapshot
from vigil.core.concurrency import bump_version, check_version
from vigil.core.files import store_file
from vigil.core.models import AuditEntry, Body, Membership, TaxonomyTerm
from vigil.core.text import hidden_characters
from vigil.places import permissions
from vigil.places.duplicates import FLAG_RADIUS_M, Candidate, find_pairs, match_text
from vigil.places.models import Place, PlaceDocument, PlaceIdentifier, PossibleDuplicate, Region
from vigil.places.queries import normalise_text
from vigil.places.spec import EDITABLE_FIELDS, MERGE_FILL_FIELDS, TRACKED_FIELDS, place_errors


def _require(membership: Membership, action: str, place: Place | None = None) -> None:
    permissions.PLACES.require(membership, action, place)


def compute_search_text(place: Place) -> str:
    return normalise_text(
        " ".join([place.name, place.aliases, place.former_names, place.address, place.external_id])
    )


def index_place(place: Place) -> None:
    """The derived texts search and duplicate matching read."""
    place.search_text = compute_search_text(place)
    place.match_name = match_text(place.name)[:300]


IDENTIFIER_MAX_LENGTH = 100


def clean_identifiers(identifiers: Mapping[str, str]) -> dict[str, str]:
    """{scheme: value}, trimmed, without empty values; raises ValidationError on bad ones."""
    cleaned: dict[str, str] = {}
    errors = []
    for scheme, value in identifiers.items():
        scheme, value = (scheme or "").strip(), (value or "").strip()
        if not value:
            continue
        hidden = [text for text in (scheme, value) if hidden_characters(text)]
        if hidden:
            errors.append(
                _("Remove the invisible or control characters from “%(value)s”.")
                % {"value": hidden[0].encode("unicode_escape").decode("ascii")}
            )
        elif not scheme:
            errors.append(_("Name the scheme of the identifier “%(value)s”.") % {"value": value})
        elif len(scheme) > IDENTIFIER_MAX_LENGTH or len(value) > IDENTIFIER_MAX_LENGTH:
            errors.append(
                _("An identifier and its scheme are at most %(limit)d characters.")
                % {"limit": IDENTIFIER_MAX_LENGTH}
            )
        elif scheme.casefold() in {known.casefold() for known in cleaned}:
            errors.append(
                _("One identifier per scheme: “%(scheme)s” is given twice.") % {"scheme": scheme}
            )
        else:
            cleaned[scheme] = value
    if errors:
        raise ValidationError({"identifiers": errors})
    return cleaned


def _set_identifiers(place: Place, identifiers: Mapping[str, str]) -> None:
    """Make the place's identifiers exactly `identifiers` (already cleaned); an identifier of
    another place of the body is refused, naming that place."""
    schemes = {
        scheme.casefold(): scheme
        for scheme in PlaceIdentifier.objects.filter(body_id=place.body_id)
        .values_list("scheme", flat=True)
        .distinct()
    }
    # A scheme is written as the body first wrote it: "National code" and "national code" are one.
    wanted = {
        schemes.get(scheme.casefold(), scheme): value for scheme, value in identifiers.items()
    }
    clashes = PlaceIdentifier.objects.none()
    if wanted:
        condition = Q()
        for scheme, value in wanted.items():
            condition |= Q(scheme=scheme, value=value)
        clashes = (
            PlaceIdentifier.objects.filter(condition, body_id=place.body_id)
            .exclude(place=place)
            .select_related("place")
        )
    errors = [
        _("“%(scheme)s: %(value)s” is already the identifier of “%(place)s”.")
        % {"scheme": clash.scheme, "value": clash.value, "place": clash.place.name}
        for clash in clashes
    ]
    if errors:
        raise ValidationError({"identifiers": errors})
    current = {item.scheme: item for item in PlaceIdentifier.objects.filter(place=place)}
    for scheme, item in current.items():
        if wanted.get(scheme) != item.value:
            item.delete()
    PlaceIdentifier.objects.bulk_create(
        PlaceIdentifier(body_id=place.body_id, place=place, scheme=scheme, value=value)
        for scheme, value in wanted.items()
        if scheme not in current or current[scheme].value != value
    )


def identifier_lines(identifiers: Mapping[str, str]) -> list[str]:
    """Identifiers as the history shows them."""
    return sorted(f"{scheme}: {value}" for scheme, value in identifiers.items())


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
    identifiers: Mapping[str, str] | None = None,
) -> Place:
    _require(membership, "create")
    place = Place(body=membership.body, **{k: v for k, v in data.items() if k in EDITABLE_FIELDS})
    place.created_by = membership.user
    if "confidential_notes" in data:
        place.confidential_notes = data["confidential_notes"] or ""
    validate_place(place)
    wanted = clean_identifiers(identifiers or {})
    groups = _check_groups(membership.body, population_groups)
    index_place(place)
    place.save()
    place.population_groups.set(groups)
    _set_identifiers(place, wanted)
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
    identifiers: Mapping[str, str] | None = None,
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
    wanted = None if identifiers is None else clean_identifiers(identifiers)
    after = snapshot(place, EDITABLE_FIELDS)
    after["population_groups"] = (
        before["population_groups"] if groups is None else sorted(str(group) for group in groups)
    )
    after["identifiers"] = before["identifiers"] if wanted is None else identifier_lines(wanted)
    changes = diff(before, after)
    if notes_changed:
        # The history says that the notes changed, never what they say.
        changes["confidential_notes"] = ["(encrypted)", "(encrypted)"]
    if changes:
        # A save that changes nothing is no new version: nobody else's form goes stale.
        bump_version(place, changes)
    index_place(place)
    place.updated_at = timezone.now()
    place.save()
    if groups is not None:
        place.population_groups.set(groups)
    if wanted is not None:
        _set_identifiers(place, wanted)
    if changes:
        audit(actor=membership.user, action="places.place.update", obj=place, changes=changes)
    if {"name", "latitude", "longitude", "address", "identifiers"} & changes.keys():
        flag_possible_duplicates([place])
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
    kept_identifiers = {item.scheme: item.value for item in keep.identifiers.all()}
    moved_identifiers = {item.scheme: item.value for item in merge.identifiers.all()}
    conflicts = [
        scheme
        for scheme, value in moved_identifiers.items()
        if scheme in kept_identifiers and kept_identifiers[scheme] != value
    ]
    if conflicts:
        raise ValidationError(
            _(
                "Both places have an identifier under “%(scheme)s” (%(kept)s and %(merged)s): "
                "the list that gave them says they are two places. Correct the identifier first "
                "if one is wrong."
            )
            % {
                "scheme": conflicts[0],
                "kept": kept_identifiers[conflicts[0]],
                "merged": moved_identifiers[conflicts[0]],
            }
        )
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
    index_place(keep)
    keep.updated_at = timezone.now()
    kept_version = bump_version(keep)
    keep.save()
    # The merged place's identifiers now name the kept one.
    PlaceIdentifier.objects.filter(place=merge).exclude(scheme__in=list(kept_identifiers)).update(
        place=keep
    )
    PlaceIdentifier.objects.filter(place=merge).delete()
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


@transaction.atomic
def duplicates_dismiss(*, membership: Membership, flags: Iterable[PossibleDuplicate]) -> int:
    """Mark many pairs as distinct places at once (a person ticked them on the review page);
    each pair is recorded in the history of its first place."""
    flags = [flag for flag in flags if flag.status == PossibleDuplicate.Status.OPEN]
    for flag in flags:
        _require(membership, "merge", flag.place)
    if not flags:
        return 0
    PossibleDuplicate.objects.filter(pk__in=[flag.pk for flag in flags]).update(
        status=PossibleDuplicate.Status.DISMISSED, resolved_by=membership.user
    )
    bulk_audit(
        [
            build_entry(
                actor=membership.user,
                action="places.place.dismiss_duplicate",
                obj=flag.place,
                changes={"other": [None, flag.other_id]},
                body=flag.place.body,
            )
            for flag in flags
        ]
    )
    return len(flags)


def _candidates(body_id: int, near: list[Place] | None = None) -> list[Candidate]:
    """The body's live places as duplicates compare them. With `near` (a few places written by
    a person), only places that could pair with them are read: on PostgreSQL the trigram index
    finds similar names; elsewhere every name is read."""
    queryset = Place.objects.filter(body_id=body_id, deleted_at__isnull=True)
    if near is not None and connection.vendor == "postgresql":
        condition = Q(pk__in=[place.pk for place in near])
        for place in near:
            if place.match_name:
                condition |= Q(
                    pk__in=RawSQL(
                        "SELECT id FROM places_place WHERE body_id = %s AND match_name %% %s "
                        "AND deleted_at IS NULL",
                        [body_id, place.match_name],
                    )
                )
            if place.latitude is not None and place.longitude is not None:
                margin = Decimal(str(round(FLAG_RADIUS_M / 111_000 * 3, 6)))
                condition |= Q(
                    latitude__range=(place.latitude - margin, place.latitude + margin),
                    longitude__range=(place.longitude - margin * 3, place.longitude + margin * 3),
                )
            if place.address:
                condition |= Q(address=place.address)
        queryset = queryset.filter(condition)
    rows = list(
        queryset.values_list(
            "pk", "match_name", "latitude", "longitude", "region_id", "address", "external_id"
        )
    )
    identifiers: dict[int, dict[str, str]] = defaultdict(dict)
    identifier_rows = PlaceIdentifier.objects.filter(body_id=body_id)
    if near is not None:
        identifier_rows = identifier_rows.filter(place_id__in=[row[0] for row in rows])
    for place_id, scheme, value in identifier_rows.values_list("place_id", "scheme", "value"):
        identifiers[place_id][scheme.casefold()] = value.casefold()
    candidates = []
    for pk, name, latitude, longitude, region_id, address, external_id in rows:
        schemes = identifiers.get(pk, {})
        if external_id:
            schemes[""] = external_id.strip().casefold()
        candidates.append(
            Candidate(
                pk=pk,
                name=name,
                latitude=None if latitude is None else float(latitude),
                longitude=None if longitude is None else float(longitude),
                region_id=region_id,
                address=match_text(address) if address else "",
                identifiers=schemes,
            )
        )
    return candidates


# Up to this many places, a write reads only the places near or similar to them.
_NARROW_LIMIT = 50


def flag_possible_duplicates(places: Iterable[Place]) -> int:
    """Flag the pairs of possible duplicates between `places` (just written) and their body's
    places; returns the number of new flags. A pair already flagged, dismissed or merged is
    not flagged again."""
    by_body: dict[int, list[Place]] = defaultdict(list)
    for place in places:
        by_body[place.body_id].append(place)
    created = 0
    for body_id, written in by_body.items():
        near = written if len(written) <= _NARROW_LIMIT else None
        pairs = find_pairs(_candidates(body_id, near), [place.pk for place in written])
        if not pairs:
            continue
        involved = {pk for first, second, _score in pairs for pk in (first, second)}
        existing: set[tuple[int, int]] = set()
        pks = sorted(involved)
        for start in range(0, len(pks), 500):
            existing.update(
                PossibleDuplicate.objects.filter(place_id__in=pks[start : start + 500]).values_list(
                    "place_id", "other_id"
                )
            )
        flags = [
            PossibleDuplicate(
                body_id=body_id,
                place_id=first,
                other_id=second,
                score=score.score,
                name_similarity=score.name_similarity,
                distance_m=score.distance_m,
                shared_identifier=score.shared_identifier,
            )
            for first, second, score in pairs
            if (first, second) not in existing and (second, first) not in existing
        ]
        PossibleDuplicate.objects.bulk_create(flags, batch_size=1000)
        created += len(flags)
    return created


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
