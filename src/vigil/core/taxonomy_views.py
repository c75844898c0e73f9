"""The taxonomy page (themes, groups, types of place) and its read API."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from rest_framework import serializers, viewsets

from vigil.core import taxonomy
from vigil.core.access import get_visible_or_404, visible
from vigil.core.api import VigilSerializerMixin
from vigil.core.forms import VigilFormMixin, apply_service_errors
from vigil.core.guard import MemberViewSetMixin, member_required
from vigil.core.models import Membership, TaxonomyKind, TaxonomyTerm
from vigil.core.permissions import TAXONOMY
from vigil.core.text import NameField


class TermForm(VigilFormMixin, forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("List"), choices=TaxonomyKind.choices)
    label = NameField(label=gettext_lazy("Label"), max_length=200)
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


@member_required(TAXONOMY)
def taxonomy_list(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    can_edit = TAXONOMY.can(membership, "edit")
    form = TermForm(request.POST or None, membership=membership)
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        if form.is_valid():
            try:
                taxonomy.term_create(
                    membership=membership,
                    kind=form.cleaned_data["kind"],
                    label=form.cleaned_data["label"],
                    parent=form.cleaned_data["parent"],
                )
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("The term was added."))
                return redirect("taxonomy")
    return _taxonomy_page(request, membership, form, status=400 if form.errors else 200)


def _taxonomy_page(
    request: HttpRequest, membership: Membership, form: TermForm, *, status: int = 200
) -> HttpResponse:
    terms = visible(membership, TaxonomyTerm).select_related("parent")
    lists = [
        (kind, label, [term for term in terms if term.kind == kind])
        for kind, label in TaxonomyKind.choices
    ]
    can_edit = TAXONOMY.can(membership, "edit")
    return render(
        request,
        "core/taxonomy.html",
        {"lists": lists, "form": form, "can_edit": can_edit},
        status=status,
    )


@require_POST
@member_required(TAXONOMY, "edit")
def taxonomy_term_update(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    term = get_visible_or_404(membership, TaxonomyTerm, pk)
    try:
        taxonomy.term_update(
            membership=membership,
            term=term,
            label=request.POST.get("label"),
            is_active=request.POST.get("is_active") == "on"
            if "active_sent" in request.POST
            else None,
        )
    except ValidationError as exc:
        # The page again, with the reason, and a status that says nothing was saved.
        messages.error(request, " ".join(exc.messages))
        return _taxonomy_page(request, membership, TermForm(membership=membership), status=400)
    messages.success(request, _("The term was saved."))
    return redirect("taxonomy")


class TermSerializer(VigilSerializerMixin, serializers.ModelSerializer):
    label = serializers.CharField(source="__str__", read_only=True)  # type: ignore[assignment]
    # A top-level term has no parent (null).
    parent: Any = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)

    class Meta:
        model = TaxonomyTerm
        fields = ["id", "kind", "code", "label", "parent", "position", "is_active"]
        read_only_fields = fields


class TaxonomyTermViewSet(MemberViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """The active body's themes, groups in situations of vulnerability and types of place."""

    permissions = TAXONOMY
    model = TaxonomyTerm
    serializer_class = TermSerializer
    pagination_class = None
    filterset_fields = ["kind", "is_active"]

    def scope_queryset(self, queryset: Any) -> Any:
        return queryset.select_related("parent")
