from django.urls import path, re_path

from vigil.places import views

app_name = "places"
urlpatterns = [
    path("", views.place_list, name="list"),
    path("map/", views.place_map, name="map"),
    re_path(r"^export\.(?P<fmt>csv|xlsx)$", views.place_export, name="export"),
    path("exports/<int:pk>/", views.export_job, name="export_job"),
    path("exports/<int:pk>/download/", views.export_download, name="export_download"),
    path("new/", views.place_create, name="create"),
    path("trash/", views.place_trash, name="trash"),
    path("duplicates/", views.duplicate_list, name="duplicates"),
    path("duplicates/dismiss/", views.duplicate_dismiss_many, name="duplicate_dismiss_many"),
    path("duplicates/<int:pk>/dismiss/", views.duplicate_dismiss, name="duplicate_dismiss"),
    path("regions/", views.region_list, name="regions"),
    path("regions/options/", views.region_choices, name="region_options"),
    path("<int:pk>/", views.place_detail, name="detail"),
    path("<int:pk>/edit/", views.place_edit, name="edit"),
    path("<int:pk>/delete/", views.place_delete, name="delete"),
    path("<int:pk>/restore/", views.place_restore, name="restore"),
    path("<int:pk>/merge/", views.place_merge, name="merge"),
    path("<int:pk>/confidential-notes/", views.place_reveal_notes, name="reveal_notes"),
    path("<int:pk>/documents/", views.document_upload, name="document_upload"),
    path("<int:pk>/documents/<int:document_pk>/", views.document_download, name="document"),
    path(
        "<int:pk>/documents/<int:document_pk>/remove/",
        views.document_remove,
        name="document_remove",
    ),
]
