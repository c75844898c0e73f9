from rest_framework.routers import DefaultRouter

from vigil.protection.api import CaseViewSet, ProtectedPersonViewSet, ReferralViewSet

router = DefaultRouter()
router.register("cases", CaseViewSet, basename="case")
router.register("referrals", ReferralViewSet, basename="referral")
router.register("persons-at-risk", ProtectedPersonViewSet, basename="protectedperson")
urlpatterns = router.urls
