"""Pages of the core app: sign-in, two-factor, the overview, members and roles, settings, the
audit trail and the person's own account. Every write goes through `vigil.core.services`."""

from __future__ import annotations

import datetime
from io import BytesIO
from typing import Any

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_otp import login as otp_login

from vigil.core import forms, services
from vigil.core.access import SESSION_BODY_KEY, active_membership, get_visible_or_404, visible
from vigil.core.audit import (
    OWN_ADDRESS_DAYS,
    action_label,
    audit_export_rows,
    describe,
    type_label,
    unknown_signin_failures,
    visible_audit_entries,
)
from vigil.core.guard import member_required
from vigil.core.middleware import OTP_ENROLLED_SESSION_KEY, client_ip
from vigil.core.models import (
    ApiToken,
    AuditEntry,
    AuthenticatorDevice,
    Invitation,
    InvitationStatus,
    Job,
    Membership,
    Role,
)
from vigil.core.permissions import CORE
from vigil.core.registry import home_cards

AUDIT_PAGE_SIZE = 50
UNKNOWN_SIGNINS_SHOWN = 20

# ---------- Helpers ----------


def _safe_next(request: HttpRequest, fallback: str = "home") -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse(fallback)


# ---------- Sign in and out ----------


# A browser that has signed in as a person before carries this cookie (signed, naming the
# username): its attempts skip the username's slowdown, so that guessing from elsewhere cannot
# keep the person out. The per-address lock still applies to it.
KNOWN_BROWSER_COOKIE = "vigil_known_browser"
KNOWN_BROWSER_SALT = "vigil.core.known-browser"
KNOWN_BROWSER_SECONDS = 180 * 24 * 3600


def _known_browser(request: HttpRequest, username: str) -> bool:
    value = request.COOKIES.get(KNOWN_BROWSER_COOKIE)
    if not value:
        return False
    try:
        known = signing.loads(value, salt=KNOWN_BROWSER_SALT, max_age=KNOWN_BROWSER_SECONDS)
    except signing.BadSignature:
        return False
    return bool(known) and known == services.normalise_username(username)


def _remember_browser(response: HttpResponse, user: Any) -> None:
    response.set_cookie(
        KNOWN_BROWSER_COOKIE,
        signing.dumps(services.normalise_username(user.get_username()), salt=KNOWN_BROWSER_SALT),
        max_age=KNOWN_BROWSER_SECONDS,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(_safe_next(request))
    form = forms.LoginForm(request, data=request.POST or None)
    status = 200
    if request.method == "POST":
        username = request.POST.get("username", "")
        ip_address = client_ip(request)
        known_browser = _known_browser(request, username)
        attempt = services.login_attempt_start(
            username=username, ip_address=ip_address, known_browser=known_browser
        )
        if attempt.wait is not None:
            # Refused before the password is even checked, so the right one does not help.
            form = forms.LoginForm(request, initial={"username": username[:150]})
            form.lockout_message = attempt.wait.message  # type: ignore[attr-defined]
            status = 429
        elif form.is_valid():
            user = form.get_user()
            auth_login(request, user)
            # Someone who set up an app is asked for its code in every body, not only in
            # bodies that require one (the middleware reads this flag).
            request.session[OTP_ENROLLED_SESSION_KEY] = (
                services.confirmed_totp_device(user) is not None
            )
            services.login_record_success(user=user, attempt=attempt, ip_address=ip_address)
            response = redirect(_safe_next(request))
            _remember_browser(response, user)
            return response
        else:
            # The same answer, whether the username exists or not (Django's sign-in runs the
            # password hasher for an unknown username too, so it takes as long).
            services.login_record_failure(username=username, ip_address=ip_address)
            wait = services.sign_in_wait(
                username=username, ip_address=ip_address, known_browser=known_browser
            )
            if wait is not None and not wait.slowdown:
                form.lockout_message = wait.message  # type: ignore[attr-defined]
    return render(
        request,
        "registration/login.html",
        {"form": form, "next": request.POST.get("next") or request.GET.get("next", "")},
        status=status,
    )


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        services.logout_record(user=request.user)
    auth_logout(request)
    messages.success(request, _("You have signed out."))
    return redirect("login")


@sensitive_post_parameters("old_password", "new_password1", "new_password2")
@login_required
def password_change_view(request: HttpRequest) -> HttpResponse:
    form = forms.VigilPasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.password_change(
                user=request.user, new_password=form.cleaned_data["new_password1"]
            )
        except ValidationError as error:
            form.add_error("new_password1", error.messages)
        else:
            update_session_auth_hash(request, request.user)  # type: ignore[arg-type]
            messages.success(request, _("Your password has been changed."))
            return redirect("account")
    return render(request, "registration/password_change.html", {"form": form})


# ---------- Two-factor sign-in ----------


def _qr_svg(uri: str) -> str:
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = BytesIO()
    image.save(buffer)
    svg = buffer.getvalue().decode("utf-8")
    # Inline in the page: drop the XML declaration, which is only valid at the start of a file.
    if svg.startswith("<?xml"):
        svg = svg.split("?>", 1)[1]
    return svg.strip()


def _secret_for_people(device: Any) -> str:
    from base64 import b32encode

    secret = b32encode(device.bin_key).decode("ascii").rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _setup_refused(request: HttpRequest, error: PermissionDenied) -> HttpResponse:
    """The page for a person without an app who may no longer set one up alone."""
    return render(
        request,
        "core/otp_ask_head.html",
        {"reason": str(error), "blocked_by": services.otp_setup_blocked_by(request.user)},
        status=403,
    )


@sensitive_post_parameters("token")
@login_required
def otp_setup(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    confirmed = services.confirmed_totp_device(user)
    if confirmed is not None and not user.is_verified():
        # This page is open to people who have not typed a code yet (so they can enrol); one
        # who already has an app must prove it before replacing or removing it.
        return redirect(f"{reverse('otp_verify')}?next={reverse('otp_setup')}")
    action = request.POST.get("action", "") if request.method == "POST" else ""
    if action == "remove":
        try:
            services.otp_device_remove(user=user)
        except ValidationError as error:
            for text in error.messages:
                messages.error(request, text)
            return redirect("otp_setup")
        request.session[OTP_ENROLLED_SESSION_KEY] = False
        messages.success(request, _("Two-factor sign-in is off for your account."))
        return redirect("account")
    if confirmed is not None and action != "replace":
        return render(
            request,
            "core/otp_status.html",
            {
                "device": confirmed,
                "required": bool(
                    Membership.objects.filter(
                        user=user, is_active=True, body__require_totp=True
                    ).exists()
                ),
            },
        )
    verified = user.is_verified()
    try:
        device = services.otp_device_start(user=user, verified=verified)
    except PermissionDenied as error:
        return _setup_refused(request, error)
    form = forms.TokenForm(request.POST if "token" in request.POST else None)
    if form.is_bound and form.is_valid():
        try:
            services.otp_device_confirm(
                user=user, device=device, token=form.cleaned_data["token"], verified=verified
            )
        except ValidationError as error:
            forms.apply_service_errors(form, error)
        except PermissionDenied as error:
            return _setup_refused(request, error)
        else:
            otp_login(request, device)
            request.session[OTP_ENROLLED_SESSION_KEY] = True
            messages.success(request, _("Two-factor sign-in is on for your account."))
            return redirect(_safe_next(request, "account"))
    return render(
        request,
        "core/otp_setup.html",
        {
            "form": form,
            "qr_svg": _qr_svg(device.config_url),
            "secret": _secret_for_people(device),
            "replacing": confirmed is not None,
            "next": request.GET.get("next") or request.POST.get("next", ""),
        },
    )


@sensitive_post_parameters("token")
@login_required
def otp_verify(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    next_url = request.GET.get("next") or request.POST.get("next", "")
    device = services.confirmed_totp_device(user)
    if device is None:
        if services.otp_setup_blocked_by(user):
            return _setup_refused(
                request,
                PermissionDenied(
                    _("Your body requires two-factor sign-in, and you have not set it up.")
                ),
            )
        messages.info(request, _("Your body asks for two-factor sign-in: set up an app first."))
        suffix = f"?{urlencode({'next': next_url})}" if next_url else ""
        return redirect(reverse("otp_setup") + suffix)
    if user.is_verified():
        return redirect(_safe_next(request))
    form = forms.TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        verified = services.otp_verify(user=user, token=form.cleaned_data["token"])
        if verified is not None:
            otp_login(request, verified)
            services.otp_record_success(user=user)
            return redirect(_safe_next(request))
        form.add_error(
            "token", _("That code is not right. Check the time on your phone and try again.")
        )
    return render(request, "core/otp_verify.html", {"form": form, "next": next_url})


# ---------- Overview ----------


@login_required
def home(request: HttpRequest) -> HttpResponse:
    membership = active_membership(request)
    # Invitations wait for the person's answer whichever body they are working in.
    invitation_count = services.pending_invitations(request.user).count()
    if membership is None:
        return render(request, "core/home_no_body.html", {"invitation_count": invitation_count})
    if membership.role == Role.AUTHORITY_FOCAL_POINT:
        return render(
            request,
            "core/home_focal_point.html",
            {"membership": membership, "invitation_count": invitation_count},
        )
    jobs = list(visible(membership, Job).order_by("-created_at")[:5])
    recent_audit: list[AuditEntry] = []
    if CORE.can(membership, "view_audit"):
        recent_audit = [describe(entry) for entry in visible_audit_entries(membership)[:8]]
    return render(
        request,
        "core/home.html",
        {
            "cards": home_cards(request, membership),
            "jobs": jobs,
            "recent_audit": recent_audit,
            "can_view_audit": CORE.can(membership, "view_audit"),
            "invitation_count": invitation_count,
        },
    )


@require_POST
@login_required
def switch_body(request: HttpRequest) -> HttpResponse:
    try:
        membership = Membership.objects.select_related("body").get(
            user=request.user.pk, body_id=int(request.POST.get("body", "")), is_active=True
        )
    except (Membership.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc
    request.session[SESSION_BODY_KEY] = membership.body_id
    messages.success(request, _("You are now working in %(body)s.") % {"body": membership.body})
    return redirect(_safe_next(request))


# ---------- Members and roles ----------


@member_required(CORE, "manage_users")
def users(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    members = (
        visible(membership, Membership)
        .select_related("user")
        .annotate(
            has_totp=Exists(
                AuthenticatorDevice.objects.filter(user=OuterRef("user_id"), confirmed=True)
            )
        )
        .order_by("-is_active", "user__username")
    )
    invitations = (
        visible(membership, Invitation)
        .filter(body_id=membership.body_id)
        .exclude(status=InvitationStatus.ACCEPTED)
        .select_related("invited_by")
        .order_by("-created_at", "-id")
    )
    return render(
        request,
        "core/users.html",
        {
            "members": members,
            "invitations": invitations,
            "can_manage_settings": CORE.can(membership, "manage_settings"),
            "may_grant_head": CORE.can(membership, "grant_head"),
            "may_reset_two_factor": CORE.can(membership, "reset_two_factor"),
            "body_requires_totp": membership.body.require_totp,
        },
    )


@require_POST
@member_required(CORE, "reset_two_factor")
def user_reset_two_factor(
    request: HttpRequest, membership_id: int, *, membership: Membership
) -> HttpResponse:
    target = _member(membership, membership_id)
    try:
        removed = services.otp_reset(membership=membership, target=target)
    except ValidationError as error:
        for text in error.messages:
            messages.error(request, text)
    else:
        if removed:
            text = _(
                "The authenticator app of %(user)s no longer works: they can set up a new one "
                "at their next sign-in."
            )
        else:
            text = _("%(user)s can now set up two-factor sign-in at their next sign-in.")
        messages.success(request, text % {"user": target.user.get_username()})
    return redirect("users")


@sensitive_post_parameters("password")
@member_required(CORE, "manage_users")
def user_add(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    may_grant_head = CORE.can(membership, "grant_head")
    form = forms.MembershipAddForm(request.POST or None, may_grant_head=may_grant_head)
    if request.method == "POST" and form.is_valid():
        try:
            added = services.membership_add(membership=membership, **form.cleaned_data)
        except ValidationError as error:
            forms.apply_service_errors(form, error)
        else:
            if isinstance(added, Invitation):
                text = _(
                    "%(user)s already has an account: they are invited, and become a member of "
                    "%(body)s when they accept. Until then nothing of their account is shown here."
                )
                name = added.username
            else:
                text = _("%(user)s is now a member of %(body)s.")
                name = added.user.get_username()
            messages.success(request, text % {"user": name, "body": membership.body})
            return redirect("users")
    return render(request, "core/user_add.html", {"form": form})


@require_POST
@member_required(CORE, "manage_users")
def invitation_withdraw(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    invitation = get_visible_or_404(
        membership, Invitation.objects.filter(body_id=membership.body_id), pk
    )
    try:
        services.invitation_withdraw(membership=membership, invitation=invitation)
    except ValidationError as error:
        for text in error.messages:
            messages.error(request, text)
    else:
        messages.success(
            request, _("The invitation of %(user)s is withdrawn.") % {"user": invitation.username}
        )
    return redirect("users")


@login_required
def invitations(request: HttpRequest) -> HttpResponse:
    """The person's own invitations waiting for an answer, from any body."""
    return render(
        request,
        "core/invitations.html",
        {"invitations": services.pending_invitations(request.user)},
    )


@require_POST
@login_required
def invitation_answer(request: HttpRequest, pk: int, *, accept: bool) -> HttpResponse:
    try:
        if accept:
            added = services.invitation_accept(user=request.user, invitation_id=pk)
        else:
            declined = services.invitation_decline(user=request.user, invitation_id=pk)
    except ValidationError as error:
        for text in error.messages:
            messages.error(request, text)
        return redirect("invitations")
    if accept:
        # Work in the body just joined: it is why the person accepted.
        request.session[SESSION_BODY_KEY] = added.body_id
        messages.success(
            request,
            _("You are now a member of %(body)s, as %(role)s.")
            % {"body": added.body, "role": added.get_role_display()},
        )
        return redirect("home")
    messages.success(
        request,
        _("You declined the invitation of %(body)s: it sees nothing of your account.")
        % {"body": declined.body},
    )
    return redirect("invitations")


def _member(membership: Membership, membership_id: Any) -> Membership:
    return get_visible_or_404(
        membership, Membership.objects.select_related("user", "body"), membership_id
    )


@member_required(CORE, "manage_users")
def user_edit(request: HttpRequest, membership_id: int, *, membership: Membership) -> HttpResponse:
    target = _member(membership, membership_id)
    may_grant_head = CORE.can(membership, "grant_head")
    form = forms.MembershipRoleForm(
        request.POST or None, initial={"role": target.role}, may_grant_head=may_grant_head
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.membership_set_role(
                membership=membership, target=target, role=form.cleaned_data["role"]
            )
        except ValidationError as error:
            forms.apply_service_errors(form, error)
        else:
            messages.success(
                request,
                _("The role of %(user)s is now %(role)s.")
                % {"user": target.user.get_username(), "role": target.get_role_display()},
            )
            return redirect("users")
    return render(
        request,
        "core/user_edit.html",
        {"form": form, "target": target, "is_self": target.user_id == request.user.pk},
    )


def _membership_toggle(
    membership: Membership, request: HttpRequest, membership_id: int, *, activate: bool
) -> HttpResponse:
    target = _member(membership, membership_id)
    service = services.membership_reactivate if activate else services.membership_deactivate
    try:
        service(membership=membership, target=target)
    except ValidationError as error:
        for text in error.messages:
            messages.error(request, text)
    else:
        if activate:
            text = _("%(user)s can use Vigil in this body again.")
        else:
            text = _("%(user)s no longer has access to this body.")
        messages.success(request, text % {"user": target.user.get_username()})
    return redirect("users")


@require_POST
@member_required(CORE, "manage_users")
def user_deactivate(
    request: HttpRequest, membership_id: int, *, membership: Membership
) -> HttpResponse:
    return _membership_toggle(membership, request, membership_id, activate=False)


@require_POST
@member_required(CORE, "manage_users")
def user_reactivate(
    request: HttpRequest, membership_id: int, *, membership: Membership
) -> HttpResponse:
    return _membership_toggle(membership, request, membership_id, activate=True)


@member_required(CORE, "manage_settings")
def body_settings(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    body = membership.body
    form = forms.BodySettingsForm(
        request.POST or None,
        initial={
            "require_totp": body.require_totp,
            "totp_grace_days": body.totp_grace_days,
            "import_retention_days": body.import_retention_days,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.body_update_settings(membership=membership, **form.cleaned_data)
        except ValidationError as error:
            forms.apply_service_errors(form, error)
        else:
            messages.success(request, _("The settings of %(body)s are saved.") % {"body": body})
            return redirect("body_settings")
    without_totp = (
        Membership.objects.filter(body=body, is_active=True)
        .exclude(user__authenticatordevice__confirmed=True)
        .count()
    )
    return render(
        request,
        "core/body_settings.html",
        {"form": form, "body": body, "members_without_totp": without_totp},
    )


# ---------- Audit trail ----------


def _audit_filter(request: HttpRequest, membership: Membership) -> tuple[Any, QuerySet[AuditEntry]]:
    entries = visible_audit_entries(membership)
    # The choices are what this member's trail holds, so a filter never offers an empty result.
    actions = sorted(
        {
            (action, action_label(action, object_type))
            for action, object_type in entries.order_by()
            .values_list("action", "object_type")
            .distinct()
        },
        key=lambda choice: choice[1].casefold(),
    )
    object_types = sorted(
        {
            (object_type, type_label(object_type))
            for object_type in entries.exclude(object_type="")
            .order_by()
            .values_list("object_type", flat=True)
            .distinct()
        },
        key=lambda choice: choice[1].casefold(),
    )
    actors = list(
        entries.exclude(actor_label="")
        .order_by("actor_label")
        .values_list("actor_label", flat=True)
        .distinct()
    )
    form = forms.AuditFilterForm(
        request.GET or None,
        actions=list(dict(actions).items()),
        object_types=object_types,
        actors=[(a, a) for a in actors],
    )
    if form.is_bound:
        form.is_valid()
        # A filter with an invalid value is reported on the form and left out; the valid ones
        # still apply, so a typo never silently widens the list to everything.
        data = {name: form.cleaned_data.get(name) for name in form.fields}
        if data["q"]:
            text = data["q"]
            # A withheld record's name is never searched: a match would reveal it.
            entries = entries.filter(
                Q(actor_label__icontains=text)
                | (Q(object_repr__icontains=text) & Q(is_restricted=False))
                | Q(action__icontains=text)
                | Q(object_type__icontains=text)
            )
        if data["action"]:
            entries = entries.filter(action=data["action"])
        if data["object_type"]:
            entries = entries.filter(object_type=data["object_type"])
        if data["actor"]:
            entries = entries.filter(actor_label=data["actor"])
        tz = timezone.get_current_timezone()
        if data["date_from"]:
            start = datetime.datetime.combine(data["date_from"], datetime.time.min, tzinfo=tz)
            entries = entries.filter(created_at__gte=start)
        if data["date_to"]:
            end = datetime.datetime.combine(
                data["date_to"] + datetime.timedelta(days=1), datetime.time.min, tzinfo=tz
            )
            entries = entries.filter(created_at__lt=end)
        if data["sensitive"]:
            entries = entries.filter(sensitive=True)
    return form, entries.order_by("-created_at", "-id")


@member_required(CORE, "view_audit")
def audit(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    form, entries = _audit_filter(request, membership)
    page = Paginator(entries, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    for entry in page.object_list:
        describe(entry)
    query = request.GET.copy()
    query.pop("page", None)
    # Shown apart from the body's own trail: these attempts named no member of any body.
    unknown_signins = list(unknown_signin_failures(membership)[: UNKNOWN_SIGNINS_SHOWN + 1])
    return render(
        request,
        "core/audit.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "is_filtered": bool(query),
            "unknown_signins": unknown_signins[:UNKNOWN_SIGNINS_SHOWN],
            "more_unknown_signins": len(unknown_signins) > UNKNOWN_SIGNINS_SHOWN,
            "own_address_days": OWN_ADDRESS_DAYS,
        },
    )


@member_required(CORE, "view_audit")
def audit_export(request: HttpRequest, *, membership: Membership) -> StreamingHttpResponse:
    from vigil.core.tabular import stream_csv

    _form, entries = _audit_filter(request, membership)
    services.audit_export_record(membership=membership, filters=request.GET.urlencode())
    headers = [
        _("When"),
        _("Who"),
        _("Action"),
        _("Action code"),
        _("Record type"),
        _("Record id"),
        _("Record"),
        _("Changes"),
        _("IP address"),
        _("Sensitive read"),
    ]
    filename = f"audit-{membership.body.slug}-{timezone.localdate():%Y%m%d}.csv"
    response = StreamingHttpResponse(
        stream_csv(headers, audit_export_rows(entries)), content_type="text/csv"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# ---------- The person's own account ----------


@login_required
def account(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    form = forms.AccountForm(
        request.POST or None,
        initial={"first_name": user.first_name, "last_name": user.last_name, "email": user.email},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.account_update(user=user, **form.cleaned_data)
        except ValidationError as error:
            forms.apply_service_errors(form, error)
        else:
            messages.success(request, _("Your details are saved."))
            return redirect("account")
    return render(
        request,
        "core/account.html",
        {
            "form": form,
            "api_token": ApiToken.objects.filter(user=user).first(),
            "totp_device": services.confirmed_totp_device(user),
        },
    )


@require_POST
@login_required
def api_token(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    if request.POST.get("action") == "revoke":
        if services.api_token_revoke(user=user):
            messages.success(request, _("Your API token is revoked: it no longer works."))
        return redirect("account")
    try:
        _token, key = services.api_token_create(user=user, verified=user.is_verified())
    except PermissionDenied as error:
        messages.error(request, str(error))
        return redirect(f"{reverse('otp_verify')}?{urlencode({'next': reverse('account')})}")
    # Shown in this response only: Vigil keeps only its hash.
    response = render(request, "core/api_token.html", {"token": key})
    response["Cache-Control"] = "no-store"
    return response
