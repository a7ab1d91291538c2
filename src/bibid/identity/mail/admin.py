"""Operators' view of the outbox (read only; the address is shown, the links never exist)."""

from django.contrib import admin

from bibid.identity.accounts.admin import ReadOnlyAdmin

from .models import OutboxMessage


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "kind", "to", "attempts", "sent_at", "last_error")
    list_filter = ("kind",)
    search_fields = ("to",)
    show_full_result_count = False
