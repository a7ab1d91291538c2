"""DOT's Application admin with Bibid's service settings inline.

DOT registers it itself (OAUTH2_PROVIDER["APPLICATION_ADMIN_CLASS"]); kept apart from
admin.py because DOT's admin module imports this one while it loads.
"""

from django.contrib import admin
from oauth2_provider.admin import ApplicationAdmin

from .models import Client


class ClientInline(admin.StackedInline):
    model = Client
    can_delete = False
    extra = 0


class ServiceApplicationAdmin(ApplicationAdmin):
    inlines = [ClientInline]
