from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "vigil.core"
    label = "core"
    verbose_name = _("Vigil core")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from vigil.core import checks  # noqa: F401  (registers system checks)

        post_migrate.connect(ensure_key_check, sender=self)
        register_core()


def register_core() -> None:
    """Core's own entries in the registries every app fills (labels, rules, navigation)."""
    from django.contrib.auth import get_user_model
    from django.db.models import Q
    from django.urls import reverse

    from vigil.core import home, imports, notify
    from vigil.core.access import INTERNAL_ROLES, grantable_models, own_body, register_visibility
    from vigil.core.audit import register_action_labels
    from vigil.core.models import (
        AccessGrant,
        Invitation,
        InvitationStatus,
        Job,
        Membership,
        Notification,
        Role,
        StoredFile,
        TabularImport,
        TaxonomyTerm,
    )
    from vigil.core.permissions import CORE
    from vigil.core.registry import (
        HomeCard,
        NavEntry,
        register_api_enums,
        register_home_card,
        register_nav,
    )

    def own_jobs(membership, queryset):  # type: ignore[no-untyped-def]
        # A job (its title names a file) is seen by the person who started it.
        return queryset.filter(body_id=membership.body_id, created_by_id=membership.user_id)

    register_visibility(Membership, own_body)

    def invitations(membership, queryset):  # type: ignore[no-untyped-def]
        # The inviting body's managers see its invitations; the invited person sees, from any
        # body they work in, the ones still waiting for their answer.
        mine = Q(user_id=membership.user_id, status=InvitationStatus.PENDING)
        if CORE.can(membership, "manage_users"):
            return queryset.filter(Q(body_id=membership.body_id) | mine)
        return queryset.filter(mine)

    register_visibility(Invitation, invitations, roles=frozenset(Role))
    register_visibility(TabularImport, own_body)
    register_visibility(Job, own_jobs)
    register_visibility(StoredFile, own_body)
    register_visibility(TaxonomyTerm, own_body)
    register_visibility(
        AccessGrant,
        lambda membership, queryset: (
            own_body(membership, queryset)
            if CORE.can(membership, "manage_grants")
            else queryset.filter(grantee=membership)
        ),
    )
    register_visibility(
        get_user_model(),
        lambda membership, queryset: queryset.filter(
            memberships__body_id=membership.body_id
        ).distinct(),
        roles=INTERNAL_ROLES,
    )

    register_action_labels(
        {
            "core.user.login": _("Signed in"),
            "core.user.login_failed": _("Failed sign-in"),
            "core.user.logout": _("Signed out"),
            "core.user.change_password": _("Changed password"),
            "core.user.update": _("Changed account details"),
            "core.token.create": _("Created an API token"),
            "core.token.revoke": _("Revoked the API token"),
            "core.otp.enable": _("Turned on two-factor sign-in"),
            "core.otp.disable": _("Turned off two-factor sign-in"),
            "core.otp.fail": _("Wrong two-factor code"),
            "core.otp.verify": _("Confirmed a sign-in with a two-factor code"),
            "core.otp.reset": _("Reset a member's two-factor sign-in"),
            "core.membership.add": _("Added a member"),
            "core.invitation.create": _("Invited a person to the body"),
            "core.invitation.accept": _("Accepted an invitation"),
            "core.invitation.decline": _("Declined an invitation"),
            "core.invitation.withdraw": _("Withdrew an invitation"),
            "core.membership.change_role": _("Changed a role"),
            "core.membership.deactivate": _("Deactivated a member"),
            "core.membership.reactivate": _("Reactivated a member"),
            "core.body.update_settings": _("Changed body settings"),
            "core.file.upload": _("Uploaded a file"),
            "core.file.download": _("Downloaded a file"),
            "core.keys.rotate": _("Re-encrypted data with a new key"),
            "core.import.upload": _("Uploaded a file to import"),
            "core.import.map": _("Chose the columns of an import"),
            "core.import.start": _("Started an import"),
            "core.import.finish": _("Finished an import"),
            "core.import.retry": _("Started a failed import again"),
            "core.import.download_rejected": _("Downloaded the rejected rows of an import"),
            "core.import.purge": _("Deleted an import file at the end of its retention period"),
            "core.term.create": _("Added a term"),
            "core.term.update": _("Changed a term"),
            "core.taxonomyterm.list_api": _("Read a large page of terms through the API"),
            "core.grant.create": _("Gave need-to-know access"),
            "core.grant.revoke": _("Revoked need-to-know access"),
            "core.accessgrant.list_api": _("Read a large page of access grants through the API"),
            "core.notification.list_api": _("Read a large page of notifications through the API"),
            "core.audit.export": _("Downloaded the audit trail"),
            "core.notification.send": _("Sent a notification"),
        }
    )
    register_visibility(Notification, notify.notification_rule, roles=frozenset(Role))
    for key, label, email_text in (
        (
            imports.FINISHED_NOTIFICATION,
            _("An import finished"),
            _("An import you started has finished."),
        ),
        (
            imports.FAILED_NOTIFICATION,
            _("An import failed"),
            _("An import you started has failed."),
        ),
    ):
        notify.register_notification_kind(
            notify.NotificationKind(
                key=key,
                label=label,
                describe=imports.describe_import,
                email_default=True,
                email_text=email_text,
            )
        )

    notify.register_notification_kind(
        notify.NotificationKind(
            key="core.invitation.received",
            label=_("An invitation to join a body"),
            describe=lambda invitation: (
                str(_("You are invited to join a monitoring body: accept or decline.")),
                reverse("invitations"),
            ),
            # The service mails the person itself, also when they work in no body yet.
            email_default=False,
        )
    )

    def internal(membership):  # type: ignore[no-untyped-def]
        return membership.role in INTERNAL_ROLES

    register_nav(
        NavEntry("users", _("Users"), "users", 80, lambda m: CORE.can(m, "manage_users"), "users")
    )
    register_nav(NavEntry("taxonomy", _("Themes and lists"), "taxonomy", 85, internal, "taxonomy"))
    register_nav(
        NavEntry(
            "grants",
            _("Access grants"),
            "grants",
            88,
            # Offered once an app has records restricted to named members.
            lambda m: CORE.can(m, "manage_grants") and bool(grantable_models()),
            "grants",
        )
    )
    register_nav(
        NavEntry(
            "audit", _("Audit trail"), "audit", 90, lambda m: CORE.can(m, "view_audit"), "audit"
        )
    )
    register_home_card(HomeCard("users", 80, "core/_home_users.html", home.users_card))
    register_api_enums({"TaxonomyKindEnum": "vigil.core.models.TaxonomyKind"})


def ensure_key_check(**kwargs: object) -> None:
    """Store a known value encrypted with the current keys, once, so that a later start with
    the wrong keys is refused (see checks.encryption_keys_check)."""
    from vigil.core.checks import KEY_CHECK_PLAINTEXT
    from vigil.core.crypto import encrypt_text
    from vigil.core.models import KeyCheck

    using = str(kwargs.get("using", "default"))
    if not KeyCheck.objects.using(using).exists():
        KeyCheck.objects.using(using).create(token=encrypt_text(KEY_CHECK_PLAINTEXT))
