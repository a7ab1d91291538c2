"""Operators' view of sign-in attempts (read only), and the sign-in parts of the account
page: its recent attempts and lifting a sign-in block (registered here, above accounts, so
the accounts layer never imports the sign-in)."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from bibid.identity.accounts.admin import AccountAdmin, ReadOnlyAdmin, operator
from bibid.identity.accounts.models import Account

from .models import LoginEvent
from .selectors import recent_events
from .services import lift_block


class AccountWithSignInsAdmin(AccountAdmin):
    fields = (*AccountAdmin.fields[:-1], "recent_attempts", AccountAdmin.fields[-1])
    readonly_fields = (*AccountAdmin.readonly_fields, "recent_attempts")
    actions = ("lift_blocks",)

    @admin.display(description=_("recente inlogpogingen"))
    def recent_attempts(self, obj: Account):
        rows = recent_events(obj.pk, limit=10)
        return format_html_join(
            "",
            "<div>{} · {} · {} · {}</div>",
            (
                (
                    e.at.strftime("%Y-%m-%d %H:%M:%S"),
                    e.get_reason_display(),
                    e.ip or "",
                    e.user_agent[:60],
                )
                for e in rows
            ),
        ) or _("geen")

    @admin.action(description=_("Blokkade opheffen"))
    def lift_blocks(self, request: HttpRequest, queryset: QuerySet):
        lifted = sum(lift_block(account=a, actor=operator(request)) for a in queryset)
        self.message_user(
            request, _("%(n)d blokkade(s) opgeheven.") % {"n": lifted}, messages.SUCCESS
        )


admin.site.unregister(Account)
admin.site.register(Account, AccountWithSignInsAdmin)


@admin.register(LoginEvent)
class LoginEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "kind", "username", "outcome", "reason", "ip", "user_agent")
    list_filter = ("kind", "outcome", "reason")
    search_fields = ("username", "=ip")
    date_hierarchy = "at"
    show_full_result_count = False
