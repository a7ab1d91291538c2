"""URLs of the identity service."""

from django.contrib import admin
from django.urls import include, path

from bibid.common.urls import handlers
from bibid.common.urls import urlpatterns as common_patterns
from bibid.identity.api.api import api

urlpatterns = [
    *common_patterns,
    path("beheer/", admin.site.urls),
    # Bibid's OpenID Connect views first: they take over some of DOT's paths.
    path("o/", include("bibid.identity.oidc.urls")),
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("api/v1/", api.urls),
    path("", include("bibid.identity.signin.urls")),
    path("", include("bibid.identity.selfservice.urls")),
]

globals().update(handlers)
