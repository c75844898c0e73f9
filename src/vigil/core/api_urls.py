"""The REST API's routes: each app contributes its own router entries."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from vigil.core.taxonomy_views import TaxonomyTermViewSet

router = DefaultRouter()
router.register("taxonomy", TaxonomyTermViewSet, basename="taxonomy-term")

urlpatterns = [
    path("", include("vigil.places.api_urls")),
    *router.urls,
]
