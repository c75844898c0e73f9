"""URLs of the tabular import pages, under /imports/."""

from django.urls import path

from vigil.core import import_views

urlpatterns = [
    path("<slug:kind>/new/", import_views.import_upload, name="import_upload"),
    path("<slug:kind>/template.csv", import_views.import_template, name="import_template"),
    path("<int:pk>/", import_views.import_detail, name="import_detail"),
    path("<int:pk>/mapping/", import_views.import_mapping, name="import_mapping"),
    path("<int:pk>/layout/", import_views.import_layout, name="import_layout"),
    path("<int:pk>/guess/", import_views.import_use_guess, name="import_use_guess"),
    path("<int:pk>/values/", import_views.import_values, name="import_values"),
    path("<int:pk>/valid-rows/", import_views.import_valid_rows, name="import_valid_rows"),
    path("<int:pk>/preview/", import_views.import_preview, name="import_preview"),
    path("<int:pk>/progress/", import_views.import_progress, name="import_progress"),
    path("<int:pk>/retry/", import_views.import_retry, name="import_retry"),
    path("<int:pk>/rejected.csv", import_views.import_rejected, name="import_rejected"),
]
