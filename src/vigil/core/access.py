"""Who may see what: the active body, each model's visibility rule, need-to-know and grants.

Every model a user can reach registers its rule once, in its app's `AppConfig.ready`:

    register_visibility(Place, rule=place_rule)

and every page, API view, export, search, dossier, notification and the audit trail asks
`visible(membership, Model)`, `get_visible_or_404(membership, Model, pk)` or
`can_see(membership, obj)`. What a user may not see does not exist for them: lookups outside
their scope raise Http404, exactly as for a record that does not exist.

External roles (authority focal points) see nothing unless a model's registration lets them in.
Existence and content are separate: a rule may say that a member may know an object exists
(`visible(...)`) without reading it (`visible(..., content=True)`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, TypeVar

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import models
from django.db.models import Q
from django.http import Http404, HttpRequest
from django.utils import timezone

from vigil.core.models import AccessGrant, Body, Membership, Role

ModelT = TypeVar("ModelT", bound=models.Model)
Rule = Callable[[Membership, models.QuerySet[Any]], models.QuerySet[Any]]

SESSION_BODY_KEY = "vigil_body_id"
BODY_HEADER = "HTTP_X_VIGIL_BODY"

# Internal staff of a body; authority focal points are external and see only their dialogue.
INTERNAL_ROLES = frozenset(
    {Role.HEAD, Role.VISIT_LEADER, Role.MONITOR, Role.ANALYST, Role.ADMIN, Role.AUDITOR}
)
EXTERNAL_ROLES = frozenset(Role) - INTERNAL_ROLES


# ---------- The registry of visibility rules ----------


@dataclass(frozen=True)
class Visibility:
    model: type[models.Model]
    rule: Rule
    roles: frozenset[str]
    content: Rule | None
    history: Rule | None
    grantable: bool


_RULES: dict[type[models.Model], Visibility] = {}


def register_visibility(
    model: type[models.Model],
    rule: Rule,
    *,
    roles: Collection[str] = INTERNAL_ROLES,
    content: Rule | None = None,
    history: Rule | None = None,
    grantable: bool = False,
) -> None:
    """Say once who may see `model`.

    - `rule(membership, queryset)` narrows to the objects the member may know exist; it is
      called only for members whose role is in `roles` (everyone else sees nothing);
    - `content` narrows further to the objects whose content they may read (default: all of
      those they may know exist);
    - `history` widens the objects whose audit entries they may read in full (a trashed record
      no longer shows in lists but its history stays readable by its body);
    - `grantable` lets a head give a member a time-limited grant to one object.
    """
    _RULES[model] = Visibility(
        model=model,
        rule=rule,
        roles=frozenset(roles),
        content=content,
        history=history,
        grantable=grantable,
    )


def registered_models() -> list[type[models.Model]]:
    return list(_RULES)


def visibility_of(model: type[models.Model]) -> Visibility | None:
    return _RULES.get(model)


def grantable_models() -> list[type[models.Model]]:
    return [model for model, spec in _RULES.items() if spec.grantable]


def _spec(model: type[models.Model]) -> Visibility:
    try:
        return _RULES[model]
    except KeyError as exc:
        raise LookupError(
            f"{model._meta.label} has no visibility rule: call register_visibility() in its "
            "app's AppConfig.ready."
        ) from exc


def visible(
    membership: Membership | None, model: type[ModelT], *, content: bool = False
) -> models.QuerySet[ModelT]:
    """The objects of `model` the member may know exist (or, with `content`, may read)."""
    spec = _spec(model)
    queryset: models.QuerySet[Any] = model._default_manager.all()
    if membership is None or not membership.is_active or membership.role not in spec.roles:
        return queryset.none()
    queryset = spec.rule(membership, queryset)
    if content and spec.content is not None:
        queryset = spec.content(membership, queryset)
    return queryset


def visible_history(membership: Membership | None, model: type[ModelT]) -> models.QuerySet[ModelT]:
    """The objects whose audit entries the member may read in full."""
    spec = _spec(model)
    if spec.history is None:
        return visible(membership, model, content=True)
    queryset: models.QuerySet[Any] = model._default_manager.all()
    if membership is None or not membership.is_active or membership.role not in spec.roles:
        return queryset.none()
    return spec.history(membership, queryset)


def get_visible_or_404(
    membership: Membership | None,
    model_or_queryset: type[ModelT] | models.QuerySet[ModelT],
    pk: Any,
    *,
    content: bool = False,
) -> ModelT:
    """One object the member may see; missing, not-yours and malformed ids all answer 404.

    Pass a queryset (of the same model) to add `select_related` or narrow further."""
    if isinstance(model_or_queryset, models.QuerySet):
        model = model_or_queryset.model
        queryset = model_or_queryset & visible(membership, model, content=content)
    else:
        queryset = visible(membership, model_or_queryset, content=content)
    return get_or_404(queryset, pk)


def get_or_404(queryset: models.QuerySet[ModelT], pk: Any) -> ModelT:
    """`pk` from an already visible queryset; missing and malformed ids answer 404."""
    try:
        return queryset.get(pk=pk)
    except (ObjectDoesNotExist, ValueError, TypeError, ValidationError, OverflowError) as exc:
        raise Http404("Not found.") from exc


def can_see(membership: Membership | None, obj: models.Model, *, content: bool = False) -> bool:
    """Whether the member may know `obj` exists (or, with `content`, read it)."""
    if obj is None or obj.pk is None or type(obj) not in _RULES:
        return False
    return visible(membership, type(obj), content=content).filter(pk=obj.pk).exists()


# ---------- Rules apps build theirs from ----------


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


def own_body(membership: Membership, queryset: models.QuerySet[ModelT]) -> models.QuerySet[ModelT]:
    """A rule: records of the member's own body only (a coordinating body does not see them)."""
    return scope_to_body(queryset, membership, include_member_bodies=False)


def granted_ids(membership: Membership, model: type[models.Model]) -> models.QuerySet[Any]:
    """Ids of `model` objects the member holds a live grant for (a subquery)."""
    from django.contrib.contenttypes.models import ContentType

    return AccessGrant.objects.filter(
        grantee=membership,
        content_type=ContentType.objects.get_for_model(model),
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    ).values("object_id")


def need_to_know(
    membership: Membership,
    queryset: models.QuerySet[ModelT],
    *,
    restricted: Q,
    holders: Q,
    exempt_roles: Collection[str] = frozenset({Role.HEAD}),
) -> models.QuerySet[ModelT]:
    """Restrict the `restricted` objects to their holders (e.g. a visit's team, a case's holders)
    and to members with a live grant; roles in `exempt_roles` are not restricted.

    `holders` is a condition on the object naming this member, e.g.
    `Q(team__membership=membership)`."""
    if membership.role in exempt_roles:
        return queryset
    model = queryset.model
    allowed = model._default_manager.filter(holders).values("pk")
    return queryset.filter(
        ~restricted | Q(pk__in=allowed) | Q(pk__in=granted_ids(membership, model))
    )


# ---------- The active body of a request ----------


def user_memberships(user: Any) -> list[Membership]:
    if not getattr(user, "is_authenticated", False):
        return []
    return list(
        Membership.objects.filter(user=user, is_active=True)
        .select_related("body", "body__coordinator", "user")
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
