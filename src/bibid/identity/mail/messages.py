"""Composing the e-mails: templates per kind, in the patron's language, with the links made
now (from the configured public URL, never from a request's Host header)."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from bibid.identity.accounts import tokens
from bibid.identity.accounts.models import Account

from .models import OutboxMessage


@dataclass(frozen=True)
class Composed:
    subject: str
    text: str
    html: str


def _link(name: str, token: str) -> str:
    return settings.BIBID_PUBLIC_URLS["identity"] + reverse(name, args=[token])


def _subject(message: OutboxMessage) -> str:
    kind, notice = message.kind, message.data.get("notice", "")
    subjects = {
        OutboxMessage.Kind.ACTIVATION: _("Activeer je inlogaccount van de bibliotheek"),
        OutboxMessage.Kind.CHOOSE_PASSWORD: _("Kies een wachtwoord voor je inlogaccount"),
        OutboxMessage.Kind.PASSWORD_RESET: _("Een nieuw wachtwoord voor je inlogaccount"),
        OutboxMessage.Kind.USERNAME_REMINDER: _("Je gebruikersnaam van de bibliotheek"),
        OutboxMessage.Kind.EMAIL_CHANGE: _("Bevestig je nieuwe e-mailadres"),
    }
    notices = {
        "linked": _("Je inlogaccount is gekoppeld aan een bibliotheek"),
        "password_changed": _("Je wachtwoord is gewijzigd"),
        "email_change_requested": _("Je e-mailadres wordt gewijzigd"),
        "email_changed": _("Je e-mailadres is gewijzigd"),
        "username_changed": _("Je gebruikersnaam is gewijzigd"),
        "account_deleted": _("Je inlogaccount is verwijderd"),
        "passkey_added": _("Er is een passkey toegevoegd aan je inlogaccount"),
        "passkey_removed": _("Er is een passkey verwijderd van je inlogaccount"),
        "link_code": _("Je code om je inlogaccount te koppelen"),
        "recovery_email_set_by_library": _(
            "Een bibliotheek heeft je herstel-e-mailadres veranderd"
        ),
    }
    return str(subjects.get(kind) or notices.get(notice) or _("Bericht van de bibliotheek"))


def compose(message: OutboxMessage, account: Account | None) -> Composed:
    """Render one message; links with tokens are made here, at sending time."""
    context = {
        "account": account,
        "data": message.data,
        "identity_url": settings.BIBID_PUBLIC_URLS["identity"],
        "help_url": settings.BIBID_PUBLIC_URLS["identity"] + reverse("signin:help"),
    }
    kind = message.kind
    if kind in (OutboxMessage.Kind.ACTIVATION, OutboxMessage.Kind.CHOOSE_PASSWORD):
        context["link"] = _link(
            "selfservice:activate", tokens.make(account, tokens.Purpose.ACTIVATION)
        )
    elif kind == OutboxMessage.Kind.PASSWORD_RESET:
        context["link"] = _link(
            "selfservice:reset", tokens.make(account, tokens.Purpose.PASSWORD_RESET)
        )
    elif kind == OutboxMessage.Kind.EMAIL_CHANGE:
        context["link"] = _link(
            "selfservice:confirm_email",
            tokens.make(account, tokens.Purpose.EMAIL_CHANGE, new_email=message.to),
        )
    elif message.data.get("notice") == "recovery_email_set_by_library" and account:
        context["undo_link"] = _link(
            "selfservice:not_me", tokens.undo_token(account, message.data.get("event"))
        )
    template = (
        f"mail/{kind}"
        if kind != OutboxMessage.Kind.NOTICE
        else f"mail/notice_{message.data.get('notice', 'generic')}"
    )
    language = message.language if message.language in dict(settings.LANGUAGES) else "nl"
    with translation.override(language):
        return Composed(
            subject=_subject(message),
            text=render_to_string(f"{template}.txt", context).strip() + "\n",
            html=render_to_string(f"{template}.html", context),
        )


def as_email(message: OutboxMessage, composed: Composed) -> EmailMultiAlternatives:
    email = EmailMultiAlternatives(
        subject=composed.subject,
        body=composed.text,
        to=[message.to],
        headers={
            "Auto-Submitted": "auto-generated",
            # The same id at every retry: a receiver that saw it already can drop it.
            "Message-ID": f"<outbox-{message.pk}@{settings.BIBID_MAIL_DOMAIN}>",
        },
    )
    email.attach_alternative(composed.html, "text/html")
    return email
