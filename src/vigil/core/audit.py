"""The audit trail: one call, `audit(...)`, written by services inside their transaction.

`audit_read` records reads of sensitive data. The request's IP address and user come from a
context variable set by middleware, so services need not be handed the request.
"""

from __future__ import annotations

import contextvars
import datetime
import decimal
import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import BooleanField, Case, Q, Value, When
from django.db.models.functions import Cast
from django.utils import formats, timezone
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy

from vigil.core.models import AuditEntry, Body

# Readable names of recorded actions, contributed by each app for the pages that show the trail.
# Actions are named `app.model.verb` ("places.place.update", "core.import.start"), so two apps
# can never relabel each other's history.
_ACTION_LABELS: dict[str, Any] = {}
ACTION_NAME = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")

# Entries written before actions were namespaced keep their bare names; they read as the
# namespaced action they were. Object-bound actions resolve through their record type.
_LEGACY_ACTIONS = {
    "login": "core.user.login",
    "login_failed": "core.user.login_failed",
    "logout": "core.user.logout",
    "password_changed": "core.user.change_password",
    "account_updated": "core.user.update",
    "api_token_created": "core.token.create",
    "api_token_revoked": "core.token.revoke",
    "otp_enabled": "core.otp.enable",
    "otp_disabled": "core.otp.disable",
    "otp_failed": "core.otp.fail",
    "membership_added": "core.membership.add",
    "membership_role_changed": "core.membership.change_role",
    "membership_deactivated": "core.membership.deactivate",
    "membership_reactivated": "core.membership.reactivate",
    "body_settings_changed": "core.body.update_settings",
    "rotate_keys": "core.keys.rotate",
    "start_import": "core.import.start",
    "download": "core.file.download",
    "export": "places.place.export",
}
_LEGACY_BY_TYPE = {
    ("core.storedfile", "upload"): "core.file.upload",
    ("core.tabularimport", "upload"): "core.import.upload",
    ("core.tabularimport", "update"): "core.import.map",
    ("core.tabularimport", "import"): "core.import.finish",
    ("core.taxonomyterm", "create"): "core.term.create",
    ("core.taxonomyterm", "update"): "core.term.update",
}


def register_action_labels(labels: Mapping[str, Any]) -> None:
    """Name an app's actions once (from its AppConfig.ready), with lazily translated labels."""
    for action, label in labels.items():
        if not ACTION_NAME.match(action):
            raise ValueError(f"Audit action {action!r} is not named app.model.verb.")
        if action in _ACTION_LABELS and str(_ACTION_LABELS[action]) != str(label):
            raise ValueError(f"Audit action {action!r} is already registered by another app.")
        _ACTION_LABELS[action] = label


def registered_actions() -> dict[str, Any]:
    return dict(_ACTION_LABELS)


def resolve_action(action: str, object_type: str = "") -> str:
    """The namespaced name of a recorded action, old bare names included."""
    if "." in action:
        return action
    if (object_type, action) in _LEGACY_BY_TYPE:
        return _LEGACY_BY_TYPE[(object_type, action)]
    if action in _LEGACY_ACTIONS:
        return _LEGACY_ACTIONS[action]
    return f"{object_type}.{action}" if object_type else action


def action_label(action: str, object_type: str = "") -> str:
    """The words a person reads for a recorded action."""
    label = _ACTION_LABELS.get(resolve_action(action, object_type))
    return str(label) if label is not None else action


def model_for_type(object_type: str) -> type[models.Model] | None:
    try:
        return apps.get_model(object_type)
    except (LookupError, ValueError):
        return None


def type_label(object_type: str) -> str:
    """ "Place", "User", "Import": a record type as a word, never `places.place`."""
    model = model_for_type(object_type)
    if model is None:
        return object_type
    return capfirst(str(model._meta.verbose_name))


# Per record type: words for the keys a service writes that are not model fields ("merged",
# "trash"), and the choices whose labels stored values should show as.
_EXTRA_FIELD_LABELS: dict[str, dict[str, Any]] = {}
_FIELD_CHOICES: dict[str, dict[str, Any]] = {}
# Per record type: text fields that hold one item a line (other names), shown "; "-separated.
_LINE_FIELDS: dict[str, set[str]] = {}


def register_audit_fields(
    object_type: str,
    *,
    labels: Mapping[str, Any] | None = None,
    choices: Mapping[str, Any] | None = None,
    lines: Iterable[str] = (),
) -> None:
    """Teach the trail the words for a record type's non-field keys and choice values, and which
    of its text fields list one item a line."""
    _EXTRA_FIELD_LABELS.setdefault(object_type, {}).update(labels or {})
    _FIELD_CHOICES.setdefault(object_type, {}).update(choices or {})
    _LINE_FIELDS.setdefault(object_type, set()).update(lines)


def field_label(object_type: str, field: str) -> str:
    extra = _EXTRA_FIELD_LABELS.get(object_type, {}).get(field)
    if extra is not None:
        return capfirst(str(extra))
    model = model_for_type(object_type)
    if model is not None:
        try:
            return capfirst(str(model._meta.get_field(field).verbose_name))  # type: ignore[union-attr]
        except (FieldDoesNotExist, AttributeError):
            pass
    return capfirst(field.replace("_", " "))


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def format_value(value: Any) -> str:
    """A recorded value as a person reads it: dates in the product's format, yes/no, lists."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return str(gettext_lazy("yes") if value else gettext_lazy("no"))
    if isinstance(value, list | tuple):
        return ", ".join(format_value(item) for item in value) if value else "—"
    if isinstance(value, dict):
        return ", ".join(f"{key}: {format_value(item)}" for key, item in value.items())
    if isinstance(value, str):
        try:
            if _ISO_DATETIME.match(value):
                moment = datetime.datetime.fromisoformat(value)
                if timezone.is_aware(moment):
                    moment = timezone.localtime(moment)
                return formats.date_format(moment, "DATETIME_FORMAT")
            if _ISO_DATE.match(value):
                return formats.date_format(datetime.date.fromisoformat(value), "DATE_FORMAT")
        except ValueError:
            return value
    return str(value)


def format_moment(value: datetime.datetime) -> str:
    """When something happened, as a person reads it in a sentence: "14:02" today, the date and
    time otherwise, in the reader's time zone."""
    local = timezone.localtime(value)
    if local.date() == timezone.localdate():
        return formats.date_format(local, "H:i")
    return formats.date_format(local, "SHORT_DATETIME_FORMAT")


def _joined_lines(value: Any) -> Any:
    """ "A\nB" as "A; B": in a page, a line break inside a cell would read as a space."""
    if not isinstance(value, str):
        return value
    return "; ".join(line.strip() for line in value.splitlines() if line.strip())


def change_rows(object_type: str, changes: Any) -> list[tuple[str, str, str]]:
    """The `changes` JSON as (field, old, new) rows for people: verbose field names, formatted
    values; values that are not an [old, new] pair (a list of fields read, a purpose) show as
    the new value."""
    if not isinstance(changes, dict):
        return [("", "", format_value(changes))] if changes else []
    rows = []
    model = model_for_type(object_type)
    line_fields = _LINE_FIELDS.get(object_type, set())
    for field, value in changes.items():
        label = field_label(object_type, field)
        if field in line_fields:
            value = (
                [_joined_lines(item) for item in value]
                if isinstance(value, list)
                else _joined_lines(value)
            )
        choices: dict[Any, Any] = {}
        registered = _FIELD_CHOICES.get(object_type, {}).get(field)
        if registered is not None:
            choices = dict(registered.choices)
        elif model is not None:
            try:
                choices = dict(model._meta.get_field(field).flatchoices or [])  # type: ignore[union-attr]
            except (FieldDoesNotExist, AttributeError):
                choices = {}

        def show(item: Any, choices: dict[Any, Any] = choices) -> str:
            if isinstance(item, str | int) and item in choices:
                return str(choices[item])
            return format_value(item)

        if isinstance(value, list) and len(value) == 2:
            rows.append((label, show(value[0]), show(value[1])))
        else:
            rows.append((label, "", show(value)))
    return rows


_current_ip: contextvars.ContextVar[str | None] = contextvars.ContextVar("vigil_ip", default=None)


def set_request_ip(ip: str | None) -> contextvars.Token[str | None]:
    return _current_ip.set(ip)


def current_ip() -> str | None:
    return _current_ip.get()


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
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
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


def _is_blank(value: Any) -> bool:
    # 0 is a value someone gave (a population of none); an unticked box is not.
    return value is None or value is False or (isinstance(value, str | list | dict) and not value)


def diff_new(after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """A new record's changes, {field: [None, value]}, for the fields that were given a value:
    its history says what was set, not every field left empty."""
    return {key: [None, value] for key, value in after.items() if not _is_blank(value)}


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
    if action not in _ACTION_LABELS:
        raise ValueError(
            f"Audit action {action!r} has no label: register it with register_action_labels() "
            "in the app's AppConfig.ready."
        )
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
    """Record that `actor` read the sensitive `fields` of `obj` (action `<app>.<model>.read`,
    which the app registers a label for)."""
    changes: dict[str, Any] = {"fields": sorted(fields)}
    if purpose:
        changes["purpose"] = purpose
    action = f"{obj._meta.app_label}.{obj._meta.model_name}.read"
    entry = build_entry(actor=actor, action=action, obj=obj, changes=changes, sensitive=True)
    entry.save(force_insert=True)
    return entry


def history(obj_type: str, object_ids: Iterable[Any]) -> models.QuerySet[AuditEntry]:
    """Audit entries of one or several records (a merged place keeps its merged records' past)."""
    return AuditEntry.objects.filter(
        object_type=obj_type, object_id__in=[str(pk) for pk in object_ids]
    ).select_related("actor")


# ---------- Reading the trail: what a member may see of it ----------


def _hidden_condition(membership: Any) -> Q | None:
    """Entries about records of a registered type that the member may not see."""
    from vigil.core.access import registered_models, visible_history

    hidden: Q | None = None
    for model in registered_models():
        ids = (
            visible_history(membership, model)
            .order_by()
            .annotate(_vigil_sid=Cast("pk", output_field=models.CharField()))
            .values("_vigil_sid")
        )
        condition = Q(object_type=model._meta.label_lower) & ~Q(object_id__in=ids)
        hidden = condition if hidden is None else hidden | condition
    return hidden


def visible_audit_entries(membership: Any) -> models.QuerySet[AuditEntry]:
    """The member's body's trail as they may read it.

    An entry about a record the member may not see is left out; an auditor sees that it exists
    (time, actor, action, record type) with `is_restricted` set, never the record's name or
    changes. Each entry carries `action_label` and `type_label` for people."""
    from vigil.core.models import Role

    entries = AuditEntry.objects.filter(body_id=membership.body_id).select_related(None)
    hidden = _hidden_condition(membership)
    if hidden is None:
        return entries.annotate(is_restricted=Value(False))
    if membership.role == Role.AUDITOR:
        return entries.annotate(
            is_restricted=Case(
                When(hidden, then=Value(True)), default=Value(False), output_field=BooleanField()
            )
        )
    return entries.exclude(hidden).annotate(is_restricted=Value(False))


# How far back a body's own addresses are taken from, and failed sign-ins are shown.
OWN_ADDRESS_DAYS = 30


def unknown_signin_failures(membership: Any) -> models.QuerySet[AuditEntry]:
    """Failed sign-ins written to no body's trail (a username nobody has, or a person of no
    body) from an IP address a member of the member's body signed in from in the last
    OWN_ADDRESS_DAYS days: someone on the body's own network trying names. Newest first."""
    since = timezone.now() - datetime.timedelta(days=OWN_ADDRESS_DAYS)
    own_addresses = AuditEntry.objects.filter(
        body_id=membership.body_id,
        action__in=["core.user.login", "login"],
        created_at__gte=since,
        ip_address__isnull=False,
    ).values("ip_address")
    return AuditEntry.objects.filter(
        body__isnull=True,
        action__in=["core.user.login_failed", "login_failed"],
        created_at__gte=since,
        ip_address__in=own_addresses,
    ).order_by("-created_at", "-id")


def describe(entry: AuditEntry) -> AuditEntry:
    """Set the words a person reads on an entry (label, type, change rows), withholding what a
    restricted entry must not show."""
    entry.action_label = action_label(entry.action, entry.object_type)  # type: ignore[attr-defined]
    entry.type_label = type_label(entry.object_type) if entry.object_type else ""  # type: ignore[attr-defined]
    if getattr(entry, "is_restricted", False):
        entry.object_repr = ""
        entry.object_id = ""
        entry.changes = {}
    entry.change_rows = change_rows(entry.object_type, entry.changes)  # type: ignore[attr-defined]
    return entry


def audit_export_rows(entries: models.QuerySet[AuditEntry]) -> Iterable[list[Any]]:
    """Rows of the trail's CSV, streamed, as people read them (restricted entries withheld)."""
    import json

    for entry in entries.iterator(chunk_size=2000):
        describe(entry)
        yield [
            entry.created_at,
            entry.actor_label,
            entry.action_label,  # type: ignore[attr-defined]
            resolve_action(entry.action, entry.object_type),
            entry.type_label,  # type: ignore[attr-defined]
            entry.object_id,
            entry.object_repr,
            json.dumps(entry.changes, ensure_ascii=False, sort_keys=True) if entry.changes else "",
            entry.ip_address or "",
            entry.sensitive,
        ]
