"""Service sessions and back-channel deliveries in the identity admin (read only)."""

from django.contrib import admin

from .models import LogoutDelivery, ServiceSession


@admin.register(ServiceSession)
class ServiceSessionAdmin(admin.ModelAdmin):
    list_display = ["account", "application", "created_at", "expires_at", "ended_at", "end_reason"]
    list_filter = ["application", "end_reason"]
    search_fields = ["account__username", "sid"]
    readonly_fields = [f.name for f in ServiceSession._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(LogoutDelivery)
class LogoutDeliveryAdmin(admin.ModelAdmin):
    list_display = ["client_id", "uri", "created_at", "attempts", "delivered_at", "last_error"]
    readonly_fields = [f.name for f in LogoutDelivery._meta.fields]

    def has_add_permission(self, request):
        return False
