"""The identity admin ("beheer") for operators: signs in through the guarded sign-in page,
then asks for the second step (a step-up: the admin checks the session's mark on every
request, and enrols an operator without a factor at their first visit)."""

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext_lazy as _

from bibid.common.mfa import flow as mfa_flow
from bibid.common.views import permission_denied

NEXT_KEY = "mfa_admin_next"


def _operator(request: HttpRequest):
    user = request.user
    if user.is_authenticated and user.is_active and user.is_staff:
        return user
    return None


def _complete(request: HttpRequest, user, method: str) -> str:
    target = request.session.pop(NEXT_KEY, "")
    mfa_flow.mark_verified(request, user)
    return target or reverse("admin:index")


def _verified(request: HttpRequest):
    return _operator(request) if mfa_flow.is_verified(request) else None


def _start(request: HttpRequest) -> str:
    return f"{reverse('signin:login')}?{urlencode({'next': reverse('admin:index')})}"


OPERATOR_FLOW = mfa_flow.Flow(
    scope="operator",
    base_template="bibid/base.html",
    namespace="admin",
    issuer=getattr(settings, "BIBID_MFA_ISSUER", "Bibid beheer"),
    user=_operator,
    complete=_complete,
    start_url=_start,
    verified_user=_verified,
)


class BibidAdminSite(admin.AdminSite):
    site_header = _("Bibid inlogdienst: beheer")
    site_title = _("Bibid beheer")
    index_title = _("Beheer")

    def has_permission(self, request: HttpRequest) -> bool:
        # A password alone is not enough for the admin: the second step must have been done
        # in this session (bibid.common.mfa); otherwise login() below sends there.
        return super().has_permission(request) and mfa_flow.is_verified(request)

    def get_urls(self):
        # The second step's pages live under /beheer/ (not wrapped in admin_view: they are
        # how an operator gets the admin's permission). Imported here: the admin's app config
        # is loaded before the models are.
        from bibid.common.mfa import urls as mfa_urls

        return mfa_urls.patterns(OPERATOR_FLOW) + super().get_urls()

    def login(self, request: HttpRequest, extra_context=None):
        target = request.GET.get("next") or reverse("admin:index")
        if _operator(request) is not None and not mfa_flow.is_verified(request):
            if url_has_allowed_host_and_scheme(target, {request.get_host()}) and target.startswith(
                "/"
            ):
                request.session[NEXT_KEY] = target
            return HttpResponseRedirect(reverse("admin:mfa_second_step"))
        if request.user.is_authenticated:
            # Signed in, but not an operator: say no instead of asking to sign in again.
            return permission_denied(request)
        # One way in: the admin's own login form would check passwords outside the guard.
        return HttpResponseRedirect(f"{reverse('signin:login')}?{urlencode({'next': target})}")

    def logout(self, request: HttpRequest, extra_context=None):
        # Sign out through the sign-in context, which records the event.
        return HttpResponseRedirect(reverse("signin:logout"))


class BibidAdminConfig(AdminConfig):
    default_site = "bibid.identity.admin_site.BibidAdminSite"
