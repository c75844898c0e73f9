"""Pages of recommendations: the authorities' directory, the list, a recommendation with the
timeline of both tracks and the dialogue, and the forms."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from vigil.core.access import get_visible_or_404, visible
from vigil.core.guard import member_required
from vigil.core.models import Membership
from vigil.recommendations.models import Authority, Recommendation
from vigil.recommendations.permissions import RECOMMENDATIONS


@member_required(RECOMMENDATIONS)
def recommendation_list(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    recommendations = visible(membership, Recommendation)[:50]
    return render(request, "recommendations/list.html", {"recommendations": recommendations})


@member_required(RECOMMENDATIONS)
def recommendation_detail(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    recommendation = get_visible_or_404(membership, Recommendation, pk)
    return render(request, "recommendations/detail.html", {"recommendation": recommendation})


@member_required(RECOMMENDATIONS)
def authority_list(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    authorities = visible(membership, Authority)[:200]
    return render(request, "recommendations/authority_list.html", {"authorities": authorities})


@member_required(RECOMMENDATIONS)
def authority_detail(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    authority = get_visible_or_404(membership, Authority, pk)
    return render(request, "recommendations/authority_detail.html", {"authority": authority})
