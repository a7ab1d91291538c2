"""URL patterns every service includes."""

from django.urls import include, path

from . import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", views.metrics_view, name="metrics"),
    path("i18n/", include("django.conf.urls.i18n")),
]

handlers = {
    "handler400": "bibid.common.views.bad_request",
    "handler403": "bibid.common.views.permission_denied",
    "handler404": "bibid.common.views.page_not_found",
    "handler500": "bibid.common.views.server_error",
}
