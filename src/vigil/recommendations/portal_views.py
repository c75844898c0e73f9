"""The authorities' portal: a focal point's recommendations, their deadlines, and the answer."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from vigil.core.access import get_visible_or_404, visible
from vigil.core.guard import member_required
from vigil.core.models import Membership
from vigil.recommendations.models import Recommendation
from vigil.recommendations.permissions import PORTAL


@member_required(PORTAL)
def portal_list(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    recommendations = visible(membership, Recommendation)[:50]
    return render(request, "recommendations/portal_list.html", {"recommendations": recommendations})


@member_required(PORTAL)
def portal_detail(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    recommendation = get_visible_or_404(membership, Recommendation, pk)
    return render(request, "recommendations/portal_detail.html", {"recommendation": recommendation})
