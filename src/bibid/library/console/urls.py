"""URLs of the staff console."""

from django.urls import path

from . import views

app_name = "console"
urlpatterns = [
    path("inloggen/", views.login_view, name="login"),
    path("uitloggen/", views.logout_view, name="logout"),
    path("", views.home, name="home"),
    path("klanten/<str:card_number>/", views.customer, name="customer"),
    path("klanten/<str:card_number>/inlogaccount/<slug:action>/", views.login_action,
         name="login_action"),
    path("lid-worden/", views.register, name="register"),
    path("tokens/", views.api_tokens, name="tokens"),
]
