"""The library service's start page."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from bibid.library.tenants.models import Library


def home(request: HttpRequest) -> HttpResponse:
    libraries = Library.objects.exclude(mijnmenu_client_id="").only("code", "name")
    return render(request, "home/home.html", {"libraries": libraries})
