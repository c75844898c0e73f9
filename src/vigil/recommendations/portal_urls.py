from django.urls import path

from vigil.recommendations import portal_views

app_name = "portal"

urlpatterns = [
    path("", portal_views.portal_list, name="list"),
    path("<int:pk>/", portal_views.portal_detail, name="detail"),
]
