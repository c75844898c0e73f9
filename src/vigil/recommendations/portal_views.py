"""The authorities' portal: a focal point's recommendations, their deadlines, and the answer
(a position, an action plan with dates, an evidence file). Nothing else of the body exists
here: every lookup goes through the recommendation rule, which lets a focal point see only
what is addressed to their authority."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from vigil.core.access import get_visible_or_404, visible
from vigil.core.concurrency import StaleVersion
from vigil.core.forms import apply_service_errors
from vigil.core.guard import member_required
from vigil.core.models import Membership
from vigil.recommendations import queries, services
from vigil.recommendations.forms import PortalResponseForm
from vigil.recommendations.models import CLOSED_ASSESSMENTS, FocalPoint, Recommendation
from vigil.recommendations.permissions import PORTAL


def _portal_recommendation(membership: Membership, pk: Any) -> Recommendation:
    return get_visible_or_404(membership, Recommendation.objects.select_related("authority"), pk)


@member_required(PORTAL)
def portal_list(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    link = FocalPoint.objects.filter(membership=membership).select_related("authority").first()
    found = (
        visible(membership, Recommendation)
        .exclude(assessment__in=CLOSED_ASSESSMENTS)
        .select_related("authority")
        .order_by("response_due", "id")
    )
    count, more = queries.capped_count(found)
    number = 1
    try:
        number = max(1, min(int(request.GET.get("page") or 1), queries.MAX_PAGE))
    except ValueError:
        number = 1
    start = (number - 1) * queries.PAGE_SIZE
    rows = list(found[start : start + queries.PAGE_SIZE + 1])
    return render(
        request,
        "recommendations/portal_list.html",
        {
            "authority": link.authority if link else None,
            "include_subordinates": bool(link and link.include_subordinates),
            "recommendations": rows[: queries.PAGE_SIZE],
            "count": count,
            "more": more,
            "page_number": number,
            "has_next": len(rows) > queries.PAGE_SIZE and number < queries.MAX_PAGE,
            "today": timezone.localdate(),
        },
    )


@member_required(PORTAL)
def portal_detail(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    recommendation = _portal_recommendation(membership, pk)
    form = PortalResponseForm(
        request.POST or None,
        request.FILES or None,
        initial={"version": recommendation.version},
    )
    stale_message = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.recommendation_set_position(
                membership=membership,
                recommendation=recommendation,
                position=data["position"],
                note=data.get("note") or "",
                action_plan=data.get("action_plan") or "",
                planned_by=data.get("planned_by"),
                evidence=data.get("evidence"),
                expected_version=data.get("version"),
            )
        except StaleVersion:
            # Not the trail's "who changed what": that is the body's business.
            stale_message = _(
                "This recommendation changed since you opened it. Read it again, then send "
                "your answer."
            )
            recommendation = _portal_recommendation(membership, pk)
            posted = request.POST.copy()
            posted["version"] = str(recommendation.version)
            form = PortalResponseForm(posted, request.FILES or None)
            form.is_valid()
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, _("Your answer was sent to the body."))
            return redirect("portal:detail", pk=recommendation.pk)
    return render(
        request,
        "recommendations/portal_detail.html",
        {
            "recommendation": recommendation,
            "form": form,
            "stale_message": stale_message,
            "today": timezone.localdate(),
        },
        status=409 if stale_message else 400 if form.errors else 200,
    )
