"""URLs of the identity service."""

from django.contrib import admin
from django.urls import include, path

from bibid.common.urls import handlers
from bibid.common.urls import urlpatterns as common_patterns
from bibid.identity.api.api import api
from bibid.identity.oidc import urls as oidc_urls

urlpatterns = [
    *common_patterns,
    path("beheer/", admin.site.urls),
    path("o/", include((oidc_urls.provider_patterns, "oauth2_provider"))),
    path("o/", include("bibid.identity.oidc.urls")),
    path("api/v1/", api.urls),
    path("", include("bibid.identity.signin.urls")),
    path("", include("bibid.identity.signin.handover_urls")),
    path("", include("bibid.identity.selfservice.urls")),
]

globals().update(handlers)
