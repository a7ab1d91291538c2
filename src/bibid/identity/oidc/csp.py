"""The sign-in pages' Content Security Policy: their forms may lead to every registered service.

Why: a sign-in form's answer is a chain of redirects (the sign-in page → authorize → the
service's callback), and Chromium holds every hop of a form submission's redirect chain to
the submitting page's `form-action`. So the pages whose forms end on a service (sign-in,
consent, sign-out confirmation) allow, besides ourselves and our sibling services (the
settings' policy), the origin of every active registered service, read from the database.

The list is kept in Django's cache: a sign-in page must not cost a query for it. A change to
a service (registered, its URIs changed, disabled, removed) deletes the entry when it
commits, so with a shared cache (CACHE_URL) every process sees it at once; with the default
per-process memory cache another process sees it when its entry expires (CACHE_SECONDS),
which is also the bound on the one race left (a reader that read the old list just before a
change committed stores it just after).

Other pages keep the settings' policy: a page without such a form has no reason to post to
a service, so an injected form there cannot either.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils.csp import CSP
from oauth2_provider.models import get_application_model

from .models import Client

CACHE_KEY = "oidc:form-action-origins:v1"
CACHE_SECONDS = 30
# The pages whose forms lead to a service: sign-in (also for prompt=login and max_age), our
# own sign-out page, the consent page and the RP-initiated logout confirmation.
FORM_PAGES = frozenset(
    {
        "signin:login",
        "signin:logout",
        "oauth2_provider:authorize",
        "oauth2_provider:rp-initiated-logout",
    }
)


def registered_origins() -> list[str]:
    """The origins of the active registered services (cached)."""
    origins = cache.get(CACHE_KEY)
    if origins is None:
        origins = sorted(
            set(
                Client.objects.filter(active=True)
                .exclude(origin="")
                .values_list("origin", flat=True)
            )
        )
        cache.set(CACHE_KEY, origins, CACHE_SECONDS)
    return origins


def invalidate() -> None:
    cache.delete(CACHE_KEY)


def form_page_policy() -> dict:
    """The settings' policy, with the registered services added to `form-action`."""
    base = settings.SECURE_CSP
    allowed = list(base.get("form-action") or [CSP.SELF])
    allowed += [origin for origin in registered_origins() if origin not in allowed]
    return {**base, "form-action": allowed}


class FormActionMiddleware:
    """Give the form pages (FORM_PAGES) the policy of form_page_policy().

    Placed after django.middleware.csp.ContentSecurityPolicyMiddleware, so that the policy
    set here on the response is the one that middleware writes (Django's per-response
    override, the same attribute @csp_override sets)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        if (
            settings.SECURE_CSP
            and match is not None
            and match.view_name in FORM_PAGES
            and not hasattr(response, "_csp_config")
            and response.get("Content-Type", "").startswith("text/html")
        ):
            response._csp_config = form_page_policy()
        return response


def _changed(**kwargs) -> None:
    # After the commit: deleting earlier would let a request read the old rows and cache
    # them again before the change is visible.
    transaction.on_commit(invalidate)


@receiver(post_save, sender=get_application_model(), dispatch_uid="oidc-csp-app-saved")
def on_application_saved(sender, instance, created, raw=False, **kwargs) -> None:
    if raw:
        return  # loading fixtures
    if not created:
        # The admin may change a service's URIs: its recorded origin follows.
        from .services import refresh_origin

        refresh_origin(instance)
    _changed()


post_delete.connect(_changed, sender=get_application_model(), dispatch_uid="oidc-csp-app-gone")
post_save.connect(_changed, sender=Client, dispatch_uid="oidc-csp-client-saved")
post_delete.connect(_changed, sender=Client, dispatch_uid="oidc-csp-client-gone")
