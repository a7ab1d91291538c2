"""URLs of Mijn Menu, mounted per library under `mijn/<library>/` (next to the sign-in)."""

from django.urls import path

from . import views

app_name = "mijnmenu"
urlpatterns = [path("", views.home, name="home")]
