"""URLs of the sign-in context."""

from django.urls import path

from . import views

app_name = "signin"
urlpatterns = [
    path("inloggen/", views.login_view, name="login"),
    path("uitloggen/", views.logout_view, name="logout"),
    path("uitgelogd/", views.logged_out_view, name="logged_out"),
    path("inloggen/passkey/begin/", views.passkey_begin, name="passkey_begin"),
    path("inloggen/passkey/", views.passkey_login, name="passkey_login"),
]
urlpatterns.append(path("hulp-bij-inloggen/", views.help_view, name="help"))
