"""The audit trail: one call, `audit(...)`, written by services inside their transaction.

`audit_read` records reads of sensitive data. The request's IP address and user come from a
context variable set by middleware, so services need not be handed the request.
"""

from __future__ import annotations

import contextvars
import datetime
import decimal
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import models

from vigil.core.models import AuditEntry, Body

# Readable names of recorded actions, contributed by each app for the pages that show the trail.
_ACTION_LABELS: dict[str, Any] = {}


def register_action_labels(labels: Mapping[str, Any]) -> None:
    _ACTION_LABELS.update(labels)


def action_label(action: str) -> str:
    """The words a person reads for a recorded action; "" when no app named it."""
    label = _ACTION_LABELS.get(action)
    return str(label) if label is not None else ""


_current_ip: contextvars.ContextVar[str | None] = contextvars.ContextVar("vigil_ip", default=None)


def set_request_ip(ip: str | None) -> contextvars.Token[str | None]:
    return _current_ip.set(ip)


def reset_request_ip(token: contextvars.Token[str | None]) -> None:
    _current_ip.reset(token)


def object_type(obj: models.Model | type[models.Model]) -> str:
    return obj._meta.label_lower


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, models.Model):
        return str(value)
    if isinstance(value, list | tuple | set):
        return [_jsonable(item) for item in value]
    return value


def snapshot(obj: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    """The values of `fields` on `obj`, JSON-ready, for diffing before and after a write."""
    values = {}
    for name in fields:
        value = getattr(obj, name)
        if hasattr(value, "all") and callable(value.all):
            value = sorted(str(item) for item in value.all())
        values[name] = _jsonable(value)
    return values


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """{field: [old, new]} for every field that changed."""
    return {
        key: [before.get(key), after.get(key)] for key in after if before.get(key) != after.get(key)
    }


def _body_of(obj: models.Model | None) -> Body | None:
    if obj is None:
        return None
    if isinstance(obj, Body):
        return obj
    return getattr(obj, "body", None)


def build_entry(
    *,
    actor: Any,
    action: str,
    obj: models.Model | None = None,
    changes: Mapping[str, Any] | None = None,
    body: Body | None = None,
    sensitive: bool = False,
) -> AuditEntry:
    """An unsaved entry, for services that write many at once with bulk_create."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEntry(
        body=body or _body_of(obj),
        actor=user,
        actor_label=user.get_username() if user else (str(actor) if actor else "system"),
        action=action,
        object_type=object_type(obj) if obj is not None else "",
        object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
        object_repr=str(obj)[:255] if obj is not None else "",
        changes=_jsonable(dict(changes or {})),
        ip_address=_current_ip.get(),
        sensitive=sensitive,
    )


def audit(
    *,
    actor: Any,
    action: str,
    obj: models.Model | None = None,
    changes: Mapping[str, Any] | None = None,
    body: Body | None = None,
) -> AuditEntry:
    """Append one entry to the audit trail (call it inside the service's transaction)."""
    entry = build_entry(actor=actor, action=action, obj=obj, changes=changes, body=body)
    entry.save(force_insert=True)
    return entry


def audit_read(
    *, actor: Any, obj: models.Model, fields: Iterable[str], purpose: str = ""
) -> AuditEntry:
    """Record that `actor` read the sensitive `fields` of `obj`."""
    changes: dict[str, Any] = {"fields": sorted(fields)}
    if purpose:
        changes["purpose"] = purpose
    entry = build_entry(actor=actor, action="read", obj=obj, changes=changes, sensitive=True)
    entry.save(force_insert=True)
    return entry


def history(obj_type: str, object_ids: Iterable[Any]) -> models.QuerySet[AuditEntry]:
    """Audit entries of one or several records (a merged place keeps its merged records' past)."""
    return AuditEntry.objects.filter(
        object_type=obj_type, object_id__in=[str(pk) for pk in object_ids]
    ).select_related("actor")
