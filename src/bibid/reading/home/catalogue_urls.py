"""URLs of the catalogue's pages (Dutch addresses, like the other services' pages)."""

from django.urls import path

from . import catalogue_views as views

app_name = "catalogue"
urlpatterns = [
    path("catalogus/", views.title_list, name="list"),
    path("titel/<slug:slug>/", views.title_detail, name="detail"),
    path("omslag/<slug:slug>.svg", views.cover, name="cover"),
]
