"""Every write of the core app: sign-in records, accounts, memberships, body settings, tokens.

Each service takes keyword-only arguments, runs in one transaction, validates, and writes its
entry to the audit trail. Views, the API and commands all go through these functions.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import django_otp
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import Model, Q, QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from vigil.core import permissions
from vigil.core.audit import audit, build_entry, diff, snapshot
from vigil.core.models import (
    MAX_TOTP_GRACE_DAYS,
    ApiToken,
    AuditEntry,
    AuthenticatorDevice,
    Body,
    Invitation,
    InvitationStatus,
    LoginFailure,
    Membership,
    Role,
)
from vigil.core.notify import absolute_url, notify
from vigil.core.permissions import CORE

logger = logging.getLogger(__name__)
User = get_user_model()

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

# How many failures one IP address may make, as a multiple of the per-username limit: an office
# behind one address has many people, but one address trying many usernames is guessing.
IP_FAILURE_FACTOR = 4
# Past the limit, failures on one username from anywhere space out further attempts on it from
# browsers that never signed in as that person: 1, 2, 4 ... seconds, at most this long. That
# slows down a guesser with many addresses, but is not a lock anyone can put on someone else's
# account (the lock is per username *and* address).
USERNAME_BACKOFF_MAX_SECONDS = 60


@dataclass(frozen=True)
class SignInWait:
    seconds: int
    # True: the username's slowdown; False: this address is locked out (for this username or
    # for all of them).
    slowdown: bool

    @property
    def message(self) -> str:
        if self.slowdown:
            return ngettext(
                "Too many failed sign-in attempts for this account. Wait %(seconds)d second "
                "and try again.",
                "Too many failed sign-in attempts for this account. Wait %(seconds)d seconds "
                "and try again.",
                self.seconds,
            ) % {"seconds": self.seconds}
        return lockout_message(self.seconds)


@dataclass(frozen=True)
class SignInAttempt:
    """An attempt let through (`failure_id`: the row that counts it as a failure until it
    succeeds) or refused before the password is checked (`wait`)."""

    failure_id: int | None = None
    wait: SignInWait | None = None


def normalise_username(username: str) -> str:
    return (username or "").strip().lower()[:150]


def _seconds_left(failure_times: list[Any], limit: int, window: int) -> int:
    """Seconds until fewer than `limit` failures remain in the window (0 when not locked)."""
    if len(failure_times) < limit:
        return 0
    # Newest first: the lock lifts when the limit-th newest failure leaves the window.
    unlock_at = failure_times[limit - 1] + timedelta(seconds=window)
    return max(0, math.ceil((unlock_at - timezone.now()).total_seconds()))


def sign_in_wait(
    *, username: str, ip_address: str | None, known_browser: bool = False
) -> SignInWait | None:
    """How long sign-in as `username` from `ip_address` stays refused (None: not refused).

    - `username` from this address: locked after VIGIL_LOGIN_MAX_FAILURES failures, until the
      oldest of them is VIGIL_LOGIN_LOCKOUT_SECONDS old;
    - this address, whatever the username: the same with IP_FAILURE_FACTOR times the limit;
    - `username` from anywhere, past the limit: a short, growing wait between attempts, skipped
      by a browser that has signed in as this person before (`known_browser`).
    """
    limit = settings.VIGIL_LOGIN_MAX_FAILURES
    window = settings.VIGIL_LOGIN_LOCKOUT_SECONDS
    name = normalise_username(username)
    now = timezone.now()
    recent = LoginFailure.objects.filter(created_at__gte=now - timedelta(seconds=window)).order_by(
        "-created_at"
    )
    times = recent.values_list("created_at", flat=True)
    waits = [
        SignInWait(
            _seconds_left(
                list(times.filter(username=name, ip_address=ip_address)[:limit]), limit, window
            ),
            slowdown=False,
        )
    ]
    if ip_address:
        ip_limit = limit * IP_FAILURE_FACTOR
        by_ip = list(times.filter(ip_address=ip_address)[:ip_limit])
        waits.append(SignInWait(_seconds_left(by_ip, ip_limit, window), slowdown=False))
    if not known_browser:
        # Enough rows to reach the longest wait: 2 ** 6 > USERNAME_BACKOFF_MAX_SECONDS.
        by_username = list(times.filter(username=name)[: limit + 7])
        if len(by_username) >= limit:
            gap = min(USERNAME_BACKOFF_MAX_SECONDS, 2 ** (len(by_username) - limit))
            left = by_username[0] + timedelta(seconds=gap) - now
            waits.append(SignInWait(max(0, math.ceil(left.total_seconds())), slowdown=True))
    longest = max(waits, key=lambda wait: wait.seconds)
    return longest if longest.seconds > 0 else None


def lockout_message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return ngettext(
        "Too many failed sign-in attempts. Try again in %(minutes)d minute.",
        "Too many failed sign-in attempts. Try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}


def _lock_sign_in_counters(name: str, ip_address: str | None) -> None:
    """Make parallel attempts on one username or from one address take turns until the end of
    the transaction, so that each counts the ones before it.

    PostgreSQL: a transaction-level advisory lock per address and per username, always taken in
    that order, so two attempts never wait for each other in a circle. SQLite: every write
    transaction begins IMMEDIATE (settings.py), which already lets one writer in at a time."""
    if connection.vendor != "postgresql":
        return
    keys = [f"vigil.sign-in.address:{ip_address}"] if ip_address else []
    keys.append(f"vigil.sign-in.username:{name}")
    with connection.cursor() as cursor:
        for key in keys:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [key])


@transaction.atomic
def login_attempt_start(
    *, username: str, ip_address: str | None, known_browser: bool = False
) -> SignInAttempt:
    """Before a password is checked: refuse the attempt (locked out or slowed down), or count it
    as a failure at once, so that twelve attempts sent together get exactly as many password
    checks as the limit allows. A successful attempt takes its count back
    (`login_record_success`)."""
    name = normalise_username(username)
    _lock_sign_in_counters(name, ip_address)
    wait = sign_in_wait(username=name, ip_address=ip_address, known_browser=known_browser)
    if wait is not None:
        return SignInAttempt(wait=wait)
    failure = LoginFailure.objects.create(username=name, ip_address=ip_address)
    return SignInAttempt(failure_id=failure.pk)


@transaction.atomic
def login_record_failure(*, username: str, ip_address: str | None) -> None:
    """Note a failed sign-in (never the password tried) in the audit trail; it was counted when
    the attempt started."""
    name = normalise_username(username)
    window = settings.VIGIL_LOGIN_LOCKOUT_SECONDS
    # Failures older than the window no longer count for anything.
    LoginFailure.objects.filter(created_at__lt=timezone.now() - timedelta(seconds=window)).delete()
    user = User.objects.filter(username__iexact=name).first()
    _audit_person_event(
        actor=name or "anonymous",
        action="core.user.login_failed",
        user=user,
        changes={"username": name},
    )


@transaction.atomic
def login_record_success(
    *, user: Any, attempt: SignInAttempt | None = None, ip_address: str | None = None
) -> None:
    """A successful sign-in takes back its own count and clears the failures of this username
    from this address (the person's own typing mistakes), and is noted in the audit trail.
    Failures from other addresses keep counting: they may be someone else guessing."""
    name = normalise_username(user.get_username())
    cleared = Q(username=name, ip_address=ip_address)
    if attempt is not None and attempt.failure_id is not None:
        cleared |= Q(pk=attempt.failure_id)
    LoginFailure.objects.filter(cleared).delete()
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


# ---------- API tokens ----------


def _second_factor_expected(user: Any) -> bool:
    """Whether this person's sign-ins are confirmed with a code: they set up an app, or one of
    their bodies requires it."""
    return (
        confirmed_totp_device(user) is not None
        or Membership.objects.filter(user=user, is_active=True, body__require_totp=True).exists()
    )


@transaction.atomic
def api_token_create(*, user: Any, verified: bool) -> tuple[ApiToken, str]:
    """A new API token for the user, replacing any previous one (which stops working), and its
    key, to show once: only its hash is kept.

    A token is a credential that never asks for a code, so a session signed in with a password
    alone (`verified` False) may not create one when the person's sign-ins are confirmed with a
    code: otherwise a stolen password would be enough after all."""
    if not verified and _second_factor_expected(user):
        raise PermissionDenied(
            _(
                "Confirm this sign-in with the code of your authenticator app before creating "
                "an API token."
            )
        )
    replaced = ApiToken.objects.filter(user=user).delete()[0] > 0
    token, key = ApiToken.issue(user)
    # The key is shown once to its owner and never written anywhere else.
    _audit_person_event(
        actor=user, action="core.token.create", user=user, changes={"replaced": replaced}
    )
    return token, key


@transaction.atomic
def api_token_revoke(*, user: Any) -> bool:
    revoked = ApiToken.objects.filter(user=user).delete()[0] > 0
    if revoked:
        _audit_person_event(actor=user, action="core.token.revoke", user=user, changes={})
    return revoked


# ---------- Two-factor sign-in (TOTP) ----------

# However short the body's grace period, a head who resets a member's two-factor sign-in gives
# them at least this long to set up their app.
MIN_SETUP_ALLOWANCE = timedelta(days=1)


def _email_person(user: Any, subject: str, message: str) -> None:
    """Mail the person about a change to how they sign in, once the change is committed. A mail
    server that fails does not undo the change; it is logged."""
    address = (user.email or "").strip()
    if not address:
        return

    def send() -> None:
        try:
            send_mail(subject, message, None, [address])
        except OSError:
            logger.warning("Could not mail user %s: %s", user.pk, subject, exc_info=True)

    transaction.on_commit(send)


def _now_for_people() -> str:
    return date_format(timezone.localtime(), "DATETIME_FORMAT")


def confirmed_totp_device(user: Any) -> AuthenticatorDevice | None:
    return AuthenticatorDevice.objects.filter(user=user, confirmed=True).order_by("-id").first()


def otp_setup_deadline(membership: Membership) -> datetime | None:
    """Until when the member may set up an authenticator app by themselves, while their body
    requires two-factor sign-in (None when it does not): the body's grace period from when it
    turned the requirement on or from when the member joined, whichever is later, or from when
    a head last reset the member's two-factor sign-in."""
    body = membership.body
    if not body.require_totp:
        return None
    grace = timedelta(days=body.totp_grace_days)
    starts = [membership.created_at]
    if body.totp_required_since is not None:
        starts.append(body.totp_required_since)
    deadline = max(starts) + grace
    if membership.totp_setup_allowed_at is not None:
        deadline = max(deadline, membership.totp_setup_allowed_at + max(grace, MIN_SETUP_ALLOWANCE))
    return deadline


def otp_setup_blocked_by(user: Any) -> list[Membership]:
    """The person's memberships whose body requires two-factor sign-in and whose period to set
    it up alone has ended. While there is one, a session signed in with a password alone may not
    set up an app (the password may be someone else's, who would then get in with their own
    phone); a head of that body has to allow it first."""
    now = timezone.now()
    memberships = Membership.objects.filter(
        user=user, is_active=True, body__require_totp=True
    ).select_related("body")
    return [m for m in memberships if (otp_setup_deadline(m) or now) <= now]


def _require_setup_allowed(user: Any, *, verified: bool) -> None:
    if verified:
        return
    if confirmed_totp_device(user) is not None:
        raise PermissionDenied(_("Type the code of your current app first."))
    blocked = otp_setup_blocked_by(user)
    if blocked:
        raise PermissionDenied(
            _(
                "The time to set up two-factor sign-in by yourself has passed. Ask a head of "
                "%(bodies)s to allow it."
            )
            % {"bodies": ", ".join(str(m.body) for m in blocked)}
        )


@transaction.atomic
def otp_device_start(*, user: Any, verified: bool) -> AuthenticatorDevice:
    """The unconfirmed device being set up (created once, so reloading the page keeps the same
    secret the person may already have scanned). `verified`: the session passed a code."""
    _require_setup_allowed(user, verified=verified)
    device = AuthenticatorDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    if device is None:
        device = AuthenticatorDevice.objects.create(
            user=user, name=_("Authenticator app"), confirmed=False
        )
    return device


@transaction.atomic
def otp_device_confirm(
    *, user: Any, device: AuthenticatorDevice, token: str, verified: bool
) -> AuthenticatorDevice:
    """Turn on two-factor sign-in once the person proves their app shows the right code; the
    person is told by mail, so a set-up they did not make does not go unnoticed."""
    _require_setup_allowed(user, verified=verified)
    # Locked, so the same code cannot confirm it twice at once.
    device = (
        AuthenticatorDevice.objects.select_for_update()
        .filter(pk=device.pk, user=user, confirmed=False)
        .first()
    )
    if device is None:
        raise PermissionDenied
    if not device.verify_token((token or "").strip()):
        raise ValidationError(
            {"token": _("That code is not right. Check the time on your phone and try again.")}
        )
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    # One app per person: an older device stops working when a new one is confirmed.
    AuthenticatorDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    _audit_person_event(actor=user, action="core.otp.enable", user=user, changes={})
    _email_person(
        user,
        _("Two-factor sign-in was set up on your Vigil account"),
        _(
            "An authenticator app was set up for two-factor sign-in on your Vigil account "
            "(%(username)s) on %(when)s.\n\nIf you did this, there is nothing to do. If you "
            "did not, tell a head of your body at once."
        )
        % {"username": user.get_username(), "when": _now_for_people()},
    )
    return device


@transaction.atomic
def otp_device_remove(*, user: Any) -> None:
    """Turn two-factor sign-in off; refused while a body of the person requires it (they can
    set up a new app instead)."""
    requiring = list(
        Membership.objects.filter(user=user, is_active=True, body__require_totp=True)
        .select_related("body")
        .order_by("body__name")
    )
    if requiring:
        raise ValidationError(
            _(
                "%(bodies)s requires two-factor sign-in: you can set up a new app, but not "
                "turn it off."
            )
            % {"bodies": ", ".join(str(m.body) for m in requiring)}
        )
    removed = AuthenticatorDevice.objects.filter(user=user).delete()[0]
    if removed:
        _audit_person_event(actor=user, action="core.otp.disable", user=user, changes={})


@transaction.atomic
def otp_verify(*, user: Any, token: str) -> AuthenticatorDevice | None:
    """The person's app if `token` is its current code (a wrong code is audited). The device row
    is locked, so one code cannot be accepted twice by requests sent together."""
    device = confirmed_totp_device(user)
    verified = None
    if device is not None:
        verified = django_otp.verify_token(user, device.persistent_id, (token or "").strip())
    if verified is None:
        _audit_person_event(actor=user, action="core.otp.fail", user=user, changes={})
    return verified


@transaction.atomic
def otp_reset(*, membership: Membership, target: Membership) -> int:
    """A head resets a member's two-factor sign-in: their app (if any) stops working and they
    may set up a new one by themselves for a while, even after the body's grace period. For a
    member who lost their phone, or who joined and missed the period. Returns how many apps were
    removed."""
    CORE.require(membership, "reset_two_factor")
    _same_body(membership, target)
    if target.user_id == membership.user_id:
        raise ValidationError(
            _(
                "You cannot reset your own two-factor sign-in: ask another head, or set up a "
                "new app on your account page."
            )
        )
    if not target.is_active:
        raise ValidationError(_("This person no longer has access to this body."))
    removed = AuthenticatorDevice.objects.filter(user_id=target.user_id).delete()[0]
    target.totp_setup_allowed_at = timezone.now()
    target.save(update_fields=["totp_setup_allowed_at"])
    audit(
        actor=membership.user,
        action="core.otp.reset",
        obj=target,
        changes={"apps_removed": removed},
    )
    user = target.user
    _email_person(
        user,
        _("Your two-factor sign-in on Vigil was reset"),
        _(
            "A head of %(body)s reset two-factor sign-in on your Vigil account (%(username)s) "
            "on %(when)s. Any authenticator app you had set up no longer works; at your next "
            "sign-in, Vigil asks you to set one up.\n\nIf you did not ask for this, tell a "
            "head of your body."
        )
        % {"body": membership.body, "username": user.get_username(), "when": _now_for_people()},
    )
    return removed


@transaction.atomic
def otp_record_success(*, user: Any) -> None:
    """The second factor accepted: the sign-in (recorded after the password) is complete."""
    _audit_person_event(actor=user, action="core.otp.verify", user=user, changes={})


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
) -> Membership | Invitation:
    """Give a person a role in the body.

    A new account (with an initial password) becomes a member at once. An existing account,
    which may belong to another body, is only invited: the person accepts or declines after they
    sign in, and until they accept the body sees nothing of them but the username it typed."""
    _require(membership, "manage_users")
    body = membership.body
    if role not in Role.values:
        raise ValidationError({"role": _("Choose a role.")})
    _check_head_rule(membership, role)
    username = (username or "").strip()
    if not username:
        raise ValidationError({"username": _("Enter a username.")})
    user = User.objects.filter(username__iexact=username).first()
    if user is not None:
        if password:
            # An administrator of one body must not reset the password of someone's account
            # that may belong to another body.
            raise ValidationError(
                {
                    "password": _(
                        "This username already exists. Leave the password empty to invite "
                        "that person to this body."
                    )
                }
            )
        return _invitation_create(membership=membership, user=user, username=username, role=role)
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
    added = Membership.objects.create(user=user, body=body, role=role)
    audit(
        actor=membership.user,
        action="core.membership.add",
        obj=added,
        changes={
            "user": [None, user.get_username()],
            "role": [None, role],
            "is_active": [None, True],
            "new_account": [None, True],
        },
    )
    return added


# ---------- Invitations of existing accounts ----------

INVITATION_NOTIFICATION = "core.invitation.received"


def _invitation_create(
    *, membership: Membership, user: Any, username: str, role: str
) -> Invitation:
    body = membership.body
    existing = Membership.objects.filter(user=user, body=body).first()
    if existing is not None:
        if existing.is_active:
            raise ValidationError({"username": _("This person is already a member of this body.")})
        raise ValidationError(
            {
                "username": _(
                    "This person was a member of this body: reactivate their membership "
                    "from the list instead."
                )
            }
        )
    if Invitation.objects.filter(user=user, body=body, status=InvitationStatus.PENDING).exists():
        raise ValidationError(
            {"username": _("This person has already been invited and has not answered yet.")}
        )
    invitation = Invitation.objects.create(
        body=body, user=user, username=username, role=role, invited_by=membership.user
    )
    audit(
        actor=membership.user,
        action="core.invitation.create",
        obj=invitation,
        changes={"username": [None, username], "role": [None, role]},
    )
    # The person hears of it in each body they work in and by email; the notice names no body
    # (it is read where their other bodies' members may look over their shoulder), the
    # invitations page does.
    notify(
        INVITATION_NOTIFICATION,
        invitation,
        Membership.objects.filter(user=user, is_active=True),
        actor=membership.user,
    )
    _email_person(
        user,
        _("Vigil: you are invited to join a monitoring body"),
        "\n\n".join(
            [
                _(
                    "A monitoring body has invited you to work with it in Vigil. Nothing of your "
                    "account is shared with it unless you accept."
                ),
                _("Sign in to accept or decline: %(url)s")
                % {"url": absolute_url(reverse("invitations"))},
            ]
        )
        + "\n",
    )
    return invitation


def pending_invitations(user: Any) -> QuerySet[Invitation]:
    """The invitations waiting for this person's answer (a person's own, not a body's)."""
    if not getattr(user, "pk", None):
        return Invitation.objects.none()
    return (
        Invitation.objects.filter(user=user, status=InvitationStatus.PENDING)
        .select_related("body", "invited_by")
        .order_by("-created_at", "-id")
    )


def _own_pending_invitation(user: Any, invitation_id: Any) -> Invitation:
    """The person's own pending invitation, locked; anything else is 404, like a missing id."""
    try:
        return (
            Invitation.objects.select_for_update()
            .select_related("body")
            .get(pk=int(invitation_id), user=user, status=InvitationStatus.PENDING)
        )
    except (Invitation.DoesNotExist, TypeError, ValueError) as exc:
        raise Http404 from exc


@transaction.atomic
def invitation_accept(*, user: Any, invitation_id: Any) -> Membership:
    """The invited person joins the body with the role offered."""
    invitation = _own_pending_invitation(user, invitation_id)
    if Membership.objects.filter(user=user, body=invitation.body).exists():
        raise ValidationError(_("You are already a member of this body."))
    added = Membership.objects.create(user=user, body=invitation.body, role=invitation.role)
    invitation.status = InvitationStatus.ACCEPTED
    invitation.answered_at = timezone.now()
    invitation.save(update_fields=["status", "answered_at"])
    audit(
        actor=user,
        action="core.invitation.accept",
        obj=invitation,
        changes={"status": [InvitationStatus.PENDING, InvitationStatus.ACCEPTED]},
    )
    audit(
        actor=user,
        action="core.membership.add",
        obj=added,
        changes={
            "user": [None, user.get_username()],
            "role": [None, invitation.role],
            "is_active": [None, True],
            "new_account": [None, False],
            "invitation": [None, invitation.pk],
        },
    )
    return added


@transaction.atomic
def invitation_decline(*, user: Any, invitation_id: Any) -> Invitation:
    """The invited person says no: the body keeps nothing of theirs."""
    invitation = _own_pending_invitation(user, invitation_id)
    invitation.status = InvitationStatus.DECLINED
    invitation.answered_at = timezone.now()
    invitation.save(update_fields=["status", "answered_at"])
    audit(
        actor=user,
        action="core.invitation.decline",
        obj=invitation,
        changes={"status": [InvitationStatus.PENDING, InvitationStatus.DECLINED]},
    )
    return invitation


@transaction.atomic
def invitation_withdraw(*, membership: Membership, invitation: Invitation) -> Invitation:
    """A manager of the inviting body takes back an invitation not yet answered."""
    _require(membership, "manage_users")
    if invitation.body_id != membership.body_id:
        raise PermissionDenied(_("You are not a member of this body."))
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.status != InvitationStatus.PENDING:
        raise ValidationError(_("This invitation has already been answered."))
    _check_head_rule(membership, invitation.role)
    invitation.status = InvitationStatus.WITHDRAWN
    invitation.answered_at = timezone.now()
    invitation.save(update_fields=["status", "answered_at"])
    audit(
        actor=membership.user,
        action="core.invitation.withdraw",
        obj=invitation,
        changes={"status": [InvitationStatus.PENDING, InvitationStatus.WITHDRAWN]},
    )
    return invitation


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

BODY_SETTINGS_FIELDS = ["require_totp", "totp_grace_days", "import_retention_days"]


@transaction.atomic
def body_update_settings(
    *,
    membership: Membership,
    require_totp: bool,
    totp_grace_days: int | None = None,
    import_retention_days: int | None = None,
) -> Body:
    """Change the body's settings (a setting given as None stays as it is). Turning the
    two-factor requirement on starts the members' grace period to set up their app."""
    _require(membership, "manage_settings")
    body = membership.body
    before = snapshot(body, BODY_SETTINGS_FIELDS)
    was_required = body.require_totp
    body.require_totp = bool(require_totp)
    if totp_grace_days is not None:
        if not 0 <= totp_grace_days <= MAX_TOTP_GRACE_DAYS:
            raise ValidationError(
                {
                    "totp_grace_days": _("Give a number of days from 0 to %(most)d.")
                    % {"most": MAX_TOTP_GRACE_DAYS}
                }
            )
        body.totp_grace_days = totp_grace_days
    if import_retention_days is not None:
        body.import_retention_days = import_retention_days
        body.full_clean(validate_unique=False, validate_constraints=False)
    changes = diff(before, snapshot(body, BODY_SETTINGS_FIELDS))
    if changes:
        if body.require_totp and not was_required:
            body.totp_required_since = timezone.now()
        elif not body.require_totp:
            body.totp_required_since = None
        body.save(update_fields=[*BODY_SETTINGS_FIELDS, "totp_required_since"])
        audit(actor=membership.user, action="core.body.update_settings", obj=body, changes=changes)
    return body


# ---------- The audit trail ----------


@transaction.atomic
def api_list_record(
    *, membership: Membership, model: type[Model], page_size: int, returned: int, filters: str
) -> None:
    """A large page of records read through the API is recorded, as an export is: a program
    paging through a whole registry leaves a trace (`<app>.<model>.list_api`, which the app
    registers a label for)."""
    audit(
        actor=membership.user,
        action=f"{model._meta.app_label}.{model._meta.model_name}.list_api",
        body=membership.body,
        changes={"page_size": page_size, "returned": returned, "filters": filters},
    )


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
