"""The one request guard, for function views and for the API.

`@member_required(PERMISSIONS, "action")` resolves the active membership, answers 404 when the
member's role may not see the app's area at all, 403 when it may see it but not do the action,
and hands the view its `membership`. `MemberViewSetMixin` does the same for DRF viewsets,
scopes their queryset through `core.access.visible` and records large pages of a list.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404, HttpRequest, HttpResponseBase
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response

from vigil.core.access import active_membership, get_or_404, visible
from vigil.core.models import Membership
from vigil.core.permissions import Permissions


def resolve_membership(
    request: HttpRequest, permissions: Permissions | None, action: str | None
) -> Membership:
    """The active membership if it may do `action` (404 if it may not even see the area)."""
    membership = active_membership(request)
    if membership is None:
        raise Http404("No body.")
    if permissions is not None:
        if not permissions.sees_area(membership):
            raise Http404
        if action is not None and not permissions.can(membership, action):
            raise PermissionDenied
    return membership


def member_required(
    permissions: Permissions | None = None, action: str | None = None
) -> Callable[[Callable[..., HttpResponseBase]], Callable[..., HttpResponseBase]]:
    """Decorate a function view `view(request, *, membership, ...)`."""

    def decorate(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            membership = resolve_membership(request, permissions, action)
            return view(request, *args, membership=membership, **kwargs)

        return wrapped

    return decorate


# Query parameters that choose a page, not which records: left out of a large page's record.
_PAGING_PARAMETERS = ("cursor", "page", "page_size", "limit", "offset")


class MemberViewSetMixin:
    """For DRF viewsets: the caller's membership, the role check per action, scoped objects.

    Set `permissions`, `model` and `action_permissions` ({viewset action: permission action});
    an action missing from the map needs only the area."""

    permissions: ClassVar[Permissions]
    model: ClassVar[type[models.Model]]
    action_permissions: ClassVar[Mapping[str, str]] = {}

    @property
    def membership(self) -> Membership:
        cached = getattr(self, "_membership", None)
        if cached is None:
            try:
                view: Any = self
                cached = resolve_membership(
                    view.request._request,
                    self.permissions,
                    self.action_permissions.get(view.action or ""),
                )
            except Http404 as exc:
                raise exceptions.NotFound from exc
            except PermissionDenied as exc:
                raise exceptions.PermissionDenied from exc
            self._membership = cached
        return cached

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        if not getattr(self, "swagger_fake_view", False):
            self.membership  # noqa: B018  (checks the role before any work)

    def scope_queryset(self, queryset: models.QuerySet[Any]) -> models.QuerySet[Any]:
        """Narrow or decorate the visible objects (select_related, soft-deleted ones out)."""
        return queryset

    def get_queryset(self) -> models.QuerySet[Any]:
        if getattr(self, "swagger_fake_view", False):
            return self.model._default_manager.none()
        return self.scope_queryset(visible(self.membership, self.model))

    def get_object(self) -> Any:
        view: Any = self
        obj = get_or_404(self.get_queryset(), view.kwargs["pk"])
        view.check_object_permissions(view.request, obj)
        return obj

    def finalize_response(
        self, request: Request, response: Any, *args: Any, **kwargs: Any
    ) -> Response:
        # A list read of more records than VIGIL_AUDIT_API_PAGE_SIZE is recorded
        # (`<app>.<model>.list_api`): reading a whole registry through the API leaves the trace
        # an export leaves. A paginated list counts the page size asked for, an unpaginated one
        # the records sent.
        view: Any = self
        if view.action == "list" and response.status_code == 200:
            self._record_large_list(request, response.data)
        return super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc,no-any-return]

    def _record_large_list(self, request: Request, data: Any) -> None:
        view: Any = self
        paginator = view.paginator
        if paginator is not None and isinstance(data, dict):
            records = data.get("results", [])
            if hasattr(paginator, "get_page_size"):
                size = paginator.get_page_size(request)
            else:
                size = getattr(paginator, "limit", None) or len(records)
        elif isinstance(data, list):
            records, size = data, len(data)
        else:
            return
        if size <= settings.VIGIL_AUDIT_API_PAGE_SIZE:
            return
        from vigil.core import services

        params = request.query_params.copy()
        for name in _PAGING_PARAMETERS:
            params.pop(name, None)
        services.api_list_record(
            membership=self.membership,
            model=self.model,
            page_size=size,
            returned=len(records),
            filters=params.urlencode(),
        )

    def require(self, action: str, obj: Any = None) -> None:
        """403 unless the caller may do `action` (on `obj`)."""
        if not self.permissions.can(self.membership, action, obj):
            raise exceptions.PermissionDenied
