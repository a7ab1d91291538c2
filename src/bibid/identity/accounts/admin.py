"""Operators' view of login accounts: search, state, events; the password is never shown."""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from bibid.common.guard import lanes as guard

from . import services
from .actors import Actor
from .models import Account, AccountEvent


def operator(request: HttpRequest) -> Actor:
    return Actor.operator(request.user.get_username())


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ("username", "state", "recovery_email", "created_at", "last_login", "is_staff")
    list_filter = ("state", "is_staff")
    search_fields = ("username", "username_key", "recovery_email", "=public_id")
    ordering = ("-created_at",)
    show_full_result_count = False  # a count(*) over millions of accounts on every search
    # No password field at all: operators never see or set a password; a patron chooses it.
    fields = (
        "username",
        "public_id",
        "state",
        "recovery_email",
        "recovery_email_confirmed_at",
        "created_at",
        "activated_at",
        "last_login",
        "block",
        "is_staff",
        "is_superuser",
        "groups",
        "events",
    )
    readonly_fields = (
        "public_id",
        "created_at",
        "activated_at",
        "last_login",
        "block",
        "events",
    )
    filter_horizontal = ("groups",)
    # The sign-in parts (recent attempts, lifting a block) are added by signin/admin.py: the
    # accounts layer does not reach up into the sign-in.

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Accounts are created by libraries (library API) or by patrons, not by hand here.
        return False

    @admin.display(description=_("blokkade"))
    def block(self, obj: Account) -> str:
        info = guard.account_block(obj.username_key)
        if info.blocked_until:
            return _("geblokkeerd tot %(until)s na %(n)d mislukte pogingen") % {
                "until": info.blocked_until.astimezone().strftime("%H:%M:%S"),
                "n": info.failures,
            }
        if info.failures:
            return _("%(n)d mislukte pogingen in het laatste uur") % {"n": info.failures}
        return _("geen")

    @admin.display(description=_("gebeurtenissen"))
    def events(self, obj: Account):
        rows = AccountEvent.objects.filter(account_public_id=obj.public_id)[:20]
        return format_html_join(
            "",
            "<div>{} · {} · {}</div>",
            ((e.at.strftime("%Y-%m-%d %H:%M:%S"), e.get_kind_display(), e.actor) for e in rows),
        ) or _("geen")

    def save_model(self, request, obj, form, change):
        concrete = {f.name for f in Account._meta.concrete_fields}
        services.update_account(
            account=obj,
            actor=operator(request),
            changed=[name for name in form.changed_data if name in concrete],
        )

    def delete_model(self, request, obj):
        services.delete_account(account=obj, actor=operator(request), reason="operator")

    def delete_queryset(self, request, queryset: QuerySet):
        for account in queryset:
            services.delete_account(account=account, actor=operator(request), reason="operator")


class ReadOnlyAdmin(admin.ModelAdmin):
    """Logs are evidence: nobody adds, edits or deletes them by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AccountEvent)
class AccountEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "kind", "username", "actor")
    list_filter = ("kind",)
    search_fields = ("username", "=account_public_id", "actor")
    date_hierarchy = "at"
    show_full_result_count = False
