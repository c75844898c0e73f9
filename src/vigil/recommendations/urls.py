from django.urls import path

from vigil.recommendations import views

app_name = "recommendations"

urlpatterns = [
    path("", views.recommendation_list, name="list"),
    path("<int:pk>/", views.recommendation_detail, name="detail"),
    path("authorities/", views.authority_list, name="authority_list"),
    path("authorities/<int:pk>/", views.authority_detail, name="authority_detail"),
]
