"""The taxonomy page (themes, groups, types of place) and its read API."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from rest_framework import serializers, viewsets
from rest_framework.exceptions import NotFound

from vigil.core import permissions, taxonomy
from vigil.core.access import INTERNAL_ROLES, active_membership, get_visible_or_404
from vigil.core.api import api_membership
from vigil.core.forms import apply_service_errors
from vigil.core.models import Membership, TaxonomyKind, TaxonomyTerm


class TermForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("List"), choices=TaxonomyKind.choices)
    label = forms.CharField(label=gettext_lazy("Label"), max_length=200)
    parent = forms.ModelChoiceField(
        label=gettext_lazy("Under (themes only)"),
        queryset=TaxonomyTerm.objects.none(),
        required=False,
    )

    def __init__(self, *args: Any, membership: Membership, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        fields["parent"].queryset = TaxonomyTerm.objects.filter(
            body_id=membership.body_id, kind=TaxonomyKind.THEME, parent__isnull=True
        )


def _membership(request: HttpRequest) -> Membership:
    membership = active_membership(request)
    if membership is None or membership.role not in INTERNAL_ROLES:
        raise Http404
    return membership


@login_required
def taxonomy_list(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    can_edit = permissions.can(membership, "manage_settings")
    form = TermForm(request.POST or None, membership=membership)
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        if form.is_valid():
            try:
                taxonomy.term_create(
                    actor=request.user,
                    body=membership.body,
                    kind=form.cleaned_data["kind"],
                    label=form.cleaned_data["label"],
                    parent=form.cleaned_data["parent"],
                )
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("The term was added."))
                return redirect("taxonomy")
    terms = TaxonomyTerm.objects.filter(body_id=membership.body_id).select_related("parent")
    lists = [
        (kind, label, [term for term in terms if term.kind == kind])
        for kind, label in TaxonomyKind.choices
    ]
    return render(
        request, "core/taxonomy.html", {"lists": lists, "form": form, "can_edit": can_edit}
    )


@login_required
@require_POST
def taxonomy_term_update(request: HttpRequest, pk: int) -> HttpResponse:
    membership = _membership(request)
    term = get_visible_or_404(TaxonomyTerm.objects.filter(body_id=membership.body_id), pk)
    if not permissions.can(membership, "manage_settings"):
        raise PermissionDenied
    try:
        taxonomy.term_update(
            actor=request.user,
            term=term,
            label=request.POST.get("label"),
            is_active=request.POST.get("is_active") == "on"
            if "active_sent" in request.POST
            else None,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("The term was saved."))
    return redirect("taxonomy")


class TermSerializer(serializers.ModelSerializer):
    label = serializers.CharField(source="__str__", read_only=True)  # type: ignore[assignment]
    parent: Any = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = TaxonomyTerm
        fields = ["id", "kind", "code", "label", "parent", "position", "is_active"]
        read_only_fields = fields


class TaxonomyTermViewSet(viewsets.ReadOnlyModelViewSet):
    """The active body's themes, groups in situations of vulnerability and types of place."""

    serializer_class = TermSerializer
    pagination_class = None
    filterset_fields = ["kind", "is_active"]

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return TaxonomyTerm.objects.none()
        membership = api_membership(self.request)
        if membership.role not in INTERNAL_ROLES:
            raise NotFound
        return TaxonomyTerm.objects.filter(body_id=membership.body_id).select_related("parent")
