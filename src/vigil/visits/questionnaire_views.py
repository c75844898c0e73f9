"""Pages of questionnaires: the list of versions, one version with its questions, the XLSForm
upload and download, which version is in use, and the library of standards."""

from __future__ import annotations

import re

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from vigil.core.access import get_visible_or_404, visible
from vigil.core.forms import apply_service_errors
from vigil.core.guard import member_required
from vigil.core.models import Membership
from vigil.visits import questionnaires as services
from vigil.visits.forms import QuestionnaireUploadForm
from vigil.visits.models import Question, Questionnaire, Standard
from vigil.visits.permissions import VISITS
from vigil.visits.standards import library
from vigil.visits.xlsform import export_xlsform

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@member_required(VISITS)
def questionnaire_list(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    questionnaires = (
        visible(membership, Questionnaire)
        .annotate(question_count=Count("questions", distinct=True))
        .prefetch_related("place_types")
        .order_by("title", "form_id", "-version")
    )
    return render(
        request,
        "questionnaires/list.html",
        {
            "questionnaires": questionnaires,
            "can_manage": VISITS.can(membership, "manage_questionnaires"),
        },
    )


@member_required(VISITS, "manage_questionnaires")
def questionnaire_upload(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    form = QuestionnaireUploadForm(
        request.POST or None, request.FILES or None, membership=membership
    )
    if request.method == "POST" and form.is_valid():
        try:
            questionnaire = services.questionnaire_import(
                membership=membership,
                upload=form.cleaned_data["file"],
                place_types=form.cleaned_data["place_types"],
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(
                request,
                _("%(questionnaire)s was imported; put it in use when it is ready.")
                % {"questionnaire": questionnaire},
            )
            return redirect(questionnaire)
    return render(
        request,
        "questionnaires/upload.html",
        {"form": form},
        status=400 if form.errors else 200,
    )


@member_required(VISITS)
def questionnaire_detail(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    questionnaire = get_visible_or_404(membership, Questionnaire, pk)
    sections = questionnaire.sections.prefetch_related(
        Prefetch(
            "questions",
            queryset=Question.objects.select_related("theme").prefetch_related("standards"),
        )
    )
    versions = (
        visible(membership, Questionnaire)
        .filter(form_id=questionnaire.form_id)
        .order_by("-version")
        .only("pk", "version", "form_version", "is_active", "title")
    )
    return render(
        request,
        "questionnaires/detail.html",
        {
            "questionnaire": questionnaire,
            "sections": list(sections),
            "versions": versions,
            "place_types": list(questionnaire.place_types.all()),
            "can_manage": VISITS.can(membership, "manage_questionnaires", questionnaire),
        },
    )


@require_POST
@member_required(VISITS)
def questionnaire_activate(
    request: HttpRequest, pk: int, *, membership: Membership
) -> HttpResponse:
    questionnaire = get_visible_or_404(membership, Questionnaire, pk)
    if not VISITS.can(membership, "manage_questionnaires", questionnaire):
        raise PermissionDenied
    active = request.POST.get("active") == "1"
    services.questionnaire_set_active(
        membership=membership, questionnaire=questionnaire, active=active
    )
    if active:
        messages.success(request, _("This version is now in use for its types of place."))
    else:
        messages.success(request, _("This version is no longer in use."))
    return redirect(questionnaire)


@require_POST
@member_required(VISITS)
def questionnaire_copy(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    questionnaire = get_visible_or_404(membership, Questionnaire, pk)
    if not VISITS.can(membership, "manage_questionnaires", questionnaire):
        raise PermissionDenied
    try:
        copy = services.questionnaire_copy(membership=membership, questionnaire=questionnaire)
    except ValidationError as error:
        for text in error.messages:
            messages.error(request, text)
        return redirect(questionnaire)
    messages.success(
        request,
        _("Version %(version)d is a copy of version %(source)d; it is not in use yet.")
        % {"version": copy.version, "source": questionnaire.version},
    )
    return redirect(copy)


@require_GET
@member_required(VISITS)
def questionnaire_export(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    questionnaire = get_visible_or_404(membership, Questionnaire, pk)
    content = export_xlsform(questionnaire)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", questionnaire.form_id)[:80] or "questionnaire"
    response = HttpResponse(content, content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{stem}-v{questionnaire.version}.xlsx"'
    return response


@member_required(VISITS)
def standard_list(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    library(membership.body)  # seeds the body's library the first time it is used
    standards = visible(membership, Standard).filter(is_active=True).order_by("position", "code")
    return render(request, "questionnaires/standards.html", {"standards": standards})
