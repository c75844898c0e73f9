from rest_framework.routers import DefaultRouter

from vigil.visits.api import (
    DebriefingViewSet,
    DiscrepancyViewSet,
    InterviewViewSet,
    ObservationViewSet,
    ObstructionViewSet,
    RegisterCheckViewSet,
    VisitViewSet,
)

router = DefaultRouter()
router.register("visits", VisitViewSet, basename="visit")
router.register("interviews", InterviewViewSet, basename="interview")
router.register("observations", ObservationViewSet, basename="observation")
router.register("register-checks", RegisterCheckViewSet, basename="registercheck")
router.register("discrepancies", DiscrepancyViewSet, basename="discrepancy")
router.register("debriefings", DebriefingViewSet, basename="debriefing")
router.register("obstructions", ObstructionViewSet, basename="obstruction")
urlpatterns = router.urls
