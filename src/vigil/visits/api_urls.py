from rest_framework.routers import DefaultRouter

from vigil.visits.api import (
    AnswerViewSet,
    InterviewViewSet,
    ObservationViewSet,
    QuestionnaireViewSet,
    VisitViewSet,
)

router = DefaultRouter()
router.register("visits", VisitViewSet, basename="visit")
router.register("interviews", InterviewViewSet, basename="interview")
router.register("observations", ObservationViewSet, basename="observation")
router.register("questionnaires", QuestionnaireViewSet, basename="questionnaire")
router.register("answers", AnswerViewSet, basename="answer")
urlpatterns = router.urls
