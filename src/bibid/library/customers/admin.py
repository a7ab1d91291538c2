"""Operators' view of customers."""

from django.contrib import admin

from .models import Customer


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("name", "card_number", "library", "kind", "account_username")
    list_filter = ("library", "kind")
    search_fields = ("=card_number", "name", "email", "account_username")
    show_full_result_count = False
