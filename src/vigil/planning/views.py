"""Pages of the visit programme: programmes and how to make one, a programme with its visits,
the risk scores, why a place is or is not planned, settings, monitors, and each member's
calendar."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from vigil.core.access import get_visible_or_404, visible
from vigil.core.forms import apply_service_errors
from vigil.core.guard import member_required
from vigil.core.models import Membership
from vigil.places.models import Place
from vigil.planning import services
from vigil.planning.forms import GenerateForm, MoveForm, ProfileForm, SettingsForm, VersionForm
from vigil.planning.models import (
    PlaceRisk,
    Programme,
    ProgrammeStatus,
    ProgrammeTeamMember,
    ProgrammeVisit,
    month_start,
)
from vigil.planning.permissions import PLANNING
from vigil.planning.risk import explain, settings_for

RISK_PAGE = 50
MAX_RISK_PAGES = 20


def _programme(membership: Membership, pk: Any) -> Programme:
    return get_visible_or_404(membership, Programme, pk)


def _month_choices(programme: Programme) -> list[tuple[int, str]]:
    return [
        (month, formats.date_format(month_start(programme, month), "YEAR_MONTH_FORMAT"))
        for month in range(programme.months)
    ]


@member_required(PLANNING)
def programme_list(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    can_plan = PLANNING.can(membership, "plan")
    form = GenerateForm(request.POST or None) if can_plan else None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied
        if form.is_valid():
            try:
                programme = services.programme_generate(membership=membership, **form.cleaned_data)
            except ValidationError as error:
                apply_service_errors(form, error)
            else:
                messages.success(
                    request,
                    _(
                        "The planner proposed %(count)s visits. "
                        "Check them, lock or move any, then approve."
                    )
                    % {"count": programme.entries.count()},
                )
                return redirect(programme)
    programmes = visible(membership, Programme).order_by("-starts_on", "-id")[:50]
    return render(
        request,
        "planning/list.html",
        {"programmes": programmes, "form": form, "can_plan": can_plan},
    )


@member_required(PLANNING)
def programme_detail(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    programme = _programme(membership, pk)
    can_plan = PLANNING.can(membership, "plan", programme)
    entries = (
        visible(membership, ProgrammeVisit)
        .filter(programme=programme)
        .select_related("place", "place__region", "place__place_type", "visit")
        .prefetch_related(
            Prefetch(
                "team",
                queryset=ProgrammeTeamMember.objects.select_related("membership__user"),
            )
        )
        .order_by("month", "week", "place__name", "pk")
    )
    months: dict[int, list[ProgrammeVisit]] = {}
    for entry in entries:
        months.setdefault(entry.month, []).append(entry)
    month_labels = dict(_month_choices(programme))
    return render(
        request,
        "planning/detail.html",
        {
            "programme": programme,
            "months": [(month_labels[m], months[m]) for m in sorted(months)],
            "can_plan": can_plan and programme.status == ProgrammeStatus.DRAFT,
            "projection": services.projection(programme) if can_plan else None,
            "month_choices": _month_choices(programme),
            "weeks": range(1, 5),
        },
    )


def _action(request: HttpRequest, programme: Programme) -> int | None:
    form = VersionForm(request.POST)
    return form.cleaned_data["version"] if form.is_valid() else programme.version


def _done(request: HttpRequest, programme: Programme, call: Any, success: str) -> HttpResponse:
    try:
        call()
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(request, success)
    return redirect(programme)


@require_POST
@member_required(PLANNING, "plan")
def entry_lock(
    request: HttpRequest, pk: int, entry_pk: int, *, membership: Membership
) -> HttpResponse:
    programme = _programme(membership, pk)
    entry = get_visible_or_404(membership, programme.entries.all(), entry_pk)
    locked = request.POST.get("locked") == "1"
    return _done(
        request,
        programme,
        lambda: services.entry_set_locked(
            membership=membership, entry=entry, locked=locked, version=_action(request, programme)
        ),
        _("Locked: re-planning keeps this visit where it is.")
        if locked
        else _("Unlocked: re-planning may move this visit."),
    )


@require_POST
@member_required(PLANNING, "plan")
def entry_move(
    request: HttpRequest, pk: int, entry_pk: int, *, membership: Membership
) -> HttpResponse:
    programme = _programme(membership, pk)
    entry = get_visible_or_404(membership, programme.entries.all(), entry_pk)
    form = MoveForm(request.POST, months=_month_choices(programme))
    if not form.is_valid():
        messages.error(request, _("Choose a month of the programme and a week from 1 to 4."))
        return redirect(programme)
    return _done(
        request,
        programme,
        lambda: services.entry_move(
            membership=membership,
            entry=entry,
            month=form.cleaned_data["month"],
            week=form.cleaned_data["week"],
            version=form.cleaned_data["version"],
        ),
        _("Moved and locked there."),
    )


@require_POST
@member_required(PLANNING, "plan")
def entry_remove_member(
    request: HttpRequest, pk: int, entry_pk: int, member_pk: int, *, membership: Membership
) -> HttpResponse:
    programme = _programme(membership, pk)
    entry = get_visible_or_404(membership, programme.entries.all(), entry_pk)
    seat = get_visible_or_404(
        membership, ProgrammeTeamMember.objects.filter(entry=entry), member_pk
    )
    return _done(
        request,
        programme,
        lambda: services.entry_remove_member(
            membership=membership,
            entry=entry,
            member=seat.membership,
            version=_action(request, programme),
        ),
        _("Taken off the team; the planner filled the seat where someone was free."),
    )


@require_POST
@member_required(PLANNING, "plan")
def programme_replan(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    programme = _programme(membership, pk)
    return _done(
        request,
        programme,
        lambda: services.programme_replan(
            membership=membership, programme=programme, version=_action(request, programme)
        ),
        _("Re-planned around the locked visits."),
    )


@require_POST
@member_required(PLANNING, "approve")
def programme_approve(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    programme = _programme(membership, pk)
    return _done(
        request,
        programme,
        lambda: services.programme_approve(
            membership=membership, programme=programme, version=_action(request, programme)
        ),
        _("Approved: its visits are now planned visits, unannounced, with their teams."),
    )


@member_required(PLANNING, "plan")
def place_explain(
    request: HttpRequest, pk: int, place_pk: int, *, membership: Membership
) -> HttpResponse:
    programme = _programme(membership, pk)
    place = get_visible_or_404(membership, Place, place_pk)
    explanation = services.explain_place(programme, place)
    weights = settings_for(membership.body).weights
    risk = explanation.get("risk")
    return render(
        request,
        "planning/explain.html",
        {
            "programme": programme,
            "place": place,
            "explanation": explanation,
            "factors": explain(risk, weights) if risk else [],
            "due_label": dict(_month_choices(programme)).get(explanation.get("due_month", -1)),
        },
    )


@member_required(PLANNING, "plan")
def risk_list(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    if request.method == "POST":
        count = services.risks_recompute(membership=membership)
        messages.success(request, _("Recomputed the risk of %(count)s places.") % {"count": count})
        return redirect("planning:risk")
    risks = (
        visible(membership, PlaceRisk)
        .select_related("place", "place__place_type", "place__region")
        .order_by("-score", "place_id")
    )
    paginator = Paginator(risks[: RISK_PAGE * MAX_RISK_PAGES], RISK_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    weights = settings_for(membership.body).weights
    rows = [(risk, explain(risk, weights)[:3]) for risk in page.object_list]
    return render(request, "planning/risk.html", {"page": page, "rows": rows})


@member_required(PLANNING, "settings")
def settings_edit(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    settings = settings_for(membership.body)
    form = SettingsForm(request.POST or None, instance=settings)
    if request.method == "POST" and form.is_valid():
        try:
            services.settings_update(
                membership=membership,
                reserve_percent=form.cleaned_data["reserve_percent"],
                default_interval_months=form.cleaned_data["default_interval_months"],
                intervals=form.intervals(),
                weights=form.weights(),
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, _("The planning settings were saved."))
            return redirect("planning:settings")
    return render(request, "planning/settings.html", {"form": form})


@member_required(PLANNING)
def monitor_list(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    monitors = services.monitors_of(membership.body)
    if not PLANNING.can(membership, "plan"):
        monitors = [m for m in monitors if m.membership.pk == membership.pk]
    return render(request, "planning/monitors.html", {"monitors": monitors})


@member_required(PLANNING)
def monitor_edit(request: HttpRequest, member_pk: int, *, membership: Membership) -> HttpResponse:
    member = get_visible_or_404(membership, Membership, member_pk)
    if member.pk != membership.pk and not PLANNING.can(membership, "plan", member):
        raise PermissionDenied
    profile = getattr(member, "monitor_profile", None)
    form = ProfileForm(request.POST or None, instance=profile)
    if request.method == "POST" and form.is_valid():
        try:
            services.profile_update(membership=membership, member=member, data=form.cleaned_data)
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, _("Saved."))
            return redirect("planning:monitors")
    return render(request, "planning/monitor_form.html", {"form": form, "member": member})


def _ics_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


@member_required(PLANNING)
def calendar(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    """The member's own programme visits as an iCalendar file. An unannounced visit's title names
    no place unless the member asks for names (`?names=1`): a phone's calendar is not a safe."""
    names = request.GET.get("names") == "1"
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Vigil//Visit programme//EN",
        "CALSCALE:GREGORIAN",
    ]
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    for entry in services.member_entries(membership):
        start = month_start(entry.programme, entry.month) + datetime.timedelta(days=7 * entry.week)
        start += datetime.timedelta(days=(7 - start.weekday()) % 7)
        end = start + datetime.timedelta(days=entry.days)
        title = (
            _("Visit to %(place)s") % {"place": entry.place.name}
            if names
            else _("Visit (unannounced)")
        )
        lines += [
            "BEGIN:VEVENT",
            f"UID:vigil-programme-{entry.pk}@{request.get_host()}",
            f"DTSTAMP:{stamp}",
            f"DTSTART;VALUE=DATE:{start:%Y%m%d}",
            f"DTEND;VALUE=DATE:{end:%Y%m%d}",
            f"SUMMARY:{_ics_escape(str(title))}",
            "CLASS:CONFIDENTIAL",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    response = HttpResponse(
        "\r\n".join(lines) + "\r\n", content_type="text/calendar; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="vigil-visits.ics"'
    return response
