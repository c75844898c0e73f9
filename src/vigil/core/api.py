"""Shared REST API machinery: the caller's active body, pagination, error bodies."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model
from django.http import Http404
from rest_framework import exceptions, pagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from vigil.core import inputs
from vigil.core.access import active_membership
from vigil.core.models import Membership


class VigilSerializerMixin:
    """What every Vigil serializer does (a test checks each uses it): integer fields bounded by
    what their database column holds (`core/inputs.py`), so that 2147483648 gets a 400 naming
    the field rather than a server error.

    A ModelSerializer's integer fields take the bounds of their model fields; a plain serializer
    whose fields are those of a model says which with `storage_model`; any other integer field
    gets the range of a plain integer column.
    """

    storage_model: type[Model] | None = None

    def get_fields(self) -> Any:
        fields = super().get_fields()  # type: ignore[misc]
        meta = getattr(self, "Meta", None)
        inputs.bound_serializer_integers(fields, self.storage_model or getattr(meta, "model", None))
        return fields


class DefaultCursorPagination(pagination.CursorPagination):
    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = 500


def api_membership(request: Request) -> Membership:
    """The membership an API call acts in (X-Vigil-Body header, or the user's first body)."""
    membership = active_membership(request._request)
    if membership is None:
        # A user with no body sees nothing: every scoped lookup answers 404.
        raise Http404("No body.")
    return membership


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Service-layer errors become the API's 400/403 with field names, never a 500."""
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            detail: Any = {
                field: [str(m) for e in errors for m in e.messages]
                for field, errors in exc.error_dict.items()
            }
        else:
            detail = {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    return drf_exception_handler(exc, context)
