"""Pages of visits: the list, a visit with its team, interviews and findings, and the forms."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from vigil.core import imports
from vigil.core.access import get_visible_or_404, visible
from vigil.core.concurrency import StaleVersion, form_after_conflict
from vigil.core.files import download_response
from vigil.core.forms import apply_service_errors
from vigil.core.guard import member_required
from vigil.core.models import Membership
from vigil.visits import questionnaires, services
from vigil.visits.filters import SORTS as FINDING_SORTS
from vigil.visits.filters import ObservationFilters
from vigil.visits.forms import (
    AnswersForm,
    CommitmentForm,
    CorroborateForm,
    DebriefingForm,
    DiscrepancyForm,
    EvidenceForm,
    InterviewEditForm,
    InterviewForm,
    ObservationEditForm,
    ObservationForm,
    ObstructionForm,
    RegisterCheckForm,
    RevealForm,
    StatusForm,
    SubmissionUploadForm,
    TeamMemberForm,
    VisitFilterForm,
    VisitForm,
)
from vigil.visits.links import interview_links
from vigil.visits.models import (
    Answer,
    Debriefing,
    Discrepancy,
    Evidence,
    Interview,
    Observation,
    Obstruction,
    Questionnaire,
    RegisterCheck,
    SourceKind,
    TeamMember,
    Visit,
)
from vigil.visits.permissions import VISITS
from vigil.visits.preparation import build_preparation
from vigil.visits.queries import (
    anonymity_k,
    is_on_team,
    private_interviews_by_unit,
    questionnaires_for,
    visible_observations,
)
from vigil.visits.rules import is_corroborated
from vigil.visits.submissions import KIND as SUBMISSIONS_KIND

PAGE_SIZE = 50


def _visit(membership: Membership, pk: Any) -> Visit:
    return get_visible_or_404(
        membership, Visit.objects.select_related("place", "place__place_type", "body"), pk
    )


def _filtered(request: HttpRequest, membership: Membership) -> tuple[Any, QuerySet[Visit]]:
    form = VisitFilterForm(request.GET or None, membership=membership)
    visits = visible(membership, Visit).select_related("place", "body")
    if form.is_bound:
        form.is_valid()
        data = {name: form.cleaned_data.get(name) for name in form.fields}
        if data["place"]:
            visits = visits.filter(place=data["place"])
        if data["kind"]:
            visits = visits.filter(kind=data["kind"])
        if data["status"]:
            visits = visits.filter(status=data["status"])
        if data["year"]:
            visits = visits.filter(planned_start__year=data["year"])
        if data["member"]:
            visits = visits.filter(team__membership=data["member"])
    return form, visits.order_by("-planned_start", "-id")


@member_required(VISITS)
def visit_list(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    form, visits = _filtered(request, membership)
    page = Paginator(
        visits.annotate(findings=Count("observations", distinct=True)), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "visits/list.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "filtered": any(request.GET.get(name) for name in form.fields),
            "can_plan": VISITS.can(membership, "plan"),
        },
    )


@member_required(VISITS, "plan")
def visit_create(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    initial = {}
    if request.GET.get("place"):
        initial["place"] = request.GET["place"]
    form = VisitForm(request.POST or None, membership=membership, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            visit = services.visit_create(membership=membership, data=form.service_data())
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, _("The visit is planned; you lead it."))
            return redirect(visit)
    return render(request, "visits/form.html", {"form": form, "visit": None})


@member_required(VISITS)
def visit_edit(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    visit = _visit(membership, pk)
    if not VISITS.can(membership, "edit", visit):
        raise PermissionDenied
    form = VisitForm(request.POST or None, instance=visit, membership=membership)
    conflict = None
    if request.method == "POST" and form.is_valid():
        try:
            visit = services.visit_update(
                membership=membership,
                visit=visit,
                data=form.service_data(),
                expected_version=form.cleaned_data.get("version"),
            )
        except StaleVersion as stale:
            # Someone saved since this form was opened: nothing is saved; the form shows their
            # changes beside what this person typed, and now carries the new version.
            current = stale.current
            assert isinstance(current, Visit)

            def make_form(data: Any = None) -> VisitForm:
                return VisitForm(data, instance=current, membership=membership)

            form, conflict = form_after_conflict(form, stale, make_form)
            visit = current
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            services.draft_discard(membership=membership, visit=visit, key="visit")
            messages.success(request, _("The changes were saved."))
            return redirect(visit)
    return render(
        request,
        "visits/form.html",
        {"form": form, "visit": visit, "conflict": conflict, "draft_key": "visit"},
        status=409 if conflict else 400 if form.errors else 200,
    )


@member_required(VISITS)
def visit_detail(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    visit = _visit(membership, pk)
    team = list(visit.team.select_related("membership__user"))
    me = next((row for row in team if row.membership_id == membership.pk), None)
    interviews = list(visible(membership, Interview).filter(visit=visit))
    readable = set(
        visible(membership, Interview, content=True)
        .filter(visit=visit)
        .values_list("pk", flat=True)
    )
    observations = list(
        visible(membership, Observation)
        .filter(visit=visit)
        .select_related("theme", "visit")
        .prefetch_related("interviews", "standards")
        .annotate(
            evidence_count=Count(
                "evidence", filter=Q(evidence__deleted_at__isnull=True), distinct=True
            )
        )
    )
    # The guard's inputs are the visit's, read once for all its findings.
    private_by_unit, k = private_interviews_by_unit(visit), anonymity_k(visit.body_id)
    for observation in observations:
        observation.cited_standards = list(observation.standards.all())  # type: ignore[attr-defined]
        kinds = services.observation_kinds(observation)
        observation.source_kinds = [  # type: ignore[attr-defined]
            SourceKind(kind).label for kind in sorted(kinds)
        ]
        observation.corroborated = is_corroborated(  # type: ignore[attr-defined]
            kinds, confirmed=bool(observation.corroboration_reason)
        )
        observation.clearance = services.observation_clearance(  # type: ignore[attr-defined]
            observation, counts=private_by_unit, k=k
        )
    may_record = (
        me is not None
        and me.conduct_confirmed_at is not None
        and VISITS.can(membership, "record", visit)
    )
    answer_sets = (
        visible(membership, Answer)
        .filter(visit=visit)
        .values("question__questionnaire_id")
        .annotate(sets=Count("instance_id", distinct=True))
    )
    sets_by_questionnaire = {row["question__questionnaire_id"]: row["sets"] for row in answer_sets}
    in_use = list(questionnaires_for(visit))
    return render(
        request,
        "visits/detail.html",
        {
            "visit": visit,
            "team": team,
            "questionnaires": [(q, sets_by_questionnaire.get(q.pk, 0)) for q in in_use],
            "answer_sets": sum(sets_by_questionnaire.values()),
            "me": me,
            "interviews": interviews,
            "readable_interviews": readable,
            "observations": observations,
            "warnings": services.team_warnings(visit),
            "actions": VISITS.allowed(membership, visit),
            "may_record": may_record,
            "status_form": StatusForm(initial={"status": visit.status}),
            "corroborate_form": CorroborateForm(),
            "register_checks": list(
                visible(membership, RegisterCheck)
                .filter(visit=visit)
                .prefetch_related(
                    Prefetch(
                        "discrepancies",
                        queryset=visible(membership, Discrepancy).order_by("created_at", "id"),
                    )
                )
            ),
            "debriefing": visible(membership, Debriefing)
            .filter(visit=visit)
            .annotate(
                presented_count=Count("presented", distinct=True),
                commitments_count=Count("commitments", distinct=True),
            )
            .first(),
            "obstructions": list(visible(membership, Obstruction).filter(visit=visit)),
            "fieldwork": visit.status in services.FIELDWORK_STATUSES,
            "may_report_difficulty": visit.status in services.OBSTRUCTION_STATUSES,
        },
    )


@require_POST
@member_required(VISITS)
def visit_status(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    visit = _visit(membership, pk)
    form = StatusForm(request.POST)
    if form.is_valid():
        try:
            services.visit_set_status(
                membership=membership, visit=visit, status=form.cleaned_data["status"]
            )
        except ValidationError as error:
            for text in error.messages:
                messages.error(request, text)
        else:
            messages.success(request, _("The visit's status is saved."))
    return redirect(visit)


@member_required(VISITS)
def team_add(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    visit = _visit(membership, pk)
    if not VISITS.can(membership, "manage_team", visit):
        raise PermissionDenied
    form = TeamMemberForm(request.POST or None, visit=visit)
    if request.method == "POST" and form.is_valid():
        try:
            services.team_add(membership=membership, visit=visit, **form.cleaned_data)
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, _("The team member was added."))
            return redirect(f"{visit.get_absolute_url()}#team")
    return render(request, "visits/team_form.html", {"form": form, "visit": visit})


@require_POST
@member_required(VISITS)
def team_remove(
    request: HttpRequest, pk: int, member_pk: int, *, membership: Membership
) -> HttpResponse:
    visit = _visit(membership, pk)
    row = get_visible_or_404(membership, TeamMember.objects.filter(visit=visit), member_pk)
    try:
        services.team_remove(membership=membership, team_member=row)
    except ValidationError as error:
        for text in error.messages:
            messages.error(request, text)
    else:
        messages.success(request, _("The team member was removed."))
    return redirect(f"{visit.get_absolute_url()}#team")


@require_POST
@member_required(VISITS)
def confirm_conduct(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    visit = _visit(membership, pk)
    services.team_confirm_conduct(membership=membership, visit=visit)
    messages.success(request, _("You confirmed the code of conduct for this visit."))
    return redirect(visit)


@member_required(VISITS)
def interview_create(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    visit = _visit(membership, pk)
    if not is_on_team(membership, visit):
        raise PermissionDenied
    form = InterviewForm(request.POST or None, visit=visit)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        groups = data.pop("vulnerable_groups", [])
        try:
            interview = services.interview_create(
                membership=membership, visit=visit, data=data, vulnerable_groups=groups
            )
        except (ValidationError, PermissionDenied) as error:
            if isinstance(error, PermissionDenied):
                form.add_error(None, str(error))
            else:
                apply_service_errors(form, error)
        else:
            services.draft_discard(membership=membership, visit=visit, key="interview")
            messages.success(
                request,
                _("The interview is recorded as %(pseudonym)s.")
                % {"pseudonym": interview.pseudonym},
            )
            return redirect(f"{visit.get_absolute_url()}#interviews")
    return render(
        request,
        "visits/interview_form.html",
        {"form": form, "visit": visit, "draft_key": "interview"},
    )


@member_required(VISITS)
def interview_detail(
    request: HttpRequest, pk: int, interview_pk: int, *, membership: Membership
) -> HttpResponse:
    visit = _visit(membership, pk)
    # Reading what was said is an act of its own, recorded in the trail; those who may only
    # know that an interview happened get 404 here.
    interview = get_visible_or_404(
        membership, Interview.objects.filter(visit=visit), interview_pk, content=True
    )
    notes = services.interview_read_notes(membership=membership, interview=interview)
    answers = list(
        visible(membership, Answer)
        .filter(interview=interview)
        .select_related("question__questionnaire", "interview", "visit")
        .order_by("question__questionnaire_id", "question__section__position", "question__position")
    )
    if answers:
        questionnaires.answers_read(membership=membership, answers=answers)
    identity = None
    form = RevealForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            identity = services.interview_reveal_identity(
                membership=membership, interview=interview, purpose=form.cleaned_data["purpose"]
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        except PermissionDenied as error:
            form.add_error(None, str(error))
    return render(
        request,
        "visits/interview_detail.html",
        {
            "visit": visit,
            "interview": interview,
            "notes": notes,
            "identity": identity,
            "has_identity": bool(interview.identity),
            "reveal_form": form,
            "groups": list(interview.vulnerable_groups.all()),
            "answers": answers,
            "evidence": list(
                visible(membership, Evidence).filter(interview=interview).select_related("file")
            ),
            "may_record": is_on_team(membership, visit, confirmed=True)
            and VISITS.can(membership, "record", visit),
            "evidence_form": EvidenceForm(),
            "links": interview_links(membership, interview),
        },
    )


@member_required(VISITS)
def observation_create(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    visit = _visit(membership, pk)
    if not is_on_team(membership, visit):
        raise PermissionDenied
    form = ObservationForm(request.POST or None, visit=visit)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        interviews = data.pop("interviews", [])
        standards = data.pop("standards", [])
        try:
            services.observation_create(
                membership=membership,
                visit=visit,
                data=data,
                interviews=interviews,
                standards=standards,
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        except PermissionDenied as error:
            form.add_error(None, str(error))
        else:
            services.draft_discard(membership=membership, visit=visit, key="observation")
            messages.success(request, _("The finding is recorded."))
            return redirect(f"{visit.get_absolute_url()}#observations")
    return render(
        request,
        "visits/observation_form.html",
        {"form": form, "visit": visit, "draft_key": "observation"},
    )


@require_POST
@member_required(VISITS)
def observation_corroborate(
    request: HttpRequest, pk: int, observation_pk: int, *, membership: Membership
) -> HttpResponse:
    visit = _visit(membership, pk)
    observation = get_visible_or_404(
        membership, Observation.objects.filter(visit=visit), observation_pk
    )
    if not VISITS.can(membership, "corroborate", visit):
        raise PermissionDenied
    form = CorroborateForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError(_("Say why the finding stands."))
        services.observation_corroborate(
            membership=membership, observation=observation, reason=form.cleaned_data["reason"]
        )
    except ValidationError as error:
        for text in error.messages:
            messages.error(request, text)
    else:
        messages.success(request, _("The finding is confirmed."))
    return redirect(f"{visit.get_absolute_url()}#observations")


@require_POST
@member_required(VISITS)
def observation_hold_back(
    request: HttpRequest, pk: int, observation_pk: int, *, membership: Membership
) -> HttpResponse:
    visit = _visit(membership, pk)
    observation = get_visible_or_404(
        membership, Observation.objects.filter(visit=visit), observation_pk
    )
    services.observation_hold_back(
        membership=membership,
        observation=observation,
        held_back=request.POST.get("held_back") == "1",
    )
    return redirect(f"{visit.get_absolute_url()}#observations")


# ---------- Answers to questionnaires ----------


@member_required(VISITS)
def answers_create(
    request: HttpRequest, pk: int, questionnaire_pk: int, *, membership: Membership
) -> HttpResponse:
    """Record one set of answers: a page that works on a phone, one question after the other."""
    visit = _visit(membership, pk)
    if not is_on_team(membership, visit):
        raise PermissionDenied
    questionnaire = get_visible_or_404(
        membership, Questionnaire.objects.filter(body_id=visit.body_id), questionnaire_pk
    )
    form = AnswersForm(request.POST or None, visit=visit, questionnaire=questionnaire)
    if request.method == "POST" and form.is_valid():
        try:
            questionnaires.answers_record(
                membership=membership,
                visit=visit,
                questionnaire=questionnaire,
                values=form.answer_values(),
                interview=form.cleaned_data.get("interview"),
            )
        except PermissionDenied as error:
            form.add_error(None, str(error))
        except ValidationError as error:
            for field, texts in error.message_dict.items():
                name = f"q_{field}"
                form.add_error(
                    name if name in form.fields else (field if field in form.fields else None),
                    texts,
                )
        else:
            messages.success(request, _("The answers are recorded."))
            return redirect(f"{visit.get_absolute_url()}#questionnaires")
    return render(
        request,
        "visits/answers_form.html",
        {"form": form, "visit": visit, "questionnaire": questionnaire},
        status=400 if form.errors else 200,
    )


@require_GET
@member_required(VISITS)
def answers_list(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    """What was answered during the visit, by set of answers; reading it is recorded."""
    visit = _visit(membership, pk)
    answers = list(
        visible(membership, Answer)
        .filter(visit=visit)
        .select_related("question__questionnaire", "question__section", "interview", "visit")
        .order_by("created_at", "instance_id", "question__section__position", "question__position")
    )
    if answers:
        questionnaires.answers_read(membership=membership, answers=answers)
    sets: dict[str, dict[str, Any]] = {}
    for answer in answers:
        entry = sets.setdefault(
            answer.instance_id,
            {
                "questionnaire": answer.question.questionnaire,
                "interview": answer.interview,
                "created_at": answer.created_at,
                "answers": [],
            },
        )
        entry["answers"].append(answer)
    return render(
        request, "visits/answers_list.html", {"visit": visit, "sets": list(sets.values())}
    )


@member_required(VISITS)
def submissions_upload(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    """Import the submissions ODK Collect or KoboCollect gathered for the visit: the file is
    checked here, then previewed and imported through the shared import pages."""
    visit = _visit(membership, pk)
    if not is_on_team(membership, visit):
        raise PermissionDenied
    form = SubmissionUploadForm(request.POST or None, request.FILES or None, visit=visit)
    if request.method == "POST" and form.is_valid():
        try:
            imp = imports.import_upload(
                membership=membership,
                kind=SUBMISSIONS_KIND,
                upload=form.cleaned_data["file"],
                target={"visit": visit.pk, "questionnaire": form.cleaned_data["questionnaire"].pk},
            )
            imports.import_check(membership=membership, imp=imp)
        except PermissionDenied as error:
            form.add_error(None, str(error))
        except ValidationError as error:
            form.add_error("file", error.messages)
        else:
            return redirect("import_preview", imp.pk)
    return render(
        request,
        "visits/submissions_form.html",
        {"form": form, "visit": visit},
        status=400 if form.errors else 200,
    )


# ---------- Registers checked ----------


@member_required(VISITS)
def register_check_create(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    visit = _visit(membership, pk)
    if not is_on_team(membership, visit):
        raise PermissionDenied
    form = RegisterCheckForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.register_check_create(
                membership=membership,
                visit=visit,
                data=form.service_data(),
                discrepancies=form.discrepancy_lines(),
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        except PermissionDenied as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("The register check is recorded."))
            return redirect(f"{visit.get_absolute_url()}#registers")
    return render(request, "visits/register_check_form.html", {"form": form, "visit": visit})


@require_POST
@member_required(VISITS)
def discrepancy_create(
    request: HttpRequest, pk: int, check_pk: int, *, membership: Membership
) -> HttpResponse:
    visit = _visit(membership, pk)
    check = get_visible_or_404(membership, RegisterCheck.objects.filter(visit=visit), check_pk)
    form = DiscrepancyForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError(
                [error for errors in form.errors.values() for error in errors]
                or _("Say what did not add up.")
            )
        services.discrepancy_create(
            membership=membership,
            register_check=check,
            description=form.cleaned_data["description"],
        )
    except (ValidationError, PermissionDenied) as error:
        texts = error.messages if isinstance(error, ValidationError) else [str(error)]
        for text in texts:
            messages.error(request, text)
    else:
        messages.success(request, _("The discrepancy is recorded."))
    return redirect(f"{visit.get_absolute_url()}#register-{check.pk}")


@member_required(VISITS)
def discrepancy_observation(
    request: HttpRequest, pk: int, discrepancy_pk: int, *, membership: Membership
) -> HttpResponse:
    """The finding form, prefilled from a discrepancy in a register."""
    visit = _visit(membership, pk)
    discrepancy = get_visible_or_404(
        membership,
        Discrepancy.objects.filter(register_check__visit=visit).select_related("register_check"),
        discrepancy_pk,
    )
    if not is_on_team(membership, visit):
        raise PermissionDenied
    if discrepancy.observation_id is not None:
        messages.info(request, _("This discrepancy is already a finding."))
        return redirect(f"{visit.get_absolute_url()}#observations")
    initial = services.discrepancy_observation_initial(discrepancy)
    initial["unit"] = ""
    form = ObservationForm(request.POST or None, visit=visit, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        interviews = data.pop("interviews", [])
        try:
            services.discrepancy_to_observation(
                membership=membership, discrepancy=discrepancy, data=data, interviews=interviews
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        except PermissionDenied as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("The discrepancy is now a finding."))
            return redirect(f"{visit.get_absolute_url()}#observations")
    return render(
        request,
        "visits/observation_form.html",
        {"form": form, "visit": visit, "discrepancy": discrepancy},
    )


# ---------- The debriefing ----------


def _debriefing(membership: Membership, visit: Visit) -> Debriefing | None:
    return visible(membership, Debriefing).filter(visit=visit).first()


@member_required(VISITS)
def debriefing_detail(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    visit = _visit(membership, pk)
    debriefing = _debriefing(membership, visit)
    findings: list[Observation] = []
    withheld = 0
    if debriefing is not None:
        findings, withheld = services.debriefing_note_findings(debriefing)
    may_record = is_on_team(membership, visit, confirmed=True) and VISITS.can(
        membership, "record", visit
    )
    return render(
        request,
        "visits/debriefing.html",
        {
            "visit": visit,
            "debriefing": debriefing,
            "findings": findings,
            "withheld": withheld,
            "commitments": list(debriefing.commitments.all()) if debriefing else [],
            "may_record": may_record,
            "may_export": VISITS.can(membership, "export", visit),
            "commitment_form": CommitmentForm(),
        },
    )


@member_required(VISITS)
def debriefing_edit(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    visit = _visit(membership, pk)
    if not is_on_team(membership, visit):
        raise PermissionDenied
    debriefing = _debriefing(membership, visit)
    may_move = VISITS.can(membership, "edit", visit)
    initial: dict[str, Any] = {}
    if debriefing is not None:
        initial["findings"] = list(debriefing.presented.values_list("observation_id", flat=True))
    else:
        # Recorded in the meeting or just after it.
        initial["held_at"] = timezone.localtime().replace(second=0, microsecond=0)
    form = DebriefingForm(
        request.POST or None,
        instance=debriefing,
        initial=initial,
        visit=visit,
        may_move=may_move,
    )
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        findings = data.pop("findings", [])
        mark = bool(data.pop("mark_debriefed", False))
        try:
            services.debriefing_save(
                membership=membership,
                visit=visit,
                data=data,
                findings=findings,
                mark_debriefed=mark,
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        except PermissionDenied as error:
            form.add_error(None, str(error))
        else:
            services.draft_discard(membership=membership, visit=visit, key="debriefing")
            messages.success(request, _("The debriefing is recorded."))
            return redirect("visits:debriefing", pk=visit.pk)
    # Each finding with the guard's verdict: a blocked one shows its reason and no checkbox.
    chosen = {str(value) for value in form["findings"].value() or []}
    choices = []
    for observation in (
        visible(membership, Observation)
        .filter(visit=visit)
        .select_related("theme", "visit")
        .prefetch_related("interviews")
    ):
        choices.append(
            {
                "observation": observation,
                "clearance": services.observation_clearance(observation),
                "checked": str(observation.pk) in chosen,
            }
        )
    return render(
        request,
        "visits/debriefing_form.html",
        {
            "form": form,
            "visit": visit,
            "debriefing": debriefing,
            "choices": choices,
            "draft_key": "debriefing",
        },
    )


@require_POST
@member_required(VISITS)
def commitment_create(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    visit = _visit(membership, pk)
    debriefing = _debriefing(membership, visit)
    if debriefing is None:
        raise Http404
    form = CommitmentForm(request.POST)
    if form.is_valid():
        try:
            services.commitment_create(
                membership=membership,
                debriefing=debriefing,
                text=form.cleaned_data["text"],
                due_on=form.cleaned_data["due_on"],
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        except PermissionDenied as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("The commitment is recorded."))
            return redirect(reverse("visits:debriefing", args=[visit.pk]) + "#commitments")
    findings, withheld = services.debriefing_note_findings(debriefing)
    return render(
        request,
        "visits/debriefing.html",
        {
            "visit": visit,
            "debriefing": debriefing,
            "findings": findings,
            "withheld": withheld,
            "commitments": list(debriefing.commitments.all()),
            "may_record": True,
            "may_export": VISITS.can(membership, "export", visit),
            "commitment_form": form,
        },
        status=400,
    )


@member_required(VISITS, "export")
def debriefing_note(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    visit = _visit(membership, pk)
    debriefing = _debriefing(membership, visit)
    if debriefing is None:
        raise Http404
    pdf = services.debriefing_note(membership=membership, debriefing=debriefing)
    filename = f"debriefing-note-{visit.pk}-{timezone.localtime(debriefing.held_at):%Y-%m-%d}.pdf"
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# ---------- Obstruction and difficulties ----------


@member_required(VISITS)
def obstruction_create(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    visit = _visit(membership, pk)
    if not is_on_team(membership, visit):
        raise PermissionDenied
    form = ObstructionForm(
        request.POST or None, initial={"occurred_at": timezone.localtime().replace(second=0)}
    )
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        escalate = bool(data.pop("escalate", False))
        try:
            obstruction = services.obstruction_create(
                membership=membership, visit=visit, data=data, escalate=escalate
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        except PermissionDenied as error:
            form.add_error(None, str(error))
        else:
            if obstruction.escalated_at:
                messages.success(request, _("The difficulty is recorded; the heads are told."))
            else:
                messages.success(request, _("The difficulty is recorded."))
            return redirect(f"{visit.get_absolute_url()}#obstructions")
    return render(request, "visits/obstruction_form.html", {"form": form, "visit": visit})


@require_POST
@member_required(VISITS)
def obstruction_escalate(
    request: HttpRequest, pk: int, obstruction_pk: int, *, membership: Membership
) -> HttpResponse:
    visit = _visit(membership, pk)
    obstruction = get_visible_or_404(
        membership, Obstruction.objects.filter(visit=visit), obstruction_pk
    )
    try:
        services.obstruction_escalate(membership=membership, obstruction=obstruction)
    except (ValidationError, PermissionDenied) as error:
        texts = error.messages if isinstance(error, ValidationError) else [str(error)]
        for text in texts:
            messages.error(request, text)
    else:
        messages.success(request, _("The heads are told of this obstruction."))
    return redirect(f"{visit.get_absolute_url()}#obstructions")


# ---------- The preparation pack ----------


@member_required(VISITS)
def visit_preparation(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    visit = _visit(membership, pk)
    return render(
        request,
        "visits/preparation.html",
        {"visit": visit, "sections": build_preparation(request, membership, visit)},
    )


@member_required(VISITS)
def visit_preparation_pdf(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    visit = _visit(membership, pk)
    pdf = services.preparation_pack_pdf(membership=membership, visit=visit, request=request)
    response = HttpResponse(pdf, content_type="application/pdf")
    filename = f"preparation-pack-{visit.pk}-{visit.planned_start:%Y-%m-%d}.pdf"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# ---------- Findings across visits ----------

FINDINGS_PAGE_SIZE = 50
# Past this many findings the list says "more than" instead of counting them all, and pages
# stop: a national mechanism's ten years of findings are narrowed with filters, not paged.
FINDINGS_COUNT_CAP = 1000
FINDINGS_MAX_PAGE = FINDINGS_COUNT_CAP // FINDINGS_PAGE_SIZE


def _filtered_observations(
    request: HttpRequest, membership: Membership
) -> tuple[ObservationFilters, QuerySet[Observation]]:
    filters = ObservationFilters(
        request.GET or None, queryset=visible_observations(membership), membership=membership
    )
    if filters.is_bound and filters.is_valid():
        return filters, filters.qs
    return filters, filters.queryset.order_by(*FINDING_SORTS["-created"])


def _page_number(raw: str | None) -> int:
    try:
        number = int(raw or 1)
    except ValueError:
        return 1
    return min(max(number, 1), FINDINGS_MAX_PAGE)


@member_required(VISITS)
def observation_list(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    filters, observations = _filtered_observations(request, membership)
    number = _page_number(request.GET.get("page"))
    offset = (number - 1) * FINDINGS_PAGE_SIZE
    # One row more than the page tells whether there is a next one; the count stops at the cap.
    rows = list(observations[offset : offset + FINDINGS_PAGE_SIZE + 1])
    counted = observations.order_by().values("pk")[: FINDINGS_COUNT_CAP + 1].count()
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "visits/observation_list.html",
        {
            "filter": filters,
            "observations": rows[:FINDINGS_PAGE_SIZE],
            "number": number,
            "has_previous": number > 1,
            "has_next": len(rows) > FINDINGS_PAGE_SIZE and number < FINDINGS_MAX_PAGE,
            "count": min(counted, FINDINGS_COUNT_CAP),
            "count_capped": counted > FINDINGS_COUNT_CAP,
            "query": query.urlencode(),
            "filtered": any(request.GET.get(key) for key in filters.filters if key != "sort"),
            "can_export": VISITS.can(membership, "export"),
        },
    )


@member_required(VISITS, "export")
def observation_export(
    request: HttpRequest, fmt: str, *, membership: Membership
) -> HttpResponseBase:
    _, observations = _filtered_observations(request, membership)
    query = request.GET.copy()
    query.pop("page", None)
    return services.observations_export(
        membership=membership, queryset=observations, fmt=fmt, filters=query.urlencode()
    )


# ---------- Correcting interviews and findings ----------


@member_required(VISITS)
def interview_edit(
    request: HttpRequest, pk: int, interview_pk: int, *, membership: Membership
) -> HttpResponse:
    visit = _visit(membership, pk)
    interview = get_visible_or_404(
        membership, Interview.objects.filter(visit=visit), interview_pk, content=True
    )
    if not is_on_team(membership, visit):
        raise PermissionDenied
    # The form shows the notes: opening it is a read of them, recorded like any other.
    services.interview_read_notes(membership=membership, interview=interview)
    key = f"interview-{interview.pk}"
    form = InterviewEditForm(request.POST or None, instance=interview, visit=visit)
    conflict = None
    if request.method == "POST" and form.is_valid():
        data, groups, version = form.service_data()
        try:
            services.interview_update(
                membership=membership,
                interview=interview,
                data=data,
                vulnerable_groups=groups,
                expected_version=version,
            )
        except StaleVersion as stale:
            current = stale.current
            assert isinstance(current, Interview)

            def make_form(data: Any = None) -> InterviewEditForm:
                return InterviewEditForm(data, instance=current, visit=visit)

            form, conflict = form_after_conflict(form, stale, make_form, secret_fields=["notes"])
            interview = current
        except ValidationError as error:
            apply_service_errors(form, error)
        except PermissionDenied as error:
            form.add_error(None, str(error))
        else:
            services.draft_discard(membership=membership, visit=visit, key=key)
            messages.success(request, _("The interview is corrected."))
            return redirect("visits:interview_detail", pk=visit.pk, interview_pk=interview.pk)
    return render(
        request,
        "visits/interview_form.html",
        {
            "form": form,
            "visit": visit,
            "interview": interview,
            "conflict": conflict,
            "draft_key": key,
        },
        status=409 if conflict else 400 if form.errors else 200,
    )


@member_required(VISITS)
def observation_edit(
    request: HttpRequest, pk: int, observation_pk: int, *, membership: Membership
) -> HttpResponse:
    """A finding: its correction form for the team, and its evidence files."""
    visit = _visit(membership, pk)
    observation = get_visible_or_404(
        membership, Observation.objects.filter(visit=visit), observation_pk
    )
    may_record = is_on_team(membership, visit, confirmed=True) and VISITS.can(
        membership, "record", visit
    )
    key = f"observation-{observation.pk}"
    form = ObservationEditForm(request.POST or None, instance=observation, visit=visit)
    conflict = None
    if request.method == "POST":
        if not may_record:
            raise PermissionDenied
        if form.is_valid():
            data, interviews, standards, version = form.service_data()
            try:
                services.observation_update(
                    membership=membership,
                    observation=observation,
                    data=data,
                    interviews=interviews,
                    standards=standards,
                    expected_version=version,
                )
            except StaleVersion as stale:
                current = stale.current
                assert isinstance(current, Observation)

                def make_form(data: Any = None) -> ObservationEditForm:
                    return ObservationEditForm(data, instance=current, visit=visit)

                form, conflict = form_after_conflict(form, stale, make_form)
                observation = current
            except ValidationError as error:
                apply_service_errors(form, error)
            except PermissionDenied as error:
                form.add_error(None, str(error))
            else:
                services.draft_discard(membership=membership, visit=visit, key=key)
                messages.success(request, _("The finding is corrected."))
                return redirect(f"{visit.get_absolute_url()}#observation-{observation.pk}")
    return render(
        request,
        "visits/observation_form.html",
        {
            "form": form,
            "visit": visit,
            "observation": observation,
            "conflict": conflict,
            "may_record": may_record,
            "draft_key": key,
            "evidence": list(
                visible(membership, Evidence).filter(observation=observation).select_related("file")
            ),
            "evidence_form": EvidenceForm(),
        },
        status=409 if conflict else 400 if form.errors else 200,
    )


# ---------- Evidence files ----------


def _evidence_upload(
    request: HttpRequest,
    membership: Membership,
    back: str,
    *,
    observation: Observation | None = None,
    interview: Interview | None = None,
) -> HttpResponse:
    form = EvidenceForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.evidence_upload(
                membership=membership,
                upload=form.cleaned_data["file"],
                title=form.cleaned_data["title"],
                observation=observation,
                interview=interview,
            )
        except ValidationError as error:
            form.add_error("file", error.messages)
        except PermissionDenied as error:
            form.add_error("file", str(error))
        else:
            messages.success(request, _("The file is attached."))
            return redirect(back)
    for problem in form.errors.get("file", []) + form.errors.get("title", []):
        messages.error(request, _("The file was not attached: %(reason)s") % {"reason": problem})
    return redirect(back)


@require_POST
@member_required(VISITS)
def observation_evidence_upload(
    request: HttpRequest, pk: int, observation_pk: int, *, membership: Membership
) -> HttpResponse:
    visit = _visit(membership, pk)
    observation = get_visible_or_404(
        membership, Observation.objects.filter(visit=visit), observation_pk
    )
    back = reverse("visits:observation_edit", args=[visit.pk, observation.pk]) + "#evidence"
    return _evidence_upload(request, membership, back, observation=observation)


@require_POST
@member_required(VISITS)
def interview_evidence_upload(
    request: HttpRequest, pk: int, interview_pk: int, *, membership: Membership
) -> HttpResponse:
    visit = _visit(membership, pk)
    interview = get_visible_or_404(
        membership, Interview.objects.filter(visit=visit), interview_pk, content=True
    )
    back = reverse("visits:interview_detail", args=[visit.pk, interview.pk]) + "#evidence"
    return _evidence_upload(request, membership, back, interview=interview)


def _evidence(membership: Membership, pk: int, evidence_pk: int) -> Evidence:
    visit = _visit(membership, pk)
    return get_visible_or_404(
        membership,
        Evidence.objects.filter(visit=visit).select_related("file", "visit"),
        evidence_pk,
    )


@require_GET
@member_required(VISITS)
def evidence_download(
    request: HttpRequest, pk: int, evidence_pk: int, *, membership: Membership
) -> HttpResponse:
    evidence = _evidence(membership, pk, evidence_pk)
    try:
        stored = services.evidence_open(membership=membership, evidence=evidence)
    except PermissionDenied as error:
        raise Http404 from error
    return download_response(stored, actor=request.user)


@require_POST
@member_required(VISITS)
def evidence_delete(
    request: HttpRequest, pk: int, evidence_pk: int, *, membership: Membership
) -> HttpResponse:
    evidence = _evidence(membership, pk, evidence_pk)
    if evidence.observation_id:
        back = reverse("visits:observation_edit", args=[pk, evidence.observation_id])
    else:
        back = reverse("visits:interview_detail", args=[pk, evidence.interview_id])
    try:
        services.evidence_delete(membership=membership, evidence=evidence)
    except PermissionDenied as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("The file is removed."))
    return redirect(back + "#evidence")


# ---------- Drafts of long forms ----------


@member_required(VISITS)
def draft(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    """The person's draft of one form of the visit (`form`: "interview", "observation-12"…):
    GET reads it, POST keeps the form's fields (what the page's script sends as the person
    types), DELETE throws it away. JSON; nothing here is ever someone else's."""
    visit = _visit(membership, pk)
    key = request.GET.get("form") or request.POST.get("form") or ""
    if not services.DRAFT_KEY.match(key):
        return JsonResponse({"detail": _("Unknown form.")}, status=400)
    if request.method == "GET":
        found = services.draft_get(membership=membership, visit=visit, key=key)
        if found is None:
            return JsonResponse({"draft": None})
        return JsonResponse(
            {
                "draft": found.data,
                "saved_at": found.saved_at.isoformat(),
                "saved_at_display": timezone.localtime(found.saved_at).strftime("%H:%M"),
            }
        )
    if request.method == "DELETE":
        services.draft_discard(membership=membership, visit=visit, key=key)
        return JsonResponse({"draft": None})
    if request.method != "POST":
        return JsonResponse({"detail": _("Method not allowed.")}, status=405)
    data: dict[str, list[str] | str] = {}
    for name in request.POST:
        if name != "form":
            values = request.POST.getlist(name)
            data[name] = values if len(values) != 1 else values[0]
    try:
        saved = services.draft_save(membership=membership, visit=visit, key=key, data=data)
    except PermissionDenied as error:
        return JsonResponse({"detail": str(error)}, status=403)
    except ValidationError as error:
        return JsonResponse({"detail": " ".join(error.messages)}, status=400)
    return JsonResponse(
        {
            "saved_at": saved.saved_at.isoformat(),
            "saved_at_display": timezone.localtime(saved.saved_at).strftime("%H:%M"),
        }
    )
