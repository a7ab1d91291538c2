"""Operators' view of sign-in attempts (read only)."""

from django.contrib import admin

from bibid.identity.accounts.admin import ReadOnlyAdmin

from .models import LoginEvent


@admin.register(LoginEvent)
class LoginEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "kind", "username", "outcome", "reason", "ip", "user_agent")
    list_filter = ("kind", "outcome", "reason")
    search_fields = ("username", "=ip")
    date_hierarchy = "at"
    show_full_result_count = False
