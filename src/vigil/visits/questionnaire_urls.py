"""URLs of the questionnaire pages, under /questionnaires/ (a namespace apart from the visits')."""

from django.urls import path

from vigil.visits import questionnaire_views as views

app_name = "questionnaires"
urlpatterns = [
    path("", views.questionnaire_list, name="list"),
    path("new/", views.questionnaire_upload, name="upload"),
    path("standards/", views.standard_list, name="standards"),
    path("<int:pk>/", views.questionnaire_detail, name="detail"),
    path("<int:pk>/activate/", views.questionnaire_activate, name="activate"),
    path("<int:pk>/copy/", views.questionnaire_copy, name="copy"),
    path("<int:pk>/xlsform.xlsx", views.questionnaire_export, name="export"),
]
