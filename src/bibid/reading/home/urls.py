"""URLs of the reading start page (the catalogue's and the loans' pages: catalogue_urls.py,
loan_urls.py)."""

from django.urls import path

from . import views

app_name = "home"
urlpatterns = [path("", views.home, name="home")]
