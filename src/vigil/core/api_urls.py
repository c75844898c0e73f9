"""The REST API's routes: each app contributes its own router entries."""

from django.urls import include, path

urlpatterns = [
    path("", include("vigil.places.api_urls")),
]
