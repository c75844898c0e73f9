from django.urls import path, re_path

from vigil.visits import views

app_name = "visits"
urlpatterns = [
    path("", views.visit_list, name="list"),
    path("new/", views.visit_create, name="create"),
    path("observations/", views.observation_list, name="observations"),
    re_path(
        r"^observations/export\.(?P<fmt>csv|xlsx)$",
        views.observation_export,
        name="observations_export",
    ),
    path("<int:pk>/", views.visit_detail, name="detail"),
    path("<int:pk>/edit/", views.visit_edit, name="edit"),
    path("<int:pk>/status/", views.visit_status, name="status"),
    path("<int:pk>/team/", views.team_add, name="team_add"),
    path("<int:pk>/team/<int:member_pk>/remove/", views.team_remove, name="team_remove"),
    path("<int:pk>/conduct/", views.confirm_conduct, name="confirm_conduct"),
    path("<int:pk>/interviews/new/", views.interview_create, name="interview_create"),
    path(
        "<int:pk>/interviews/<int:interview_pk>/",
        views.interview_detail,
        name="interview_detail",
    ),
    path(
        "<int:pk>/interviews/<int:interview_pk>/edit/",
        views.interview_edit,
        name="interview_edit",
    ),
    path(
        "<int:pk>/interviews/<int:interview_pk>/evidence/",
        views.interview_evidence_upload,
        name="interview_evidence_upload",
    ),
    path(
        "<int:pk>/observations/<int:observation_pk>/",
        views.observation_edit,
        name="observation_edit",
    ),
    path(
        "<int:pk>/observations/<int:observation_pk>/evidence/",
        views.observation_evidence_upload,
        name="observation_evidence_upload",
    ),
    path("<int:pk>/evidence/<int:evidence_pk>/", views.evidence_download, name="evidence_download"),
    path(
        "<int:pk>/evidence/<int:evidence_pk>/delete/",
        views.evidence_delete,
        name="evidence_delete",
    ),
    path("<int:pk>/draft/", views.draft, name="draft"),
    path("<int:pk>/answers/", views.answers_list, name="answers"),
    path(
        "<int:pk>/questionnaires/<int:questionnaire_pk>/answer/",
        views.answers_create,
        name="answers_create",
    ),
    path("<int:pk>/submissions/", views.submissions_upload, name="submissions_upload"),
    path("<int:pk>/observations/new/", views.observation_create, name="observation_create"),
    path(
        "<int:pk>/observations/<int:observation_pk>/corroborate/",
        views.observation_corroborate,
        name="observation_corroborate",
    ),
    path(
        "<int:pk>/observations/<int:observation_pk>/hold-back/",
        views.observation_hold_back,
        name="observation_hold_back",
    ),
    path("<int:pk>/preparation/", views.visit_preparation, name="preparation"),
    path("<int:pk>/preparation.pdf", views.visit_preparation_pdf, name="preparation_pdf"),
    path("<int:pk>/registers/new/", views.register_check_create, name="register_check_create"),
    path(
        "<int:pk>/registers/<int:check_pk>/discrepancies/",
        views.discrepancy_create,
        name="discrepancy_create",
    ),
    path(
        "<int:pk>/discrepancies/<int:discrepancy_pk>/finding/",
        views.discrepancy_observation,
        name="discrepancy_observation",
    ),
    path("<int:pk>/debriefing/", views.debriefing_detail, name="debriefing"),
    path("<int:pk>/debriefing/edit/", views.debriefing_edit, name="debriefing_edit"),
    path("<int:pk>/debriefing/commitments/", views.commitment_create, name="commitment_create"),
    path("<int:pk>/debriefing/note.pdf", views.debriefing_note, name="debriefing_note"),
    path("<int:pk>/obstructions/new/", views.obstruction_create, name="obstruction_create"),
    path(
        "<int:pk>/obstructions/<int:obstruction_pk>/escalate/",
        views.obstruction_escalate,
        name="obstruction_escalate",
    ),
]
