"""Need-to-know grants: a head lets one member read one restricted record, with a reason, until
an end date. Grants expire by themselves and can be revoked; giving and revoking are audited.

Which records are restricted, and to whom, is each model's visibility rule (core.access); a
rule built with `need_to_know(...)` lets in the holders of a live grant.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from vigil.core.access import can_see, grantable_models
from vigil.core.audit import audit
from vigil.core.models import AccessGrant, Membership
from vigil.core.permissions import CORE

MAX_GRANT_DAYS = 366


def grantable_types() -> list[tuple[str, str]]:
    """(label_lower, verbose name) of the record types a head may grant access to."""
    return [
        (model._meta.label_lower, str(model._meta.verbose_name).capitalize())
        for model in grantable_models()
    ]


def grant_target(*, membership: Membership, object_type: str, object_id: Any) -> models.Model:
    """The record a grant would open, if the head may see it; a specific error otherwise."""
    model = next((m for m in grantable_models() if m._meta.label_lower == object_type), None)
    if model is None:
        raise ValidationError({"object_type": [_("Choose a type of record that is restricted.")]})
    try:
        obj = model._default_manager.get(pk=object_id)
    except (ObjectDoesNotExist, ValueError, TypeError, OverflowError):
        obj = None
    # A record outside the head's reach reads exactly as one that does not exist.
    if (
        obj is None
        or getattr(obj, "body_id", None) != membership.body_id
        or not can_see(membership, obj, content=True)
    ):
        raise ValidationError({"object_id": [_("There is no such record in this body.")]})
    return obj


@transaction.atomic
def grant_create(
    *,
    membership: Membership,
    grantee: Membership,
    obj: models.Model,
    reason: str,
    expires_at: datetime.datetime,
) -> AccessGrant:
    CORE.require(membership, "manage_grants")
    errors: dict[str, list[str]] = {}
    if type(obj) not in grantable_models():
        errors["object_type"] = [_("Choose a type of record that is restricted.")]
    elif getattr(obj, "body_id", None) != membership.body_id or not can_see(
        membership, obj, content=True
    ):
        errors["object_id"] = [_("There is no such record in this body.")]
    if grantee.body_id != membership.body_id or not grantee.is_active:
        errors["grantee"] = [_("Choose an active member of this body.")]
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = [_("Say why this person needs to know.")]
    now = timezone.now()
    if expires_at <= now:
        errors["expires_at"] = [_("The end date is in the past: choose a later one.")]
    elif expires_at > now + datetime.timedelta(days=MAX_GRANT_DAYS):
        errors["expires_at"] = [
            _("A grant lasts at most %(days)d days: choose an earlier end.")
            % {"days": MAX_GRANT_DAYS}
        ]
    if errors:
        raise ValidationError(errors)
    grant = AccessGrant.objects.create(
        body=membership.body,
        grantee=grantee,
        content_type=ContentType.objects.get_for_model(obj),
        object_id=obj.pk,
        object_repr=str(obj)[:255],
        reason=reason,
        expires_at=expires_at,
        granted_by=membership.user,
    )
    audit(
        actor=membership.user,
        action="core.grant.create",
        obj=grant,
        changes={
            "grantee": [None, grantee.user.get_username()],
            "object_type": [None, obj._meta.label_lower],
            "object_id": [None, obj.pk],
            "reason": [None, reason],
            "expires_at": [None, expires_at],
        },
    )
    return grant


@transaction.atomic
def grant_revoke(*, membership: Membership, grant: AccessGrant) -> AccessGrant:
    CORE.require(membership, "manage_grants")
    grant = AccessGrant.objects.select_for_update().get(pk=grant.pk)
    if grant.body_id != membership.body_id:
        raise ValidationError(_("There is no such grant in this body."))
    if grant.revoked_at is not None:
        raise ValidationError(_("This grant was already revoked."))
    if grant.expires_at <= timezone.now():
        raise ValidationError(_("This grant has already ended."))
    grant.revoked_at = timezone.now()
    grant.revoked_by = membership.user
    grant.save(update_fields=["revoked_at", "revoked_by"])
    audit(
        actor=membership.user,
        action="core.grant.revoke",
        obj=grant,
        changes={"revoked_at": [None, grant.revoked_at]},
    )
    return grant


def body_grants(membership: Membership) -> models.QuerySet[AccessGrant]:
    from vigil.core.access import visible

    return visible(membership, AccessGrant).select_related(
        "grantee__user", "granted_by", "revoked_by", "content_type"
    )
