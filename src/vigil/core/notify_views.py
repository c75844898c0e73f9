"""Pages and API of a member's notifications: the list, reading one, reading all, email choices."""

from __future__ import annotations

from typing import Any

from django import forms as django_forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from vigil.core import notify
from vigil.core.access import get_visible_or_404
from vigil.core.api import VigilSerializerMixin
from vigil.core.forms import VigilFormMixin
from vigil.core.guard import MemberViewSetMixin, member_required
from vigil.core.models import Membership, Notification
from vigil.core.permissions import NOTIFICATIONS

PAGE_SIZE = 25


def field_name(key: str) -> str:
    # Kind keys are dotted; a hyphen cannot appear in one, so the mapping is one-to-one.
    return "email-" + key.replace(".", "-")


class EmailPreferencesForm(VigilFormMixin, django_forms.Form):
    """One yes/no per kind of notification: also send it by email."""

    def __init__(self, *args: Any, membership: Membership, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        current = notify.email_preferences(membership)
        self.kinds = {}
        for spec in notify.notification_kinds():
            name = field_name(spec.key)
            self.kinds[name] = spec.key
            self.fields[name] = django_forms.BooleanField(
                label=spec.label, required=False, initial=current[spec.key]
            )

    def email_choices(self) -> dict[str, bool]:
        return {key: bool(self.cleaned_data.get(name)) for name, key in self.kinds.items()}


def _list_page(
    request: HttpRequest, membership: Membership, form: EmailPreferencesForm
) -> HttpResponse:
    page = Paginator(notify.visible_notifications(membership), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    for notification in page.object_list:
        notification.kind_label = notify.kind_label(notification.kind)  # type: ignore[attr-defined]
    return render(request, "core/notifications.html", {"page": page, "form": form})


@require_GET
@member_required()
def notification_list(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    return _list_page(request, membership, EmailPreferencesForm(membership=membership))


@require_POST
@member_required()
def notification_read(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    """Mark one notification read and go to what it is about."""
    notification = get_visible_or_404(membership, Notification, pk)
    notify.notification_mark_read(membership=membership, notification=notification)
    target = notification.url
    if not target or not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("notifications")
    return redirect(target)


@require_POST
@member_required()
def notification_read_all(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    count = notify.notification_mark_all_read(membership=membership)
    if count:
        messages.success(
            request,
            ngettext(
                "%(count)d notification marked as read.",
                "%(count)d notifications marked as read.",
                count,
            )
            % {"count": count},
        )
    return redirect("notifications")


@require_POST
@member_required()
def notification_preferences(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    form = EmailPreferencesForm(request.POST, membership=membership)
    if not form.is_valid():
        return _list_page(request, membership, form)
    notify.notification_set_preferences(membership=membership, email=form.email_choices())
    messages.success(request, _("Your email choices are saved."))
    return redirect("notifications")


# ---------- API ----------


class NotificationSerializer(VigilSerializerMixin, serializers.ModelSerializer):
    kind_label = serializers.SerializerMethodField()
    object_type = serializers.SerializerMethodField()
    is_read = serializers.BooleanField(read_only=True)

    class Meta:
        model = Notification
        fields = [
            "id",
            "kind",
            "kind_label",
            "object_type",
            "object_id",
            "text",
            "url",
            "created_at",
            "read_at",
            "is_read",
        ]
        read_only_fields = fields

    def get_kind_label(self, notification: Notification) -> str:
        return notify.kind_label(notification.kind)

    def get_object_type(self, notification: Notification) -> str | None:
        content_type = notification.content_type
        if content_type is None:
            return None
        return f"{content_type.app_label}.{content_type.model}"


TRUE_WORDS = frozenset({"1", "true", "yes"})
FALSE_WORDS = frozenset({"0", "false", "no"})


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter(
                "unread", bool, description="Only unread notifications (`true`) or read ones."
            )
        ]
    )
)
# The ignore: MemberViewSetMixin annotates `request` and `action` more narrowly than DRF's bases
# (every viewset using it has this mypy error; the fix belongs in core/guard.py).
class NotificationViewSet(  # type: ignore[misc]
    MemberViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """The caller's own notifications in the active body, newest first."""

    permissions = NOTIFICATIONS
    model = Notification
    serializer_class = NotificationSerializer

    def scope_queryset(self, queryset: Any) -> Any:
        queryset = queryset.select_related("content_type")
        unread = self.request.query_params.get("unread")
        if unread is not None:
            value = unread.strip().lower()
            if value not in TRUE_WORDS | FALSE_WORDS:
                raise serializers.ValidationError({"unread": [_("Use true or false.")]})
            queryset = queryset.filter(read_at__isnull=value in TRUE_WORDS)
        return queryset

    @extend_schema(request=None, responses=NotificationSerializer)
    @action(detail=True, methods=["post"])
    def read(self, request: Request, pk: Any = None) -> Response:
        notification = notify.notification_mark_read(
            membership=self.membership, notification=self.get_object()
        )
        return Response(NotificationSerializer(notification).data)

    @extend_schema(
        request=None,
        responses=inline_serializer(
            "NotificationsMarkedRead", {"marked_read": serializers.IntegerField()}
        ),
    )
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request: Request) -> Response:
        count = notify.notification_mark_all_read(membership=self.membership)
        return Response({"marked_read": count})
