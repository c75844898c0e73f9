"""Questionnaires: the standards library, XLSForm import (pyxform first) and export, versions,
answers with the interview policy, ODK/Kobo submissions imported into a visit, and who may read
what was answered."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import Workbook
from rest_framework.test import APIClient

from tests.factories import MembershipFactory, UserFactory, place_type
from tests.invisibility import assert_invisible
from tests.visits.conftest import staff, start
from tests.visits.test_fieldwork import record_interview
from vigil.core import imports
from vigil.core.access import can_see
from vigil.core.models import AuditEntry, Role, TabularImport
from vigil.core.tasks import run_job
from vigil.visits import questionnaires as services
from vigil.visits.models import Answer, Question, QuestionKind, Questionnaire, Standard
from vigil.visits.standards import DEFAULT_STANDARDS, library, seed_standards
from vigil.visits.submissions import KIND as SUBMISSIONS
from vigil.visits.submissions import _name_in
from vigil.visits.xlsform import export_xlsform, parse_xlsform

pytestmark = pytest.mark.django_db

SURVEY = [
    ["type", "name", "label", "hint", "vigil_theme", "vigil_standard", "vigil_private_only"],
    ["note", "welcome", "Introduce the team", "", "", "", ""],
    ["begin group", "cells", "Cells", "", "", "", ""],
    ["integer", "cell_size", "Floor space of the cell (m²)", "Measure it", "overcrowding", "", ""],
    ["select_one yn", "hit", "Were you hit?", "", "use-of-force", "mandela-1, cat-16", "yes"],
    ["end group", "", "", "", "", "", ""],
    ["begin group", "regime", "Regime", "", "", "", ""],
    ["select_one hours", "outdoors", "Time outdoors", "", "time-outdoors", "mandela-23", ""],
    ["date", "last_visit", "Last family visit", "", "", "", "no"],
    ["end group", "", "", "", "", "", ""],
    ["text", "comments", "Anything else?", "", "", "", ""],
]
CHOICES = [
    ["list_name", "name", "label"],
    ["yn", "yes", "Yes"],
    ["yn", "no", "No"],
    ["hours", "none", "None"],
    ["hours", "one", "One hour"],
    ["hours", "more", "More than one hour"],
]


def workbook(survey=SURVEY, choices=CHOICES, settings=None) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "survey"
    for row in survey:
        sheet.append(row)
    if choices:
        choice_sheet = book.create_sheet("choices")
        for row in choices:
            choice_sheet.append(row)
    settings_sheet = book.create_sheet("settings")
    for row in settings or [["form_title", "form_id", "version"], ["Prison visit", "prison", "7"]]:
        settings_sheet.append(row)
    output = io.BytesIO()
    book.save(output)
    return output.getvalue()


def upload(data: bytes, name: str = "prison.xlsx") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data)


def import_form(membership, data=None, place_types=None) -> Questionnaire:
    if place_types is None:
        place_types = [place_type(membership.body)]
    return services.questionnaire_import(
        membership=membership, upload=upload(data or workbook()), place_types=place_types
    )


def question_facts(questionnaire: Questionnaire) -> list[tuple]:
    return [
        (
            question.section.name,
            question.section.title,
            question.code,
            question.label,
            question.hint,
            question.kind,
            question.choices,
            question.theme.code if question.theme else "",
            sorted(standard.code for standard in question.standards.all()),
            question.private_only,
        )
        for question in questionnaire.questions.select_related("section", "theme").order_by(
            "section__position", "position"
        )
    ]


@pytest.fixture
def questionnaire(leader) -> Questionnaire:
    questionnaire = import_form(leader)
    return services.questionnaire_set_active(
        membership=leader, questionnaire=questionnaire, active=True
    )


@pytest.fixture
def running(visit, leader):
    visit = start(visit, leader)
    staff(visit, leader)
    return visit


# ---------- The standards library ----------


def test_each_body_gets_the_common_standards_once(body, other_body):
    assert not Standard.objects.filter(body=body).exists()
    standards = library(body)
    assert standards.count() == len(DEFAULT_STANDARDS)
    assert seed_standards(body) == 0  # idempotent
    mandela_43 = Standard.objects.get(body=body, code="mandela-43")
    assert mandela_43.rule == "43"
    assert "solitary confinement" in mandela_43.title
    assert str(mandela_43).startswith("Nelson Mandela Rules 43: ")
    assert {code for code, *_rest in DEFAULT_STANDARDS} >= {
        "mandela-44",
        "mandela-45",
        "bangkok-6",
        "bangkok-18",
        "beijing-13",
        "havana-67",
        "crpd-14",
    }
    assert not Standard.objects.filter(body=other_body).exists()


def test_a_finding_cites_standards_of_its_body(running, leader, other_body):
    from tests.visits.test_fieldwork import record_finding
    from vigil.visits import services as visit_services

    cited = list(library(running.body).filter(code__in=["mandela-13", "mandela-22"]))
    observation = visit_services.observation_create(
        membership=leader,
        visit=running,
        data={
            "theme": record_finding(running, leader, sources=["documents"]).theme,
            "description": "Cells without ventilation; no drinking water at night.",
            "other_sources": ["direct_observation"],
        },
        standards=cited,
    )
    assert sorted(s.code for s in observation.standards.all()) == ["mandela-13", "mandela-22"]
    foreign = library(other_body).first()
    with pytest.raises(ValidationError) as refused:
        visit_services.observation_create(
            membership=leader,
            visit=running,
            data={
                "theme": observation.theme,
                "description": "x",
                "other_sources": ["documents"],
            },
            standards=[foreign],
        )
    assert "standards" in refused.value.message_dict


def test_the_api_takes_and_returns_a_findings_standards(running, leader):
    api = APIClient()
    api.force_authenticate(leader.user)
    response = api.post(
        "/api/v1/observations/",
        {
            "visit": running.pk,
            "theme": "solitary-confinement",
            "description": "Held 23 hours a day alone for three weeks.",
            "other_sources": ["documents"],
            "standards": ["mandela-44", "mandela-45"],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert sorted(response.json()["standards"]) == ["mandela-44", "mandela-45"]


# ---------- XLSForm import and export ----------


def test_an_xlsform_becomes_a_questionnaire(leader):
    questionnaire = import_form(leader)
    assert (questionnaire.title, questionnaire.form_id) == ("Prison visit", "prison")
    assert (questionnaire.version, questionnaire.form_version) == (1, "7")
    assert not questionnaire.is_active
    assert [s.name for s in questionnaire.sections.all()] == ["", "cells", "regime", ""]
    facts = {fact[2]: fact for fact in question_facts(questionnaire)}
    assert facts["welcome"][5] == QuestionKind.NOTE
    assert facts["cell_size"][4:8] == ("Measure it", QuestionKind.NUMBER, [], "overcrowding")
    assert facts["hit"][5:] == (
        QuestionKind.YES_NO,
        [{"name": "yes", "label": "Yes"}, {"name": "no", "label": "No"}],
        "use-of-force",
        ["cat-16", "mandela-1"],
        True,
    )
    assert facts["outdoors"][5] == QuestionKind.CHOICE
    assert facts["last_visit"][5] == QuestionKind.DATE
    assert facts["last_visit"][9] is False
    assert AuditEntry.objects.filter(
        action="visits.questionnaire.import", object_id=str(questionnaire.pk)
    ).exists()


def test_an_exported_version_round_trips(leader, other_body):
    questionnaire = import_form(leader)
    exported = export_xlsform(questionnaire)
    from pyxform.xls2xform import convert

    assert "<h:title>Prison visit</h:title>" in convert(exported, file_type=".xlsx").xform
    parsed = parse_xlsform(exported, "prison-v1.xlsx")
    assert (parsed.form_id, parsed.form_version) == ("prison", "7")
    # Imported into another body, the exported form gives the same questions.
    stranger = MembershipFactory(
        user=UserFactory(username="other-head"), body=other_body, role=Role.HEAD
    )
    again = services.questionnaire_import(membership=stranger, upload=upload(exported))
    assert question_facts(again) == question_facts(questionnaire)
    assert (again.title, again.form_version) == (questionnaire.title, questionnaire.form_version)


def test_labels_that_look_like_formulas_stay_text(leader):
    questionnaire = import_form(leader)
    Question.objects.filter(questionnaire=questionnaire, code="comments").update(
        label='=HYPERLINK("x")'
    )
    exported = export_xlsform(questionnaire)
    assert parse_xlsform(exported).questions[-1].label == '=HYPERLINK("x")'


def test_a_problem_pyxform_names_by_the_question_is_located(leader):
    survey = [SURVEY[0], ["text", "a", "A"], ["text", "b", ""]]
    with pytest.raises(ValidationError) as refused:
        import_form(leader, workbook(survey))
    assert refused.value.message_dict["file"] == [
        "Sheet ‘survey’, row 3: pyxform refused the form: The survey element named 'b' has no "
        "label or hint."
    ]


def test_pyxform_refuses_and_nothing_changes(leader):
    survey = [SURVEY[0], ["text", "comments", "Anything?"], ["text", "comments", "Again?"]]
    with pytest.raises(ValidationError) as refused:
        import_form(leader, workbook(survey))
    (message,) = refused.value.message_dict["file"]
    assert message.startswith("Sheet ‘survey’, row 3: pyxform refused the form: ")
    assert "the 'name' value 'comments' is invalid" in message
    assert not Questionnaire.objects.exists()
    assert not AuditEntry.objects.filter(action="visits.questionnaire.import").exists()


def test_a_type_pyxform_does_not_know_is_located(leader):
    survey = [SURVEY[0], ["text", "a", "A"], ["txet", "b", "B"]]
    with pytest.raises(ValidationError) as refused:
        import_form(leader, workbook(survey))
    assert refused.value.message_dict["file"] == [
        "Sheet ‘survey’, row 3: pyxform refused the form: Unknown question type 'txet'."
    ]


def test_vigil_refuses_what_it_cannot_record_with_the_row(leader):
    survey = [
        SURVEY[0],
        ["select_multiple yn", "many", "Many", "", "", "", ""],
        ["text", "theme", "Theme", "", "no-such-theme", "", ""],
        ["text", "rules", "Rules", "", "", "mandela-1,made-up-9", ""],
        ["text", "flag", "Flag", "", "", "", "perhaps"],
    ]
    with pytest.raises(ValidationError) as refused:
        import_form(leader, workbook(survey))
    assert refused.value.message_dict["file"] == [
        "Sheet ‘survey’, row 2: Vigil has no question of type “select_multiple yn”; use text, "
        "integer, decimal, date, note or select_one.",
        "Sheet ‘survey’, row 5, column ‘vigil_private_only’: write “yes” or “no”, not “perhaps”.",
    ]
    with pytest.raises(ValidationError) as unknown:
        import_form(leader, workbook([SURVEY[0], *survey[2:4]]))
    assert unknown.value.message_dict["file"] == [
        "Sheet ‘survey’, row 2, column ‘vigil_theme’: “no-such-theme” is not the code of one "
        "of your body's themes.",
        "Sheet ‘survey’, row 3, column ‘vigil_standard’: “made-up-9” not in your body's "
        "library of standards.",
    ]
    assert not Questionnaire.objects.exists()


def test_a_name_used_twice_in_different_groups_is_refused(leader):
    survey = [
        SURVEY[0],
        ["begin group", "a", "A"],
        ["text", "size", "Size"],
        ["end group"],
        ["begin group", "b", "B"],
        ["text", "size", "Size again"],
        ["end group"],
    ]
    with pytest.raises(ValidationError) as refused:
        import_form(leader, workbook(survey))
    assert refused.value.message_dict["file"] == [
        "Sheet ‘survey’, row 6: the name “size” is already used at row 3; Vigil needs each "
        "name once in the whole form, as submissions files are matched on them."
    ]


def test_versions_copies_and_the_version_in_use(leader, persona):
    first = import_form(leader)
    with pytest.raises(ValidationError, match="is already in Vigil"):
        import_form(leader)
    settings = [["form_title", "form_id", "version"], ["Prison visit", "prison", "8"]]
    second = import_form(leader, workbook(settings=settings))
    assert (second.version, second.form_version) == (2, "8")
    services.questionnaire_set_active(membership=leader, questionnaire=first, active=True)
    services.questionnaire_set_active(membership=leader, questionnaire=second, active=True)
    first.refresh_from_db()
    assert not first.is_active
    copy = services.questionnaire_copy(membership=leader, questionnaire=second)
    assert (copy.version, copy.form_version, copy.is_active) == (3, "3", False)
    assert question_facts(copy) == question_facts(second)
    assert list(copy.place_types.all()) == list(second.place_types.all())
    with pytest.raises(PermissionDenied):
        services.questionnaire_copy(membership=persona(Role.MONITOR), questionnaire=second)


def test_questionnaire_pages(client_for, leader, persona, questionnaire):
    client = client_for(leader)
    assert questionnaire.title in client.get(reverse("questionnaires:list")).content.decode()
    detail = client.get(reverse("questionnaires:detail", args=[questionnaire.pk]))
    assert "Were you hit?" in detail.content.decode()
    exported = client.get(reverse("questionnaires:export", args=[questionnaire.pk]))
    assert exported["Content-Disposition"] == 'attachment; filename="prison-v1.xlsx"'
    assert parse_xlsform(exported.content).form_id == "prison"
    bad = workbook([SURVEY[0], ["text", "a", "A"], ["text", "a", "B"]])
    response = client.post(reverse("questionnaires:upload"), {"file": upload(bad)})
    assert response.status_code == 400
    assert "pyxform refused the form" in response.content.decode()
    # A monitor reads questionnaires but does not manage them.
    monitor = client_for(persona(Role.MONITOR))
    assert monitor.get(reverse("questionnaires:detail", args=[questionnaire.pk])).status_code == 200
    assert monitor.get(reverse("questionnaires:upload")).status_code == 403
    copy_url = reverse("questionnaires:copy", args=[questionnaire.pk])
    assert monitor.post(copy_url).status_code == 403
    assert monitor.get(reverse("questionnaires:standards")).status_code == 200


def test_another_bodys_questionnaires_do_not_exist(client_for, questionnaire, other_body):
    stranger = MembershipFactory(
        user=UserFactory(username="stranger"), body=other_body, role=Role.HEAD
    )
    client = client_for(stranger)
    assert client.get(reverse("questionnaires:detail", args=[questionnaire.pk])).status_code == 404
    assert client.get(reverse("questionnaires:export", args=[questionnaire.pk])).status_code == 404
    api = APIClient()
    api.force_authenticate(stranger.user)
    assert api.get(f"/api/v1/questionnaires/{questionnaire.pk}/").status_code == 404


def test_the_api_reads_questionnaires_with_their_questions(leader, questionnaire):
    api = APIClient()
    api.force_authenticate(leader.user)
    body = api.get(f"/api/v1/questionnaires/{questionnaire.pk}/").json()
    assert body["form_version"] == "7"
    sections = {section["name"]: section for section in body["sections"]}
    hit = next(q for q in sections["cells"]["questions"] if q["code"] == "hit")
    assert hit["private_only"] is True
    assert sorted(hit["standards"]) == ["cat-16", "mandela-1"]
    assert api.post("/api/v1/questionnaires/", {}).status_code == 405


# ---------- Answers and the interview policy ----------


def test_a_private_only_question_is_refused_in_a_group_interview(running, leader, questionnaire):
    group = record_interview(running, leader, kind="group")
    with pytest.raises(ValidationError) as refused:
        services.answers_record(
            membership=leader,
            visit=running,
            questionnaire=questionnaire,
            values={"hit": "yes", "cell_size": "9"},
            interview=group,
        )
    assert refused.value.message_dict["hit"] == [
        "“Were you hit?” is asked in private interviews only: people do not speak of it in "
        "front of others. Leave it out of a group interview."
    ]
    assert not Answer.objects.exists()
    private = record_interview(running, leader, kind="private")
    answers = services.answers_record(
        membership=leader,
        visit=running,
        questionnaire=questionnaire,
        values={"hit": "yes", "cell_size": "9,5", "last_visit": "2025-03-01"},
        interview=private,
    )
    assert sorted((a.question.code, a.value) for a in answers) == [
        ("cell_size", "9.5"),
        ("hit", "yes"),
        ("last_visit", "2025-03-01"),
    ]
    assert len({answer.instance_id for answer in answers}) == 1
    # The same questions outside any interview (the team's own checks) are fine.
    services.answers_record(
        membership=leader, visit=running, questionnaire=questionnaire, values={"cell_size": "8"}
    )


def test_answers_are_checked_encrypted_and_audited(running, leader, questionnaire):
    with pytest.raises(ValidationError) as refused:
        services.answers_record(
            membership=leader,
            visit=running,
            questionnaire=questionnaire,
            values={"cell_size": "large", "outdoors": "always", "last_visit": "01/03/2025"},
        )
    errors = refused.value.message_dict
    assert errors["cell_size"] == ["Write a number, such as 12 or 3.5; not “large”."]
    assert errors["outdoors"] == ["Choose one of “none”, “one”, “more”; not “always”."]
    assert errors["last_visit"] == [
        "Write a date as YYYY-MM-DD, such as 2025-03-31; not “01/03/2025”."
    ]
    with pytest.raises(ValidationError, match="Answer at least one question"):
        services.answers_record(
            membership=leader, visit=running, questionnaire=questionnaire, values={"comments": ""}
        )
    (answer,) = services.answers_record(
        membership=leader,
        visit=running,
        questionnaire=questionnaire,
        values={"comments": "The yard is flooded."},
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT value FROM visits_answer WHERE id = %s", [answer.pk])
        (stored,) = cursor.fetchone()
    assert "flooded" not in stored
    entry = AuditEntry.objects.get(action="visits.answer.create", object_id=str(answer.pk))
    assert entry.changes["value"] == [None, "(encrypted)"]
    assert "flooded" not in str(entry.changes) + entry.object_repr


def test_only_the_team_after_the_code_of_conduct_records_answers(
    visit, leader, persona, questionnaire
):
    visit = start(visit, leader)
    values = {"cell_size": "9"}
    with pytest.raises(PermissionDenied, match="Confirm the body's code of conduct"):
        services.answers_record(
            membership=leader, visit=visit, questionnaire=questionnaire, values=values
        )
    staff(visit, leader)
    with pytest.raises(PermissionDenied, match="Only the visit's team"):
        services.answers_record(
            membership=persona(Role.MONITOR),
            visit=visit,
            questionnaire=questionnaire,
            values=values,
        )
    assert not Answer.objects.exists()


def test_answers_through_the_page(client_for, running, leader, questionnaire):
    client = client_for(leader)
    page = client.get(reverse("visits:detail", args=[running.pk])).content.decode()
    form_url = reverse("visits:answers_create", args=[running.pk, questionnaire.pk])
    assert form_url in page
    group = record_interview(running, leader, kind="group")
    response = client.post(form_url, {"interview": group.pk, "q_hit": "no", "q_cell_size": "6"})
    assert response.status_code == 400
    assert "is asked in private interviews only" in response.content.decode()
    response = client.post(form_url, {"q_cell_size": "6", "q_outdoors": "one"})
    assert response.status_code == 302
    answers = client.get(reverse("visits:answers", args=[running.pk])).content.decode()
    assert "One hour" not in answers  # the stored value is the choice's name
    assert ">one<" in answers
    assert AuditEntry.objects.filter(
        action="visits.visit.read", object_id=str(running.pk), changes__fields=["answers"]
    ).exists()


def test_answers_through_the_api(running, leader, questionnaire):
    api = APIClient()
    api.force_authenticate(leader.user)
    created = api.post(
        "/api/v1/answers/",
        {
            "visit": running.pk,
            "questionnaire": questionnaire.pk,
            "answers": {"cell_size": "7", "outdoors": "none"},
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert {a["question_code"]: a["value"] for a in created.json()} == {
        "cell_size": "7",
        "outdoors": "none",
    }
    listing = api.get("/api/v1/answers/", {"visit": running.pk}).json()["results"]
    assert len(listing) == 2
    group = record_interview(running, leader, kind="group")
    refused = api.post(
        "/api/v1/answers/",
        {
            "visit": running.pk,
            "questionnaire": questionnaire.pk,
            "interview": group.pk,
            "answers": {"hit": "yes"},
        },
        format="json",
    )
    assert refused.status_code == 400
    assert "private interviews only" in refused.json()["hit"][0]


# ---------- Who reads answers ----------


def _pk_apart_from_visits(make_answer):
    """An answer whose id is no visit's id: the sweep of assert_invisible tries the answer's id
    on every visit page, and a visit the member may see under that id would mask the check."""
    from vigil.visits.models import Visit

    answer = make_answer()
    while Visit.objects.filter(pk=answer.pk).exists():
        answer = make_answer()
    return answer


def test_answers_in_an_interview_are_need_to_know(running, leader, persona, questionnaire):
    monitor = persona(Role.MONITOR)
    private = record_interview(running, leader, kind="private")

    def interview_answer():
        return services.answers_record(
            membership=leader,
            visit=running,
            questionnaire=questionnaire,
            values={"hit": "yes"},
            interview=private,
        )[0]

    in_interview = _pk_apart_from_visits(interview_answer)
    (checklist,) = services.answers_record(
        membership=leader, visit=running, questionnaire=questionnaire, values={"cell_size": "4"}
    )
    # The visit has started: the monitor off the team knows of it and reads the team's own
    # checks, never what was answered in an interview.
    assert can_see(monitor, checklist)
    assert assert_invisible(monitor, in_interview) > 5
    assert can_see(persona(Role.HEAD), in_interview)


def test_answers_of_a_secret_visit_are_invisible_off_the_team(visit, leader, persona):
    questionnaire = import_form(leader)
    question = Question.objects.get(questionnaire=questionnaire, code="cell_size")

    def secret_answer():
        # However an answer came to be on the visit while it is secret (the visit is not
        # started: no service records one), it does not exist off the team.
        return Answer.objects.create(
            visit=visit, question=question, value="4", instance_id=f"uuid:{Answer.objects.count()}"
        )

    answer = _pk_apart_from_visits(secret_answer)
    monitor = persona(Role.MONITOR)
    assert assert_invisible(monitor, answer) > 5
    staff(visit, leader, monitor)
    assert can_see(monitor, answer)


# ---------- Submissions from ODK Collect and KoboCollect ----------

KOBO_HEADER = (
    "start,end,cells/cell_size,cells/hit,regime/outdoors,regime/last_visit,comments,"
    "meta/instanceID,_id,_uuid,_submission_time,_version,__version__,_index\n"
)


def kobo_csv(*rows: str, header: str = KOBO_HEADER) -> SimpleUploadedFile:
    return SimpleUploadedFile("submissions.csv", (header + "".join(rows)).encode())


def kobo_row(instance: str, size: str = "9", version: str = "7", outdoors: str = "one") -> str:
    return (
        f"2025-03-01T09:00,2025-03-01T09:20,{size},no,{outdoors},2025-02-20,Dry cell,"
        f"uuid:{instance},1,{instance},2025-03-02T10:00,{version},vAbC123,1\n"
    )


def submit(membership, visit, questionnaire, upload_file) -> TabularImport:
    imp = imports.import_upload(
        membership=membership,
        kind=SUBMISSIONS,
        upload=upload_file,
        target={"visit": visit.pk, "questionnaire": questionnaire.pk},
    )
    imports.import_check(membership=membership, imp=imp)
    imp.refresh_from_db()
    return imp


def run(membership, imp, mode=TabularImport.Mode.VALID_ROWS) -> TabularImport:
    imp = imports.import_start(membership=membership, imp=imp, mode=mode)
    run_job.call(imp.job_id)
    imp.refresh_from_db()
    return imp


def test_kobo_submissions_are_imported_once(running, leader, questionnaire):
    imp = submit(leader, running, questionnaire, kobo_csv(kobo_row("a1"), kobo_row("b2", "12")))
    assert imp.summary["counts"]["create"] == 2
    imp = run(leader, imp)
    assert imp.status == TabularImport.Status.DONE
    assert imp.summary["result"]["created"] == 2
    answers = Answer.objects.filter(visit=running).select_related("question")
    by_submission: dict[str, dict[str, str]] = {}
    for answer in answers:
        by_submission.setdefault(answer.instance_id, {})[answer.question.code] = answer.value
    assert by_submission["uuid:a1"] == {
        "cell_size": "9",
        "hit": "no",
        "outdoors": "one",
        "last_visit": "2025-02-20",
        "comments": "Dry cell",
    }
    assert by_submission["uuid:b2"]["cell_size"] == "12"
    assert AuditEntry.objects.filter(action="visits.answer.create").count() == 10
    # The same file again adds nothing.
    again = run(leader, submit(leader, running, questionnaire, kobo_csv(kobo_row("a1"))))
    assert again.summary["result"]["created"] == 0
    assert again.summary["result"]["unchanged"] == 1
    assert Answer.objects.count() == 10


def test_odk_central_headers_match_too(running, leader, questionnaire):
    header = (
        "SubmissionDate,start,end,cells-cell_size,cells-hit,regime-outdoors,regime-last_visit,"
        "comments,meta-instanceID,KEY,SubmitterID,SubmitterName,AttachmentsPresent,"
        "AttachmentsExpected,Status,ReviewState,DeviceID,Edits,FormVersion\n"
    )
    row = (
        "2025-03-02,2025-03-01,2025-03-01,10,yes,more,2025-02-01,,uuid:c3,uuid:c3,5,Ana,0,0,,"
        "approved,collect:x,0,7\n"
    )
    imp = run(leader, submit(leader, running, questionnaire, kobo_csv(row, header=header)))
    assert imp.summary["result"]["created"] == 1
    assert set(Answer.objects.values_list("question__code", flat=True)) == {
        "cell_size",
        "hit",
        "outdoors",
        "last_visit",
    }


def test_a_row_of_another_version_is_reported_with_the_expected_one(running, leader, questionnaire):
    imp = submit(
        leader, running, questionnaire, kobo_csv(kobo_row("a1"), kobo_row("b2", version="6"))
    )
    assert imp.summary["counts"]["invalid"] == 1
    (error,) = imp.errors
    assert (error["row"], error["column"]) == (3, "_version")
    assert error["message"] == (
        "Filled in with version “6” of the form; this questionnaire is version “7”. Import it "
        "into the version it was filled in with."
    )
    imp = run(leader, imp, mode=TabularImport.Mode.ALL_OR_NOTHING)
    assert imp.status == TabularImport.Status.REJECTED
    assert not Answer.objects.exists()


def test_columns_that_do_not_match_are_refused_at_the_upload(running, leader, questionnaire):
    header = "cells/cell_size,cells/hits,regime/outdoors,colour,meta/instanceID,_version\n"
    with pytest.raises(ValidationError) as refused:
        submit(leader, running, questionnaire, kobo_csv("9,no,one,red,uuid:a,7\n", header=header))
    assert refused.value.messages == [
        "These columns are not questions of “Prison visit (v1)”: ‘cells/hits’, ‘colour’. Export "
        "the submissions with the questions' names (XML values and headers), of this version "
        "of the form.",
        "These questions of “Prison visit (v1)” have no column: “comments”, “hit”, “last_visit”.",
    ]
    with pytest.raises(ValidationError) as no_version:
        submit(
            leader,
            running,
            questionnaire,
            kobo_csv("9\n", header="cells/cell_size,hit,outdoors,last_visit,comments\n"),
        )
    assert no_version.value.messages[0].startswith(
        "The file has no column for the version of the form"
    )
    assert "This questionnaire is version “7”." in no_version.value.messages[0]
    assert not TabularImport.objects.exists()


def test_an_import_names_what_it_goes_into(running, leader, head_membership, questionnaire):
    with pytest.raises(ValidationError, match="start from the visit's page"):
        imports.import_upload(membership=leader, kind=SUBMISSIONS, upload=kobo_csv(kobo_row("a1")))
    with pytest.raises(ValidationError, match="goes into no particular record"):
        imports.import_upload(
            membership=head_membership,
            kind="places",
            upload=SimpleUploadedFile("places.csv", b"Name,Type\nA,prison\n"),
            target={"visit": running.pk},
        )
    assert not TabularImport.objects.exists()


def test_only_the_team_imports_submissions_and_sees_the_import(
    running, leader, persona, questionnaire, client_for
):
    monitor = persona(Role.MONITOR)
    with pytest.raises(PermissionDenied):
        submit(monitor, running, questionnaire, kobo_csv(kobo_row("a1")))
    imp = submit(leader, running, questionnaire, kobo_csv(kobo_row("a1")))
    # The preview holds the answers: a member off the team finds no such import.
    assert client_for(monitor).get(reverse("import_preview", args=[imp.pk])).status_code == 404
    with pytest.raises(PermissionDenied):
        imports.import_start(membership=monitor, imp=imp, mode=TabularImport.Mode.VALID_ROWS)
    response = client_for(leader).get(reverse("import_preview", args=[imp.pk]))
    assert response.status_code == 200


def test_submissions_through_the_visit_page(client_for, running, leader, questionnaire):
    client = client_for(leader)
    url = reverse("visits:submissions_upload", args=[running.pk])
    response = client.post(
        url, {"questionnaire": questionnaire.pk, "file": kobo_csv(kobo_row("z9"))}
    )
    imp = TabularImport.objects.get(kind=SUBMISSIONS)
    assert response.status_code == 302
    assert response["Location"] == reverse("import_preview", args=[imp.pk])
    header = "cells/cell_size,oops,meta/instanceID,_version\n"
    refused = client.post(
        url, {"questionnaire": questionnaire.pk, "file": kobo_csv("1,2,uuid:q,7\n", header=header)}
    )
    assert refused.status_code == 400
    assert "‘oops’" in refused.content.decode()


XLSFORM_NAME = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.-]{0,20}", fullmatch=True)


@given(
    groups=st.lists(XLSFORM_NAME, max_size=3), name=XLSFORM_NAME, separator=st.sampled_from("/-")
)
def test_a_column_is_its_question_whatever_the_group_path(groups, name, separator):
    header = separator.join([*groups, name])
    assert _name_in(header, {name}) == name
    # A column is never taken for a question whose name it merely ends with.
    assert _name_in("x" + header, {header}) is None


@given(number=st.decimals(min_value=-(10**12), max_value=10**12, places=3))
def test_numbers_are_kept_as_they_read(number):
    question = Question(code="n", kind=QuestionKind.NUMBER)
    assert Decimal(services.clean_answer(question, str(number))) == number
