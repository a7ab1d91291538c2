"""The automated checks the procedures name, as small registered classes.

Each reads the typed Context (never the network: identity was asked once, before) and
returns what it found (`Found`: code, summary, evidence), usually nothing or one thing. It
declares the codes it can find (`codes`): the system check (system_checks.py) holds every
definition's routes against them. Where a finding sits in the seed's procedure and what
follows it is the definition's business, not the check's.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from bibid.common import words
from bibid.library.subscriptions.models import Membership

from .context import Context
from .findings import Found

REGISTRY: dict[str, type[Check]] = {}


def register(cls: type[Check]) -> type[Check]:
    REGISTRY[cls.name] = cls
    return cls


# Moments go into sentences ("geblokkeerd tot %(at)s."): words.moment ends in a digit in
# every language, so the sentence's own period is never a second one after "a.m.".
def when(value: datetime | str | None) -> str:
    return words.moment(value) if value else "?"


def day(value) -> str:
    return words.day(value, short=False) if value else "?"


def _hm(value: datetime) -> str:
    return words.clock_time(value)


# Lazy: these tables are read when a check runs, in the language of that request, not in
# the language that happened to be active when the module was imported.
STATES = {
    "active": gettext_lazy("lopend"),
    "ended": gettext_lazy("afgelopen"),
    "cancelled": gettext_lazy("opgezegd"),
    "future": gettext_lazy("nog niet begonnen"),
    "pending": gettext_lazy("wacht op activering"),
    "lapsed": gettext_lazy("vervallen (niet geactiveerd)"),
}


class Check:
    name = ""
    codes: tuple[str, ...] = ()

    def run(self, ctx: Context) -> list[Found]:
        raise NotImplementedError


@register
class ColleagueRule(Check):
    """The seed's LET OP: the login data of colleagues and volunteers stays theirs."""

    name = "colleague_rule"
    codes = ("not-allowed-colleague",)

    def run(self, ctx):
        if ctx.allowed:
            return []
        return [
            Found(
                "not-allowed-colleague",
                _(
                    "Dit is een collega of vrijwilliger: hun inlogaccount kun je niet inzien. "
                    "Laat de collega of vrijwilliger zelf inloggen in het bibliotheeksysteem."
                ),
            )
        ]


@register
class SubscriptionActive(Check):
    name = "subscription_active"
    codes = ("subscription-inactive",)

    def run(self, ctx):
        if ctx.membership is not None:
            return []
        latest = ctx.latest.subscription if ctx.latest else None
        evidence = (
            (
                _("Laatste abonnement: %(type)s, %(start)s t/m %(end)s, %(state)s.")
                % {
                    "type": latest.type.name,
                    "start": day(latest.start),
                    "end": day(latest.end),
                    "state": STATES.get(latest.state, latest.state),
                },
            )
            if latest
            else (_("Deze klant heeft geen abonnement."),)
        )
        return [
            Found(
                "subscription-inactive",
                _(
                    "Het abonnement loopt niet: zonder lopend abonnement geeft de bibliotheek "
                    "geen rechten en werkt inloggen in Mijn Menu niet."
                ),
                evidence,
                question=_(
                    "Bespreek met de klant het abonnement te verlengen of een nieuw "
                    "abonnement te nemen."
                ),
            )
        ]


REMOVED_BECAUSE = {
    "purged": gettext_lazy("nooit geactiveerd en na 24 uur verwijderd"),
    "deleted": gettext_lazy("door de klant zelf verwijderd"),
    "unlinked_by_library": gettext_lazy("door de bibliotheek ontkoppeld"),
    "unlinked_by_patron": gettext_lazy("door de klant zelf ontkoppeld"),
}


@register
class LoginAccountExists(Check):
    name = "login_account_exists"
    codes = ("no-login-account", "account-not-linked", "login-account-deleted")

    def run(self, ctx):
        if ctx.linked:
            return []
        typed = ctx.typed
        other_ref = ctx.typed_linked_here_to
        if typed and other_ref and other_ref != ctx.customer.card_number:
            return []  # the username check says where that account is linked
        if typed:
            # Rule L5: identity says nothing about a name not linked to this library (not
            # even whether it exists), so the library cannot tell. The seed's "*": if it is
            # the customer's own account, link it; the patron proves it (rule L2).
            return [
                Found(
                    "account-not-linked",
                    _(
                        "Er is geen inlogaccount gekoppeld. De klant typt %(t)s: koppel dat "
                        "inlogaccount als het van de klant is."
                    )
                    % {"t": typed.username},
                    (
                        _("De klant typt %(t)s; aan deze klant is geen inlogaccount gekoppeld.")
                        % {"t": typed.username},
                    ),
                    question=_(
                        "Vraag de klant om de code uit de e-mail, of laat de klant zelf "
                        "inloggen op het scherm."
                    ),
                    args={"username": typed.username},
                    label=_("Koppel %(u)s") % {"u": typed.username},
                )
            ]
        removed = ctx.status.removed if ctx.status else None
        # identity says at once why the link is gone (its status answer); the library's own
        # record of the feed's purge message is the fallback for an older removal.
        purged = (
            removed is not None and removed.kind == "account_deleted" and removed.reason == "purged"
        )
        if purged or (removed is None and ctx.purged_at is not None):
            name = (removed.username if purged else ctx.purged_username) or "?"
            at = removed.at if purged else ctx.purged_at
            return [
                Found(
                    "login-account-deleted",
                    _(
                        "Het inlogaccount is nooit geactiveerd en na 24 uur verwijderd. Maak een "
                        "nieuw aan."
                    ),
                    (
                        _("Inlogaccount %(u)s verwijderd op %(at)s (niet geactiveerd).")
                        % {"u": name, "at": when(at)},
                    ),
                    label=_("Genereer een nieuw inlogaccount"),
                )
            ]
        evidence = [
            _("Bij de inlogdienst is niets aan pasnummer %(c)s gekoppeld.")
            % {"c": ctx.customer.card_number}
        ]
        if removed is not None:
            evidence.append(
                _("Het vorige inlogaccount %(u)s is op %(at)s %(why)s.")
                % {
                    "u": removed.username or "?",
                    "at": when(removed.at),
                    "why": REMOVED_BECAUSE.get(removed.reason, _("ontkoppeld")),
                }
            )
        return [
            Found("no-login-account", _("Deze klant heeft geen inlogaccount."), tuple(evidence))
        ]


@register
class LoginAccountActive(Check):
    name = "login_account_active"
    codes = ("login-account-inactive",)

    def run(self, ctx):
        account = ctx.account
        if not ctx.linked or account is None or account.state == "active":
            return []
        return [
            Found(
                "login-account-inactive",
                _(
                    "Het inlogaccount %(u)s is nog niet geactiveerd; zonder activering wordt het "
                    "na 24 uur verwijderd."
                )
                % {"u": account.username},
                (
                    _("Aangemaakt op %(at)s, nog niet geactiveerd.")
                    % {"at": when(account.created_at)},
                ),
            )
        ]


@register
class PasswordSet(Check):
    """An active account without a password (activated at the desk, the mail to choose one
    never used): every sign-in fails, and identity records it as `no_password`. The mail
    to choose one goes to the recovery address: without one, that comes first (set it to
    the library's address, or ask the customer for one)."""

    name = "password_set"
    codes = ("password-not-set", "password-not-set-no-recovery-email", "no-email-address")

    def run(self, ctx):
        account = ctx.account
        if not ctx.linked or account is None or account.state != "active" or account.has_password:
            return []
        tries = [
            e for e in ctx.status.recent_events if e.kind == "login" and e.reason == "no_password"
        ]
        evidence = [
            _("Geactiveerd op %(at)s; er is nog nooit een wachtwoord gekozen.")
            % {"at": when(account.activated_at)}
        ]
        if tries:
            evidence.append(
                ngettext(
                    "%(n)d keer geprobeerd in te loggen zonder wachtwoord, laatst op %(at)s.",
                    "%(n)d keer geprobeerd in te loggen zonder wachtwoord, laatst op %(at)s.",
                    len(tries),
                )
                % {"n": len(tries), "at": when(tries[0].at)}
            )
        summary = _(
            "Het inlogaccount is actief, maar de klant heeft nog geen wachtwoord "
            "gekozen: inloggen kan pas daarna."
        )
        if account.recovery_email:
            return [
                Found(
                    "password-not-set",
                    summary,
                    tuple(evidence),
                    question=_(
                        "Laat de klant de mail openen en een wachtwoord kiezen (kijk ook "
                        "in de spam-box)."
                    ),
                    label=_("Stuur opnieuw een mail om een wachtwoord te kiezen"),
                )
            ]
        evidence.append(_("Er is geen herstel-e-mailadres om de mail naar te sturen."))
        if ctx.customer.email:
            return [
                Found(
                    "password-not-set-no-recovery-email",
                    summary,
                    tuple(evidence),
                    question=_("Daarna gaat de mail om een wachtwoord te kiezen naar dat adres."),
                    label=_("Zet herstel-e-mailadres op %(e)s") % {"e": ctx.customer.email},
                )
            ]
        evidence.append(_("Ook in het bibliotheeksysteem staat geen e-mailadres."))
        return [
            Found(
                "no-email-address",
                summary,
                tuple(evidence),
                question=_(
                    "Vraag de klant om een e-mailadres, zet het bij de klantgegevens en "
                    "diagnoseer opnieuw."
                ),
            )
        ]


@register
class RightUsername(Check):
    """Step 1 (and the e-book procedure's step 3): does the customer use the linked
    account? Only answerable when the staff member entered what the customer types."""

    name = "right_username"
    codes = ("wrong-username", "linked-to-other-family-member", "other-account-in-use")

    def run(self, ctx):
        typed = ctx.typed
        if not typed or typed.is_linked_account:
            return []
        linked = ctx.account.username if ctx.account else None
        other_ref = ctx.typed_linked_here_to
        if not other_ref or other_ref == ctx.customer.card_number:
            # A name not linked to this library (rule L5: identity does not say whether it
            # exists), or the account of a colleague or volunteer here (not named, the
            # colleague rule): all the library knows is that it is not this customer's.
            if not linked:
                return []  # no account at all: the account check says what to do
            return [
                Found(
                    "wrong-username",
                    _(
                        "De klant typt %(t)s; dat is niet het inlogaccount dat aan deze klant "
                        "gekoppeld is (%(u)s)."
                    )
                    % {"t": typed.username, "u": linked},
                    (
                        _("Getypt: %(t)s. Gekoppeld inlogaccount: %(u)s.")
                        % {"t": typed.username, "u": linked},
                    ),
                    question=_(
                        "Vertel de klant de gebruikersnaam %(u)s (ook een pasnummer werkt "
                        "als gebruikersnaam)."
                    )
                    % {"u": linked},
                )
            ]
        account_name = typed.username_of_account or typed.username
        member = ctx.family_member(other_ref)
        if member is not None:
            return [
                Found(
                    "linked-to-other-family-member",
                    _(
                        "Het inlogaccount %(u)s hoort bij deze klant, maar is gekoppeld aan "
                        "%(name)s (%(role)s) op hetzelfde abonnement."
                    )
                    % {
                        "u": account_name,
                        "name": member.name,
                        "role": Membership.Role(member.role).label,
                    },
                    (
                        _("%(u)s is gekoppeld aan pasnummer %(c)s (%(name)s).")
                        % {"u": account_name, "c": member.card_number, "name": member.name},
                    ),
                    question=_(
                        "Controleer wie wie is; de klant bevestigt daarna met de code uit "
                        "de e-mail of door zelf in te loggen."
                    ),
                    args={"username": account_name, "unlink_from": member.card_number},
                    label=_("Koppel %(u)s aan deze klant") % {"u": account_name},
                )
            ]
        return [
            Found(
                "other-account-in-use",
                _("De klant logt in met een ander inlogaccount (%(t)s) dan het gekoppelde (%(u)s).")
                % {"t": account_name, "u": linked or "-"},
                (
                    _("%(t)s is %(where)s.")
                    % {
                        "t": account_name,
                        "where": _("gekoppeld aan een andere klant van deze bibliotheek"),
                    },
                ),
                question=_(
                    "Laat de klant inloggen met %(u)s, of vraag welk account de klant "
                    "wil gebruiken."
                )
                % {"u": linked or "-"},
            )
        ]


def _rights_text(codes) -> str:
    # Words, not codes: "e-books en luisterboeken" (the one table in bibid.common.words).
    return words.rights_text(codes)


def _expected_key(right: dict) -> tuple:
    return (
        right.get("code"),
        datetime.fromisoformat(right["valid_until"]).date() if right.get("valid_until") else None,
        tuple(sorted((right.get("limits") or {}).items())),
    )


@register
class AuthorizationCurrent(Check):
    name = "authorization_current"
    codes = ("authorization-outdated",)

    def run(self, ctx):
        if not ctx.linked:
            return []
        pushed = ctx.status.authorization
        expected = ctx.expected
        same_rights = pushed is not None and sorted(r.key() for r in pushed.rights) == sorted(
            _expected_key(r) for r in expected["rights"]
        )
        same_customer = pushed is not None and pushed.customer.get("subscription_end") == expected[
            "customer"
        ].get("subscription_end")
        if pushed is not None and pushed.authorized_at and same_rights and same_customer:
            return []
        evidence = [
            _("Doorgegeven op %(at)s: rechten %(r)s.")
            % {"at": when(pushed.authorized_at), "r": _rights_text(r.code for r in pushed.rights)}
            if pushed is not None and pushed.authorized_at
            else _("Nog nooit klantgegevens doorgegeven aan de inlogdienst."),
            _("Volgens het abonnement nu: rechten %(r)s.")
            % {"r": _rights_text(r["code"] for r in expected["rights"])},
        ]
        waiting = ctx.push_pending
        if waiting is not None:
            evidence.append(
                ngettext(
                    "Wacht in de wachtrij om doorgegeven te worden sinds %(at)s (%(n)d poging).",
                    "Wacht in de wachtrij om doorgegeven te worden sinds %(at)s (%(n)d pogingen).",
                    waiting.attempts,
                )
                % {"at": when(waiting.requested_at), "n": waiting.attempts}
            )
        return [
            Found(
                "authorization-outdated",
                _("De inlogdienst heeft verouderde klantgegevens en rechten."),
                tuple(evidence),
            )
        ]


@register
class SubscriptionHasEbooks(Check):
    name = "subscription_has_ebooks"
    codes = ("subscription-without-ebooks",)

    def run(self, ctx):
        membership = ctx.membership
        if membership is None:
            return []  # subscription-inactive says it
        codes = {r.get("code") for r in membership.subscription.type.rights_for(membership.role)}
        if "ebooks" in codes:
            return []
        return [
            Found(
                "subscription-without-ebooks",
                _("Het abonnement %(t)s geeft geen recht op e-books.")
                % {"t": membership.subscription.type.name},
                (
                    _("Rechten van %(t)s voor een %(role)s: %(r)s.")
                    % {
                        "t": membership.subscription.type.name,
                        "role": membership.get_role_display(),
                        "r": _rights_text(codes),
                    },
                ),
                question=_("Bespreek een abonnement met e-books (zoals Compact of Compleet)."),
            )
        ]


@register
class NotBlocked(Check):
    name = "not_blocked"
    codes = ("login-blocked",)

    def run(self, ctx):
        account = ctx.account
        if account is None:
            return []
        until = account.block.blocked_until
        if until is None or until <= ctx.now:
            return []
        failures = account.block.failures
        return [
            Found(
                "login-blocked",
                _("Inloggen is tijdelijk geblokkeerd na te veel verkeerde wachtwoorden."),
                (
                    ngettext(
                        "%(n)d mislukte poging; geblokkeerd tot %(at)s.",
                        "%(n)d mislukte pogingen; geblokkeerd tot %(at)s.",
                        failures,
                    )
                    % {"n": failures, "at": when(until)},
                ),
            )
        ]


@register
class PasswordFailures(Check):
    """Wrong passwords today (the library's day), counted since the patron last signed in
    or chose a password: once the reset worked, the old failures are history, not a cause."""

    name = "password_failures"
    codes = ("password-failures",)

    def run(self, ctx):
        if ctx.status is None:
            return []
        today = ctx.today  # the library's day, not UTC's
        fresh_start = ctx.account.password_changed_at if ctx.account else None
        failures = []
        for event in ctx.status.recent_events:  # newest first
            if event.kind != "login":
                continue  # a service's report (LOGOUT_DETECTED) is no sign-in attempt
            if event.outcome == "success" or (fresh_start and event.at <= fresh_start):
                break
            if event.reason == "wrong_password" and timezone.localdate(event.at) == today:
                failures.append(event)
        if not failures:
            return []
        first, last = failures[-1].at, failures[0].at
        return [
            Found(
                "password-failures",
                _(
                    "De klant typt vandaag een verkeerd wachtwoord: een nieuw wachtwoord kiezen "
                    "lost het op."
                ),
                (
                    ngettext(
                        "%(n)d mislukte poging vandaag %(a)s-%(b)s, onjuist wachtwoord.",
                        "%(n)d mislukte pogingen vandaag %(a)s-%(b)s, onjuist wachtwoord.",
                        len(failures),
                    )
                    % {"n": len(failures), "a": _hm(first), "b": _hm(last)},
                ),
                question=_(
                    "Laat de klant de mail openen en een nieuw wachtwoord kiezen (kijk ook "
                    "in de spam-box)."
                ),
            )
        ]


@register
class PasskeyTrouble(Check):
    """Passkey sign-ins that failed since the patron last signed in (identity's LoginEvent,
    details.method "passkey"): a passkey removed from the account that the device still
    offers, or one refused (its signature or owner did not check out). The password and its
    reset flow always remain; the patron adds the passkey again once signed in."""

    name = "passkey_trouble"
    codes = ("passkey-removed", "passkey-refused")
    REASONS = {"passkey_removed": "passkey-removed", "passkey_invalid": "passkey-refused"}

    def run(self, ctx):
        if ctx.status is None:
            return []
        tries: dict[str, list] = {}
        for event in ctx.status.recent_events:  # newest first
            if event.kind != "login":
                continue
            if event.outcome == "success":
                break  # signed in since: what came before is history, not the cause
            code = self.REASONS.get(event.reason)
            if code is not None:
                tries.setdefault(code, []).append(event)
        found = []
        if "passkey-removed" in tries:
            events = tries["passkey-removed"]
            found.append(
                Found(
                    "passkey-removed",
                    _(
                        "De klant probeert in te loggen met een passkey die uit het "
                        "inlogaccount is verwijderd; het apparaat biedt hem nog aan."
                    ),
                    self._evidence(events),
                    question=_(
                        "Laat de klant inloggen met gebruikersnaam en wachtwoord (of via "
                        "Wachtwoord vergeten), de oude passkey van het apparaat halen en in "
                        "Mijn inlogaccount een nieuwe toevoegen."
                    ),
                )
            )
        if "passkey-refused" in tries:
            events = tries["passkey-refused"]
            found.append(
                Found(
                    "passkey-refused",
                    _("De inlogdienst weigert de passkey van de klant."),
                    self._evidence(events),
                    question=_(
                        "Laat de klant inloggen met gebruikersnaam en wachtwoord en de passkey "
                        "in Mijn inlogaccount verwijderen en opnieuw toevoegen."
                    ),
                )
            )
        return found

    @staticmethod
    def _evidence(events) -> tuple[str, ...]:
        latest = events[0]
        name = (latest.details or {}).get("name")
        lines = [
            ngettext(
                "%(n)d mislukte poging met een passkey sinds de klant laatst inlogde, laatst "
                "op %(at)s.",
                "%(n)d mislukte pogingen met een passkey sinds de klant laatst inlogde, laatst "
                "op %(at)s.",
                len(events),
            )
            % {"n": len(events), "at": when(latest.at)},
            _("Browser: %(b)s") % {"b": latest.browser or "?"},
        ]
        if name:
            lines.append(_("Passkey: %(name)s") % {"name": name})
        return tuple(lines)


@register
class RecoveryEmail(Check):
    name = "recovery_email"
    codes = ("recovery-email-missing", "recovery-email-differs", "no-email-address")

    def run(self, ctx):
        if not ctx.linked or ctx.account is None:
            return []
        recovery = (ctx.account.recovery_email or "").strip().lower()
        library = (ctx.customer.email or "").strip().lower()
        if recovery and (not library or recovery == library):
            return []
        if not recovery and not library:
            return [
                Found(
                    "no-email-address",
                    _("Er is geen e-mailadres om een resetmail naar te sturen."),
                    (_("Geen herstel-e-mailadres en geen e-mailadres in het bibliotheeksysteem."),),
                    question=_(
                        "Vraag de klant om een (ander) e-mailadres, zet het bij de "
                        "klantgegevens en reset dan het herstel-e-mailadres."
                    ),
                )
            ]
        label = _("Zet herstel-e-mailadres op %(e)s") % {"e": ctx.customer.email}
        if not recovery:
            return [
                Found(
                    "recovery-email-missing",
                    _(
                        "Het inlogaccount heeft geen herstel-e-mailadres: mails voor een nieuw "
                        "wachtwoord komen nergens aan."
                    ),
                    (
                        _("E-mailadres in het bibliotheeksysteem: %(e)s.")
                        % {"e": ctx.customer.email},
                    ),
                    label=label,
                )
            ]
        return [
            Found(
                "recovery-email-differs",
                _(
                    "Het herstel-e-mailadres is een ander adres dan de bibliotheek kent: de mail "
                    "gaat misschien naar een oud adres."
                ),
                (
                    _("Herstel-e-mailadres: %(r)s; bij de bibliotheek: %(e)s.")
                    % {"r": ctx.account.recovery_email, "e": ctx.customer.email},
                ),
                label=label,
            )
        ]


@register
class BrowserInterference(Check):
    name = "browser_interference"
    codes = ("browser-interference",)

    def run(self, ctx):
        if ctx.status is None:
            return []
        # A report after a back-channel logout is an ordinary sign-out elsewhere (another
        # service, a new password on another device): not the browser's doing.
        reports = [
            e
            for e in ctx.status.recent_events
            if e.kind == "logout_detected" and (e.details or {}).get("reason") != "backchannel"
        ]
        if not reports:
            return []
        latest = reports[0]
        return [
            Found(
                "browser-interference",
                _(
                    "De sessie van de klant wordt steeds beëindigd in de browser: waarschijnlijk "
                    "een adblocker, VPN of niet-ondersteunde browser."
                ),
                (
                    ngettext(
                        "%(n)d keer AUTHENTICATION.LOGOUT_DETECTED, laatst op %(at)s bij %(s)s.",
                        "%(n)d keer AUTHENTICATION.LOGOUT_DETECTED, laatst op %(at)s bij %(s)s.",
                        len(reports),
                    )
                    % {"n": len(reports), "at": when(latest.at), "s": latest.service or "?"},
                    _("Browser: %(b)s") % {"b": latest.browser or "?"},
                ),
                question=_(
                    "Vraag de klant een adblocker of VPN uit te zetten en Edge, Chrome, "
                    "Safari of Firefox te gebruiken."
                ),
            )
        ]
