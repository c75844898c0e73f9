"""Pages of the tabular import pipeline: upload, column mapping, preview, progress and result."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from vigil.core import imports, tabular, tasks
from vigil.core.access import get_or_404
from vigil.core.forms import VigilFormMixin
from vigil.core.guard import resolve_membership
from vigil.core.models import JobStatus, Membership, TabularImport

FINISHED = {
    TabularImport.Status.DONE,
    TabularImport.Status.REJECTED,
    TabularImport.Status.FAILED,
    TabularImport.Status.EXPIRED,
}
OPEN = {TabularImport.Status.UPLOADED, TabularImport.Status.VALIDATED}
# The mapping page shows this much of each header (headers may be up to
# VIGIL_IMPORT_MAX_CELL_CHARS long).
HEADER_CHARS = 80


class UploadForm(VigilFormMixin, forms.Form):
    # Empty files reach the service, which names the file in its message.
    file = forms.FileField(
        allow_empty_file=True,
        label=gettext_lazy("File"),
        help_text=gettext_lazy("A CSV (.csv) or Excel (.xlsx) file with a header row."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx"}),
    )


class LayoutForm(VigilFormMixin, forms.Form):
    sheet = forms.ChoiceField(label=gettext_lazy("Sheet"), required=False)
    header_row = forms.IntegerField(
        label=gettext_lazy("Header row"),
        min_value=1,
        required=False,
        help_text=gettext_lazy("The row number of the column headers; rows above it are skipped."),
    )

    def __init__(self, *args, sheets=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sheet"].choices = [  # type: ignore[attr-defined]
            (title, _("%(sheet)s (%(rows)d rows)") % {"sheet": title, "rows": rows})
            for title, rows in sheets
        ]


class ModeForm(VigilFormMixin, forms.Form):
    mode = forms.ChoiceField(
        label=gettext_lazy("If some rows have errors"),
        choices=TabularImport.Mode.choices,
        initial=TabularImport.Mode.ALL_OR_NOTHING,
        widget=forms.RadioSelect,
    )


def _importer(kind: str) -> imports.Importer:
    try:
        return imports.get_importer(kind)
    except KeyError as exc:
        raise Http404 from exc


def _membership(request: HttpRequest, importer: imports.Importer) -> Membership:
    """The request guard, with the importer as the permission table of its kind."""
    membership = resolve_membership(request, None, None)
    if not importer.can_view(membership):
        raise Http404
    if not importer.can_import(membership):
        raise PermissionDenied
    return membership


def _import(request: HttpRequest, pk: int) -> tuple[TabularImport, imports.Importer, Membership]:
    """The import, if it belongs to the member's body and their role may import its kind."""
    membership = resolve_membership(request, None, None)
    # The file itself (up to VIGIL_MAX_IMPORT_BYTES) and the encrypted cells are loaded and
    # decrypted only by the steps that show them, not by every progress poll.
    imp = get_or_404(
        imports.visible_imports(membership)
        .select_related("job", "body")
        .defer("data", "samples", "preview", "errors", "validated", "options"),
        pk,
    )
    importer = _importer(imp.kind)
    membership = _membership(request, importer)
    if not importer.can_use(membership, imp):
        raise Http404
    return imp, importer, membership


@login_required
def import_upload(request: HttpRequest, kind: str) -> HttpResponse:
    importer = _importer(kind)
    membership = _membership(request, importer)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            imp = imports.import_upload(
                membership=membership,
                kind=kind,
                upload=form.cleaned_data["file"],
            )
        except ValidationError as exc:
            form.add_error("file", exc)
        else:
            return redirect("import_mapping", imp.pk)
    recent = [
        imp
        for imp in imports.visible_imports(membership)
        .filter(kind=kind)
        .only("pk", "file_name", "status", "created_at", "summary", "created_by_id", "body_id")[:10]
        if importer.can_use(membership, imp)
    ]
    return render(
        request,
        "core/import_upload.html",
        {
            "importer": importer,
            "form": form,
            "fields": importer.fields,
            "recent": recent,
            "max_megabytes": settings.VIGIL_MAX_IMPORT_BYTES // (1024 * 1024),
            "retention_days": membership.body.import_retention_days,
        },
        status=400 if form.errors else 200,
    )


@login_required
@require_GET
def import_template(request: HttpRequest, kind: str) -> HttpResponse:
    importer = _importer(kind)
    _membership(request, importer)
    content = tabular.rows_to_csv_bytes(importer.template_headers(), [])
    response = HttpResponse(content, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{kind}-template.csv"'
    return response


def _field_choices(fields: dict[str, imports.ImportField]) -> list[tuple[str, str]]:
    return [("", _("— Do not import —"))] + [
        (name, str(field.label) + (" *" if field.required else ""))
        for name, field in fields.items()
    ]


def _posted_sources(request: HttpRequest, fields: dict[str, imports.ImportField]) -> dict:
    sources: dict[str, dict] = {}
    for name in fields:
        constant = request.POST.get(f"constant_{name}", "").strip()
        joined = request.POST.getlist(f"join_{name}")
        if constant:
            sources[name] = {"constant": constant}
        elif joined:
            sources[name] = {
                "join": [int(column) for column in joined if column.isdigit()],
                "separator": request.POST.get(f"separator_{name}", ", "),
            }
    return sources


def _join_preview(source: dict, samples: list[list[str]]) -> list[str]:
    """The joined values of the first rows, from the first values of each column."""
    rows = max(
        (len(samples[column]) for column in source["join"] if column < len(samples)), default=0
    )
    previews = []
    for row in range(rows):
        parts = [
            samples[column][row]
            for column in source["join"]
            if column < len(samples) and row < len(samples[column]) and samples[column][row]
        ]
        previews.append(source.get("separator", ", ").join(parts))
    return previews


@login_required
def import_mapping(request: HttpRequest, pk: int) -> HttpResponse:
    imp, importer, membership = _import(request, pk)
    if imp.status not in OPEN:
        return redirect("import_detail", imp.pk)
    fields = importer.fields_for(imports.target_of(imp))
    mapping = {int(column): name for column, name in (imp.mapping or {}).items()}
    options = imp.options or {}
    sources = dict(options.get("sources") or {})
    missing = imports.missing_tokens(imp)
    errors: list[str] = []
    if request.method == "POST":
        # What the person chose is kept and shown again when it does not validate.
        mapping = {
            column: request.POST.get(f"column_{column}", "") for column in range(len(imp.headers))
        }
        sources = _posted_sources(request, fields)
        missing = request.POST.get("missing", "").splitlines()
        try:
            imp = imports.import_set_mapping(
                membership=membership,
                imp=imp,
                mapping=mapping,
                sources=sources,
                missing=missing,
            )
            if imports.needs_value_mapping(imp):
                return redirect("import_values", imp.pk)
            imports.import_check(membership=membership, imp=imp)
        except ValidationError as exc:
            errors = exc.messages
        else:
            return redirect("import_preview", imp.pk)
    samples = imp.samples or []
    columns = [
        {
            "index": index,
            "header": header if len(header) <= HEADER_CHARS else header[: HEADER_CHARS - 1] + "…",
            "selected": mapping.get(index) or "",
            "samples": samples[index] if index < len(samples) else [],
        }
        for index, header in enumerate(imp.headers)
    ]
    repeats = options.get("repeats") or {}
    warnings = [
        _(
            "The values of column ‘%(column)s’, chosen as “%(field)s”, repeat: rows %(first)d "
            "and %(second)d both have “%(value)s”. An identifier differs on every row; choose "
            "another column, or none."
        )
        % {
            "column": imp.headers[column],
            "field": fields[name].label,
            "first": repeats[str(column)][1],
            "second": repeats[str(column)][2],
            "value": repeats[str(column)][0],
        }
        for column, name in sorted(mapping.items())
        if name in importer.identifier_fields and str(column) in repeats and name in fields
    ]
    other_sources = [
        {
            "name": name,
            "label": field.label,
            "required": field.required,
            "constant": (sources.get(name) or {}).get("constant", ""),
            "join": [int(column) for column in (sources.get(name) or {}).get("join", [])],
            "separator": (sources.get(name) or {}).get("separator", ", "),
            "preview": _join_preview(sources[name], samples)
            if "join" in (sources.get(name) or {})
            else [],
        }
        for name, field in fields.items()
    ]
    sheets = options.get("sheets") or []
    layout = LayoutForm(
        initial={"sheet": options.get("sheet"), "header_row": options.get("header_row")},
        sheets=sheets,
    )
    reused = (imp.summary or {}).get("reused")
    return render(
        request,
        "core/import_mapping.html",
        {
            "imp": imp,
            "importer": importer,
            "columns": columns,
            "choices": _field_choices(fields),
            "errors": errors,
            "warnings": warnings,
            "required": [f.label for f in fields.values() if f.required],
            "other_sources": other_sources,
            "missing": "\n".join(missing),
            "layout": layout,
            "several_sheets": len(sheets) > 1,
            "reused": reused,
            "reused_date": _parse_date(reused.get("date")) if reused else None,
        },
        status=400 if errors else 200,
    )


def _parse_date(text: str | None) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


@login_required
@require_POST
def import_layout(request: HttpRequest, pk: int) -> HttpResponse:
    imp, _importer, membership = _import(request, pk)
    sheets = (imp.options or {}).get("sheets") or []
    form = LayoutForm(request.POST, sheets=sheets)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect("import_mapping", imp.pk)
    try:
        imports.import_set_layout(
            membership=membership,
            imp=imp,
            sheet=form.cleaned_data.get("sheet") or None,
            header_row=form.cleaned_data.get("header_row"),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("The file was read again; check the columns."))
    return redirect("import_mapping", imp.pk)


@login_required
@require_POST
def import_use_guess(request: HttpRequest, pk: int) -> HttpResponse:
    imp, _importer, membership = _import(request, pk)
    try:
        imports.import_use_guess(membership=membership, imp=imp)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("import_mapping", imp.pk)


@login_required
def import_values(request: HttpRequest, pk: int) -> HttpResponse:
    """What the file's values of types, regions, statuses mean for the body."""
    imp, importer, membership = _import(request, pk)
    if imp.status not in OPEN:
        return redirect("import_detail", imp.pk)
    errors: list[str] = []
    if request.method == "POST":
        choices: dict[str, dict[str, str]] = {}
        for name in imports.mapped_value_fields(imp):
            for index in range(imports.MAX_DISTINCT_VALUES):
                key = request.POST.get(f"key_{name}_{index}")
                if key is None:
                    break
                choices.setdefault(name, {})[key] = request.POST.get(f"value_{name}_{index}", "")
        try:
            imp = imports.import_set_values(membership=membership, imp=imp, choices=choices)
            imports.import_check(membership=membership, imp=imp)
        except ValidationError as exc:
            errors = exc.messages
        except PermissionDenied as exc:
            errors = [str(exc) or _("Your role does not allow this.")]
        else:
            return redirect("import_preview", imp.pk)
    try:
        values = imports.import_values(imp)
    except ValidationError:
        return redirect("import_mapping", imp.pk)
    fields = importer.fields_for(imports.target_of(imp))
    sections = []
    for name, rows in (values or {}).items():
        sections.append(
            {
                "name": name,
                "label": fields[name].label,
                "choices": [
                    (imports.AS_CHOICE + choice.key, choice.label)
                    for choice in importer.value_choices(imp.body, name)
                ],
                "can_create": importer.can_create_value(membership, name),
                "rows": rows,
                "unrecognised": sum(
                    1 for row in rows if row.recognised is None and row.chosen == ""
                ),
            }
        )
    return render(
        request,
        "core/import_values.html",
        {
            "imp": imp,
            "importer": importer,
            "sections": sections,
            "waiting": values is None,
            "errors": errors,
            "AS_EMPTY": imports.AS_EMPTY,
            "AS_NEW": imports.AS_NEW,
        },
        status=400 if errors else 200,
    )


@login_required
def import_preview(request: HttpRequest, pk: int) -> HttpResponse:
    imp, importer, membership = _import(request, pk)
    if imp.status not in OPEN:
        return redirect("import_detail", imp.pk)
    if not imports.is_checking(imp) and (
        imp.status == TabularImport.Status.UPLOADED or "counts" not in (imp.summary or {})
    ):
        try:
            imports.import_set_mapping(membership=membership, imp=imp, mapping=imp.mapping)
            imp = imports.import_check(membership=membership, imp=imp)
        except ValidationError:
            return redirect("import_mapping", imp.pk)
    if imports.is_checking(imp):
        # A large file: its rows are checked in the background, and this page shows progress.
        return render(
            request,
            "core/import_checking.html",
            {"importer": importer, **_progress_context(imp, importer)},
        )
    form = ModeForm(request.POST or None)
    start_error = ""
    if request.method == "POST" and form.is_valid():
        try:
            imp = imports.import_start(
                membership=membership,
                imp=imp,
                mode=form.cleaned_data["mode"],
            )
        except ValidationError as exc:
            start_error = " ".join(exc.messages)
        else:
            return redirect("import_detail", imp.pk)
    summary = imp.summary or {}
    fields = importer.fields_for(imports.target_of(imp))
    groups = imports.group_errors(imp.errors or [])
    labels = [
        fields[name].label if name in fields else name for name in summary.get("preview_fields", [])
    ]
    # Each value with its column's name, which a phone shows beside it (the table stacks).
    preview = [
        {**row, "cells": list(zip(labels, row.get("values", []), strict=False))}
        for row in imp.preview or []
    ]
    return render(
        request,
        "core/import_preview.html",
        {
            "imp": imp,
            "importer": importer,
            "counts": summary.get("counts", {}),
            "preview": preview,
            "preview_labels": labels,
            "groups": groups,
            "problem_count": len(imp.errors or []),
            "missing_counts": sorted(
                summary.get("missing_counts", {}).items(), key=lambda item: -item[1]
            ),
            "value_fields": imports.mapped_value_fields(imp),
            "form": form,
            "start_error": start_error,
        },
        status=400 if start_error or form.errors else 200,
    )


def _notice_lost_worker(imp: TabularImport) -> TabularImport:
    """A running job whose worker died is marked failed when its page looks at it; the import
    is read again to show why."""
    job = imp.job
    if job is not None and tasks.is_abandoned(job) and tasks.fail_abandoned(job.pk):
        return (
            TabularImport.objects.select_related("job", "body")
            .defer("data", "samples", "preview", "errors", "validated", "options")
            .get(pk=imp.pk)
        )
    return imp


def _progress_context(imp: TabularImport, importer: imports.Importer) -> dict:
    job = imp.job
    checking = job is not None and job.kind == imports.CHECK_JOB_KIND and imp.status in OPEN
    if checking:
        assert job is not None
        finished = job.is_finished
        percent = job.percent
    else:
        finished = imp.status in FINISHED or (job is not None and job.status == JobStatus.FAILED)
        percent = 100 if imp.status in FINISHED else (job.percent if job else 0)
    summary = imp.summary or {}
    errors = (imp.errors or []) if finished and not checking else []
    return {
        "imp": imp,
        "job": job,
        "checking": checking,
        "finished": finished,
        "percent": percent,
        "result": summary.get("result", {}),
        "failure": imports.failure_text(imp),
        "can_retry": imports.can_retry(imp),
        "can_import_valid_rows": imports.can_import_valid_rows(imp),
        "abandoned": bool(summary.get("abandoned_since")),
        "links": importer.result_links(imp) if imp.status == TabularImport.Status.DONE else [],
        "error_count": len(errors),
        "first_errors": [imports.format_error(error) for error in errors[:20]],
        "retention_days": imp.body.import_retention_days,
        "deletion_date": imports.import_deletion_date(imp),
    }


@login_required
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    imp, importer = _import(request, pk)[:2]
    imp = _notice_lost_worker(imp)
    if imp.status == TabularImport.Status.VALIDATED or imports.is_checking(imp):
        return redirect("import_preview", imp.pk)
    if imp.status == TabularImport.Status.UPLOADED:
        return redirect("import_mapping", imp.pk)
    return render(
        request,
        "core/import_detail.html",
        {"importer": importer, **_progress_context(imp, importer)},
    )


@login_required
@require_GET
def import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    imp, importer = _import(request, pk)[:2]
    imp = _notice_lost_worker(imp)
    context = _progress_context(imp, importer)
    response = render(request, "core/_job_progress.html", context)
    if context["checking"] and context["finished"]:
        # The check of a large file is done: htmx takes the person to its result.
        response["HX-Redirect"] = reverse("import_preview", args=[imp.pk])
    return response


@login_required
@require_POST
def import_retry(request: HttpRequest, pk: int) -> HttpResponse:
    imp, _importer, membership = _import(request, pk)
    try:
        imports.import_retry(membership=membership, imp=imp)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("The import was started again with the same file."))
    return redirect("import_detail", imp.pk)


@login_required
@require_POST
def import_valid_rows(request: HttpRequest, pk: int) -> HttpResponse:
    imp, _importer, membership = _import(request, pk)
    try:
        imports.import_valid_rows(membership=membership, imp=imp)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("The valid rows of the same file are being imported."))
    return redirect("import_detail", imp.pk)


@login_required
@require_GET
def import_rejected(request: HttpRequest, pk: int) -> HttpResponse:
    imp, _importer, membership = _import(request, pk)
    if not imp.errors:
        raise Http404
    content = imports.import_rejected_rows(membership=membership, imp=imp)
    response = HttpResponse(content, content_type="text/csv; charset=utf-8")
    stem = imp.file_name.rsplit(".", 1)[0] or "import"
    safe_stem = "".join(char if char.isalnum() or char in "-_" else "_" for char in stem)[:80]
    response["Content-Disposition"] = f'attachment; filename="{safe_stem}-rejected-rows.csv"'
    return response
