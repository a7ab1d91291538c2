"""The automated checks the procedures name, as small registered classes.

Each reads the typed Context (never the network: identity was asked once, before) and
returns its findings, usually none or one. The YAML files name them by `name`.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from bibid.library.subscriptions.models import Membership

from .context import Context
from .findings import Finding, Fix

REGISTRY: dict[str, type[Check]] = {}
STEP_LOGIN = "Inloggen lukt niet (single identity), stap %s"
STEP_EBOOKS = "Geen rechten om e-books te lenen, stap %s"


def register(cls: type[Check]) -> type[Check]:
    REGISTRY[cls.name] = cls
    return cls


def when(value: datetime | str | None) -> str:
    if value is None:
        return "?"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")


def day(value) -> str:
    return formats.date_format(value, "DATE_FORMAT") if value else "?"


STATES = {"active": _("lopend"), "ended": _("afgelopen"), "cancelled": _("opgezegd"),
          "future": _("nog niet begonnen"), "pending": _("wacht op activering"),
          "lapsed": _("vervallen (niet geactiveerd)")}


class Check:
    name = ""
    title = ""

    def run(self, ctx: Context) -> list[Finding]:
        raise NotImplementedError


@register
class ColleagueRule(Check):
    """The seed's LET OP: the login data of colleagues and volunteers stays theirs."""

    name = "colleague_rule"

    def run(self, ctx):
        if ctx.allowed:
            return []
        return [Finding(
            "not-allowed-colleague", "Inloggen lukt niet (single identity), LET OP",
            _("Dit is een collega of vrijwilliger: hun inlogaccount kun je niet inzien. "
              "Laat de collega of vrijwilliger zelf inloggen in het bibliotheeksysteem."))]


@register
class SubscriptionActive(Check):
    name = "subscription_active"

    def run(self, ctx):
        if ctx.membership is not None:
            return []
        latest = ctx.latest.subscription if ctx.latest else None
        evidence = (_("Laatste abonnement: %(type)s, %(start)s t/m %(end)s, %(state)s.") % {
            "type": latest.type.name, "start": day(latest.start), "end": day(latest.end),
            "state": STATES.get(latest.state, latest.state)},) if latest else (
            _("Deze klant heeft geen abonnement."),)
        return [Finding(
            "subscription-inactive", STEP_LOGIN % 1,
            _("Het abonnement loopt niet: zonder lopend abonnement geeft de bibliotheek "
              "geen rechten en werkt inloggen in Mijn Menu niet."), evidence,
            question=_("Bespreek met de klant het abonnement te verlengen of een nieuw "
                       "abonnement te nemen."))]


@register
class LoginAccountExists(Check):
    name = "login_account_exists"

    def run(self, ctx):
        if ctx.linked:
            return []
        typed = ctx.typed or {}
        other_ref = ctx.typed_linked_here_to
        if typed.get("username") and other_ref and other_ref != ctx.customer.card_number:
            return []  # the username check says where that account is linked
        if typed.get("username"):
            # Rule L5: identity says nothing about a name not linked to this library (not
            # even whether it exists), so the library cannot tell. The seed's "*": if it is
            # the customer's own account, link it; the patron proves it (rule L2), so this
            # is never one click.
            return [Finding(
                "no-login-account", STEP_LOGIN % 2,
                _("Er is geen inlogaccount gekoppeld. De klant typt %(t)s: koppel dat "
                  "inlogaccount als het van de klant is.") % {"t": typed["username"]},
                (_("De klant typt %(t)s; dat is niet het inlogaccount dat aan deze klant "
                   "gekoppeld is (er is er geen).") % {"t": typed["username"]},),
                Fix("account_link", _("Koppel %(u)s") % {"u": typed["username"]},
                    one_click=False, args={"username": typed["username"]}),
                question=_("Vraag de klant om de code uit de e-mail, of laat de klant zelf "
                           "inloggen op het scherm."))]
        if ctx.purged_at is not None:
            return [Finding(
                "login-account-deleted", "Inactief inlogaccount",
                _("Het inlogaccount is nooit geactiveerd en na 24 uur verwijderd. Maak een "
                  "nieuw aan."),
                (_("Inlogaccount %(u)s verwijderd op %(at)s (niet geactiveerd).") % {
                    "u": ctx.purged_username or "?", "at": when(ctx.purged_at)},),
                Fix("account_generate", _("Genereer een nieuw inlogaccount")))]
        return [Finding(
            "no-login-account", STEP_LOGIN % 2,
            _("Deze klant heeft geen inlogaccount."),
            (_("Bij de inlogdienst is niets aan pasnummer %(c)s gekoppeld.") % {
                "c": ctx.customer.card_number},),
            Fix("account_generate", _("Genereer inlogaccount")))]


@register
class LoginAccountActive(Check):
    name = "login_account_active"

    def run(self, ctx):
        if not ctx.linked or ctx.account.get("state") == "active":
            return []
        return [Finding(
            "login-account-inactive", STEP_LOGIN % 3,
            _("Het inlogaccount %(u)s is nog niet geactiveerd; zonder activering wordt het "
              "na 24 uur verwijderd.") % {"u": ctx.account.get("username")},
            (_("Aangemaakt op %(at)s, nog niet geactiveerd.") % {
                "at": when(ctx.account.get("created_at"))},),
            Fix("account_activate", _("Activeer inlogaccount")))]


@register
class RightUsername(Check):
    """Step 1 (and the e-book procedure's step 3): does the customer use the linked
    account? Only answerable when the staff member entered what the customer types."""

    name = "right_username"

    def run(self, ctx):
        typed = ctx.typed
        if not typed or typed.get("is_linked_account"):
            return []
        linked = ctx.account.get("username")
        other_ref = ctx.typed_linked_here_to
        if not other_ref or other_ref == ctx.customer.card_number:
            # A name not linked to this library (rule L5: identity does not say whether it
            # exists), or the account of a colleague or volunteer here (not named, the
            # colleague rule): all the library knows is that it is not this customer's.
            if not linked:
                return []  # no account at all: the account check says what to do
            return [Finding(
                "wrong-username", STEP_LOGIN % 1,
                _("De klant typt %(t)s; dat is niet het inlogaccount dat aan deze klant "
                  "gekoppeld is (%(u)s).") % {"t": typed["username"], "u": linked},
                (_("Getypt: %(t)s. Gekoppeld inlogaccount: %(u)s.") % {
                    "t": typed["username"], "u": linked},),
                question=_("Vertel de klant de gebruikersnaam %(u)s (ook een pasnummer werkt "
                           "als gebruikersnaam).") % {"u": linked})]
        account_name = typed.get("username_of_account") or typed["username"]
        member = ctx.family_member(other_ref)
        if member is not None:
            return [Finding(
                "linked-to-other-family-member", STEP_EBOOKS % 2,
                _("Het inlogaccount %(u)s hoort bij deze klant, maar is gekoppeld aan "
                  "%(name)s (%(role)s) op hetzelfde abonnement.") % {
                    "u": account_name, "name": member.name,
                    "role": Membership.Role(member.role).label},
                (_("%(u)s is gekoppeld aan pasnummer %(c)s (%(name)s).") % {
                    "u": account_name, "c": member.card_number, "name": member.name},),
                Fix("account_link", _("Koppel %(u)s aan deze klant") % {
                    "u": account_name}, one_click=False,
                    args={"username": account_name, "unlink_from": member.card_number}))]
        return [Finding(
            "other-account-in-use", STEP_EBOOKS % 3,
            _("De klant logt in met een ander inlogaccount (%(t)s) dan het gekoppelde "
              "(%(u)s).") % {"t": account_name, "u": linked or "-"},
            (_("%(t)s is %(where)s.") % {
                "t": account_name,
                "where": _("gekoppeld aan een andere klant van deze bibliotheek")},),
            question=_("Laat de klant inloggen met %(u)s, of vraag welk account de klant "
                       "wil gebruiken.") % {"u": linked or "-"})]


def _rights_text(rights: list[dict]) -> str:
    return ", ".join(sorted({r["code"] for r in rights})) or _("geen")


@register
class AuthorizationCurrent(Check):
    name = "authorization_current"

    def run(self, ctx):
        if not ctx.linked:
            return []
        pushed = (ctx.status.get("authorization") or {})
        expected = ctx.expected
        same_rights = sorted(map(_right_key, pushed.get("rights") or [])) == sorted(
            map(_right_key, expected["rights"]))
        same_customer = (pushed.get("customer") or {}).get("subscription_end") == \
            expected["customer"].get("subscription_end")
        if pushed.get("authorized_at") and same_rights and same_customer:
            return []
        evidence = [
            _("Doorgegeven op %(at)s: rechten %(r)s.") % {
                "at": when(pushed.get("authorized_at")), "r": _rights_text(
                    pushed.get("rights") or [])} if pushed.get("authorized_at")
            else _("Nog nooit klantgegevens doorgegeven aan de inlogdienst."),
            _("Volgens het abonnement nu: rechten %(r)s.") % {
                "r": _rights_text(expected["rights"])},
        ]
        return [Finding(
            "authorization-outdated", STEP_LOGIN % 4,
            _("De inlogdienst heeft verouderde klantgegevens en rechten."), tuple(evidence),
            Fix("account_authorize", _("Autoriseer inlogaccount")))]


def _right_key(right: dict) -> tuple:
    return (right.get("code"), right.get("valid_until"),
            tuple(sorted((right.get("limits") or {}).items())))


@register
class SubscriptionHasEbooks(Check):
    name = "subscription_has_ebooks"

    def run(self, ctx):
        membership = ctx.membership
        if membership is None:
            return []  # subscription-inactive says it
        codes = {r.get("code") for r in membership.subscription.type.rights_for(membership.role)}
        if "ebooks" in codes:
            return []
        return [Finding(
            "subscription-without-ebooks", STEP_EBOOKS % 1,
            _("Het abonnement %(t)s geeft geen recht op e-books.") % {
                "t": membership.subscription.type.name},
            (_("Rechten van %(t)s voor een %(role)s: %(r)s.") % {
                "t": membership.subscription.type.name,
                "role": membership.get_role_display(), "r": ", ".join(sorted(
                    c for c in codes if c)) or _("geen")},),
            question=_("Bespreek een abonnement met e-books (zoals Compact of Compleet)."))]


@register
class NotBlocked(Check):
    name = "not_blocked"

    def run(self, ctx):
        block = ctx.account.get("block") or {}
        until = block.get("blocked_until")
        if not until or datetime.fromisoformat(str(until)) <= ctx.now:
            return []
        return [Finding(
            "login-blocked", STEP_LOGIN % 6,
            _("Inloggen is tijdelijk geblokkeerd na te veel verkeerde wachtwoorden."),
            (ngettext("%(n)d mislukte poging; geblokkeerd tot %(at)s.",
                      "%(n)d mislukte pogingen; geblokkeerd tot %(at)s.",
                      block.get("failures", 0)) % {"n": block.get("failures", 0),
                                                     "at": when(until)},),
            Fix("account_unblock", _("Hef de blokkade op")))]


@register
class PasswordFailures(Check):
    name = "password_failures"

    def run(self, ctx):
        today = timezone.localdate(ctx.now)  # the library's day, not UTC's
        failures = [e for e in ctx.status.get("recent_events") or []
                    if e.get("kind") == "login" and e.get("reason") == "wrong_password"
                    and timezone.localdate(datetime.fromisoformat(str(e["at"]))) == today]
        if not failures:
            return []
        first, last = failures[-1]["at"], failures[0]["at"]
        return [Finding(
            "password-failures", STEP_LOGIN % 6,
            _("De klant typt vandaag een verkeerd wachtwoord: een nieuw wachtwoord kiezen "
              "lost het op."),
            (ngettext("%(n)d mislukte poging vandaag %(a)s-%(b)s, onjuist wachtwoord.",
                      "%(n)d mislukte pogingen vandaag %(a)s-%(b)s, onjuist wachtwoord.",
                      len(failures)) % {"n": len(failures), "a": _hm(first), "b": _hm(last)},),
            Fix("account_send_password_reset", _("Stuur wachtwoord-resetmail")))]


def _hm(value) -> str:
    return timezone.localtime(datetime.fromisoformat(str(value))).strftime("%H:%M")


@register
class RecoveryEmail(Check):
    name = "recovery_email"

    def run(self, ctx):
        if not ctx.linked:
            return []
        recovery = (ctx.account.get("recovery_email") or "").strip().lower()
        library = (ctx.customer.email or "").strip().lower()
        if recovery and (not library or recovery == library):
            return []
        if not recovery and not library:
            return [Finding(
                "no-email-address", STEP_LOGIN % 8,
                _("Er is geen e-mailadres om een resetmail naar te sturen."),
                (_("Geen herstel-e-mailadres en geen e-mailadres in het bibliotheeksysteem."),),
                question=_("Vraag de klant om een (ander) e-mailadres, zet het bij de "
                           "klantgegevens en reset dan het herstel-e-mailadres."))]
        fix = Fix("account_reset_recovery_email",
                  _("Zet herstel-e-mailadres op %(e)s") % {"e": ctx.customer.email})
        if not recovery:
            return [Finding(
                "recovery-email-missing", STEP_LOGIN % 7,
                _("Het inlogaccount heeft geen herstel-e-mailadres: mails voor een nieuw "
                  "wachtwoord komen nergens aan."),
                (_("E-mailadres in het bibliotheeksysteem: %(e)s.") % {
                    "e": ctx.customer.email},), fix)]
        return [Finding(
            "recovery-email-differs", STEP_LOGIN % 7,
            _("Het herstel-e-mailadres is een ander adres dan de bibliotheek kent: de mail "
              "gaat misschien naar een oud adres."),
            (_("Herstel-e-mailadres: %(r)s; bij de bibliotheek: %(e)s.") % {
                "r": ctx.account.get("recovery_email"), "e": ctx.customer.email},), fix)]


@register
class BrowserInterference(Check):
    name = "browser_interference"

    def run(self, ctx):
        # A report after a back-channel logout is an ordinary sign-out elsewhere (another
        # service, a new password on another device): not the browser's doing.
        reports = [e for e in ctx.status.get("recent_events") or []
                   if e.get("kind") == "logout_detected"
                   and (e.get("details") or {}).get("reason") != "backchannel"]
        if not reports:
            return []
        latest = reports[0]
        return [Finding(
            "browser-interference", "AUTHENTICATION.LOGOUT_DETECTED",
            _("De sessie van de klant wordt steeds beëindigd in de browser: waarschijnlijk "
              "een adblocker, VPN of niet-ondersteunde browser."),
            (ngettext("%(n)d keer AUTHENTICATION.LOGOUT_DETECTED, laatst op %(at)s bij "
                      "%(s)s.", "%(n)d keer AUTHENTICATION.LOGOUT_DETECTED, laatst op %(at)s "
                      "bij %(s)s.", len(reports)) % {
                "n": len(reports), "at": when(latest["at"]),
                "s": latest.get("service") or "?"},
             _("Browser: %(b)s") % {"b": latest.get("browser") or "?"}),
            question=_("Vraag de klant een adblocker of VPN uit te zetten en Edge, Chrome, "
                       "Safari of Firefox te gebruiken."))]
