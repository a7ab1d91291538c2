"""Operators' view of subscription types and subscriptions."""

from django.contrib import admin

from .models import Membership, Subscription, SubscriptionType


@admin.register(SubscriptionType)
class SubscriptionTypeAdmin(admin.ModelAdmin):
    list_display = ("name", "library", "price", "min_age", "max_age", "family", "active")
    list_filter = ("library", "family", "active")


class MembershipInline(admin.TabularInline):
    model = Membership
    raw_id_fields = ("customer",)
    extra = 0


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ("type", "library", "start", "end", "status")
    list_filter = ("library", "status")
    inlines = [MembershipInline]
