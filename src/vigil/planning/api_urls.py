from rest_framework.routers import DefaultRouter

from vigil.planning.api import PlaceRiskViewSet, ProgrammeViewSet, ProgrammeVisitViewSet

router = DefaultRouter()
router.register("programmes", ProgrammeViewSet, basename="programme")
router.register("programme-visits", ProgrammeVisitViewSet, basename="programmevisit")
router.register("place-risks", PlaceRiskViewSet, basename="placerisk")
urlpatterns = router.urls
