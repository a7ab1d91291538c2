"""The OpenID Connect and OAuth2 endpoints the identity service serves, under `o/`.

Only these of django-oauth-toolkit's: its application-management, token-management,
device and dynamic-registration pages would let any signed-in patron register a client
(with any redirect URI) or are not used. Discovery and logout are Bibid's subclasses.
"""

from django.urls import path, re_path
from oauth2_provider import views as dot

from . import views

# Reversed by DOT under its own namespace ("oauth2_provider:authorize", ...).
provider_patterns = [
    path("authorize/", views.AuthorizationView.as_view(), name="authorize"),
    path("token/", views.TokenView.as_view(), name="token"),
    path("revoke_token/", dot.RevokeTokenView.as_view(), name="revoke-token"),
    re_path(
        r"^\.well-known/openid-configuration/?$",
        views.DiscoveryView.as_view(),
        name="oidc-connect-discovery-info",
    ),
    path(".well-known/jwks.json", dot.JwksInfoView.as_view(), name="jwks-info"),
    path("userinfo/", dot.UserInfoView.as_view(), name="user-info"),
    path("logout/", views.LogoutView.as_view(), name="rp-initiated-logout"),
]

urlpatterns = [
    path("service-events/", views.service_event, name="oidc-service-events"),
]
