"""Operators' view of the push queue."""

from django.contrib import admin

from .models import PendingPush


@admin.register(PendingPush)
class PendingPushAdmin(admin.ModelAdmin):
    list_display = (
        "customer",
        "version",
        "requested_at",
        "attempts",
        "next_attempt_at",
        "last_error",
    )
    readonly_fields = ("customer", "version", "requested_at", "attempts", "last_error")
