"""The Inlogaccount menu as operations: each checks the rules (role, tenant, the colleague
rule), calls the login service once, changes the local link only when that succeeded, and
leaves an audit event whatever happened.

What staff are told after a failure is what is true: "niet bereikbaar, er is niets gewijzigd"
only when the request never reached the login service (or it was shed as too busy); after a
timeout, a change is "nog niet bevestigd; wordt gecontroleerd" and is settled by sending the
same request again (loginaccounts.unconfirmed)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from bibid.common import metrics, words
from bibid.common.problems import Problem
from bibid.library.customers.models import Customer
from bibid.library.staff import audit
from bibid.library.staff.permissions import Actor, Perm, require

from . import status as identity_status
from . import unconfirmed
from .identity import IdentityClient, IdentityError, IdentityProblem, IdentityUnavailable
from .links import forget_link, remember_link, rename_link
from .pushes import payload_for, request_push

logger = logging.getLogger("bibid.loginaccounts")


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
    if actor.staff is not None and customer.is_private and actor.staff.customer_id != customer.pk:
        raise Problem(
            403,
            "private_customer",
            gettext_lazy(
                "Dit is een collega of vrijwilliger: hun inlogaccount kun je niet "
                "inzien of wijzigen. Laat de collega of vrijwilliger zelf inloggen."
            ),
        )


def _client(customer: Customer, actor: Actor | None = None) -> IdentityClient:
    return IdentityClient.for_library(customer.library, acting=acting(actor))


def acting(actor: Actor | None) -> tuple[str, str]:
    """Who acts, for identity's record that the patron sees: the role and an opaque staff
    reference (never a name: identity cannot verify it, and the patron needs no more)."""
    if actor is None or actor.staff is None:
        return ("system", "")
    return (str(actor.staff.role), f"staff:{actor.staff.pk}")


# Menu items that only read: they go ahead while a change is still being checked.
READS = frozenset({"login_show", "login_rights", "login_history", "login_status"})
# Opening a link request starts a step with the patron at the desk: after a timeout the desk
# simply starts again (an unanswered request expires in 15 minutes), rather than have a code
# mailed minutes later to a patron who has gone.
NOT_SETTLED = READS | {"login_link"}


def _run(actor: Actor, customer: Customer, action: str, perm: Perm, call) -> Outcome:
    """Check, call the login service, audit; failures become a Problem with a clear text."""
    try:
        check(actor, customer, perm)
    except Problem as problem:
        audit.record(
            actor=actor,
            action=action,
            customer=customer,
            result="refused",
            detail={"code": problem.code},
        )
        raise
    if action not in READS and unconfirmed.open_calls(customer).exists():
        if not unconfirmed.settle_for(customer):
            # What the account looks like at identity is not known yet: a second change now
            # could be built on a wrong picture (a second account, a link that exists).
            audit.record(
                actor=actor,
                action=action,
                customer=customer,
                result="refused",
                detail={"code": "identity_unconfirmed_pending"},
            )
            raise Problem(409, "identity_unconfirmed_pending", unconfirmed.PENDING_TEXT)
        # Settling may just have changed the link: go on from what is stored now.
        customer.refresh_from_db(fields=["account_id", "account_username", "account_linked_at"])
    try:
        outcome = call()
    except IdentityProblem as problem:
        audit.record(
            actor=actor,
            action=action,
            customer=customer,
            result="refused",
            detail={"identity": problem.code, "status": problem.status},
        )
        if problem.code == "not_linked" and customer.has_login_account:
            forget_link(customer)  # the login service knows no link: ours was stale
        raise _refusal(actor, customer, problem) from problem
    except IdentityUnavailable as error:
        if error.uncertain and action not in NOT_SETTLED:
            pending = unconfirmed.record(customer, action, error, acting(actor))
            audit.record(
                actor=actor,
                action=action,
                customer=customer,
                result="unconfirmed",
                detail={"identity": error.kind, "reason": error.reason, "unconfirmed": pending.pk},
            )
            raise Problem(
                504, "identity_unconfirmed", unconfirmed.TEXT, extra={"unconfirmed": pending.pk}
            ) from error
        audit.record(
            actor=actor,
            action=action,
            customer=customer,
            result="failed",
            detail={"identity": error.kind, "reason": error.reason},
        )
        if error.kind == "busy":
            raise Problem(
                503,
                "identity_busy",
                IdentityUnavailable.BUSY_TEXT,
                extra={"retry_after": error.retry_after or 5},
            ) from error
        text = (
            IdentityUnavailable.SLOW_TEXT
            if error.kind in ("slow", "error")
            else IdentityUnavailable.TEXT
        )
        raise Problem(
            503, "identity_unavailable", text, extra={"reason": error.reason, "kind": error.kind}
        ) from error
    audit.record(
        actor=actor,
        action=action,
        customer=customer,
        result="ok",
        detail={"summary": outcome.summary[:200]},
    )
    return outcome


# Of what identity sends with a refusal, only these reach the caller (a count, never a name
# or card number): the console shows "nog N pogingen", the REST API returns them as data.
PASSED_ON = ("attempts_left", "retry_after")


def _refusal(actor: Actor, customer: Customer, problem: IdentityProblem) -> Problem:
    data = (problem.body or {}).get("data") or {}
    extra = {key: data[key] for key in PASSED_ON if isinstance(data.get(key), int)}
    if problem.code == "account_linked_to_other_customer":
        other = Customer.objects.filter(
            library_id=customer.library_id, card_number=str(data.get("customer") or "")
        ).first()
        if other is None or (other.is_private and not _is_self(actor, other)):
            # The colleague rule: identity names the other customer's card, and our own
            # words must not pass it on when that customer is a colleague or volunteer (nor
            # one who just stopped being one): who has which account is theirs to tell.
            return Problem(problem.status, problem.code, OTHER_CUSTOMER_HERE, extra=extra)
    # A limit (429, e.g. identity's mail_limit) says when to try again: our own API passes
    # that on as Retry-After too, and the console shows identity's words, which say it.
    headers = {"Retry-After": str(extra["retry_after"])} if "retry_after" in extra else {}
    return Problem(
        problem.status,
        problem.code,
        problem.message(),
        messages=problem.messages,
        extra=extra,
        headers=headers,
    )


OTHER_CUSTOMER_HERE = gettext_lazy(
    "Dit inlogaccount is al gekoppeld aan een andere klant van deze bibliotheek. Vraag de "
    "klant welk inlogaccount van hem of haar is, of laat de klant zelf inloggen."
)


def _is_self(actor: Actor, customer: Customer) -> bool:
    return actor.staff is not None and actor.staff.customer_id == customer.pk


# -- the menu items ----------------------------------------------------------------------


def show(*, actor: Actor, customer: Customer) -> Outcome:
    """Toon inlogaccount gegevens."""

    def call() -> Outcome:
        account = _client(customer, actor).account_show(customer.card_number)
        if account["username"] != customer.account_username:
            rename_link(customer, account["username"])
        return Outcome(
            "show",
            _("Inlogaccount %(username)s: %(state)s.")
            % {"username": account["username"], "state": _state(account)},
            account,
        )

    return _run(actor, customer, "login_show", Perm.LOGIN_SHOW, call)


def generate(
    *,
    actor: Actor,
    customer: Customer,
    username: str | None = None,
    recovery_email: str | None = None,
    language: str = "nl",
) -> Outcome:
    """Genereer inlogaccount: inactive, linked, activation e-mail to the recovery address."""

    def call() -> Outcome:
        email = recovery_email if recovery_email is not None else customer.email
        answer = _client(customer, actor).account_generate(
            customer.card_number, username=username, recovery_email=email or None, language=language
        )
        with transaction.atomic():
            remember_link(customer, answer["account"])
            request_push([customer.pk])
        mail = (
            _("De activeringsmail is onderweg naar %(email)s.") % {"email": email}
            if answer["activation_mail"] == "queued"
            else _("Er is geen e-mailadres: activeer het account aan de balie.")
        )
        return Outcome(
            "generate",
            _("Inlogaccount %(username)s aangemaakt (nog niet actief). %(mail)s")
            % {"username": answer["account"]["username"], "mail": mail},
            answer,
        )

    return _run(actor, customer, "login_generate", Perm.LOGIN_GENERATE, call)


def link(*, actor: Actor, customer: Customer, username: str | None = None) -> Outcome:
    """Koppel inlogaccount, step 1 (rule L2): open a link request at the login service.

    Nothing is linked yet: linking an existing account needs the patron, who proves it with
    the code identity mails to the account's confirmed address, or by signing in on the
    handover page. identity answers the same whether or not the username exists, and so do
    we: the desk learns nothing about an account the patron has not given it."""

    def call() -> Outcome:
        answer = _client(customer, actor).account_link(customer.card_number, username or None)
        data = {
            "request_id": str(UUID(str(answer["request_id"]))),
            "handover_url": _handover_url(answer.get("handover_url")),
            "expires_at": answer.get("expires_at"),
        }
        return Outcome(
            "link",
            _(
                "Vraag de klant om de code uit de e-mail, of laat de klant "
                "zelf inloggen op het scherm."
            ),
            data,
        )

    return _run(actor, customer, "login_link", Perm.LOGIN_LINK, call)


def _handover_url(url: object) -> str:
    """The page at the login service where the patron confirms. The console opens it in a
    new tab: only an address of the login service itself is passed on, so that a wrong
    answer can never send staff (or the patron at the desk) to another site."""
    base = settings.BIBID_PUBLIC_URLS["identity"].rstrip("/") + "/"
    text = str(url or "")
    return text if text.startswith(base) and "\\" not in text else ""


def confirm_link(
    *,
    actor: Actor,
    customer: Customer,
    request_id: str,
    code: str | None = None,
    move_from: Customer | None = None,
) -> Outcome:
    """Koppel inlogaccount, step 2: the code the patron read out (or none, after the patron
    confirmed on the handover page). Only then is the link stored and the rights pushed.

    `move_from`: the family member the account is linked to now (the helpdesk's partner/child
    mix-up, after the staff member ticked who is who). identity checks the patron's proof
    before it refuses an account linked to another customer here, and that refusal leaves
    the request open; so the account leaves the family member only once the patron has
    proved it is theirs, and then the same confirmation is sent again."""
    try:
        request_id = str(UUID(str(request_id)))
    except ValueError:
        check(actor, customer, Perm.LOGIN_LINK)
        raise Problem(
            400,
            "invalid_request_id",
            gettext_lazy("Dit koppelverzoek bestaat niet; begin opnieuw met Koppel inlogaccount."),
            field="request_id",
        ) from None
    code = (code or "").strip() or None
    if move_from is not None:
        check(actor, move_from, Perm.LOGIN_UNLINK)

    def call() -> Outcome:
        client = _client(customer, actor)
        try:
            answer = client.account_link_confirm(customer.card_number, request_id, code)
        except IdentityProblem as problem:
            other = ((problem.body or {}).get("data") or {}).get("customer")
            if (
                move_from is None
                or problem.code != "account_linked_to_other_customer"
                or other != move_from.card_number
            ):
                raise
            unlink(actor=actor, customer=move_from)
            answer = client.account_link_confirm(customer.card_number, request_id, code)
        with transaction.atomic():
            remember_link(customer, answer["account"])
            request_push([customer.pk])
        return Outcome(
            "link_confirm",
            _(
                "Inlogaccount %(username)s is gekoppeld aan deze "
                "klant; de rechten worden bijgewerkt."
            )
            % {"username": answer["account"]["username"]},
            answer,
        )

    return _run(actor, customer, "login_link_confirm", Perm.LOGIN_LINK, call)


def unlink(*, actor: Actor, customer: Customer) -> Outcome:
    def call() -> Outcome:
        answer = _client(customer, actor).account_unlink(customer.card_number)
        forget_link(customer)
        return Outcome(
            "unlink",
            _(
                "Het inlogaccount is ontkoppeld. Het account zelf bestaat "
                "nog; de klant kan het aan een andere klant laten koppelen."
            ),
            answer,
        )

    return _run(actor, customer, "login_unlink", Perm.LOGIN_UNLINK, call)


def activate(*, actor: Actor, customer: Customer) -> Outcome:
    """Activeer inlogaccount (the patron is at the desk)."""

    def call() -> Outcome:
        answer = _client(customer, actor).account_activate(customer.card_number)
        if answer["result"] == "already_active":
            text = _("Het inlogaccount was al actief.")
        else:
            text = _("Het inlogaccount is geactiveerd en wordt niet meer verwijderd.")
        mails = {
            "queued": _("De klant krijgt een e-mail om een wachtwoord te kiezen."),
            "already_sent": _(
                "De klant heeft al een e-mail gehad om een wachtwoord te kiezen; "
                "stuur anders een wachtwoordherstel."
            ),
            "no_address": _(
                "Er is geen herstel-e-mailadres: stel dat in en stuur dan een wachtwoordherstel."
            ),
            "not_needed": "",
        }
        return Outcome(
            "activate", f"{text} {mails[answer['choose_password_mail']]}".strip(), answer
        )

    return _run(actor, customer, "login_activate", Perm.LOGIN_ACTIVATE, call)


def authorize(*, actor: Actor, customer: Customer) -> Outcome:
    """Autoriseer inlogaccount: push customer data and rights now."""

    def call() -> Outcome:
        fresh = Customer.objects.prefetch_related("memberships__subscription__type").get(
            pk=customer.pk
        )
        payload = payload_for(fresh)
        # A new key: staff asking again want today's answer, not a replay of the last one
        # (the queue's retries, by contrast, reuse theirs). The version keeps the order.
        answer = _client(customer, actor).account_authorize(customer.card_number, payload)
        codes = words.rights_text(r["code"] for r in payload["rights"])  # words, not codes
        if answer["result"] == "stale":
            text = _("De inlogdienst had al nieuwere gegevens van deze klant (rechten: %(codes)s).")
        elif answer["result"] == "unchanged":
            text = _("De gegevens bij de inlogdienst waren al actueel (rechten: %(codes)s).")
        else:
            text = _(
                "Klantgegevens en rechten zijn bijgewerkt bij de inlogdienst (rechten: %(codes)s)."
            )
        return Outcome("authorize", text % {"codes": codes}, {**answer, "pushed": payload})

    return _run(actor, customer, "login_authorize", Perm.LOGIN_AUTHORIZE, call)


def rights(*, actor: Actor, customer: Customer) -> Outcome:
    """Toon inlogaccount-rechten."""

    def call() -> Outcome:
        answer = _client(customer, actor).account_rights(customer.card_number)
        codes = {r["code"] for r in answer["rights"]}
        text = (
            _("Geldige rechten: %(codes)s.") % {"codes": words.rights_text(codes)}
            if codes
            else _("Dit inlogaccount heeft nu geen geldige rechten.")
        )
        return Outcome("rights", text, answer)

    return _run(actor, customer, "login_rights", Perm.LOGIN_RIGHTS, call)


def reset_recovery_email(*, actor: Actor, customer: Customer) -> Outcome:
    """Reset herstel-e-mailadres: make it the address the library has."""
    if not customer.email:
        check(actor, customer, Perm.LOGIN_RECOVERY_EMAIL)
        raise Problem(
            422,
            "no_email_address",
            gettext_lazy(
                "De bibliotheek heeft geen e-mailadres van deze klant. Vul dat eerst in bij de "
                "klantgegevens."
            ),
        )

    def call() -> Outcome:
        answer = _client(customer, actor).account_reset_recovery_email(
            customer.card_number, customer.email
        )
        return Outcome(
            "recovery_email",
            _("Het herstel-e-mailadres is nu %(email)s.") % {"email": customer.email},
            answer,
        )

    return _run(actor, customer, "login_recovery_email", Perm.LOGIN_RECOVERY_EMAIL, call)


def send_password_reset(*, actor: Actor, customer: Customer) -> Outcome:
    def call() -> Outcome:
        answer = _client(customer, actor).account_send_password_reset(customer.card_number)
        return Outcome(
            "password_reset",
            _(
                "De klant krijgt een e-mail om een nieuw wachtwoord "
                "te kiezen (ook in de spammap kijken)."
            ),
            answer,
        )

    return _run(actor, customer, "login_password_reset", Perm.LOGIN_PASSWORD_RESET, call)


def unblock(*, actor: Actor, customer: Customer) -> Outcome:
    def call() -> Outcome:
        answer = _client(customer, actor).account_unblock(customer.card_number)
        text = (
            _("De blokkade is opgeheven; de klant kan direct opnieuw inloggen.")
            if answer["result"] == "unblocked"
            else _("Er was geen blokkade.")
        )
        return Outcome("unblock", text, answer)

    return _run(actor, customer, "login_unblock", Perm.LOGIN_UNBLOCK, call)


def history(*, actor: Actor, customer: Customer, limit: int = 50) -> Outcome:
    def call() -> Outcome:
        answer = _client(customer, actor).account_history(customer.card_number, limit)
        # Failed sign-in attempts only: a service's report (logout_detected, rights_missing,
        # not_linked) carries outcome "failure" too, but nobody typed a wrong password.
        failures = sum(
            1 for e in answer["events"] if e["kind"] == "login" and e["outcome"] == "failure"
        )
        count = len(answer["events"])
        text = ngettext("%(n)d recente gebeurtenis", "%(n)d recente gebeurtenissen", count) % {
            "n": count
        }
        text += ngettext(
            ", waarvan %(f)d mislukte poging.", ", waarvan %(f)d mislukte pogingen.", failures
        ) % {"f": failures}
        return Outcome("history", text, answer)

    return _run(actor, customer, "login_history", Perm.LOGIN_HISTORY, call)


def status(
    *, actor: Actor, customer: Customer, username: str | None = None
) -> identity_status.Status:
    """Everything about the link in one call (the helpdesk's diagnosis reads this), and
    what the username the customer types points at, parsed into typed objects: an answer of
    another shape is refused here (502 `identity_unexpected_answer`), never read as "ok"."""
    data = _run(
        actor,
        customer,
        "login_status",
        Perm.DIAGNOSE,
        lambda: Outcome(
            "status", "", _client(customer, actor).account_status(customer.card_number, username)
        ),
    ).data
    try:
        return identity_status.parse(data)
    except identity_status.UnexpectedAnswer as error:
        # The operator needs the field names (a version mismatch between the services);
        # the values are the patron's data and stay out of the log.
        logger.error("identity's status answer has an unexpected shape: %s", error.fields)
        metrics.UNEXPECTED_ANSWERS.labels("account_status").inc()
        audit.record(
            actor=actor,
            action="login_status",
            customer=customer,
            result="failed",
            detail={"identity": "unexpected_answer", "fields": error.fields[:20]},
        )
        raise Problem(
            502,
            "identity_unexpected_answer",
            gettext_lazy(
                "De inlogdienst gaf een onverwacht antwoord; de diagnose kan nu niet worden "
                "gedaan. Meld het aan de beheerder."
            ),
            extra={"fields": error.fields[:20]},
        ) from None


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
    "confirm_link",
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
