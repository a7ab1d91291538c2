"""Operators' view of libraries, their links and the change feed."""

from django.contrib import admin

from bibid.identity.accounts.actors import Actor
from bibid.identity.accounts.admin import ReadOnlyAdmin

from .models import Change, Library, LibraryEvent, Link
from .services import remove_link


@admin.register(Library)
class LibraryAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "card_prefixes", "application", "created_at")
    search_fields = ("name", "code")
    # Prefixes are set with `bibid identity card_prefixes`, which refuses overlaps.
    readonly_fields = ("application", "created_at", "card_prefixes")

    def has_add_permission(self, request):
        # Registered with `bibid identity add_library`, which shows the secret once.
        return False


@admin.register(Link)
class LinkAdmin(ReadOnlyAdmin):
    list_display = ("library", "customer_ref", "account", "linked_at", "authorized_at")
    list_filter = ("library",)
    search_fields = ("=customer_ref", "=card_number", "account__username")
    list_select_related = ("library", "account")
    show_full_result_count = False

    def has_delete_permission(self, request, obj=None):
        # Operators may remove a wrong link; the library learns it from its changes feed.
        return request.user.is_superuser

    def delete_model(self, request, obj):
        remove_link(link=obj, actor=Actor.operator(request.user.get_username()))

    def delete_queryset(self, request, queryset):
        for link in queryset.select_related("library", "account"):
            self.delete_model(request, link)


@admin.register(Change)
class ChangeAdmin(ReadOnlyAdmin):
    list_display = ("id", "library", "kind", "customer_ref", "at")
    list_filter = ("library", "kind")
    list_select_related = ("library",)
    show_full_result_count = False


@admin.register(LibraryEvent)
class LibraryEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "library", "operation", "data")
    list_filter = ("library", "operation")
    list_select_related = ("library",)
    show_full_result_count = False
