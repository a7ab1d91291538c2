"""The library system's admin ("beheer") for its operators; sign-in goes through the console,
which asks for the second step before it signs anyone in."""

from django.contrib import admin, auth
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from bibid.common.mfa import flow as mfa_flow
from bibid.common.views import permission_denied


class LibraryAdminSite(admin.AdminSite):
    site_header = _("Bibid bibliotheeksysteem: beheer")
    site_title = _("Bibid beheer")
    index_title = _("Beheer")

    def has_permission(self, request: HttpRequest) -> bool:
        # Defence in depth: the console signs in only after the second step, and marks the
        # session then; a session without that mark (from before the second step existed,
        # or made any other way) does not reach the admin.
        return super().has_permission(request) and mfa_flow.is_verified(request)

    def login(self, request: HttpRequest, extra_context=None):
        if request.user.is_authenticated and mfa_flow.is_verified(request):
            return permission_denied(request)
        if request.user.is_authenticated:
            # Signed in without the mark: sign in again, through both steps.
            auth.logout(request)
        target = request.GET.get("next") or reverse("admin:index")
        return HttpResponseRedirect(f"{reverse('console:login')}?{urlencode({'next': target})}")

    def logout(self, request: HttpRequest, extra_context=None):
        return HttpResponseRedirect(reverse("console:logout"))


class LibraryAdminConfig(AdminConfig):
    default_site = "bibid.library.admin_site.LibraryAdminSite"
