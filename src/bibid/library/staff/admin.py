"""Operators' view of staff and the audit trail (read only)."""

from django.contrib import admin

from .models import ApiToken, AuditEvent, Staff


@admin.register(Staff)
class StaffAdmin(admin.ModelAdmin):
    list_display = ("username", "name", "library", "role", "is_active")
    list_filter = ("library", "role", "is_active")
    search_fields = ("username", "name", "email")
    fields = (
        "username",
        "name",
        "email",
        "library",
        "role",
        "customer",
        "is_active",
        "is_staff",
        "is_superuser",
        "last_login",
    )
    readonly_fields = ("last_login",)
    raw_id_fields = ("customer",)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "name", "staff", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("staff", "name", "prefix", "created_at", "last_used_at")
    fields = ("staff", "name", "prefix", "created_at", "last_used_at", "revoked_at")

    def has_add_permission(self, request):
        return False  # made by the staff member, shown once


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("at", "library", "who", "via", "action", "card_number", "result")
    list_filter = ("library", "result", "via", "action")
    search_fields = ("who", "=card_number", "action")
    date_hierarchy = "at"
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
