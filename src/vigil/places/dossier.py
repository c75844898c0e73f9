"""The places app's own sections of the place dossier: data, documents, duplicates, history."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from vigil.core.audit import describe, history
from vigil.core.dossier import DossierSection, register_section
from vigil.core.models import Membership
from vigil.places import permissions
from vigil.places.models import Place, PlaceDocument, PossibleDuplicate

HISTORY_LIMIT = 50


def _documents(request: HttpRequest, membership: Membership, place: Place) -> dict[str, Any]:
    documents = PlaceDocument.objects.filter(place=place, deleted_at__isnull=True).select_related(
        "file", "created_by"
    )
    return {
        "documents": documents,
        "can_attach": permissions.can(membership, "attach_document", place),
    }


def _duplicates(
    request: HttpRequest, membership: Membership, place: Place
) -> dict[str, Any] | None:
    if not permissions.can(membership, "merge", place):
        return None
    flags = list(
        PossibleDuplicate.objects.filter(status=PossibleDuplicate.Status.OPEN)
        .filter(place=place)
        .select_related("other")
        .union(
            PossibleDuplicate.objects.filter(
                status=PossibleDuplicate.Status.OPEN, other=place
            ).select_related("place")
        )
    )
    if not flags:
        return None
    others = Place.objects.filter(
        pk__in=[flag.other_id if flag.place_id == place.pk else flag.place_id for flag in flags],
        deleted_at__isnull=True,
    )
    return {"duplicate_places": others}


def _history(request: HttpRequest, membership: Membership, place: Place) -> dict[str, Any]:
    # A merged place's past stays visible on the place it was merged into.
    ids = [place.pk, *Place.objects.filter(merged_into=place).values_list("pk", flat=True)]
    # The words of the audit trail page (core.audit.describe): one way to read a change.
    entries = [describe(entry) for entry in history("places.place", ids)[:HISTORY_LIMIT]]
    return {"entries": entries, "history_limit": HISTORY_LIMIT}


register_section(
    "place",
    DossierSection("documents", _("Documents"), "places/_section_documents.html", 40, _documents),
)
register_section(
    "place",
    DossierSection(
        "duplicates", _("Possible duplicates"), "places/_section_duplicates.html", 20, _duplicates
    ),
)
register_section(
    "place",
    DossierSection("history", _("History"), "places/_section_history.html", 90, _history),
)
