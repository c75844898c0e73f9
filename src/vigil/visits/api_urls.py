from rest_framework.routers import DefaultRouter

from vigil.visits.api import InterviewViewSet, ObservationViewSet, VisitViewSet

router = DefaultRouter()
router.register("visits", VisitViewSet, basename="visit")
router.register("interviews", InterviewViewSet, basename="interview")
router.register("observations", ObservationViewSet, basename="observation")
urlpatterns = router.urls
