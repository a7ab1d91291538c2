"""The relying party's pages. The reading service mounts them at its root; the library service
under each library's Mijn Menu (`mijn/<library>/`), one OIDC client per library."""

from django.urls import path

from . import views

app_name = "rp"
urlpatterns = [
    path("inloggen/", views.login, name="login"),
    path("inloggen/klaar/", views.callback, name="callback"),
    path("uitloggen/", views.logout, name="logout"),
    path("uitgelogd/", views.logged_out, name="logged_out"),
    path("sessie-beeindigd/", views.logout_detected, name="logout_detected"),
    path("oidc/backchannel-logout/", views.backchannel_logout, name="backchannel_logout"),
]
