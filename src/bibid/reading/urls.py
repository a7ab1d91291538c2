"""URLs of the reading service."""

from django.urls import include, path

from bibid.common.urls import handlers
from bibid.common.urls import urlpatterns as common_patterns

urlpatterns = [
    *common_patterns,
    path("", include("bibid.common.rp.urls")),
    path("", include("bibid.reading.home.urls")),
    path("", include("bibid.reading.home.catalogue_urls")),
    path("", include("bibid.reading.home.loan_urls")),
]

globals().update(handlers)
