"""Template context every page of every service needs."""

from django.conf import settings
from django.http import HttpRequest


def service(request: HttpRequest) -> dict:
    return {
        "bibid_service": settings.SERVICE,
        "bibid_urls": settings.BIBID_PUBLIC_URLS,
        "bibid_demo": settings.BIBID_DEMO,
    }
