"""The second step in each service's admin: operators see who has which factor and reset
one (audited); the events are read-only."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import services
from .models import Authenticator, MfaEvent


@admin.register(Authenticator)
class AuthenticatorAdmin(admin.ModelAdmin):
    list_display = ("user", "kind", "name", "created_at", "last_used_at")
    list_filter = ("kind",)
    search_fields = ("name",)
    readonly_fields = ("user", "kind", "name", "created_at", "last_used_at")
    fields = readonly_fields
    actions = ["reset_second_step"]

    def has_add_permission(self, request) -> bool:
        return False  # a factor is added by its owner only, in the second step's pages

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        # Removing a factor goes through the audited reset below; without the delete
        # permission Django's own "delete selected" (which would skip the audit) is not offered.
        return False

    @admin.action(description=_("Herstel de tweede stap van deze gebruikers"))
    def reset_second_step(self, request, queryset) -> None:
        actor = f"operator:{request.user.get_username()}"
        users = {a.user for a in queryset.select_related("user")}
        for user in users:
            services.reset(user=user, actor=actor, detail={"via": "admin"})
        self.message_user(
            request,
            ngettext(
                "De tweede stap van %(n)d gebruiker is hersteld; die stelt bij de volgende "
                "keer inloggen een nieuwe in.",
                "De tweede stap van %(n)d gebruikers is hersteld; zij stellen bij de volgende "
                "keer inloggen een nieuwe in.",
                len(users),
            )
            % {"n": len(users)},
            messages.SUCCESS,
        )


@admin.register(MfaEvent)
class MfaEventAdmin(admin.ModelAdmin):
    list_display = ("at", "who", "actor", "action", "result")
    list_filter = ("action", "result")
    search_fields = ("who", "actor")
    readonly_fields = ("at", "user", "who", "actor", "action", "result", "detail")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
