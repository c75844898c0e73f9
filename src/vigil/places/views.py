"""Pages of the registry of places: list, map, export, dossier, edits, trash, merge, regions."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from vigil.core import tasks
from vigil.core.access import get_or_404, get_visible_or_404, visible
from vigil.core.concurrency import StaleVersion, form_after_conflict
from vigil.core.dossier import build_sections
from vigil.core.files import download_response
from vigil.core.forms import apply_service_errors
from vigil.core.guard import member_required
from vigil.core.models import Job, JobStatus, Membership, StoredFile, TaxonomyTerm
from vigil.places import permissions, services
from vigil.places.countries import COUNTRIES
from vigil.places.filters import PlaceFilter, filtered_places, region_options
from vigil.places.forms import (
    DocumentForm,
    DuplicateDismissForm,
    DuplicateFilterForm,
    MergeForm,
    PlaceForm,
    RegionForm,
)
from vigil.places.models import (
    Place,
    PlaceDocument,
    PlaceIdentifier,
    PlaceStatus,
    PossibleDuplicate,
    Region,
)
from vigil.places.pagination import CappedPaginator
from vigil.places.permissions import PLACES
from vigil.places.queries import (
    region_descendant_ids,
    trashed_places,
    visible_places,
    visible_regions,
)
from vigil.places.tasks import EXPORT_JOB_KIND

PAGE_SIZE = 50
JSON_SCRIPT_ESCAPES = {ord("<"): "\\u003C", ord(">"): "\\u003E", ord("&"): "\\u0026"}


def _place(membership: Membership, pk: int) -> Place:
    return get_visible_or_404(
        membership,
        Place.objects.select_related("place_type", "region", "body", "created_by"),
        pk,
    )


def _filtered(request: HttpRequest, membership: Membership) -> tuple[PlaceFilter, QuerySet[Place]]:
    return filtered_places(membership, request.GET)


def _query_without(request: HttpRequest, *keys: str) -> str:
    query = request.GET.copy()
    for key in keys:
        query.pop(key, None)
    return query.urlencode()


def _is_filtered(request: HttpRequest, place_filter: PlaceFilter) -> bool:
    return any(request.GET.get(key) for key in place_filter.filters if key != "sort")


@member_required(PLACES)
def place_list(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    place_filter, queryset = _filtered(request, membership)
    paginator = CappedPaginator(queryset, PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    context = {
        "filter": place_filter,
        "page": page,
        "sort": request.GET.get("sort", "name"),
        "query_without_page": _query_without(request, "page"),
        "query_without_sort": _query_without(request, "page", "sort"),
        "query": _query_without(request),
        "filtered": _is_filtered(request, place_filter),
        "actions": permissions.allowed_actions(membership),
    }
    template = "places/_results.html" if request.headers.get("HX-Request") else "places/list.html"
    return render(request, template, context)


@member_required(PLACES)
def region_choices(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    """The region filter's options (htmx): the open branch of the tree down to the chosen
    region, or the regions a search finds; "Any" first, so nothing is chosen unasked."""
    regions = visible_regions(membership)
    selected: Region | None = None
    chosen = request.GET.get("region", "")
    if chosen.isdigit():
        selected = regions.filter(pk=int(chosen)).first()
    search = request.GET.get("region_q", "").strip()[:100]
    return HttpResponse(region_options(regions, selected, search=search))


@member_required(PLACES)
def place_map(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    place_filter, queryset = _filtered(request, membership)
    statuses = {value: str(label) for value, label in PlaceStatus.choices}
    type_labels = {
        term.label: str(term)
        for term in TaxonomyTerm.objects.filter(body_id=membership.body_id, kind="place_type")
    }
    points = [
        {
            "id": pk,
            "name": name,
            "lat": float(lat or 0),
            "lng": float(lng or 0),
            "url": f"/places/{pk}/",
            "status": status,
            "status_label": statuses.get(status, status),
            "type": type_labels.get(type_label, type_label),
        }
        for pk, name, lat, lng, status, type_label in queryset.filter(
            latitude__isnull=False
        ).values_list("pk", "name", "latitude", "longitude", "status", "place_type__label")
    ]
    total = queryset.count()
    return render(
        request,
        "places/map.html",
        {
            "filter": place_filter,
            # Escaped like json_script, so a name holding "</script>" stays data.
            "points_json": json.dumps(points).translate(JSON_SCRIPT_ESCAPES),
            "filtered": _is_filtered(request, place_filter),
            "statuses": PlaceStatus.choices,
            "plotted": len(points),
            "without_coordinates": total - len(points),
            "query": _query_without(request),
            "map_tiles_url": settings.VIGIL_MAP_TILES_URL,
            "map_tiles_attribution": settings.VIGIL_MAP_TILES_ATTRIBUTION,
        },
    )


@member_required(PLACES, "export")
def place_export(request: HttpRequest, fmt: str, *, membership: Membership) -> HttpResponseBase:
    _, queryset = _filtered(request, membership)
    result = services.places_export(
        membership=membership, queryset=queryset, fmt=fmt, filters=_query_without(request)
    )
    if fmt == "xlsx":
        # Written in the background: the job's page shows the progress, then the file.
        return redirect("places:export_job", result.pk)
    return result


def _export_job(membership: Membership, pk: int) -> Job:
    """An export job of the person who started it; anyone else's answers 404."""
    return get_visible_or_404(membership, Job.objects.filter(kind=EXPORT_JOB_KIND), pk)


@member_required(PLACES, "export")
def export_job(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    job = _export_job(membership, pk)
    if job.status == JobStatus.RUNNING and tasks.is_abandoned(job):
        tasks.fail_abandoned(job.pk)
        job.refresh_from_db()
    template = (
        "places/_export_progress.html"
        if request.headers.get("HX-Request")
        else "places/export_job.html"
    )
    return render(request, template, {"job": job})


@member_required(PLACES, "export")
def export_download(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    job = _export_job(membership, pk)
    file_id = (job.result or {}).get("file")
    if job.status != JobStatus.SUCCEEDED or not file_id:
        raise Http404
    stored = get_visible_or_404(membership, StoredFile, file_id)
    return download_response(stored, actor=request.user)


@member_required(PLACES, "create")
def place_create(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    form = PlaceForm(request.POST or None, membership=membership)
    if request.method == "POST" and form.is_valid():
        try:
            place = services.place_create(
                membership=membership,
                data=form.service_data(),
                population_groups=form.cleaned_data["population_groups"],
                identifiers=form.cleaned_data["identifiers"],
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("The place was added."))
            return redirect(place)
    return render(
        request,
        "places/form.html",
        {"form": form, "place": None},
        status=400 if form.errors else 200,
    )


@member_required(PLACES)
def place_edit(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    place = _place(membership, pk)
    if not permissions.can(membership, "edit", place):
        raise PermissionDenied
    form = PlaceForm(request.POST or None, instance=place, membership=membership)
    conflict = None
    if request.method == "POST" and form.is_valid():
        try:
            place = services.place_update(
                membership=membership,
                place=place,
                data=form.service_data(),
                population_groups=form.cleaned_data["population_groups"],
                identifiers=form.cleaned_data["identifiers"],
                expected_version=form.cleaned_data.get("version"),
            )
        except StaleVersion as stale:
            # Someone saved since this form was opened: nothing is saved; the form shows their
            # changes beside what this person typed, and now carries the new version.
            current = stale.current
            assert isinstance(current, Place)

            def make_form(data: Any = None) -> PlaceForm:
                return PlaceForm(data, instance=current, membership=membership)

            form, conflict = form_after_conflict(
                form, stale, make_form, secret_fields=["confidential_notes"]
            )
            place = current
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("The changes were saved."))
            return redirect(place)
    return render(
        request,
        "places/form.html",
        {"form": form, "place": place, "conflict": conflict},
        status=409 if conflict else 400 if form.errors else 200,
    )


@member_required(PLACES)
def place_detail(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    place = _place(membership, pk)
    groups = list(place.population_groups.all())
    identifiers = list(place.identifiers.all())
    return render(
        request,
        "places/detail.html",
        {
            "place": place,
            "population_groups": groups,
            "identifiers": identifiers,
            "country_name": COUNTRIES.get(place.country, ""),
            "sections": build_sections("place", request, membership, place),
            "actions": permissions.allowed_actions(membership, place),
            "document_form": DocumentForm(),
            "has_confidential_notes": bool(place.confidential_notes),
        },
    )


@require_POST
@member_required(PLACES)
def place_reveal_notes(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    place = _place(membership, pk)
    if not permissions.can(membership, "reveal_confidential", place):
        raise PermissionDenied
    notes = services.reveal_confidential_notes(membership=membership, place=place)
    return render(request, "places/_confidential_notes.html", {"place": place, "notes": notes})


@require_POST
@member_required(PLACES)
def place_delete(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    place = _place(membership, pk)
    services.place_delete(membership=membership, place=place)
    messages.success(request, _("“%(name)s” was moved to the trash.") % {"name": place.name})
    return redirect("places:list")


@member_required(PLACES, "restore")
def place_trash(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    places = (
        trashed_places(membership)
        .select_related("place_type", "deleted_by")
        .order_by("-deleted_at")
    )
    page = Paginator(places, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "places/trash.html", {"page": page})


@require_POST
@member_required(PLACES, "restore")
def place_restore(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    place = get_or_404(trashed_places(membership), pk)
    try:
        services.place_restore(membership=membership, place=place)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("places:trash")
    messages.success(request, _("“%(name)s” was restored.") % {"name": place.name})
    return redirect(place)


@member_required(PLACES)
def place_merge(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    place = _place(membership, pk)
    if not permissions.can(membership, "merge", place):
        raise PermissionDenied
    candidates = visible_places(membership).filter(body_id=membership.body_id).exclude(pk=place.pk)
    initial = {}
    if request.GET.get("other"):
        initial["other"] = request.GET["other"]
    form = MergeForm(request.POST or None, queryset=candidates, initial=initial)
    if request.method == "POST" and form.is_valid():
        other = form.cleaned_data["other"]
        try:
            services.place_merge(membership=membership, keep=place, merge=other)
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(
                request, _("“%(other)s” was merged into this place.") % {"other": other.name}
            )
            return redirect(place)
    other = None
    if form.is_bound and form.is_valid():
        other = form.cleaned_data["other"]
    elif initial.get("other"):
        # The place proposed in the address goes through the form's own check, which says
        # what is wrong with "?other=abc" instead of failing on it.
        proposed = MergeForm({"other": initial["other"]}, queryset=candidates)
        if proposed.is_valid():
            other = proposed.cleaned_data["other"]
        else:
            form = proposed
    return render(
        request,
        "places/merge.html",
        {"place": place, "form": form, "other": other},
        status=400 if form.errors else 200,
    )


def _open_flags(membership: Membership) -> QuerySet[PossibleDuplicate]:
    return visible(membership, PossibleDuplicate).filter(
        status=PossibleDuplicate.Status.OPEN,
        place__deleted_at__isnull=True,
        other__deleted_at__isnull=True,
    )


@member_required(PLACES, "merge")
def duplicate_list(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    """The pairs to review: the total, filters, the distance, both places' identifiers and
    sources, and boxes to keep many pairs apart at once."""
    flags = _open_flags(membership)
    filter_form = DuplicateFilterForm(request.GET or None, membership=membership)
    if filter_form.is_bound and filter_form.is_valid():
        region = filter_form.cleaned_data["region"]
        if region is not None:
            regions = region_descendant_ids(region)
            flags = flags.filter(Q(place__region_id__in=regions) | Q(other__region_id__in=regions))
        if filter_form.cleaned_data["min_score"] is not None:
            flags = flags.filter(score__gte=filter_form.cleaned_data["min_score"] / 100)
        if filter_form.cleaned_data["max_distance_km"] is not None:
            flags = flags.filter(
                distance_m__lte=float(filter_form.cleaned_data["max_distance_km"]) * 1000
            )
    flags = flags.select_related(
        "place__region",
        "other__region",
        "place__source_import",
        "other__source_import",
    ).order_by("-score", "id")
    page = Paginator(flags, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    place_ids = {pk for flag in rows for pk in (flag.place_id, flag.other_id)}
    identifiers: dict[int, list[PlaceIdentifier]] = {}
    for item in PlaceIdentifier.objects.filter(place_id__in=place_ids):
        identifiers.setdefault(item.place_id, []).append(item)
    for flag in rows:
        flag.place_identifiers = identifiers.get(flag.place_id, [])  # type: ignore[attr-defined]
        flag.other_identifiers = identifiers.get(flag.other_id, [])  # type: ignore[attr-defined]
    return render(
        request,
        "places/duplicates.html",
        {
            "page": page,
            "rows": rows,
            "total": page.paginator.count,
            "filter_form": filter_form,
            "query_without_page": _query_without(request, "page"),
        },
        status=400 if filter_form.errors else 200,
    )


@require_POST
@member_required(PLACES, "merge")
def duplicate_dismiss(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    flag = get_visible_or_404(membership, PossibleDuplicate.objects.select_related("place"), pk)
    services.duplicate_dismiss(membership=membership, flag=flag)
    messages.success(request, _("The pair is marked as not a duplicate."))
    return redirect("places:duplicates")


@require_POST
@member_required(PLACES, "merge")
def duplicate_dismiss_many(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    """Keep the ticked pairs apart; pairs another person resolved meanwhile are skipped."""
    form = DuplicateDismissForm(
        request.POST,
        queryset=visible(membership, PossibleDuplicate).select_related("place__body"),
    )
    if not form.is_valid():
        for error in form.errors.get("flags", []):
            messages.error(request, str(error))
        return redirect("places:duplicates")
    count = services.duplicates_dismiss(membership=membership, flags=form.cleaned_data["flags"])
    messages.success(
        request,
        ngettext(
            "%(count)d pair is marked as distinct places.",
            "%(count)d pairs are marked as distinct places.",
            count,
        )
        % {"count": count},
    )
    next_query = request.POST.get("next_query", "")
    url = reverse("places:duplicates")
    return redirect(f"{url}?{next_query}" if next_query and "//" not in next_query else url)


@require_POST
@member_required(PLACES)
def document_upload(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    place = _place(membership, pk)
    form = DocumentForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.place_attach_document(
                membership=membership,
                place=place,
                upload=form.cleaned_data["file"],
                title=form.cleaned_data["title"],
            )
        except ValidationError as exc:
            form.add_error("file", exc)
        else:
            messages.success(request, _("The document was attached."))
            return redirect(f"{place.get_absolute_url()}#documents")
    for error in form.errors.get("file", []):
        messages.error(request, _("The document was not attached: %(reason)s") % {"reason": error})
    return redirect(f"{place.get_absolute_url()}#documents")


def _document(membership: Membership, pk: int, document_pk: int) -> PlaceDocument:
    place = _place(membership, pk)
    return get_visible_or_404(
        membership,
        PlaceDocument.objects.filter(place=place).select_related("file", "place"),
        document_pk,
    )


@member_required(PLACES)
def document_download(
    request: HttpRequest, pk: int, document_pk: int, *, membership: Membership
) -> HttpResponse:
    document = _document(membership, pk, document_pk)
    return download_response(document.file, actor=request.user)


@require_POST
@member_required(PLACES)
def document_remove(
    request: HttpRequest, pk: int, document_pk: int, *, membership: Membership
) -> HttpResponse:
    document = _document(membership, pk, document_pk)
    services.place_remove_document(membership=membership, document=document)
    messages.success(request, _("The document was removed."))
    return redirect(f"{document.place.get_absolute_url()}#documents")


@member_required(PLACES)
def region_list(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    can_edit = permissions.can(membership, "edit")
    form = RegionForm(request.POST or None, membership=membership)
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        if form.is_valid():
            try:
                services.region_create(
                    membership=membership,
                    name=form.cleaned_data["name"],
                    code=form.cleaned_data["code"],
                    parent=form.cleaned_data["parent"],
                )
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("The region was added."))
                return redirect("places:regions")
    regions = visible_regions(membership).select_related("parent", "body")
    page = Paginator(regions, 100).get_page(request.GET.get("page"))
    return render(
        request, "places/regions.html", {"page": page, "form": form, "can_edit": can_edit}
    )
