"""In-app notifications and email, with a log on the object.

Apps register their kinds of notification from their `AppConfig.ready`:

    register_notification_kind(NotificationKind(key="visits.visit.assigned", label=..., ...))

and services call one entry point, `notify(kind, obj, recipients, actor=...)`. A notice reaches
only the recipients who may see its object, is written and emailed only once the caller's
transaction commits, and is recorded in the object's audit trail. Its text is a neutral line the
kind writes; an email carries even less: the kind's fixed line and a link.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import models, transaction
from django.db.models import BooleanField, Case, Exists, OuterRef, Value, When
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from vigil.core.access import can_see, registered_models, visibility_of, visible
from vigil.core.audit import ACTION_NAME, audit
from vigil.core.models import Membership, Notification, NotificationPreference

logger = logging.getLogger(__name__)

SEND_ACTION = "core.notification.send"


# ---------- The registry of kinds ----------


@dataclass(frozen=True)
class NotificationKind:
    """One kind of notification.

    - `key` is named like an audit action, `app.model.event` ("core.import.finished");
    - `label` names the kind for people (the preferences form, the email's subject);
    - `describe(obj)` returns the in-app line and the link (a path on this site) for one
      object. The line is shown to every recipient who may see the object: it must never carry
      the object's sensitive content (a detainee's name, what an interview said);
    - `email_text` is the only line an email carries besides the link, the same for every
      object (default: the label), because mail leaves Vigil and sits in other people's servers;
    - `email_default` is whether members get the email until they choose otherwise.
    """

    key: str
    label: Any
    describe: Callable[[Any], tuple[str, str]]
    email_default: bool = False
    email_text: Any = ""


_KINDS: dict[str, NotificationKind] = {}


def register_notification_kind(kind: NotificationKind) -> NotificationKind:
    if not ACTION_NAME.match(kind.key):
        raise ValueError(f"Notification kind {kind.key!r} is not named app.model.event.")
    registered = _KINDS.get(kind.key)
    if registered is not None and registered != kind:
        raise ValueError(f"Notification kind {kind.key!r} is already registered by another app.")
    _KINDS[kind.key] = kind
    return kind


def notification_kind(key: str) -> NotificationKind:
    try:
        return _KINDS[key]
    except KeyError as exc:
        raise LookupError(
            f"Unknown notification kind {key!r}: register it with register_notification_kind() "
            "in the app's AppConfig.ready."
        ) from exc


def notification_kinds() -> list[NotificationKind]:
    return list(_KINDS.values())


# ---------- Sending ----------


def _distinct_recipients(
    recipients: Iterable[Membership] | models.QuerySet[Membership],
) -> list[Membership]:
    if isinstance(recipients, models.QuerySet):
        recipients = recipients.select_related("user", "body")
    unique: dict[int, Membership] = {}
    for membership in recipients:
        if membership is not None and membership.pk is not None:
            unique.setdefault(membership.pk, membership)
    return list(unique.values())


def notify(
    kind: str,
    obj: models.Model | None,
    recipients: Iterable[Membership] | models.QuerySet[Membership],
    *,
    actor: Any = None,
) -> list[Membership]:
    """Notify `recipients` (memberships) of `obj`, once the current transaction commits.

    Recipients who may not see `obj` are left out; when none may, nothing is sent. Returns the
    memberships that will be notified (nobody, if the transaction rolls back after all)."""
    spec = notification_kind(kind)
    if obj is not None and visibility_of(type(obj)) is None:
        raise LookupError(
            f"{obj._meta.label} has no visibility rule, so nobody could be shown a notification "
            "about it: call register_visibility() in its app's AppConfig.ready."
        )
    members = [member for member in _distinct_recipients(recipients) if member.is_active]
    if obj is not None:
        members = [member for member in members if can_see(member, obj)]
    if not members:
        return []
    # The line is written now, while the object is in the state the notice is about.
    text, url = spec.describe(obj)
    content_type = ContentType.objects.get_for_model(obj) if obj is not None else None
    transaction.on_commit(
        lambda: _deliver(
            spec,
            obj,
            content_type,
            members,
            text=str(text)[:500],
            url=str(url or "")[:500],
            actor=actor,
        ),
        # The caller's work is committed by now: a failure to deliver is logged, not raised.
        robust=True,
    )
    return members


def _deliver(
    spec: NotificationKind,
    obj: models.Model | None,
    content_type: ContentType | None,
    members: list[Membership],
    *,
    text: str,
    url: str,
    actor: Any,
) -> None:
    now = timezone.now()
    with transaction.atomic():
        Notification.objects.bulk_create(
            Notification(
                recipient=member,
                kind=spec.key,
                content_type=content_type,
                object_id=obj.pk if obj is not None else None,
                text=text,
                url=url,
                created_at=now,
            )
            for member in members
        )
        if obj is not None:
            audit(
                actor=actor,
                action=SEND_ACTION,
                obj=obj,
                changes={"kind": spec.key, "recipients": len(members)},
            )
        else:
            # No object to log it on: each recipients' body keeps the record in its trail.
            by_body: dict[int, list[Membership]] = {}
            for member in members:
                by_body.setdefault(member.body_id, []).append(member)
            for body_members in by_body.values():
                audit(
                    actor=actor,
                    action=SEND_ACTION,
                    body=body_members[0].body,
                    changes={"kind": spec.key, "recipients": len(body_members)},
                )
    _send_emails(spec, members, url)


def absolute_url(path: str) -> str:
    """A path on this site as a link that works from an email (settings.VIGIL_BASE_URL)."""
    return settings.VIGIL_BASE_URL.rstrip("/") + "/" + path.lstrip("/")


def email_recipients(spec: NotificationKind, members: list[Membership]) -> list[Membership]:
    """The members who want this kind by email and have an address to send it to."""
    chosen = dict(
        NotificationPreference.objects.filter(
            membership__in=[member.pk for member in members], kind=spec.key
        ).values_list("membership_id", "email")
    )
    return [
        member
        for member in members
        if chosen.get(member.pk, spec.email_default) and member.user.email
    ]


def _send_emails(spec: NotificationKind, members: list[Membership], url: str) -> None:
    wanted = email_recipients(spec, members)
    if not wanted:
        return
    subject = _("Vigil: %(kind)s") % {"kind": spec.label}
    link = absolute_url(url or reverse("notifications"))
    message = "\n\n".join(
        [
            str(spec.email_text or spec.label),
            link,
            _("Choose which notifications you receive by email: %(url)s")
            % {"url": absolute_url(reverse("notifications"))},
        ]
    )
    for member in wanted:
        # One message per person, so that nobody learns who else was told.
        try:
            send_mail(subject, message + "\n", settings.DEFAULT_FROM_EMAIL, [member.user.email])
        except Exception:
            logger.exception(
                "Could not email a %s notification to membership %s", spec.key, member.pk
            )


# ---------- Reading ----------


def _object_still_visible(
    membership: Membership, models_of: set[type[models.Model]] | None = None
) -> Case:
    """True for a notice whose object the member may still see (access can end after it was
    sent: a grant expires, a record becomes confidential); one expression, no extra query.
    `models_of`: only these kinds of object can occur (the others are left out of the CASE)."""
    whens = []
    for model in registered_models():
        spec = visibility_of(model)
        if model is Notification or spec is None or membership.role not in spec.roles:
            continue
        if models_of is not None and model not in models_of:
            continue
        whens.append(
            When(
                content_type__app_label=model._meta.app_label,
                content_type__model=model._meta.model_name,
                then=Exists(visible(membership, model).filter(pk=OuterRef("object_id"))),
            )
        )
    return Case(
        When(object_id__isnull=True, then=Value(True)),
        *whens,
        default=Value(False),
        output_field=BooleanField(),
    )


def notification_rule(
    membership: Membership, queryset: models.QuerySet[Notification]
) -> models.QuerySet[Notification]:
    """A member's own notifications in this body, about objects they may still see."""
    return (
        queryset.filter(recipient=membership)
        .alias(_vigil_object_visible=_object_still_visible(membership))
        .filter(_vigil_object_visible=True)
    )


def visible_notifications(membership: Membership | None) -> models.QuerySet[Notification]:
    """The member's notifications, newest first."""
    return visible(membership, Notification).order_by("-created_at", "-id")


def unread_count(membership: Membership | None) -> int:
    # Every page shows this count. The visibility check of every kind of object (a subquery
    # each) took PostgreSQL longer to plan than the rest of a list page: it is written for the
    # kinds the member's unread notices are about (usually one or none), the same rule as
    # notification_rule otherwise.
    if membership is None:
        return 0
    unread = Notification.objects.filter(recipient=membership, read_at__isnull=True)
    found = set(unread.order_by().values_list("content_type_id", flat=True).distinct())
    if not found:
        return 0
    kinds = {
        ContentType.objects.get_for_id(type_id).model_class()
        for type_id in found
        if type_id is not None
    }
    return (
        unread.alias(
            _vigil_object_visible=_object_still_visible(membership, {k for k in kinds if k})
        )
        .filter(_vigil_object_visible=True)
        .count()
    )


def kind_label(key: str) -> str:
    spec = _KINDS.get(key)
    return str(spec.label) if spec is not None else key


def notification_mark_read(*, membership: Membership, notification: Notification) -> Notification:
    """Mark one of the member's own notifications as read (reading it twice changes nothing)."""
    if notification.recipient_id != membership.pk:
        raise PermissionDenied(_("This notification is not yours."))
    if notification.read_at is None:
        notification.read_at = timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
            read_at=notification.read_at
        )
    return notification


def notification_mark_all_read(*, membership: Membership) -> int:
    """Mark every unread notification the member can see as read; returns how many."""
    unread = visible(membership, Notification).filter(read_at__isnull=True)
    return Notification.objects.filter(pk__in=unread.values("pk")).update(read_at=timezone.now())


# ---------- Preferences ----------


def email_preferences(membership: Membership) -> dict[str, bool]:
    """{kind: whether the member gets it by email} for every registered kind."""
    chosen = dict(
        NotificationPreference.objects.filter(membership=membership).values_list("kind", "email")
    )
    return {key: chosen.get(key, spec.email_default) for key, spec in _KINDS.items()}


@transaction.atomic
def notification_set_preferences(*, membership: Membership, email: Mapping[str, bool]) -> None:
    """Choose, per kind, whether the member's notifications of that kind also come by email."""
    unknown = sorted(key for key in email if key not in _KINDS)
    if unknown:
        raise ValidationError(
            _("Unknown kind of notification: %(kinds)s.") % {"kinds": ", ".join(unknown)}
        )
    for key, wanted in email.items():
        NotificationPreference.objects.update_or_create(
            membership=membership, kind=key, defaults={"email": bool(wanted)}
        )
