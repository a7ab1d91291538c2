"""The Inlogaccount menu as operations: each checks the rules (role, tenant, the colleague
rule), calls the login service once, changes the local link only when that succeeded, and
leaves an audit event whatever happened."""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from bibid.common import clock
from bibid.common.problems import Problem
from bibid.library.customers.models import Customer
from bibid.library.staff import audit
from bibid.library.staff.permissions import Actor, Perm, require
from bibid.library.subscriptions.rights import authorization_for

from .identity import IdentityClient, IdentityError, IdentityProblem, IdentityUnavailable
from .pushes import request_push


@dataclass
class Outcome:
    """What an operation did, in plain words, and what the login service answered."""

    action: str
    summary: str
    data: dict = field(default_factory=dict)


def check(actor: Actor, customer: Customer, perm: Perm) -> None:
    """The rules every menu item obeys, before anything is asked of the login service."""
    require(actor, perm)
    if actor.staff is not None and customer.library_id != actor.staff.library_id:
        # Another library's customer is indistinguishable from no customer at all.
        raise Problem(404, "customer_not_found", gettext_lazy("Deze klant bestaat niet."))
    if (
        actor.staff is not None
        and customer.is_private
        and actor.staff.customer_id != customer.pk
    ):
        raise Problem(
            403, "private_customer",
            gettext_lazy("Dit is een collega of vrijwilliger: hun inlogaccount kun je niet "
                         "inzien of wijzigen. Laat de collega of vrijwilliger zelf inloggen."),
        )


def _client(customer: Customer) -> IdentityClient:
    return IdentityClient.for_library(customer.library)


def _run(actor: Actor, customer: Customer, action: str, perm: Perm, call) -> Outcome:
    """Check, call the login service, audit; failures become a Problem with a clear text."""
    try:
        check(actor, customer, perm)
    except Problem as problem:
        audit.record(actor=actor, action=action, customer=customer, result="refused",
                     detail={"code": problem.code})
        raise
    try:
        outcome = call()
    except IdentityProblem as problem:
        audit.record(actor=actor, action=action, customer=customer, result="refused",
                     detail={"identity": problem.code, "status": problem.status})
        if problem.code == "not_linked" and customer.has_login_account:
            _forget_link(customer)  # the login service knows no link: ours was stale
        raise Problem(problem.status, problem.code, problem.message(),
                      messages=problem.messages, extra={}) from problem
    except IdentityUnavailable as error:
        audit.record(actor=actor, action=action, customer=customer, result="failed",
                     detail={"identity": "unavailable", "reason": error.reason})
        raise Problem(503, "identity_unavailable", IdentityUnavailable.TEXT,
                      extra={"reason": error.reason}) from error
    audit.record(actor=actor, action=action, customer=customer, result="ok",
                 detail={"summary": outcome.summary[:200]})
    return outcome


def _remember_link(customer: Customer, account: dict) -> None:
    account_id = UUID(str(account["account_id"]))
    Customer.objects.filter(pk=customer.pk).update(
        account_id=account_id, account_username=account["username"],
        account_linked_at=clock.now(),
    )
    customer.account_id, customer.account_username = account_id, account["username"]


def _forget_link(customer: Customer) -> None:
    Customer.objects.filter(pk=customer.pk).update(account_id=None, account_username="",
                                                   account_linked_at=None)
    customer.account_id, customer.account_username = None, ""


# -- the menu items ----------------------------------------------------------------------


def show(*, actor: Actor, customer: Customer) -> Outcome:
    """Toon inlogaccount gegevens."""

    def call() -> Outcome:
        account = _client(customer).account_show(customer.card_number)
        if account["username"] != customer.account_username:
            Customer.objects.filter(pk=customer.pk).update(account_username=account["username"])
        return Outcome("show", _("Inlogaccount %(username)s: %(state)s.") % {
            "username": account["username"], "state": _state(account)}, account)

    return _run(actor, customer, "login_show", Perm.LOGIN_SHOW, call)


def generate(*, actor: Actor, customer: Customer, username: str | None = None,
             recovery_email: str | None = None, language: str = "nl") -> Outcome:
    """Genereer inlogaccount: inactive, linked, activation e-mail to the recovery address."""

    def call() -> Outcome:
        email = recovery_email if recovery_email is not None else customer.email
        answer = _client(customer).account_generate(
            customer.card_number, username=username, recovery_email=email or None,
            language=language)
        with transaction.atomic():
            _remember_link(customer, answer["account"])
            request_push([customer.pk])
        mail = (_("De activeringsmail is onderweg naar %(email)s.") % {"email": email}
                if answer["activation_mail"] == "queued"
                else _("Er is geen e-mailadres: activeer het account aan de balie."))
        return Outcome("generate", _("Inlogaccount %(username)s aangemaakt (nog niet actief). "
                                     "%(mail)s") % {"username": answer["account"]["username"],
                                                    "mail": mail}, answer)

    return _run(actor, customer, "login_generate", Perm.LOGIN_GENERATE, call)


def link(*, actor: Actor, customer: Customer, username: str) -> Outcome:
    """Koppel inlogaccount: the account the customer signs in with, by its username."""

    def call() -> Outcome:
        answer = _client(customer).account_link(customer.card_number, username)
        with transaction.atomic():
            _remember_link(customer, answer["account"])
            request_push([customer.pk])
        return Outcome("link", _("Inlogaccount %(username)s is gekoppeld aan deze klant; de "
                                 "rechten worden bijgewerkt.") % {
                                     "username": answer["account"]["username"]}, answer)

    return _run(actor, customer, "login_link", Perm.LOGIN_LINK, call)


def unlink(*, actor: Actor, customer: Customer) -> Outcome:
    def call() -> Outcome:
        answer = _client(customer).account_unlink(customer.card_number)
        _forget_link(customer)
        return Outcome("unlink", _("Het inlogaccount is ontkoppeld. Het account zelf bestaat "
                                   "nog; de klant kan het aan een andere klant laten koppelen."),
                       answer)

    return _run(actor, customer, "login_unlink", Perm.LOGIN_UNLINK, call)


def activate(*, actor: Actor, customer: Customer) -> Outcome:
    """Activeer inlogaccount (the patron is at the desk)."""

    def call() -> Outcome:
        answer = _client(customer).account_activate(customer.card_number)
        if answer["result"] == "already_active":
            text = _("Het inlogaccount was al actief.")
        else:
            text = _("Het inlogaccount is geactiveerd en wordt niet meer verwijderd.")
        mails = {
            "queued": _("De klant krijgt een e-mail om een wachtwoord te kiezen."),
            "already_sent": _("De klant heeft al een e-mail gehad om een wachtwoord te kiezen; "
                              "stuur anders een wachtwoordherstel."),
            "no_address": _("Er is geen herstel-e-mailadres: stel dat in en stuur dan een "
                            "wachtwoordherstel."),
            "not_needed": "",
        }
        return Outcome("activate", f"{text} {mails[answer['choose_password_mail']]}".strip(),
                       answer)

    return _run(actor, customer, "login_activate", Perm.LOGIN_ACTIVATE, call)


def authorize(*, actor: Actor, customer: Customer) -> Outcome:
    """Autoriseer inlogaccount: push customer data and rights now."""

    def call() -> Outcome:
        fresh = (Customer.objects.prefetch_related("memberships__subscription__type")
                 .get(pk=customer.pk))
        payload = authorization_for(fresh)
        answer = _client(customer).account_authorize(customer.card_number, payload)
        codes = ", ".join(r["code"] for r in payload["rights"]) or _("geen")
        if answer["result"] == "unchanged":
            text = _("De gegevens bij de inlogdienst waren al actueel (rechten: %(codes)s).")
        else:
            text = _("Klantgegevens en rechten zijn bijgewerkt bij de inlogdienst "
                     "(rechten: %(codes)s).")
        return Outcome("authorize", text % {"codes": codes}, {**answer, "pushed": payload})

    return _run(actor, customer, "login_authorize", Perm.LOGIN_AUTHORIZE, call)


def rights(*, actor: Actor, customer: Customer) -> Outcome:
    """Toon inlogaccount-rechten."""

    def call() -> Outcome:
        answer = _client(customer).account_rights(customer.card_number)
        codes = sorted({r["code"] for r in answer["rights"]})
        text = (_("Geldige rechten: %(codes)s.") % {"codes": ", ".join(codes)} if codes
                else _("Dit inlogaccount heeft nu geen geldige rechten."))
        return Outcome("rights", text, answer)

    return _run(actor, customer, "login_rights", Perm.LOGIN_RIGHTS, call)


def reset_recovery_email(*, actor: Actor, customer: Customer) -> Outcome:
    """Reset herstel-e-mailadres: make it the address the library has."""
    if not customer.email:
        check(actor, customer, Perm.LOGIN_RECOVERY_EMAIL)
        raise Problem(422, "no_email_address", gettext_lazy(
            "De bibliotheek heeft geen e-mailadres van deze klant. Vul dat eerst in bij de "
            "klantgegevens."))

    def call() -> Outcome:
        answer = _client(customer).account_reset_recovery_email(customer.card_number,
                                                                customer.email)
        return Outcome("recovery_email", _("Het herstel-e-mailadres is nu %(email)s.") % {
            "email": customer.email}, answer)

    return _run(actor, customer, "login_recovery_email", Perm.LOGIN_RECOVERY_EMAIL, call)


def send_password_reset(*, actor: Actor, customer: Customer) -> Outcome:
    def call() -> Outcome:
        answer = _client(customer).account_send_password_reset(customer.card_number)
        return Outcome("password_reset", _("De klant krijgt een e-mail om een nieuw wachtwoord "
                                           "te kiezen (ook in de spammap kijken)."), answer)

    return _run(actor, customer, "login_password_reset", Perm.LOGIN_PASSWORD_RESET, call)


def unblock(*, actor: Actor, customer: Customer) -> Outcome:
    def call() -> Outcome:
        answer = _client(customer).account_unblock(customer.card_number)
        text = (_("De blokkade is opgeheven; de klant kan direct opnieuw inloggen.")
                if answer["result"] == "unblocked" else _("Er was geen blokkade."))
        return Outcome("unblock", text, answer)

    return _run(actor, customer, "login_unblock", Perm.LOGIN_UNBLOCK, call)


def history(*, actor: Actor, customer: Customer, limit: int = 50) -> Outcome:
    def call() -> Outcome:
        answer = _client(customer).account_history(customer.card_number, limit)
        failures = sum(1 for e in answer["events"] if e["outcome"] == "failure")
        count = len(answer["events"])
        text = ngettext("%(n)d recente gebeurtenis", "%(n)d recente gebeurtenissen",
                        count) % {"n": count}
        text += ngettext(", waarvan %(f)d mislukte poging.", ", waarvan %(f)d mislukte pogingen.",
                         failures) % {"f": failures}
        return Outcome("history", text, answer)

    return _run(actor, customer, "login_history", Perm.LOGIN_HISTORY, call)


def status(*, actor: Actor, customer: Customer, username: str | None = None) -> dict:
    """Everything about the link in one call (the helpdesk's diagnosis reads this), and
    what the username the customer types points at."""
    return _run(actor, customer, "login_status", Perm.DIAGNOSE,
                lambda: Outcome("status", "", _client(customer).account_status(
                    customer.card_number, username))).data


def _state(account: dict) -> str:
    if account["state"] == "active":
        return _("actief") if account["has_password"] else _("actief, nog zonder wachtwoord")
    return _("inactief (wacht op activering)")


__all__ = [
    "IdentityError",
    "Outcome",
    "activate",
    "authorize",
    "check",
    "generate",
    "history",
    "link",
    "reset_recovery_email",
    "rights",
    "send_password_reset",
    "show",
    "status",
    "unblock",
    "unlink",
]
