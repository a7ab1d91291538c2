"""The patron's side of a library's link request: the handover page (handover.py)."""

from django.urls import path

from . import handover as views

app_name = "handover"
urlpatterns = [
    path("koppelen/<uuid:request_id>/", views.link, name="link"),
]
