"""Vigil's OpenAPI schema generation (REST_FRAMEWORK's DEFAULT_SCHEMA_CLASS).

Apart from vigil.core.api because DRF imports the pagination class named in its settings while
rest_framework.generics is still loading, and drf-spectacular's AutoSchema imports generics."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent

from vigil.core.api import ErrorDetailSerializer

# ---------- The error answers every operation can give, in the OpenAPI schema ----------

# A 400's body: {"field": ["message", ...], ...}, {"non_field_errors": [...]}, or {"detail": "..."}
# for a request that cannot be read (malformed JSON); a list of such objects for a list input.
VALIDATION_ERROR_SCHEMA: dict[str, Any] = {
    "description": "What is wrong with the request: each field's messages, `non_field_errors` "
    "for the request as a whole, or `detail` when the request could not be read at all.",
    "oneOf": [
        {
            "type": "object",
            "properties": {
                "detail": {"type": "string"},
                "non_field_errors": {"type": "array", "items": {"type": "string"}},
            },
            "additionalProperties": {},
        },
        {"type": "array", "items": {"type": "object", "additionalProperties": {}}},
    ],
}

ERROR_RESPONSES = {
    "401": "No valid `Authorization: Token <key>` header (or session).",
    "403": "The caller may not do this here (their role, or two-factor sign-in that their "
    "body requires and their account lacks).",
    "404": "No such record among those the caller may see (a record they may not see answers "
    "exactly like a missing one), or the caller belongs to no body.",
}


class VigilAutoSchema(AutoSchema):
    """drf-spectacular's schema, plus the error answers that every operation can give, so that
    a client (and schemathesis, in CI) finds every status it can receive documented: 400 with
    the field errors where the operation takes a body or query parameters, 401, 403 and 404
    everywhere, 415 where it takes a body. A viewset's own `extend_schema(responses=...)` for
    one of these codes wins."""

    def get_operation(self, *args: Any, **kwargs: Any) -> Any:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        responses = operation.setdefault("responses", {})
        has_body = "requestBody" in operation
        has_query = any(p.get("in") == "query" for p in operation.get("parameters", []))
        if has_body or has_query:
            responses.setdefault(
                "400",
                {
                    "description": "The request is invalid; nothing was changed.",
                    "content": {"application/json": {"schema": self._validation_error_ref()}},
                },
            )
        detail = self.resolve_serializer(ErrorDetailSerializer, "response").ref
        for code, description in ERROR_RESPONSES.items():
            responses.setdefault(
                code,
                {"description": description, "content": {"application/json": {"schema": detail}}},
            )
        if has_body:
            responses.setdefault(
                "415",
                {
                    "description": "The request body's Content-Type is not one this operation "
                    "reads.",
                    "content": {"application/json": {"schema": detail}},
                },
            )
        return operation

    def _validation_error_ref(self) -> dict[str, Any]:
        component = ResolvedComponent(
            name="ValidationError",
            type=ResolvedComponent.SCHEMA,
            object="ValidationError",
            schema=VALIDATION_ERROR_SCHEMA,
        )
        self.registry.register_on_missing(component)
        return component.ref
