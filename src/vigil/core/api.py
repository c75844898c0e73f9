"""Shared REST API machinery: the caller's active body, pagination, error bodies, and
conditional writes (ETag / If-Match) for records with a version."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext_lazy as _
from django.views.defaults import page_not_found
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import exceptions, pagination, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from vigil.core import inputs
from vigil.core.access import active_membership
from vigil.core.concurrency import StaleVersion
from vigil.core.models import Membership


class VigilSerializerMixin:
    """What every Vigil serializer does (a test checks each uses it): integer fields bounded by
    what their database column holds (`core/inputs.py`), so that 2147483648 gets a 400 naming
    the field rather than a server error; yes/no and text fields that take only true/false
    and text (`inputs.strict_serializer_types`).

    A ModelSerializer's integer fields take the bounds of their model fields; a plain serializer
    whose fields are those of a model says which with `storage_model`; any other integer field
    gets the range of a plain integer column.
    """

    storage_model: type[Model] | None = None

    def get_fields(self) -> Any:
        fields = super().get_fields()  # type: ignore[misc]
        meta = getattr(self, "Meta", None)
        inputs.bound_serializer_integers(fields, self.storage_model or getattr(meta, "model", None))
        inputs.strict_serializer_types(fields)
        return fields


class DefaultCursorPagination(pagination.CursorPagination):
    """Newest first, `page_size` rows a page (at most max_page_size: a larger number is capped).
    A page_size that is not a whole number of at least 1 is a 400, not silently the default."""

    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size  # type: ignore[return-value]
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if size < 1:
            raise exceptions.ValidationError(
                {self.page_size_query_param: [_("Enter a whole number of at least 1.")]}
            )
        return min(size, self.max_page_size)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["minimum"] = 1
                parameter["description"] = _(
                    "Rows per page (%(default)s unless given); more than %(max)s gives %(max)s."
                ) % {"default": self.page_size, "max": self.max_page_size}
        return parameters


def api_membership(request: Request) -> Membership:
    """The membership an API call acts in (X-Vigil-Body header, or the user's first body)."""
    membership = active_membership(request._request)
    if membership is None:
        # A user with no body sees nothing: every scoped lookup answers 404.
        raise Http404("No body.")
    return membership


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 404 (handler404): JSON like the API's own under /api/, where a URL that matches
    no route (`/api/v1/places/1.5/`) must answer as a missing record does; the page elsewhere."""
    if request.path_info.startswith("/api/"):
        return JsonResponse({"detail": str(exceptions.NotFound.default_detail)}, status=404)
    return page_not_found(request, exception)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Service-layer errors become the API's 400/403 with field names, never a 500; a write
    based on an old version is 412 with what changed since."""
    if isinstance(exc, StaleVersion):
        response = Response(exc.as_dict(), status=status.HTTP_412_PRECONDITION_FAILED)
        response["ETag"] = etag(exc.current)
        return response
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


# ---------- Conditional writes: ETag and If-Match on records with a version ----------


class PreconditionRequired(exceptions.APIException):
    status_code = 428
    default_detail = _(
        "Send the If-Match header with the ETag you received when you read this record, so "
        "that your change cannot silently overwrite someone else's."
    )
    default_code = "precondition_required"


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = _(
        "The If-Match header names no version of this record; read it again and send its ETag."
    )
    default_code = "precondition_failed"


def etag(obj: models.Model) -> str:
    """A record's entity tag: its id and version, e.g. `"12-3"`."""
    return f'"{obj.pk}-{obj.version}"'  # type: ignore[attr-defined]


_TAG = re.compile(r'\s*(?:W/)?"(\d+)-(\d+)"\s*')


def if_match_version(header: str, obj: models.Model) -> int | None:
    """The version of `obj` an If-Match header was based on: None for `*` (any version);
    the current version when one of its tags is current; else the newest version it names.

    Raises PreconditionFailed when it names no version of `obj`. A weak tag (W/"12-3") counts:
    a proxy that compresses answers may weaken the ETag the client received."""
    if header.strip() == "*":
        return None
    versions = []
    for part in header.split(","):
        match = _TAG.fullmatch(part)
        if match and int(match.group(1)) == obj.pk:
            versions.append(int(match.group(2)))
    if not versions:
        raise PreconditionFailed
    current: int = obj.version  # type: ignore[attr-defined]
    return current if current in versions else max(versions)


class VersionedViewSetMixin:
    """For viewsets of records with a version: an ETag on the answer to a read of one record
    and to a write, If-Match required on PUT and PATCH (428 without), honoured on DELETE.

    A viewset's update calls `self.expected_version(obj)` and hands the result to its service
    (which calls vigil.core.concurrency.check_version under its row lock: a 412 with the
    changes when stale), then `self.written(obj)` with the saved record for the new ETag."""

    def get_object(self) -> Any:
        obj = super().get_object()  # type: ignore[misc]
        self._etag_object = obj
        return obj

    def written(self, obj: models.Model) -> None:
        """The record as saved: the answer's ETag names its new version."""
        self._etag_object = obj

    def expected_version(self, obj: models.Model, *, required: bool = True) -> int | None:
        view: Any = self
        # A body that cannot be read is a 400 whatever the version it claims to be based on.
        view.request.data  # noqa: B018
        header = view.request.headers.get("If-Match", "")
        if not header.strip():
            if required:
                raise PreconditionRequired
            return None
        return if_match_version(header, obj)

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        obj = getattr(self, "_etag_object", None)
        if obj is None or "ETag" in response:
            return response
        if (
            request.method in {"GET", "HEAD", "POST", "PUT", "PATCH"}
            and 200 <= response.status_code < 300
        ) or response.status_code == status.HTTP_412_PRECONDITION_FAILED:
            # A 412 names the current version too, so the client can read it and decide.
            response["ETag"] = etag(obj)
        return response


# What the OpenAPI schema says about conditional writes; viewsets put these in extend_schema.


class VersionChangeSerializer(VigilSerializerMixin, serializers.Serializer):
    field = serializers.CharField()
    was = serializers.JSONField(help_text="The value at the version you sent.")
    now = serializers.JSONField(help_text="The value now.")


class VersionConflictSerializer(VigilSerializerMixin, serializers.Serializer):
    """A 412: the versions and changes when If-Match names an older version; only `detail`
    when it names no version of the record at all (PreconditionFailed)."""

    detail = serializers.CharField()
    current_version = serializers.IntegerField(required=False)
    your_version = serializers.IntegerField(required=False)
    changed_by = serializers.CharField(allow_null=True, required=False)
    changed_at = serializers.DateTimeField(allow_null=True, required=False)
    changes = VersionChangeSerializer(many=True, required=False)


class ErrorDetailSerializer(VigilSerializerMixin, serializers.Serializer):
    detail = serializers.CharField()


def etag_header(*statuses: int) -> OpenApiParameter:
    """The ETag response header, on the answers of `statuses`."""
    return OpenApiParameter(
        "ETag",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        response=list(statuses) or [200],
        description='The record\'s id and version, e.g. `"12-3"`: send it back in If-Match.',
    )


def if_match_parameter(*, required: bool) -> OpenApiParameter:
    return OpenApiParameter(
        "If-Match",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        required=required,
        description=(
            "The ETag of the version your change is based on. A change based on an older "
            "version is refused with 412 and what changed since; `*` overwrites any version."
            + ("" if required else " Optional here.")
        ),
    )


def conditional_responses(ok: Any, *, ok_status: int = 200, required: bool = True) -> dict:
    """The responses of a write that honours If-Match (428 too when it is required)."""
    responses: dict[int, Any] = {
        ok_status: ok,
        412: OpenApiResponse(
            VersionConflictSerializer,
            description="The record changed since the version in If-Match; nothing was saved.",
        ),
    }
    if required:
        responses[428] = OpenApiResponse(
            ErrorDetailSerializer, description="If-Match is missing; nothing was saved."
        )
    return responses
