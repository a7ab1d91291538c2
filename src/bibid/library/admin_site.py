"""The library system's admin ("beheer") for its operators; sign-in goes through the console."""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from bibid.common.views import permission_denied


class LibraryAdminSite(admin.AdminSite):
    site_header = _("Bibid bibliotheeksysteem: beheer")
    site_title = _("Bibid beheer")
    index_title = _("Beheer")

    def login(self, request: HttpRequest, extra_context=None):
        if request.user.is_authenticated:
            return permission_denied(request)
        target = request.GET.get("next") or reverse("admin:index")
        return HttpResponseRedirect(f"{reverse('console:login')}?{urlencode({'next': target})}")

    def logout(self, request: HttpRequest, extra_context=None):
        return HttpResponseRedirect(reverse("console:logout"))


class LibraryAdminConfig(AdminConfig):
    default_site = "bibid.library.admin_site.LibraryAdminSite"
