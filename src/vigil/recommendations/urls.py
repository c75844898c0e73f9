from django.urls import path, re_path

from vigil.recommendations import views

app_name = "recommendations"

urlpatterns = [
    path("", views.recommendation_list, name="list"),
    path("new/", views.recommendation_create, name="create"),
    path("settings/", views.recommendation_settings, name="settings"),
    path("dashboard/", views.recommendation_dashboard, name="dashboard"),
    re_path(r"^export\.(?P<fmt>csv|xlsx)$", views.recommendation_export, name="export"),
    path("<int:pk>/", views.recommendation_detail, name="detail"),
    path("<int:pk>/edit/", views.recommendation_edit, name="edit"),
    path("<int:pk>/position/", views.recommendation_position, name="position"),
    path("<int:pk>/assessment/", views.recommendation_assess, name="assess"),
    path("positions/<int:pk>/file/", views.position_file, name="position_file"),
    path("assessments/<int:pk>/file/", views.assessment_file, name="assessment_file"),
    path("exchanges/<int:pk>/file/", views.exchange_file, name="exchange_file"),
    path("authorities/", views.authority_list, name="authority_list"),
    path("authorities/new/", views.authority_create, name="authority_create"),
    path("authorities/<int:pk>/", views.authority_detail, name="authority_detail"),
    path("authorities/<int:pk>/edit/", views.authority_edit, name="authority_edit"),
    path(
        "authorities/<int:pk>/focal-point/",
        views.authority_focal_point,
        name="authority_focal_point",
    ),
    path("authorities/<int:pk>/exchange/", views.exchange_create, name="exchange_create"),
]
