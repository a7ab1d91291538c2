"""Plain Dutch (or English) words for the codes the console shows."""

from django import template
from django.utils.translation import gettext_lazy as _

from bibid.common import devices
from bibid.library.loginaccounts import menu

register = template.Library()

REASONS = {
    "ok": _("gelukt"),
    "unknown_username": _("onbekende gebruikersnaam"),
    "wrong_password": _("verkeerd wachtwoord"),
    "inactive": _("account niet actief"),
    "no_password": _("nog geen wachtwoord gekozen"),
    "throttled": _("te vaak geprobeerd (even wachten)"),
    "reported": _("gemeld door de dienst"),
    "passkey_unknown": _("onbekende passkey"),
    "passkey_removed": _("verwijderde passkey (staat nog op het apparaat)"),
    "passkey_invalid": _("passkey geweigerd"),
}
KINDS = {
    "login": _("inloggen"),
    # A sign-in with a passkey instead of the password (identity's details.method).
    "login_passkey": _("inloggen met passkey"),
    "logout": _("uitloggen"),
    "service": _("ingelogd bij dienst"),
    "logout_detected": _("uitgelogd (AUTHENTICATION.LOGOUT_DETECTED)"),
    "rights_missing": _("recht ontbrak (lenen geweigerd)"),
    "not_linked": _("niet gekoppeld bij Mijn Menu"),
}
ACTIONS = {
    "staff_sign_in": _("medewerker ingelogd"),
    "customer_create": _("klant ingeschreven"),
    "customer_update": _("klantgegevens gewijzigd"),
    "subscription_create": _("abonnement afgesloten"),
    "subscription_update": _("abonnement gewijzigd"),
    "login_status": _("inlogstatus opgevraagd (diagnose)"),
    "diagnosis": _("helpdesk: diagnose"),
    "diagnosis_answer": _("helpdesk: antwoord van de klant"),
    "feed_account_deleted": _("inlogaccount verwijderd (inlogdienst)"),
    "feed_username_changed": _("gebruikersnaam gewijzigd (inlogdienst)"),
    "feed_link_removed": _("koppeling verwijderd (inlogdienst)"),
    "feed_link_created": _("koppeling gemaakt (inlogdienst)"),
    "self_service_signup": _("online aangemeld"),
    "customer_kind": _("soort klant gewijzigd (collega, vrijwilliger, klant)"),
    # The Inlogaccount menu's items say it in the words of the one table.
    **{item.audit_action: item.done_label for item in menu.MENU},
}


@register.filter
def reason_label(code: str) -> str:
    return REASONS.get(code, code)


@register.filter
def kind_label(code: str) -> str:
    return KINDS.get(code, code)


@register.filter
def event_label(event) -> str:
    """An event's kind, saying how a sign-in was made (identity's details.method)."""
    details = event.get("details") if isinstance(event, dict) else getattr(event, "details", None)
    kind = event.get("kind") if isinstance(event, dict) else event.kind
    if kind == "login" and (details or {}).get("method") == "passkey":
        kind = "login_passkey"
    return KINDS.get(kind, kind)


@register.filter
def action_label(code: str) -> str:
    return ACTIONS.get(code, code)


@register.filter
def device(user_agent: str) -> str:
    """A browser string in words ("Firefox op Windows"); the string itself stays in a title."""
    return devices.describe(user_agent)


@register.filter
def local_time(value) -> str:
    """An ISO time from the login service, shown in local time like every other time here."""
    from datetime import datetime

    from django.utils import formats, timezone

    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if timezone.is_naive(moment):
        return formats.date_format(moment, "SHORT_DATETIME_FORMAT")
    return formats.date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")
