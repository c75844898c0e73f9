from rest_framework.routers import DefaultRouter

from vigil.visits.api import (
    AnswerViewSet,
    DebriefingViewSet,
    DiscrepancyViewSet,
    EvidenceViewSet,
    InterviewViewSet,
    ObservationViewSet,
    ObstructionViewSet,
    QuestionnaireViewSet,
    RegisterCheckViewSet,
    VisitViewSet,
)

router = DefaultRouter()
router.register("visits", VisitViewSet, basename="visit")
router.register("interviews", InterviewViewSet, basename="interview")
router.register("observations", ObservationViewSet, basename="observation")
router.register("questionnaires", QuestionnaireViewSet, basename="questionnaire")
router.register("answers", AnswerViewSet, basename="answer")
router.register("register-checks", RegisterCheckViewSet, basename="registercheck")
router.register("discrepancies", DiscrepancyViewSet, basename="discrepancy")
router.register("debriefings", DebriefingViewSet, basename="debriefing")
router.register("obstructions", ObstructionViewSet, basename="obstruction")
router.register("evidence", EvidenceViewSet, basename="evidence")
urlpatterns = router.urls
