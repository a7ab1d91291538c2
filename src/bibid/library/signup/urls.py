"""URLs of the self-service sign-up."""

from django.urls import path

from . import views

app_name = "signup"
urlpatterns = [
    path("", views.choose, name="choose"),
    path("<slug:code>/", views.sign_up, name="form"),
]
