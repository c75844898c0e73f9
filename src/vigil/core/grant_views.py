"""Pages and API of need-to-know grants: the body's grants, giving one, revoking one."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms as django_forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from vigil.core import grants
from vigil.core.access import get_visible_or_404
from vigil.core.api import VigilSerializerMixin
from vigil.core.forms import VigilFormMixin, apply_service_errors
from vigil.core.guard import MemberViewSetMixin, member_required
from vigil.core.models import AccessGrant, Membership
from vigil.core.permissions import CORE


def _end_of_day(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(
        day, datetime.time(23, 59, 59), tzinfo=timezone.get_current_timezone()
    )


class GrantForm(VigilFormMixin, django_forms.Form):
    storage_model = AccessGrant

    object_type = django_forms.ChoiceField(label=gettext_lazy("Type of record"))
    object_id = django_forms.IntegerField(
        label=gettext_lazy("Record number"),
        min_value=1,
        help_text=gettext_lazy("The number shown on the record's page."),
    )
    grantee = django_forms.ModelChoiceField(
        label=gettext_lazy("Member"), queryset=Membership.objects.none()
    )
    reason = django_forms.CharField(
        label=gettext_lazy("Why they need to know"),
        max_length=2000,
        widget=django_forms.Textarea(attrs={"rows": 3}),
    )
    ends_on = django_forms.DateField(
        label=gettext_lazy("Ends on"),
        help_text=gettext_lazy("Access ends at the end of this day, by itself."),
        widget=django_forms.DateInput(attrs={"type": "date"}),
    )

    def __init__(self, *args: Any, membership: Membership, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.membership = membership
        fields: Any = self.fields
        fields["object_type"].choices = grants.grantable_types()
        fields["grantee"].queryset = (
            Membership.objects.filter(body_id=membership.body_id, is_active=True)
            .exclude(pk=membership.pk)
            .select_related("user")
        )
        fields["grantee"].label_from_instance = lambda m: (
            f"{m.user.get_full_name() or m.user.get_username()} — {m.get_role_display()}"
        )


@member_required(CORE, "manage_grants")
def grant_list(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    form = GrantForm(request.POST or None, membership=membership)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            target = grants.grant_target(
                membership=membership, object_type=data["object_type"], object_id=data["object_id"]
            )
            grants.grant_create(
                membership=membership,
                grantee=data["grantee"],
                obj=target,
                reason=data["reason"],
                expires_at=_end_of_day(data["ends_on"]),
            )
        except ValidationError as error:
            if hasattr(error, "error_dict") and "expires_at" in error.error_dict:
                error.error_dict["ends_on"] = error.error_dict.pop("expires_at")
            apply_service_errors(form, error)
        else:
            messages.success(
                request,
                _("%(user)s may now read this record until %(day)s.")
                % {
                    "user": data["grantee"].user.get_username(),
                    "day": formats.date_format(data["ends_on"], "DATE_FORMAT"),
                },
            )
            return redirect("grants")
    now = timezone.now()
    all_grants = list(grants.body_grants(membership)[:200])
    live = [grant for grant in all_grants if grant.is_live]
    past = [grant for grant in all_grants if not grant.is_live]
    return render(
        request,
        "core/grants.html",
        {
            "form": form,
            "live": live,
            "past": past,
            "now": now,
            "has_types": bool(grants.grantable_types()),
        },
    )


@require_POST
@member_required(CORE, "manage_grants")
def grant_revoke(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    grant = get_visible_or_404(membership, AccessGrant, pk)
    try:
        grants.grant_revoke(membership=membership, grant=grant)
    except ValidationError as error:
        for text in error.messages:
            messages.error(request, text)
    else:
        messages.success(request, _("The grant is revoked: access ended now."))
    return redirect("grants")


# ---------- API ----------


class GrantOutputSerializer(VigilSerializerMixin, serializers.ModelSerializer):
    grantee_username = serializers.CharField(source="grantee.user.username", read_only=True)
    object_type = serializers.SerializerMethodField()
    is_live = serializers.BooleanField(read_only=True)

    class Meta:
        model = AccessGrant
        fields = [
            "id",
            "grantee",
            "grantee_username",
            "object_type",
            "object_id",
            "object_repr",
            "reason",
            "expires_at",
            "created_at",
            "revoked_at",
            "is_live",
        ]
        read_only_fields = fields

    def get_object_type(self, grant: AccessGrant) -> str:
        return grant.content_type.app_label + "." + grant.content_type.model


class GrantInputSerializer(VigilSerializerMixin, serializers.Serializer):
    storage_model = AccessGrant

    grantee = serializers.PrimaryKeyRelatedField(queryset=Membership.objects.none())
    object_type = serializers.CharField(help_text="e.g. `visits.visit`")
    object_id = serializers.IntegerField(min_value=1)
    reason = serializers.CharField(max_length=2000)
    expires_at = serializers.DateTimeField()

    def __init__(self, *args: Any, membership: Membership | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if membership is not None:  # None only when the OpenAPI schema is generated
            fields: Any = self.fields
            fields["grantee"].queryset = Membership.objects.filter(body_id=membership.body_id)


class AccessGrantViewSet(
    MemberViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Need-to-know grants: a head sees and manages the body's; a member sees their own."""

    permissions = CORE
    model = AccessGrant
    action_permissions = {"create": "manage_grants", "revoke": "manage_grants"}
    serializer_class = GrantOutputSerializer

    def scope_queryset(self, queryset: Any) -> Any:
        return queryset.select_related("grantee__user", "content_type")

    @extend_schema(request=GrantInputSerializer, responses={201: GrantOutputSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = GrantInputSerializer(data=request.data, membership=self.membership)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        target = grants.grant_target(
            membership=self.membership, object_type=data["object_type"], object_id=data["object_id"]
        )
        grant = grants.grant_create(
            membership=self.membership,
            grantee=data["grantee"],
            obj=target,
            reason=data["reason"],
            expires_at=data["expires_at"],
        )
        return Response(GrantOutputSerializer(grant).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=GrantOutputSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: Any = None) -> Response:
        grant = grants.grant_revoke(membership=self.membership, grant=self.get_object())
        return Response(GrantOutputSerializer(grant).data)
