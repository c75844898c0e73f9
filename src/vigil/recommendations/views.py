"""Pages of recommendations: the authorities' directory, the list, a recommendation with the
timeline of both tracks and the dialogue, and the forms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from vigil.core.access import get_visible_or_404, visible
from vigil.core.concurrency import StaleVersion, form_after_conflict
from vigil.core.files import download_response
from vigil.core.forms import apply_service_errors
from vigil.core.guard import member_required
from vigil.core.models import Membership
from vigil.places.models import Place
from vigil.recommendations import queries, recurrence, services
from vigil.recommendations.forms import (
    AssessmentForm,
    AuthorityForm,
    ExchangeForm,
    FocalPointForm,
    PositionForm,
    RecommendationFilterForm,
    RecommendationForm,
    SettingsForm,
)
from vigil.recommendations.models import (
    AssessmentChange,
    Authority,
    Exchange,
    FocalPoint,
    PositionChange,
    Recommendation,
)
from vigil.recommendations.permissions import RECOMMENDATIONS
from vigil.visits.models import Observation, Visit


def _recommendation(membership: Membership, pk: Any) -> Recommendation:
    return get_visible_or_404(
        membership,
        Recommendation.objects.select_related("authority", "body", "visit", "repeats"),
        pk,
    )


def _bounded_page(request: HttpRequest) -> int:
    try:
        number = int(request.GET.get("page") or 1)
    except ValueError:
        number = 1
    return max(1, min(number, queries.MAX_PAGE))


@member_required(RECOMMENDATIONS)
def recommendation_list(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    form = RecommendationFilterForm(request.GET or None, membership=membership)
    data: dict[str, Any] = {}
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
    found = queries.filter_recommendations(
        visible(membership, Recommendation), data, today=timezone.localdate()
    )
    count, more = queries.capped_count(found)
    number = _bounded_page(request)
    start = (number - 1) * queries.PAGE_SIZE
    rows = list(found.select_related("authority", "body")[start : start + queries.PAGE_SIZE + 1])
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "recommendations/list.html",
        {
            "form": form,
            "recommendations": rows[: queries.PAGE_SIZE],
            "count": count,
            "more": more,
            "page_number": number,
            "has_previous": number > 1,
            "has_next": len(rows) > queries.PAGE_SIZE and number < queries.MAX_PAGE,
            "at_depth_limit": len(rows) > queries.PAGE_SIZE and number >= queries.MAX_PAGE,
            "query": query.urlencode(),
            "filtered": any(request.GET.get(name) for name in form.fields if name != "sort"),
            "can_create": RECOMMENDATIONS.can(membership, "create"),
            "can_export": RECOMMENDATIONS.can(membership, "export"),
            "today": timezone.localdate(),
        },
    )


@member_required(RECOMMENDATIONS, "export")
def recommendation_export(request: HttpRequest, fmt: str, *, membership: Membership) -> Any:
    """The filtered list, every row of it, as CSV (streamed) or Excel."""
    if fmt not in {"csv", "xlsx"}:
        raise Http404
    form = RecommendationFilterForm(request.GET or None, membership=membership)
    data: dict[str, Any] = {}
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
    found = queries.filter_recommendations(
        visible(membership, Recommendation), data, today=timezone.localdate()
    )
    return services.recommendations_export(
        membership=membership, queryset=found, fmt=fmt, filters=request.GET.urlencode()
    )


@dataclass(frozen=True)
class TimelineEntry:
    date: Any
    kind: str
    entry: Any


def _timeline(recommendation: Recommendation, membership: Membership) -> list[TimelineEntry]:
    """Both tracks, the dialogue and the messages sent, newest first."""
    entries = [
        TimelineEntry(change.changed_on, "position", change)
        for change in visible(membership, PositionChange)
        .filter(recommendation=recommendation)
        .select_related("author", "evidence")
    ]
    entries += [
        TimelineEntry(change.changed_on, "assessment", change)
        for change in visible(membership, AssessmentChange)
        .filter(recommendation=recommendation)
        .select_related("author", "evidence", "visit")
    ]
    entries += [
        TimelineEntry(exchange.occurred_on, "exchange", exchange)
        for exchange in visible(membership, Exchange)
        .filter(recommendations=recommendation)
        .select_related("created_by", "file")
    ]
    entries += [
        TimelineEntry(message.sent_at.date(), "message", message)
        for message in recommendation.messages.all()
    ]
    return sorted(entries, key=lambda item: (item.date, item.entry.pk), reverse=True)


@member_required(RECOMMENDATIONS)
def recommendation_detail(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    recommendation = _recommendation(membership, pk)
    observations = (
        visible(membership, Observation)
        .filter(recommendations=recommendation)
        .select_related("visit__place", "theme")
    )
    return render(
        request,
        "recommendations/detail.html",
        {
            "recommendation": recommendation,
            "observations": observations,
            "places": visible(membership, Place)
            .filter(recommendations=recommendation)
            .only("pk", "name"),
            "themes": recommendation.themes.all(),
            "timeline": _timeline(recommendation, membership),
            "actions": RECOMMENDATIONS.allowed(membership, recommendation),
            "position_form": PositionForm(initial={"version": recommendation.version}),
            "assessment_form": AssessmentForm(initial={"version": recommendation.version}),
        },
    )


@member_required(RECOMMENDATIONS, "create")
def recommendation_create(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    """A new recommendation; from a visit (`?visit=<id>`) its findings are offered."""
    visit = None
    observations = None
    visit_id = request.GET.get("visit") or request.POST.get("visit")
    if visit_id:
        visit = get_visible_or_404(membership, Visit.objects.select_related("place"), visit_id)
        observations = (
            visible(membership, Observation)
            .filter(visit=visit, held_back=False)
            .select_related("theme")
        )
    initial: dict[str, Any] = {"issued_on": timezone.localdate()}
    if visit is not None:
        initial["places"] = [visit.place_id]
    form = RecommendationForm(
        request.POST or None, membership=membership, observations=observations, initial=initial
    )
    suggestions: list[Any] = []
    if request.method == "POST":
        suggestions = recurrence.suggest(
            membership,
            text=request.POST.get("text", ""),
            authority_id=request.POST.get("authority") or None,
            place_ids=request.POST.getlist("places"),
            theme_ids=request.POST.getlist("themes"),
        )
    # Similar earlier recommendations are shown once before issuing, so the writer can say
    # whether this one repeats one of them.
    checked = bool(request.POST.get("similar_checked")) or not suggestions
    if request.method == "POST" and form.is_valid() and checked:
        data = form.service_data()
        data["visit"] = visit
        try:
            recommendation = services.recommendation_create(
                membership=membership,
                data=data,
                observations=form.cleaned_data.get("observations") or [],
                places=form.cleaned_data.get("places") or [],
                themes=form.cleaned_data.get("themes") or [],
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, _("The recommendation is issued."))
            return redirect(recommendation)
    return render(
        request,
        "recommendations/form.html",
        {"form": form, "recommendation": None, "visit": visit, "suggestions": suggestions},
        status=400 if form.errors else 200,
    )


@member_required(RECOMMENDATIONS)
def recommendation_edit(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    recommendation = _recommendation(membership, pk)
    if not RECOMMENDATIONS.can(membership, "edit", recommendation):
        raise PermissionDenied
    form = RecommendationForm(request.POST or None, instance=recommendation, membership=membership)
    conflict = None
    if request.method == "POST" and form.is_valid():
        try:
            recommendation = services.recommendation_update(
                membership=membership,
                recommendation=recommendation,
                data=form.service_data(),
                places=form.cleaned_data.get("places") or [],
                themes=form.cleaned_data.get("themes") or [],
                expected_version=form.cleaned_data.get("version"),
            )
        except StaleVersion as stale:
            current = stale.current
            assert isinstance(current, Recommendation)

            def make_form(data: Any = None) -> RecommendationForm:
                return RecommendationForm(data, instance=current, membership=membership)

            form, conflict = form_after_conflict(form, stale, make_form)
            recommendation = current
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, _("The changes were saved."))
            return redirect(recommendation)
    return render(
        request,
        "recommendations/form.html",
        {"form": form, "recommendation": recommendation, "conflict": conflict},
        status=409 if conflict else 400 if form.errors else 200,
    )


def _track_form(
    request: HttpRequest,
    pk: int,
    membership: Membership,
    *,
    action: str,
    form_class: type[Any],
    save: Any,
    template: str,
    visit: Visit | None = None,
) -> HttpResponse:
    recommendation = _recommendation(membership, pk)
    if not RECOMMENDATIONS.can(membership, action, recommendation):
        raise PermissionDenied
    initial: dict[str, Any] = {
        "version": recommendation.version,
        "changed_on": timezone.localdate(),
    }
    if visit is not None:
        initial.update(verified_on=timezone.localdate(), verification_method="follow_up_visit")
    form = form_class(request.POST or None, request.FILES or None, initial=initial)
    stale_message = None
    if request.method == "POST" and form.is_valid():
        try:
            save(recommendation, form.cleaned_data)
        except StaleVersion as stale:
            # Nothing is saved: the page says who changed what, and the form takes the new
            # version so the person can confirm after reading it.
            stale_message = stale.messages[0]
            recommendation = _recommendation(membership, pk)
            data = request.POST.copy()
            data["version"] = str(recommendation.version)
            form = form_class(data, request.FILES or None)
            form.is_valid()
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, _("Recorded."))
            return redirect(recommendation)
    return render(
        request,
        template,
        {
            "form": form,
            "recommendation": recommendation,
            "stale_message": stale_message,
            "visit": visit,
        },
        status=409 if stale_message else 400 if form.errors else 200,
    )


@member_required(RECOMMENDATIONS)
def recommendation_position(
    request: HttpRequest, pk: int, *, membership: Membership
) -> HttpResponse:
    def save(recommendation: Recommendation, data: dict[str, Any]) -> None:
        services.recommendation_set_position(
            membership=membership,
            recommendation=recommendation,
            position=data["position"],
            changed_on=data.get("changed_on"),
            note=data.get("note") or "",
            action_plan=data.get("action_plan") or "",
            planned_by=data.get("planned_by"),
            evidence=data.get("evidence"),
            expected_version=data.get("version"),
        )

    return _track_form(
        request,
        pk,
        membership,
        action="record_position",
        form_class=PositionForm,
        save=save,
        template="recommendations/position_form.html",
    )


@member_required(RECOMMENDATIONS)
def recommendation_assess(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    """The body's assessment; from a follow-up visit (`?visit=<id>`), it records the visit."""
    visit = None
    visit_id = request.GET.get("visit") or request.POST.get("visit")
    if visit_id:
        visit = get_visible_or_404(membership, Visit, visit_id)

    def save(recommendation: Recommendation, data: dict[str, Any]) -> None:
        services.recommendation_assess(
            membership=membership,
            recommendation=recommendation,
            assessment=data["assessment"],
            changed_on=data.get("changed_on"),
            verified_on=data.get("verified_on"),
            verification_method=data.get("verification_method") or "",
            evidence_text=data.get("evidence_text") or "",
            evidence=data.get("evidence"),
            note=data.get("note") or "",
            visit=visit,
            expected_version=data.get("version"),
        )

    return _track_form(
        request,
        pk,
        membership,
        visit=visit,
        action="assess",
        form_class=AssessmentForm,
        save=save,
        template="recommendations/assessment_form.html",
    )


@require_GET
@member_required(RECOMMENDATIONS)
def position_file(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    change = get_visible_or_404(membership, PositionChange.objects.select_related("evidence"), pk)
    if change.evidence is None:
        raise Http404
    return download_response(change.evidence, actor=membership.user)


@require_GET
@member_required(RECOMMENDATIONS)
def assessment_file(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    change = get_visible_or_404(membership, AssessmentChange.objects.select_related("evidence"), pk)
    if change.evidence is None:
        raise Http404
    return download_response(change.evidence, actor=membership.user)


@require_GET
@member_required(RECOMMENDATIONS)
def exchange_file(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    exchange = get_visible_or_404(membership, Exchange.objects.select_related("file"), pk)
    if exchange.file is None:
        raise Http404
    return download_response(exchange.file, actor=membership.user)


# ---------- Authorities ----------


@member_required(RECOMMENDATIONS)
def authority_list(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    authorities = list(
        visible(membership, Authority).select_related("parent").order_by("name", "id")[:1000]
    )
    # The directory as a tree: each authority under its parent, in name order.
    children: dict[int | None, list[Authority]] = {}
    known = {authority.pk for authority in authorities}
    for authority in authorities:
        parent = authority.parent_id if authority.parent_id in known else None
        children.setdefault(parent, []).append(authority)
    rows: list[tuple[int, Authority]] = []

    def walk(parent: int | None, depth: int) -> None:
        for authority in children.get(parent, []):
            if depth < queries.MAX_DEPTH:
                rows.append((depth, authority))
                walk(authority.pk, depth + 1)

    walk(None, 0)
    return render(
        request,
        "recommendations/authority_list.html",
        {
            "rows": rows,
            "can_manage": RECOMMENDATIONS.can(membership, "manage_authorities"),
        },
    )


@member_required(RECOMMENDATIONS)
def authority_detail(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    authority = get_visible_or_404(membership, Authority.objects.select_related("parent"), pk)
    recommendations = (
        visible(membership, Recommendation)
        .filter(authority=authority)
        .order_by("-issued_on", "-id")[:100]
    )
    exchanges = (
        visible(membership, Exchange)
        .filter(authority=authority)
        .select_related("file")
        .prefetch_related("recommendations")[:100]
    )
    focal_points = (
        visible(membership, FocalPoint)
        .filter(authority=authority)
        .select_related("membership__user")
    )
    return render(
        request,
        "recommendations/authority_detail.html",
        {
            "authority": authority,
            "children": visible(membership, Authority).filter(parent=authority),
            "places": authority.places.filter(deleted_at__isnull=True).only("pk", "name")[:200],
            "recommendations": recommendations,
            "exchanges": exchanges,
            "focal_points": focal_points,
            "actions": RECOMMENDATIONS.allowed(membership, authority),
            "focal_point_form": FocalPointForm(membership=membership),
        },
    )


@member_required(RECOMMENDATIONS, "manage_authorities")
def authority_create(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    form = AuthorityForm(request.POST or None, membership=membership)
    if request.method == "POST" and form.is_valid():
        try:
            authority = services.authority_create(
                membership=membership,
                data=form.service_data(),
                places=form.cleaned_data.get("places") or [],
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, _("The authority is in the directory."))
            return redirect(authority)
    return render(
        request,
        "recommendations/authority_form.html",
        {"form": form, "authority": None},
        status=400 if form.errors else 200,
    )


@member_required(RECOMMENDATIONS)
def authority_edit(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    authority = get_visible_or_404(membership, Authority, pk)
    if not RECOMMENDATIONS.can(membership, "manage_authorities", authority):
        raise PermissionDenied
    form = AuthorityForm(request.POST or None, instance=authority, membership=membership)
    conflict = None
    if request.method == "POST" and form.is_valid():
        try:
            authority = services.authority_update(
                membership=membership,
                authority=authority,
                data=form.service_data(),
                places=form.cleaned_data.get("places") or [],
                expected_version=form.cleaned_data.get("version"),
            )
        except StaleVersion as stale:
            current = stale.current
            assert isinstance(current, Authority)

            def make_form(data: Any = None) -> AuthorityForm:
                return AuthorityForm(data, instance=current, membership=membership)

            form, conflict = form_after_conflict(form, stale, make_form)
            authority = current
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, _("The changes were saved."))
            return redirect(authority)
    return render(
        request,
        "recommendations/authority_form.html",
        {"form": form, "authority": authority, "conflict": conflict},
        status=409 if conflict else 400 if form.errors else 200,
    )


@member_required(RECOMMENDATIONS)
def authority_focal_point(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    authority = get_visible_or_404(membership, Authority, pk)
    if not RECOMMENDATIONS.can(membership, "manage_focal_points", authority):
        raise PermissionDenied
    form = FocalPointForm(request.POST or None, membership=membership)
    if request.method == "POST" and form.is_valid():
        try:
            services.focal_point_set(
                membership=membership,
                target=form.cleaned_data["member"],
                authority=authority,
                include_subordinates=form.cleaned_data["include_subordinates"],
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, _("The focal point now answers for this authority."))
            return redirect(authority)
    return render(
        request,
        "recommendations/focal_point_form.html",
        {"form": form, "authority": authority},
        status=400 if form.errors else 200,
    )


@member_required(RECOMMENDATIONS)
def exchange_create(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    """Record a letter, a meeting or the body's reply with an authority."""
    authority = get_visible_or_404(membership, Authority, pk)
    if not RECOMMENDATIONS.can(membership, "dialogue", authority):
        raise PermissionDenied
    form = ExchangeForm(
        request.POST or None, request.FILES or None, membership=membership, authority=authority
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.exchange_create(
                membership=membership,
                authority=authority,
                data=form.cleaned_data,
                recommendations=form.cleaned_data["recommendations"],
                upload=form.cleaned_data.get("file"),
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, _("The exchange is recorded."))
            return redirect(authority)
    return render(
        request,
        "recommendations/exchange_form.html",
        {"form": form, "authority": authority},
        status=400 if form.errors else 200,
    )


@member_required(RECOMMENDATIONS, "settings")
def recommendation_settings(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    current = queries.settings_for(membership.body)
    form = SettingsForm(request.POST or None, instance=current)
    if request.method == "POST" and form.is_valid():
        try:
            services.settings_update(membership=membership, data=form.cleaned_data)
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, _("The deadlines were saved."))
            return redirect("recommendations:settings")
    return render(
        request,
        "recommendations/settings.html",
        {"form": form},
        status=400 if form.errors else 200,
    )


@member_required(RECOMMENDATIONS)
def recommendation_dashboard(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    from vigil.recommendations import dashboard

    figures = dashboard.build(
        visible(membership, Recommendation).filter(body_id=membership.body_id)
    )
    return render(request, "recommendations/dashboard.html", figures)
