from rest_framework.routers import DefaultRouter

from vigil.places.api import PlaceViewSet, RegionViewSet

router = DefaultRouter()
router.register("places", PlaceViewSet, basename="place")
router.register("regions", RegionViewSet, basename="region")
urlpatterns = router.urls
