"""DOT's Application admin with Bibid's service settings inline.

DOT registers it itself (OAUTH2_PROVIDER["APPLICATION_ADMIN_CLASS"]); kept apart from
admin.py because DOT's admin module imports this one while it loads.
"""

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.translation import get_language
from oauth2_provider.admin import ApplicationAdmin
from oauth2_provider.forms import ApplicationForm

from bibid.common.problems import Problem

from .models import Client


class ClientInline(admin.StackedInline):
    model = Client
    can_delete = False
    extra = 0
    readonly_fields = ["origin"]


class ServiceApplicationForm(ApplicationForm):
    def clean(self):
        cleaned = super().clean()
        instance = self.instance
        if instance.pk and Client.objects.filter(application=instance).exists():
            # A sign-in service keeps one origin (the sign-in page's CSP lists it): the same
            # rule as register_service, so the admin cannot record what the command refuses.
            from .services import origin_of

            uris = [
                *(cleaned.get("redirect_uris") or "").split(),
                *(cleaned.get("post_logout_redirect_uris") or "").split(),
            ]
            try:
                origin_of(uris)
            except Problem as problem:
                raise ValidationError(problem.text((get_language() or "nl")[:2])) from problem
        return cleaned


class ServiceApplicationAdmin(ApplicationAdmin):
    form = ServiceApplicationForm
    inlines = [ClientInline]
