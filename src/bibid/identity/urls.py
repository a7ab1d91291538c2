"""URLs of the identity service."""

from django.contrib import admin
from django.urls import include, path

from bibid.common.urls import handlers
from bibid.common.urls import urlpatterns as common_patterns

urlpatterns = [
    *common_patterns,
    path("beheer/", admin.site.urls),
    path("", include("bibid.identity.signin.urls")),
    path("", include("bibid.identity.accounts.urls")),
]

globals().update(handlers)
