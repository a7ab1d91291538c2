"""URLs of the loans: the forms post here; Mijn leenplank lists them."""

from django.urls import path

from . import loan_views as views

app_name = "loans"
urlpatterns = [
    path("titel/<slug:slug>/lenen/", views.borrow, name="borrow"),
    path("leenplank/", views.shelf, name="shelf"),
    path("leenplank/<int:loan_id>/verlengen/", views.renew, name="renew"),
    path("leenplank/<int:loan_id>/inleveren/", views.give_back, name="give_back"),
    path("leenplank/rechten/", views.check_rights, name="check_rights"),
]
