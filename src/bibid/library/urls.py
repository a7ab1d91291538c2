"""URLs of the library service."""

from django.contrib import admin
from django.urls import include, path

from bibid.common.urls import handlers
from bibid.common.urls import urlpatterns as common_patterns
from bibid.library.api.api import api

urlpatterns = [
    *common_patterns,
    path("beheer/", admin.site.urls),
    path("console/helpdesk/", include("bibid.library.console.helpdesk_urls")),
    path("console/", include("bibid.library.console.urls")),
    path("api/v1/", api.urls),
    path("aanmelden/", include("bibid.library.signup.urls")),
    path("mijn/<slug:library>/", include("bibid.common.rp.urls")),
    path("mijn/<slug:library>/", include("bibid.library.mijnmenu.urls")),
    path("", include("bibid.library.home.urls")),
]

globals().update(handlers)
