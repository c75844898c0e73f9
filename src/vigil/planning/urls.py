from django.urls import path

from vigil.planning import views

app_name = "planning"
urlpatterns = [
    path("", views.programme_list, name="list"),
    path("risk/", views.risk_list, name="risk"),
    path("settings/", views.settings_edit, name="settings"),
    path("monitors/", views.monitor_list, name="monitors"),
    path("monitors/<int:member_pk>/", views.monitor_edit, name="monitor_edit"),
    path("calendar.ics", views.calendar, name="calendar"),
    path("<int:pk>/", views.programme_detail, name="detail"),
    path("<int:pk>/replan/", views.programme_replan, name="replan"),
    path("<int:pk>/approve/", views.programme_approve, name="approve"),
    path("<int:pk>/places/<int:place_pk>/", views.place_explain, name="explain"),
    path("<int:pk>/visits/<int:entry_pk>/lock/", views.entry_lock, name="entry_lock"),
    path("<int:pk>/visits/<int:entry_pk>/move/", views.entry_move, name="entry_move"),
    path(
        "<int:pk>/visits/<int:entry_pk>/team/<int:member_pk>/remove/",
        views.entry_remove_member,
        name="entry_remove_member",
    ),
]
