"""The REST API's routes: core's own, then each app's as it registered them (core.registry)."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from vigil.core.grant_views import AccessGrantViewSet
from vigil.core.notify_views import NotificationViewSet
from vigil.core.registry import api_url_includes
from vigil.core.taxonomy_views import TaxonomyTermViewSet

router = DefaultRouter()
router.register("taxonomy", TaxonomyTermViewSet, basename="taxonomy-term")
router.register("grants", AccessGrantViewSet, basename="access-grant")
router.register("notifications", NotificationViewSet, basename="notification")

urlpatterns = [
    *(path(entry.prefix, include(entry.module)) for entry in api_url_includes()),
    *router.urls,
]
