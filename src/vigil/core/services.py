"""Every write of the core app: sign-in records, accounts, memberships, body settings, tokens.

Each service takes keyword-only arguments, runs in one transaction, validates, and writes its
entry to the audit trail. Views, the API and commands all go through these functions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token

from vigil.core import permissions
from vigil.core.audit import audit, build_entry, diff, snapshot
from vigil.core.models import AuditEntry, Body, LoginFailure, Membership, Role

User = get_user_model()

# How many failures one IP address may make, as a multiple of the per-username limit: an office
# behind one address has many people, but one address trying many usernames is guessing.
IP_FAILURE_FACTOR = 4
PROFILE_FIELDS = ["first_name", "last_name", "email"]


# ---------- Audit entries about a person rather than a record of one body ----------


def _audit_person_event(
    *, actor: Any, action: str, user: Any, obj: Model | None = None, changes: Mapping[str, Any]
) -> None:
    """One entry in the trail of each body the person belongs to, so each body's auditors see
    the sign-ins and account changes of their members; one body-less entry for a person with no
    body (or an unknown username)."""
    body_ids: list[int | None] = []
    if user is not None and getattr(user, "pk", None):
        body_ids = list(
            Membership.objects.filter(user=user, is_active=True).values_list("body_id", flat=True)
        )
    target = obj if obj is not None else (user if getattr(user, "pk", None) else None)
    entries = []
    for body_id in body_ids or [None]:
        entry = build_entry(actor=actor, action=action, obj=target, changes=changes)
        entry.body_id = body_id
        entries.append(entry)
    AuditEntry.objects.bulk_create(entries)


# ---------- Sign-in and its rate limit ----------


def normalise_username(username: str) -> str:
    return (username or "").strip().lower()[:150]


def _seconds_left(failure_times: list[Any], limit: int, window: int) -> int:
    """Seconds until fewer than `limit` failures remain in the window (0 when not locked)."""
    if len(failure_times) < limit:
        return 0
    # Newest first: the lock lifts when the limit-th newest failure leaves the window.
    unlock_at = failure_times[limit - 1] + timedelta(seconds=window)
    return max(0, math.ceil((unlock_at - timezone.now()).total_seconds()))


def login_lockout_seconds(*, username: str, ip_address: str | None) -> int:
    """How long sign-in stays refused for this username or this IP address (0: not locked)."""
    limit = settings.VIGIL_LOGIN_MAX_FAILURES
    window = settings.VIGIL_LOGIN_LOCKOUT_SECONDS
    since = timezone.now() - timedelta(seconds=window)
    recent = LoginFailure.objects.filter(created_at__gte=since).order_by("-created_at")
    by_username = list(
        recent.filter(username=normalise_username(username)).values_list("created_at", flat=True)[
            :limit
        ]
    )
    waits = [_seconds_left(by_username, limit, window)]
    if ip_address:
        ip_limit = limit * IP_FAILURE_FACTOR
        by_ip = list(
            recent.filter(ip_address=ip_address).values_list("created_at", flat=True)[:ip_limit]
        )
        waits.append(_seconds_left(by_ip, ip_limit, window))
    return max(waits)


def lockout_message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return ngettext(
        "Too many failed sign-in attempts. Try again in %(minutes)d minute.",
        "Too many failed sign-in attempts. Try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}


@transaction.atomic
def login_record_failure(*, username: str, ip_address: str | None) -> None:
    """Count a failed sign-in (never the password tried) and note it in the audit trail."""
    name = normalise_username(username)
    window = settings.VIGIL_LOGIN_LOCKOUT_SECONDS
    # Failures older than the window no longer count for anything.
    LoginFailure.objects.filter(created_at__lt=timezone.now() - timedelta(seconds=window)).delete()
    LoginFailure.objects.create(username=name, ip_address=ip_address)
    user = User.objects.filter(username__iexact=name).first()
    _audit_person_event(
        actor=name or "anonymous",
        action="core.user.login_failed",
        user=user,
        changes={"username": name},
    )


@transaction.atomic
def login_record_success(*, user: Any) -> None:
    """A successful sign-in clears that username's failures and is noted in the audit trail."""
    LoginFailure.objects.filter(username=normalise_username(user.get_username())).delete()
    _audit_person_event(actor=user, action="core.user.login", user=user, changes={})


@transaction.atomic
def logout_record(*, user: Any) -> None:
    _audit_person_event(actor=user, action="core.user.logout", user=user, changes={})


# ---------- The person's own account ----------


@transaction.atomic
def account_update(*, user: Any, first_name: str, last_name: str, email: str) -> Any:
    before = snapshot(user, PROFILE_FIELDS)
    user.first_name = first_name.strip()
    user.last_name = last_name.strip()
    user.email = email.strip()
    user.full_clean(validate_unique=False, exclude=["password", "username"])
    changes = diff(before, snapshot(user, PROFILE_FIELDS))
    if changes:
        user.save(update_fields=PROFILE_FIELDS)
        _audit_person_event(actor=user, action="core.user.update", user=user, changes=changes)
    return user


@transaction.atomic
def password_change(*, user: Any, new_password: str) -> None:
    """Set a new password after Django's validators (length, common, numeric, similarity)."""
    validate_password(new_password, user)
    user.set_password(new_password)
    user.save(update_fields=["password"])
    # The password itself never goes into the trail, not even hashed.
    _audit_person_event(actor=user, action="core.user.change_password", user=user, changes={})


@transaction.atomic
def api_token_create(*, user: Any) -> Token:
    """A new API token for the user, replacing any previous one (which stops working)."""
    replaced = Token.objects.filter(user=user).delete()[0] > 0
    token = Token.objects.create(user=user)
    # The key is shown once to its owner and never written anywhere else.
    _audit_person_event(
        actor=user, action="core.token.create", user=user, changes={"replaced": replaced}
    )
    return token


@transaction.atomic
def api_token_revoke(*, user: Any) -> bool:
    revoked = Token.objects.filter(user=user).delete()[0] > 0
    if revoked:
        _audit_person_event(actor=user, action="core.token.revoke", user=user, changes={})
    return revoked


# ---------- Two-factor sign-in (TOTP) ----------


def confirmed_totp_device(user: Any) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("-id").first()


@transaction.atomic
def otp_device_start(*, user: Any) -> TOTPDevice:
    """The unconfirmed device being set up (created once, so reloading the page keeps the same
    secret the person may already have scanned)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=_("Authenticator app"), confirmed=False)
    return device


@transaction.atomic
def otp_device_confirm(*, user: Any, device: TOTPDevice, token: str) -> TOTPDevice:
    """Turn on two-factor sign-in once the person proves their app shows the right code."""
    if device.user_id != user.pk or device.confirmed:
        raise PermissionDenied
    if not device.verify_token((token or "").strip()):
        raise ValidationError(
            {"token": _("That code is not right. Check the time on your phone and try again.")}
        )
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    # One app per person: an older device stops working when a new one is confirmed.
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    _audit_person_event(actor=user, action="core.otp.enable", user=user, changes={})
    return device


@transaction.atomic
def otp_device_remove(*, user: Any) -> None:
    removed = TOTPDevice.objects.filter(user=user).delete()[0]
    if removed:
        _audit_person_event(actor=user, action="core.otp.disable", user=user, changes={})


@transaction.atomic
def otp_record_failure(*, user: Any) -> None:
    _audit_person_event(actor=user, action="core.otp.fail", user=user, changes={})


# ---------- Members and roles of a body ----------


def _require(membership: Membership, action: str) -> None:
    if not permissions.can(membership, action):
        raise PermissionDenied(_("Your role does not allow this."))


def _same_body(membership: Membership, target: Membership) -> None:
    if target.body_id != membership.body_id:
        raise PermissionDenied(_("You are not a member of this body."))


def _check_head_rule(actor_membership: Membership, *roles: str) -> None:
    if Role.HEAD in roles and not permissions.can(actor_membership, "grant_head"):
        raise PermissionDenied(_("Only a head can give or take away the head role."))


def _other_managers_exist(membership: Membership) -> bool:
    return (
        Membership.objects.filter(
            body_id=membership.body_id, is_active=True, role__in=permissions.MANAGER_ROLES
        )
        .exclude(pk=membership.pk)
        .exists()
    )


@transaction.atomic
def membership_add(
    *,
    membership: Membership,
    username: str,
    role: str,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    password: str = "",
) -> Membership:
    """Give a person a role in the body: a new account (with an initial password), or an
    existing account, who may already belong to another body with another role."""
    _require(membership, "manage_users")
    body = membership.body
    if role not in Role.values:
        raise ValidationError({"role": _("Choose a role.")})
    _check_head_rule(membership, role)
    username = (username or "").strip()
    if not username:
        raise ValidationError({"username": _("Enter a username.")})
    user = User.objects.filter(username__iexact=username).first()
    created_user = user is None
    if user is None:
        if not password:
            raise ValidationError({"password": _("A new account needs an initial password.")})
        user = User(
            username=username,
            first_name=first_name.strip(),
            last_name=last_name.strip(),
            email=email.strip(),
        )
        user.full_clean(exclude=["password"])
        try:
            validate_password(password, user)
        except ValidationError as error:
            raise ValidationError({"password": error.messages}) from error
        user.set_password(password)
        user.save()
    else:
        if password:
            # An administrator of one body must not reset the password of someone's account
            # that may belong to another body.
            raise ValidationError(
                {
                    "password": _(
                        "This username already exists. Leave the password empty to add "
                        "that person to this body."
                    )
                }
            )
        existing = Membership.objects.filter(user=user, body=body).first()
        if existing is not None:
            if existing.is_active:
                raise ValidationError(
                    {"username": _("This person is already a member of this body.")}
                )
            raise ValidationError(
                {
                    "username": _(
                        "This person was a member of this body: reactivate their membership "
                        "from the list instead."
                    )
                }
            )
    added = Membership.objects.create(user=user, body=body, role=role)
    audit(
        actor=membership.user,
        action="core.membership.add",
        obj=added,
        changes={
            "user": [None, user.get_username()],
            "role": [None, role],
            "is_active": [None, True],
            "new_account": [None, created_user],
        },
    )
    return added


@transaction.atomic
def membership_set_role(*, membership: Membership, target: Membership, role: str) -> Membership:
    """Change the role of `target` (a membership of the acting member's body)."""
    _require(membership, "manage_users")
    _same_body(membership, target)
    if role not in Role.values:
        raise ValidationError({"role": _("Choose a role.")})
    if role == target.role:
        return target
    if target.user_id == membership.user_id:
        raise ValidationError(_("You cannot change your own role; ask another head."))
    _check_head_rule(membership, role, target.role)
    if (
        target.is_active
        and target.role in permissions.MANAGER_ROLES
        and role not in permissions.MANAGER_ROLES
        and not _other_managers_exist(target)
    ):
        raise ValidationError(
            _("This is the body's last head or administrator: give someone else that role first.")
        )
    before = snapshot(target, ["role"])
    target.role = role
    target.save(update_fields=["role"])
    audit(
        actor=membership.user,
        action="core.membership.change_role",
        obj=target,
        changes=diff(before, snapshot(target, ["role"])),
    )
    return target


@transaction.atomic
def membership_deactivate(*, membership: Membership, target: Membership) -> Membership:
    """End a person's access to the body; their account and their other bodies stay."""
    _require(membership, "manage_users")
    _same_body(membership, target)
    if not target.is_active:
        return target
    if target.user_id == membership.user_id:
        raise ValidationError(_("You cannot deactivate your own membership."))
    _check_head_rule(membership, target.role)
    if target.role in permissions.MANAGER_ROLES and not _other_managers_exist(target):
        raise ValidationError(
            _("This is the body's last head or administrator: it cannot be deactivated.")
        )
    target.is_active = False
    target.save(update_fields=["is_active"])
    audit(
        actor=membership.user,
        action="core.membership.deactivate",
        obj=target,
        changes={"is_active": [True, False]},
    )
    return target


@transaction.atomic
def membership_reactivate(*, membership: Membership, target: Membership) -> Membership:
    _require(membership, "manage_users")
    _same_body(membership, target)
    if target.is_active:
        return target
    _check_head_rule(membership, target.role)
    target.is_active = True
    target.save(update_fields=["is_active"])
    audit(
        actor=membership.user,
        action="core.membership.reactivate",
        obj=target,
        changes={"is_active": [False, True]},
    )
    return target


# ---------- Body settings ----------

BODY_SETTINGS_FIELDS = ["require_totp", "import_retention_days"]


@transaction.atomic
def body_update_settings(
    *, membership: Membership, require_totp: bool, import_retention_days: int | None = None
) -> Body:
    _require(membership, "manage_settings")
    body = membership.body
    before = snapshot(body, BODY_SETTINGS_FIELDS)
    body.require_totp = bool(require_totp)
    if import_retention_days is not None:
        body.import_retention_days = import_retention_days
        body.full_clean(validate_unique=False, validate_constraints=False)
    changes = diff(before, snapshot(body, BODY_SETTINGS_FIELDS))
    if changes:
        body.save(update_fields=BODY_SETTINGS_FIELDS)
        audit(actor=membership.user, action="core.body.update_settings", obj=body, changes=changes)
    return body


# ---------- The audit trail ----------


@transaction.atomic
def audit_export_record(*, membership: Membership, filters: str) -> None:
    """Downloading the trail is itself recorded: it carries every member's sign-ins."""
    _require(membership, "view_audit")
    audit(
        actor=membership.user,
        action="core.audit.export",
        body=membership.body,
        changes={"filters": filters},
    )
