"""The Inlogaccount menu as one table: every screen and API of the library reads it.

One row per menu item: the console's URL slug and button, the login service's operationId,
the REST API's path, what the audit list says afterwards, the permission and the operation
("py"). The console's menu, its audit list, the helpdesk's fixes and report, the YAML
definitions' check of operations and the REST API's routes are all built from MENU, so a
new item, a renamed label or a changed permission is one edit here and cannot drift.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from bibid.library.staff.perms import Perm


@dataclass(frozen=True)
class MenuItem:
    key: str  # the Outcome's action ("unblock")
    slug: str  # the console's URL slug ("deblokkeren")
    operation_id: str  # the login service's library API operationId ("account_unblock")
    api_method: str  # the library REST API: method and path under
    api_path: str  # /customers/{card_number}/login-account
    label: str | Promise  # the button; one label per item, everywhere
    done_label: str | Promise  # what the audit list says ("gedeblokkeerd")
    perm: Perm  # checked by the operation itself ("check"), shown here
    audit_action: str  # the AuditEvent.action the operation records ("login_unblock")
    kind: Literal["read", "change", "form"]
    # The function in loginaccounts.services, by name: this table is read without Django's
    # apps too (the helpdesk's YAML definitions check their operations against it).
    function: str
    danger: bool = False  # the console draws it as a destructive button
    api_status: int = 200
    # A second step of another item (confirming a link request): not a menu entry of its
    # own, but its audit label, permission and API route come from here too.
    step_of: str = ""

    @property
    def api_operation_id(self) -> str:
        return f"login_{self.operation_id}"

    @property
    def operation(self) -> Callable:
        from . import services

        return getattr(services, self.function)

    @property
    def in_menu(self) -> bool:
        return not self.step_of


MENU: tuple[MenuItem, ...] = (
    MenuItem(
        "show",
        "gegevens",
        "account_show",
        "get",
        "",
        _("Toon inlogaccount gegevens"),
        _("inlogaccount bekeken"),
        Perm.LOGIN_SHOW,
        "login_show",
        "read",
        "show",
    ),
    MenuItem(
        "rights",
        "rechten",
        "account_rights",
        "get",
        "/rights",
        _("Toon inlogaccount-rechten"),
        _("rechten bekeken"),
        Perm.LOGIN_RIGHTS,
        "login_rights",
        "read",
        "rights",
    ),
    MenuItem(
        "history",
        "geschiedenis",
        "account_history",
        "get",
        "/history",
        _("Inloggeschiedenis"),
        _("inloggeschiedenis bekeken"),
        Perm.LOGIN_HISTORY,
        "login_history",
        "read",
        "history",
    ),
    MenuItem(
        "activate",
        "activeren",
        "account_activate",
        "post",
        "/activate",
        _("Activeer inlogaccount"),
        _("inlogaccount geactiveerd"),
        Perm.LOGIN_ACTIVATE,
        "login_activate",
        "change",
        "activate",
    ),
    MenuItem(
        "authorize",
        "autoriseren",
        "account_authorize",
        "post",
        "/authorize",
        _("Autoriseer inlogaccount (klantgegevens en rechten)"),
        _("geautoriseerd"),
        Perm.LOGIN_AUTHORIZE,
        "login_authorize",
        "change",
        "authorize",
    ),
    MenuItem(
        "recovery_email",
        "herstel-e-mail",
        "account_reset_recovery_email",
        "post",
        "/recovery-email",
        _("Reset herstel-e-mailadres naar het adres van de bibliotheek"),
        _("herstel-e-mailadres gereset"),
        Perm.LOGIN_RECOVERY_EMAIL,
        "login_recovery_email",
        "change",
        "reset_recovery_email",
    ),
    MenuItem(
        "password_reset",
        "wachtwoord-herstel",
        "account_send_password_reset",
        "post",
        "/password-reset",
        _("Stuur wachtwoordherstel-e-mail"),
        _("wachtwoordherstel gestuurd"),
        Perm.LOGIN_PASSWORD_RESET,
        "login_password_reset",
        "change",
        "send_password_reset",
        api_status=202,
    ),
    MenuItem(
        "unblock",
        "deblokkeren",
        "account_unblock",
        "post",
        "/unblock",
        _("Deblokkeer"),
        _("gedeblokkeerd"),
        Perm.LOGIN_UNBLOCK,
        "login_unblock",
        "change",
        "unblock",
    ),
    MenuItem(
        "unlink",
        "ontkoppelen",
        "account_unlink",
        "delete",
        "/link",
        _("Ontkoppel inlogaccount"),
        _("inlogaccount ontkoppeld"),
        Perm.LOGIN_UNLINK,
        "login_unlink",
        "change",
        "unlink",
        danger=True,
    ),
    MenuItem(
        "generate",
        "genereren",
        "account_generate",
        "post",
        "",
        _("Genereer inlogaccount"),
        _("inlogaccount gegenereerd"),
        Perm.LOGIN_GENERATE,
        "login_generate",
        "form",
        "generate",
        api_status=201,
    ),
    MenuItem(
        "link",
        "koppelen",
        "account_link",
        "post",
        "/link",
        _("Koppel inlogaccount"),
        _("koppelen aangevraagd (wacht op de klant)"),
        Perm.LOGIN_LINK,
        "login_link",
        "form",
        "link",
        api_status=202,
    ),
    MenuItem(
        "link_confirm",
        "koppelen-bevestigen",
        "account_link_confirm",
        "post",
        "/link/confirm",
        _("Koppel"),
        _("inlogaccount gekoppeld"),
        Perm.LOGIN_LINK,
        "login_link_confirm",
        "form",
        "confirm_link",
        api_status=201,
        step_of="link",
    ),
)

BY_KEY = {item.key: item for item in MENU}
BY_SLUG = {item.slug: item for item in MENU}
BY_OPERATION = {item.operation_id: item for item in MENU}
BY_AUDIT_ACTION = {item.audit_action: item for item in MENU}


def by_slug(slug: str) -> MenuItem | None:
    return BY_SLUG.get(slug)


def by_operation(operation_id: str) -> MenuItem | None:
    return BY_OPERATION.get(operation_id)


def by_audit_action(action: str) -> MenuItem | None:
    return BY_AUDIT_ACTION.get(action)


def by_key(key: str) -> MenuItem | None:
    return BY_KEY.get(key)


def entries() -> tuple[MenuItem, ...]:
    """The items the menu shows, in its order (a second step is reached from its first)."""
    return tuple(item for item in MENU if item.in_menu)


def of_kind(kind: str) -> tuple[MenuItem, ...]:
    return tuple(item for item in entries() if item.kind == kind)


# The operations a helpdesk fix may carry out (the YAML definitions name them): everything
# that changes something, the reads not (a diagnosis already read what it needs).
FIX_OPERATIONS = frozenset(item.operation_id for item in entries() if item.kind != "read")
