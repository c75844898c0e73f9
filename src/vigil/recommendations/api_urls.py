from rest_framework.routers import DefaultRouter

from vigil.recommendations.api import AuthorityViewSet, ExchangeViewSet, RecommendationViewSet

router = DefaultRouter()
router.include_root_view = False
router.register("authorities", AuthorityViewSet, basename="authority")
router.register("recommendations", RecommendationViewSet, basename="recommendation")
# The dialogue: authorities' letters and meetings, and the body's replies.
router.register("responses", ExchangeViewSet, basename="exchange")
urlpatterns = router.urls
