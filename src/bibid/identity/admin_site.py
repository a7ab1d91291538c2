"""The identity admin ("beheer") for operators: signs in through the guarded sign-in page."""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from bibid.common.views import permission_denied


class BibidAdminSite(admin.AdminSite):
    site_header = _("Bibid inlogdienst: beheer")
    site_title = _("Bibid beheer")
    index_title = _("Beheer")

    def login(self, request: HttpRequest, extra_context=None):
        if request.user.is_authenticated:
            # Signed in, but not an operator: say no instead of asking to sign in again.
            return permission_denied(request)
        # One way in: the admin's own login form would check passwords outside the guard.
        target = request.GET.get("next") or reverse("admin:index")
        return HttpResponseRedirect(f"{reverse('signin:login')}?{urlencode({'next': target})}")

    def logout(self, request: HttpRequest, extra_context=None):
        # Sign out through the sign-in context, which records the event.
        return HttpResponseRedirect(reverse("signin:logout"))


class BibidAdminConfig(AdminConfig):
    default_site = "bibid.identity.admin_site.BibidAdminSite"
