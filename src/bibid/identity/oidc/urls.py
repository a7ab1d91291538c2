"""OpenID Connect URLs Bibid puts before django-oauth-toolkit's own (same paths, so the
discovery document's links stay right) plus the service-events endpoint."""

from django.urls import path

from . import views

urlpatterns = [
    path(".well-known/openid-configuration", views.DiscoveryView.as_view()),
    path("logout/", views.LogoutView.as_view()),
    path("service-events/", views.service_event, name="oidc-service-events"),
]
