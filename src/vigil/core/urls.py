"""Core pages: sign-in, two-factor, the overview, members and roles, settings, audit, account,
notifications."""

from django.urls import path

from vigil.core import grant_views, notify_views, taxonomy_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("switch-body/", views.switch_body, name="switch_body"),
    path("account/", views.account, name="account"),
    path("account/password/", views.password_change_view, name="password_change"),
    path("account/verify/", views.otp_verify, name="otp_verify"),
    path("account/two-factor/", views.otp_setup, name="otp_setup"),
    path("account/api-token/", views.api_token, name="api_token"),
    path("account/invitations/", views.invitations, name="invitations"),
    path(
        "account/invitations/<int:pk>/accept/",
        views.invitation_answer,
        {"accept": True},
        name="invitation_accept",
    ),
    path(
        "account/invitations/<int:pk>/decline/",
        views.invitation_answer,
        {"accept": False},
        name="invitation_decline",
    ),
    path("users/", views.users, name="users"),
    path("users/add/", views.user_add, name="user_add"),
    path("users/<int:membership_id>/", views.user_edit, name="user_edit"),
    path("users/<int:membership_id>/deactivate/", views.user_deactivate, name="user_deactivate"),
    path("users/<int:membership_id>/reactivate/", views.user_reactivate, name="user_reactivate"),
    path(
        "users/<int:membership_id>/reset-two-factor/",
        views.user_reset_two_factor,
        name="user_reset_two_factor",
    ),
    path(
        "users/invitations/<int:pk>/withdraw/",
        views.invitation_withdraw,
        name="invitation_withdraw",
    ),
    path("settings/", views.body_settings, name="body_settings"),
    path("taxonomy/", taxonomy_views.taxonomy_list, name="taxonomy"),
    path("taxonomy/<int:pk>/", taxonomy_views.taxonomy_term_update, name="taxonomy_term"),
    path("access/grants/", grant_views.grant_list, name="grants"),
    path("access/grants/<int:pk>/revoke/", grant_views.grant_revoke, name="grant_revoke"),
    path("notifications/", notify_views.notification_list, name="notifications"),
    path("notifications/<int:pk>/read/", notify_views.notification_read, name="notification_read"),
    path(
        "notifications/read-all/", notify_views.notification_read_all, name="notifications_read_all"
    ),
    path(
        "notifications/preferences/",
        notify_views.notification_preferences,
        name="notification_preferences",
    ),
    path("audit/", views.audit, name="audit"),
    path("audit/export.csv", views.audit_export, name="audit_export"),
]
