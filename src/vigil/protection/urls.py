from django.urls import path

from vigil.protection import views

app_name = "protection"
urlpatterns = [
    path("", views.case_list, name="case_list"),
    path("cases/new/", views.case_create, name="case_create"),
    path("cases/<int:pk>/", views.case_detail, name="case_detail"),
    path("cases/<int:pk>/edit/", views.case_edit, name="case_edit"),
    path("cases/<int:pk>/reveal/", views.case_reveal, name="case_reveal"),
    path("cases/<int:pk>/holders/", views.case_holders, name="case_holders"),
    path("cases/<int:pk>/erase/", views.case_erase, name="case_erase"),
    path("cases/<int:pk>/referrals/new/", views.referral_create, name="referral_create"),
    path(
        "cases/<int:pk>/referrals/<int:referral_pk>/",
        views.referral_edit,
        name="referral_edit",
    ),
    path("statistics/", views.statistics_page, name="statistics"),
    path("retention/", views.retention_settings, name="retention"),
    path("persons/", views.person_list, name="person_list"),
    path("persons/new/", views.person_create, name="person_create"),
    path("persons/<int:pk>/", views.person_detail, name="person_detail"),
    path("persons/<int:pk>/edit/", views.person_edit, name="person_edit"),
    path("persons/<int:pk>/reveal/", views.person_reveal, name="person_reveal"),
    path("persons/<int:pk>/erase/", views.person_erase, name="person_erase"),
    path("persons/<int:pk>/transfer/", views.transfer_create, name="transfer_create"),
    path("persons/<int:pk>/reprisals/new/", views.reprisal_create, name="reprisal_create"),
    path("persons/<int:pk>/follow-ups/new/", views.follow_up_create, name="follow_up_create"),
    path(
        "persons/<int:pk>/follow-ups/<int:follow_up_pk>/",
        views.follow_up_record,
        name="follow_up_record",
    ),
]
