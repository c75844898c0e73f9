"""Pages of the protection of persons: the register of cases with their referrals and outcomes,
persons at risk with their transfers, reprisals and follow-up contacts, and the reveal of an
identity with a stated purpose. Everything is need-to-know: outside it, 404."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from vigil.core.access import get_visible_or_404, visible
from vigil.core.concurrency import StaleVersion, form_after_conflict
from vigil.core.forms import apply_service_errors
from vigil.core.guard import member_required
from vigil.core.models import Membership
from vigil.protection import forms, services
from vigil.protection.models import Case, FollowUp, ProtectedPerson, Referral, ReferralTarget
from vigil.protection.permissions import PROTECTION
from vigil.protection.queries import capped_count

PAGE_SIZE = 50
# Pages past this one are not served: narrow the list with the filters instead.
MAX_PAGE = 100
SECRET_FIELDS = ["narrative", "identity", "contact", "medical_details", "risk_reason"]


def _case(membership: Membership, pk: Any) -> Case:
    return get_visible_or_404(
        membership,
        Case.objects.select_related("events_place", "current_place", "ill_treatment", "body"),
        pk,
    )


def _person(membership: Membership, pk: Any) -> ProtectedPerson:
    return get_visible_or_404(
        membership, ProtectedPerson.objects.select_related("current_place", "case", "body"), pk
    )


def _page_number(request: HttpRequest) -> int:
    try:
        number = int(request.GET.get("page", "1"))
    except ValueError:
        number = 1
    return min(max(number, 1), MAX_PAGE)


def _page(request: HttpRequest, queryset: QuerySet[Any]) -> dict[str, Any]:
    """One bounded page: no exact count of the whole register, no page past MAX_PAGE."""
    number = _page_number(request)
    start = (number - 1) * PAGE_SIZE
    rows = list(queryset[start : start + PAGE_SIZE + 1])
    count, more = capped_count(queryset)
    query = request.GET.copy()
    query.pop("page", None)
    return {
        "rows": rows[:PAGE_SIZE],
        "number": number,
        "has_previous": number > 1,
        "has_next": len(rows) > PAGE_SIZE and number < MAX_PAGE,
        "count": count,
        "count_more": more,
        "query": query.urlencode(),
    }


def _actions(membership: Membership, obj: Any = None) -> set[str]:
    return PROTECTION.allowed(membership, obj)


# ---------- Cases ----------


@member_required(PROTECTION)
def case_list(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    form = forms.CaseFilterForm(request.GET or None)
    cases = visible(membership, Case).select_related("current_place", "ill_treatment")
    order = ["-created_at", "-id"]
    if form.is_bound and form.is_valid():
        if form.cleaned_data["status"]:
            cases = cases.filter(status=form.cleaned_data["status"])
        if form.cleaned_data["source"]:
            cases = cases.filter(source=form.cleaned_data["source"])
        if form.cleaned_data["sort"] == "events":
            order = ["-events_date", "-id"]
    return render(
        request,
        "protection/case_list.html",
        {
            "form": form,
            "page": _page(request, cases.order_by(*order)),
            "filtered": any(request.GET.get(name) for name in ("status", "source")),
            "actions": _actions(membership),
        },
    )


@member_required(PROTECTION, "create")
def case_create(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    from vigil.visits.models import Interview

    interview = None
    interview_id = request.POST.get("interview") or request.GET.get("interview")
    if interview_id:
        interview = get_visible_or_404(
            membership,
            Interview.objects.select_related("visit__place"),
            interview_id,
            content=True,
        )
    form = forms.CaseForm(
        request.POST or None, membership=membership, from_interview=interview is not None
    )
    if request.method == "POST" and form.is_valid():
        try:
            case = services.case_create(
                membership=membership, data=form.service_data(), interview=interview
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, _("The case is open; you hold it."))
            return redirect(case)
    return render(
        request,
        "protection/case_form.html",
        {"form": form, "case": None, "interview": interview},
        status=400 if form.errors else 200,
    )


@member_required(PROTECTION)
def case_detail(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    case = _case(membership, pk)
    return _render_case(request, membership, case)


def _render_case(
    request: HttpRequest,
    membership: Membership,
    case: Case,
    *,
    revealed: dict[str, str] | None = None,
    reveal_form: Any = None,
    status: int = 200,
) -> HttpResponse:
    narrative = services.case_read_narrative(membership=membership, case=case)
    referrals = list(visible(membership, Referral).filter(case=case).order_by("referred_on", "id"))
    persons = list(visible(membership, ProtectedPerson).filter(case=case))
    actions = _actions(membership, case)
    holders = None
    if "manage_holders" in actions:
        holders = forms.HoldersForm(
            initial={"holders": list(case.holders.all())}, membership=membership
        )
    return render(
        request,
        "protection/case_detail.html",
        {
            "case": case,
            "narrative": narrative,
            "consent_target_labels": [
                ReferralTarget(target).label for target in case.consent_targets or []
            ],
            "referrals": referrals,
            "timeline": _timeline(case, referrals),
            "persons": persons,
            "holder_names": [str(h.user) for h in case.holders.select_related("user")],
            "actions": actions,
            "revealed": revealed,
            "reveal_form": reveal_form or forms.RevealForm(),
            "holders_form": holders,
            "has_identity": any(getattr(case, name) for name in services.CASE_IDENTITY_FIELDS),
        },
        status=status,
    )


def _timeline(case: Case, referrals: list[Referral]) -> list[tuple[Any, str]]:
    """The case's history in one column: events, consent, each referral's steps, outcomes."""
    events: list[tuple[Any, str]] = []
    if case.events_date:
        events.append((case.events_date, _("Alleged events")))
    events.append((timezone.localdate(case.created_at), _("Case opened")))
    if case.consent_date:
        events.append(
            (case.consent_date, _("Consent: %(consent)s") % {"consent": case.get_consent_display()})
        )
    if case.consent_withdrawn_on:
        events.append((case.consent_withdrawn_on, _("Consent withdrawn")))
    for referral in referrals:
        target = referral.get_target_display()
        events.append((referral.referred_on, _("Referred to %(target)s") % {"target": target}))
        if referral.answered_on:
            events.append((referral.answered_on, _("Answer from %(target)s") % {"target": target}))
        if referral.investigation_opened_on:
            events.append(
                (
                    referral.investigation_opened_on,
                    _("Investigation opened by %(by)s")
                    % {"by": referral.investigation_by or target},
                )
            )
        if referral.outcome_on:
            events.append(
                (
                    referral.outcome_on,
                    _("Outcome: %(outcome)s") % {"outcome": referral.get_outcome_display()},
                )
            )
    return sorted(events, key=lambda event: event[0])


@member_required(PROTECTION)
def case_edit(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    case = _case(membership, pk)
    if not PROTECTION.can(membership, "edit", case):
        raise PermissionDenied
    form = forms.CaseForm(request.POST or None, membership=membership, case=case)
    conflict = None
    if request.method == "GET":
        # The form shows the narrative: a read like any other.
        form.initial["narrative"] = services.case_read_narrative(membership=membership, case=case)
    if request.method == "POST" and form.is_valid():
        try:
            case = services.case_update(
                membership=membership,
                case=case,
                data=form.service_data(),
                expected_version=form.cleaned_data.get("version"),
            )
        except StaleVersion as stale:
            current = stale.current
            assert isinstance(current, Case)

            def make_form(data: Any = None) -> forms.CaseForm:
                return forms.CaseForm(data, membership=membership, case=current)

            form, conflict = form_after_conflict(
                form, stale, make_form, secret_fields=SECRET_FIELDS
            )
            case = current
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, _("The changes were saved."))
            return redirect(case)
    return render(
        request,
        "protection/case_form.html",
        {"form": form, "case": case, "conflict": conflict},
        status=409 if conflict else 400 if form.errors else 200,
    )


@require_POST
@member_required(PROTECTION)
def case_reveal(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    case = _case(membership, pk)
    form = forms.RevealForm(request.POST)
    revealed = None
    if form.is_valid():
        try:
            revealed = services.case_reveal_identity(
                membership=membership, case=case, purpose=form.cleaned_data["purpose"]
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        except PermissionDenied as error:
            form.add_error(None, str(error))
    return _render_case(
        request,
        membership,
        case,
        revealed=revealed,
        reveal_form=form,
        status=200 if revealed is not None else 400,
    )


@require_POST
@member_required(PROTECTION)
def case_holders(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    case = _case(membership, pk)
    if not PROTECTION.can(membership, "manage_holders", case):
        raise PermissionDenied
    form = forms.HoldersForm(request.POST, membership=membership)
    if form.is_valid():
        try:
            services.case_set_holders(
                membership=membership, case=case, holders=form.cleaned_data["holders"]
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, _("The case holders were saved."))
    else:
        messages.error(request, _("Choose at least one holder."))
    return redirect(case)


# ---------- Referrals ----------


@member_required(PROTECTION)
def referral_create(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    case = _case(membership, pk)
    if not PROTECTION.can(membership, "refer", case):
        raise PermissionDenied
    form = forms.ReferralForm(request.POST or None, initial={"referred_on": timezone.localdate()})
    refusal = None
    if request.method == "POST" and form.is_valid():
        try:
            services.referral_create(membership=membership, case=case, data=form.service_data())
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, _("The referral is recorded."))
            return redirect(f"{case.get_absolute_url()}#referrals")
    return render(
        request,
        "protection/referral_form.html",
        {"form": form, "case": case, "referral": None, "refusal": refusal},
        status=400 if form.errors else 200,
    )


@member_required(PROTECTION)
def referral_edit(
    request: HttpRequest, pk: int, referral_pk: int, *, membership: Membership
) -> HttpResponse:
    case = _case(membership, pk)
    referral = get_visible_or_404(membership, Referral.objects.filter(case=case), referral_pk)
    if not PROTECTION.can(membership, "refer", case):
        raise PermissionDenied
    form = forms.ReferralForm(request.POST or None, referral=referral)
    conflict = None
    if request.method == "POST" and form.is_valid():
        try:
            services.referral_update(
                membership=membership,
                referral=referral,
                data=form.service_data(),
                expected_version=form.cleaned_data.get("version"),
            )
        except StaleVersion as stale:
            current = stale.current
            assert isinstance(current, Referral)

            def make_form(data: Any = None) -> forms.ReferralForm:
                return forms.ReferralForm(data, referral=current)

            form, conflict = form_after_conflict(form, stale, make_form)
            referral = current
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, _("The changes were saved."))
            return redirect(f"{case.get_absolute_url()}#referrals")
    return render(
        request,
        "protection/referral_form.html",
        {"form": form, "case": case, "referral": referral, "conflict": conflict},
        status=409 if conflict else 400 if form.errors else 200,
    )


# ---------- Persons at risk ----------


@member_required(PROTECTION)
def person_list(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    persons = (
        visible(membership, ProtectedPerson)
        .select_related("current_place")
        .order_by("-created_at", "-id")
    )
    if request.GET.get("active") != "all":
        persons = persons.filter(is_active=True)
    return render(
        request,
        "protection/person_list.html",
        {
            "page": _page(request, persons),
            "all": request.GET.get("active") == "all",
            "actions": _actions(membership),
            "today": timezone.localdate(),
        },
    )


@member_required(PROTECTION, "follow_up")
def person_create(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    case = None
    case_id = request.POST.get("case") or request.GET.get("case")
    if case_id:
        case = _case(membership, case_id)
    form = forms.PersonForm(request.POST or None, membership=membership)
    if request.method == "POST" and form.is_valid():
        try:
            person = services.person_create(
                membership=membership, data=form.service_data(), case=case
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, _("The person is followed up; you hold the follow-up."))
            return redirect(person)
    return render(
        request,
        "protection/person_form.html",
        {"form": form, "person": None, "case": case},
        status=400 if form.errors else 200,
    )


@member_required(PROTECTION)
def person_detail(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    person = _person(membership, pk)
    return _render_person(request, membership, person)


def _render_person(
    request: HttpRequest,
    membership: Membership,
    person: ProtectedPerson,
    *,
    revealed: dict[str, str] | None = None,
    reveal_form: Any = None,
    status: int = 200,
) -> HttpResponse:
    from vigil.protection.models import ReprisalIncident, Transfer

    risk_reason = services.person_read_details(membership=membership, person=person)
    return render(
        request,
        "protection/person_detail.html",
        {
            "person": person,
            "risk_reason": risk_reason,
            "case_visible": person.case_id is not None
            and visible(membership, Case).filter(pk=person.case_id).exists(),
            "transfers": list(
                visible(membership, Transfer)
                .filter(person=person)
                .select_related("from_place", "to_place")
            ),
            "incidents": list(visible(membership, ReprisalIncident).filter(person=person)),
            "follow_ups": list(
                visible(membership, FollowUp).filter(person=person).select_related("place")
            ),
            "holder_names": [str(h.user) for h in person.holders.select_related("user")],
            "actions": _actions(membership, person),
            "revealed": revealed,
            "reveal_form": reveal_form or forms.RevealForm(),
            "has_identity": bool(person.identity or person.contact),
            "today": timezone.localdate(),
        },
        status=status,
    )


@member_required(PROTECTION)
def person_edit(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    person = _person(membership, pk)
    if not PROTECTION.can(membership, "follow_up", person):
        raise PermissionDenied
    form = forms.PersonForm(request.POST or None, membership=membership, person=person)
    if request.method == "GET":
        form.initial["risk_reason"] = services.person_read_details(
            membership=membership, person=person
        )
    conflict = None
    if request.method == "POST" and form.is_valid():
        try:
            person = services.person_update(
                membership=membership,
                person=person,
                data=form.service_data(),
                expected_version=form.cleaned_data.get("version"),
            )
        except StaleVersion as stale:
            current = stale.current
            assert isinstance(current, ProtectedPerson)

            def make_form(data: Any = None) -> forms.PersonForm:
                return forms.PersonForm(data, membership=membership, person=current)

            form, conflict = form_after_conflict(
                form, stale, make_form, secret_fields=SECRET_FIELDS
            )
            person = current
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, _("The changes were saved."))
            return redirect(person)
    return render(
        request,
        "protection/person_form.html",
        {"form": form, "person": person, "conflict": conflict},
        status=409 if conflict else 400 if form.errors else 200,
    )


@require_POST
@member_required(PROTECTION)
def person_reveal(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    person = _person(membership, pk)
    form = forms.RevealForm(request.POST)
    revealed = None
    if form.is_valid():
        try:
            revealed = services.person_reveal_identity(
                membership=membership, person=person, purpose=form.cleaned_data["purpose"]
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        except PermissionDenied as error:
            form.add_error(None, str(error))
    return _render_person(
        request,
        membership,
        person,
        revealed=revealed,
        reveal_form=form,
        status=200 if revealed is not None else 400,
    )


def _person_form_page(
    request: HttpRequest,
    membership: Membership,
    pk: int,
    *,
    form_class: Any,
    title: str,
    submit: str,
    save: Any,
    success: str,
    form_kwargs: dict[str, Any] | None = None,
    initial: dict[str, Any] | None = None,
) -> HttpResponse:
    person = _person(membership, pk)
    if not PROTECTION.can(membership, "follow_up", person):
        raise PermissionDenied
    form = form_class(request.POST or None, initial=initial or {}, **(form_kwargs or {}))
    if request.method == "POST" and form.is_valid():
        try:
            save(person, form.cleaned_data)
        except StaleVersion:
            form.add_error(None, _("Someone changed this record since you opened it: reload."))
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, success)
            return redirect(person)
    return render(
        request,
        "protection/person_action_form.html",
        {"form": form, "person": person, "title": title, "submit": submit},
        status=400 if form.errors else 200,
    )


@member_required(PROTECTION)
def transfer_create(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    def save(person: ProtectedPerson, data: dict[str, Any]) -> None:
        services.transfer_create(
            membership=membership,
            person=person,
            to_place=data["to_place"],
            transferred_on=data["transferred_on"],
            expected_version=data.get("version"),
        )

    return _person_form_page(
        request,
        membership,
        pk,
        form_class=forms.TransferForm,
        form_kwargs={"membership": membership},
        initial={"transferred_on": timezone.localdate()},
        title=_("Record a transfer"),
        submit=_("Record the transfer"),
        save=save,
        success=_("The transfer is recorded; the follow-up moved with the person."),
    )


@member_required(PROTECTION)
def reprisal_create(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    def save(person: ProtectedPerson, data: dict[str, Any]) -> None:
        services.reprisal_create(membership=membership, person=person, data=data)

    return _person_form_page(
        request,
        membership,
        pk,
        form_class=forms.ReprisalForm,
        title=_("Record a reprisal or a concern"),
        submit=_("Record it"),
        save=save,
        success=_("The incident is recorded."),
    )


@member_required(PROTECTION)
def follow_up_create(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    def save(person: ProtectedPerson, data: dict[str, Any]) -> None:
        services.follow_up_schedule(
            membership=membership,
            person=person,
            due_on=data["due_on"],
            contact_kind=data["contact_kind"],
        )

    return _person_form_page(
        request,
        membership,
        pk,
        form_class=forms.FollowUpForm,
        title=_("Plan a follow-up contact"),
        submit=_("Plan it"),
        save=save,
        success=_("The follow-up contact is planned."),
    )


@member_required(PROTECTION)
def follow_up_record(
    request: HttpRequest, pk: int, follow_up_pk: int, *, membership: Membership
) -> HttpResponse:
    person = _person(membership, pk)
    follow_up = get_visible_or_404(
        membership, FollowUp.objects.filter(person=person, done_on__isnull=True), follow_up_pk
    )

    def save(person: ProtectedPerson, data: dict[str, Any]) -> None:
        services.follow_up_record(
            membership=membership,
            follow_up=follow_up,
            done_on=data["done_on"],
            notes=data["notes"],
            contact_kind=data["contact_kind"],
        )

    return _person_form_page(
        request,
        membership,
        pk,
        form_class=forms.FollowUpRecordForm,
        initial={"done_on": timezone.localdate(), "contact_kind": follow_up.contact_kind},
        title=_("Record a follow-up contact"),
        submit=_("Record the contact"),
        save=save,
        success=_("The contact is recorded; the next one is planned."),
    )


def interview_link(membership: Membership, interview: Any) -> list[tuple[str, str]]:
    """The interview page's link to open a case from it (through visits' hook)."""
    if not PROTECTION.can(membership, "create"):
        return []
    url = reverse("protection:case_create") + f"?interview={interview.pk}"
    return [(_("Open a case from this interview"), url)]


@member_required(PROTECTION, "statistics")
def statistics_page(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    from vigil.protection.statistics import SMALL_CELL, register_statistics

    try:
        year = int(request.GET.get("year", "")) or None
    except ValueError:
        year = None
    if year is not None and not 1900 <= year <= 2999:
        year = None
    return render(
        request,
        "protection/statistics.html",
        {
            "tables": register_statistics(membership=membership, year=year),
            "threshold": SMALL_CELL,
            "year": year,
        },
    )


def _erase_page(
    request: HttpRequest,
    membership: Membership,
    *,
    case: Case | None = None,
    person: ProtectedPerson | None = None,
) -> HttpResponse:
    from vigil.protection.erasure import erasure_execute, erasure_scope

    target: Any = case or person
    if not PROTECTION.can(membership, "manage_holders", target):
        raise PermissionDenied
    scope = erasure_scope(membership=membership, case=case, person=person)
    error = None
    if request.method == "POST":
        if request.POST.get("confirm") != "erase":
            error = _("Tick the box to confirm the erasure.")
        else:
            try:
                erasure_execute(membership=membership, case=case, person=person)
            except ValidationError as exc:
                error = " ".join(exc.messages)
            else:
                messages.success(
                    request, _("The person's data was erased from every linked record.")
                )
                return redirect(target)
    return render(
        request,
        "protection/erase.html",
        {"target": target, "scope": scope, "counts": scope.counts(), "error": error},
        status=400 if error else 200,
    )


@member_required(PROTECTION)
def case_erase(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    return _erase_page(request, membership, case=_case(membership, pk))


@member_required(PROTECTION)
def person_erase(request: HttpRequest, pk: int, *, membership: Membership) -> HttpResponse:
    return _erase_page(request, membership, person=_person(membership, pk))


@member_required(PROTECTION, "manage_holders")
def retention_settings(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    from vigil.protection.erasure import settings_for, settings_update

    current = settings_for(membership.body)
    form = forms.RetentionForm(
        request.POST or None,
        initial={
            "case_retention_years": current.case_retention_years,
            "person_retention_years": current.person_retention_years,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            settings_update(membership=membership, **form.cleaned_data)
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, _("The retention periods were saved."))
            return redirect("protection:retention")
    return render(
        request,
        "protection/retention.html",
        {"form": form},
        status=400 if form.errors else 200,
    )
