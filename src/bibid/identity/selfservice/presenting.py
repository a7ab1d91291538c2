"""What Mijn inlogaccount says about libraries, in plain Dutch words for the patron."""

from __future__ import annotations

from datetime import date

from django.utils.translation import gettext_lazy as _

from bibid.common import clock
from bibid.identity.accounts.models import AccountEvent
from bibid.identity.libraries.rights import Right

RIGHT_NAMES = {
    "ebooks": _("e-books lenen"),
    "audiobooks": _("luisterboeken lenen"),
}

# The role a library says its staff member had (Bibid-Acting-Role). Identity cannot check it;
# it is shown as the library's claim.
ROLE_NAMES = {
    "desk": _("balie"),
    "helpdesk": _("helpdesk"),
    "manager": _("manager"),
    "system": _("systeem"),
}

# Every kind of account event a library can cause, as the patron reads it.
ACTION_TEXTS = {
    AccountEvent.Kind.CREATED: _("Inlogaccount voor je aangemaakt"),
    AccountEvent.Kind.LINKED: _("Je inlogaccount gekoppeld aan je lidmaatschap"),
    "link_requested": _("Gevraagd je inlogaccount te koppelen"),
    "link_confirmed": _("Koppeling gemaakt nadat jij die bevestigde"),
    AccountEvent.Kind.UNLINKED: _("Koppeling met je inlogaccount verbroken"),
    AccountEvent.Kind.AUTHORIZED: _("Je rechten bijgewerkt (wat je online mag lenen)"),
    AccountEvent.Kind.AUTHORIZED_UNCHANGED: _("Je rechten gecontroleerd (niets veranderd)"),
    AccountEvent.Kind.RECOVERY_EMAIL_SET: _("Je herstel-e-mailadres ingesteld"),
    AccountEvent.Kind.PASSWORD_RESET_SENT: _("Een link gestuurd om een nieuw wachtwoord te kiezen"),
    AccountEvent.Kind.BLOCK_LIFTED: _("De blokkade na verkeerde wachtwoorden opgeheven"),
    AccountEvent.Kind.ACTIVATED: _("Je inlogaccount geactiveerd"),
    AccountEvent.Kind.VIEWED: _("Je inlogaccount bekeken"),
    AccountEvent.Kind.UPDATED: _("Gegevens van je inlogaccount gewijzigd"),
}


def role_name(role: str) -> str:
    return str(ROLE_NAMES.get(role, role or ""))


def action_text(kind: str) -> str:
    text = ACTION_TEXTS.get(kind)
    if text is None:  # a kind added later: its label, never nothing
        labels = dict(AccountEvent.Kind.choices)
        text = labels.get(kind, kind)
    return str(text)


def rights_today(rights: list[dict], *, today: date | None = None) -> list[str]:
    """The rights a link gives today, in plain words; unknown codes as they are."""
    today = today or clock.today()
    names = []
    for data in rights or ():
        try:
            right = Right.from_json(data)
        except (KeyError, TypeError, ValueError):
            continue
        if right.valid_on(today):
            name = str(RIGHT_NAMES.get(right.code, right.code))
            if name not in names:
                names.append(name)
    return names


def describe_actions(actions: list[dict]) -> list[dict]:
    """The library actions of the selector, with the role and the action in words."""
    return [
        {
            **action,
            "role_name": role_name(action.get("role", "")),
            "what": action_text(action.get("kind", "")),
        }
        for action in actions
    ]
