"""The patron's side of a library's link request."""

from django.urls import path

from . import views

app_name = "handover"
urlpatterns = [
    path("koppelen/<uuid:request_id>/", views.link, name="link"),
]
