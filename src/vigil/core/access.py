"""Who may see and do what: the active body, queryset scoping, scoped lookups and role checks.

What a user may not see does not exist for them: lookups outside their scope raise Http404,
exactly as for a record that does not exist.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, TypeVar

from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from django.db.models import Q
from django.http import Http404, HttpRequest

from vigil.core.models import Body, Membership, Role

ModelT = TypeVar("ModelT", bound=models.Model)

SESSION_BODY_KEY = "vigil_body_id"
BODY_HEADER = "HTTP_X_VIGIL_BODY"

# Internal staff of a body; authority focal points are external and see only their dialogue.
INTERNAL_ROLES = frozenset(
    {Role.HEAD, Role.VISIT_LEADER, Role.MONITOR, Role.ANALYST, Role.ADMIN, Role.AUDITOR}
)


def user_memberships(user: Any) -> list[Membership]:
    if not getattr(user, "is_authenticated", False):
        return []
    return list(
        Membership.objects.filter(user=user, is_active=True)
        .select_related("body", "body__coordinator")
        .order_by("body__name")
    )


def request_memberships(request: HttpRequest) -> list[Membership]:
    """The user's memberships, loaded once per request (switcher and active body share them)."""
    cached = getattr(request, "_vigil_memberships", None)
    if cached is None:
        cached = user_memberships(getattr(request, "user", None))
        request._vigil_memberships = cached  # type: ignore[attr-defined]
    return cached


def active_membership(request: HttpRequest) -> Membership | None:
    """The membership the request acts in: the X-Vigil-Body header (API), the session, or the
    first body of the user. Cached on the request."""
    cached = getattr(request, "_vigil_membership", False)
    if cached is not False:
        return cached  # type: ignore[return-value]
    memberships = request_memberships(request)
    chosen = None
    wanted_slug = request.META.get(BODY_HEADER)
    if wanted_slug:
        chosen = next((m for m in memberships if m.body.slug == wanted_slug), None)
        if chosen is None:
            raise Http404("No such body.")
    elif hasattr(request, "session"):
        wanted_id = request.session.get(SESSION_BODY_KEY)
        chosen = next((m for m in memberships if m.body_id == wanted_id), None)
    if chosen is None and memberships:
        chosen = memberships[0]
    request._vigil_membership = chosen  # type: ignore[attr-defined]
    return chosen


def has_role(membership: Membership | None, roles: Collection[str]) -> bool:
    return membership is not None and membership.role in roles


def member_body_ids(body: Body) -> list[int]:
    return list(Body.objects.filter(coordinator=body).values_list("id", flat=True))


def scope_to_body(
    queryset: models.QuerySet[ModelT],
    membership: Membership | None,
    *,
    body_field: str = "body",
    confidential_field: str | None = "is_confidential",
    include_member_bodies: bool = True,
) -> models.QuerySet[ModelT]:
    """Records of the active body, plus its member bodies' non-confidential records."""
    if membership is None:
        return queryset.none()
    condition = Q(**{f"{body_field}_id": membership.body_id})
    if include_member_bodies:
        members = Q(**{f"{body_field}__coordinator_id": membership.body_id})
        if confidential_field:
            members &= Q(**{confidential_field: False})
        condition |= members
    return queryset.filter(condition)


def get_visible_or_404(queryset: models.QuerySet[ModelT], pk: Any) -> ModelT:
    """Fetch `pk` from an already scoped queryset, answering 404 for missing and not-yours alike."""
    try:
        return queryset.get(pk=pk)
    except (ObjectDoesNotExist, ValueError, TypeError) as exc:
        raise Http404("Not found.") from exc
