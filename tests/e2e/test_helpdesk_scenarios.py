"""The helpdesk's diagnosis over real HTTP, as a spec: for each finding code at least two
customers in different states, made through the real APIs (the library's REST API,
identity's library API, identity's sign-in page, the services' sign-in and their
LOGOUT_DETECTED reports, the clock and the 24-hour purge).

For each: `POST /api/v1/customers/{card}/diagnosis` gives the expected cause (the first
finding on the path walked through the procedure's definition), the findings further on
the path and those seen off it (`also_seen`), where the walk stops (`next`: a fix, a
question or an end) with the fix's operation (the library REST API's operationId), and
the outcome; all written by hand from the procedures' YAML. Where `next` is a fix,
`POST .../diagnosis/fix` carries it out (a fix that moves an account between family
members only with `confirm: true`) and the diagnosis it returns no longer has that finding
(`fix.state` "worked"); a password mail cannot finish the job by itself ("waiting_for_patron"),
so there the mail must arrive and, once the patron chose a password from it, the finding is
gone; linking an account needs the patron (rule L2), so there the fix opens a link request,
the patron signs in on identity's handover page and the helpdesk confirms, and only then is
the finding gone (an account linked to a family member moves only at that point).

Then the rules around it: colleagues and volunteers (the seed's LET OP) through the API and
the command line, another library's staff, names not linked to the library (rule L5), bad
input.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from bibid.library.helpdesk import definitions
from bibid.library.helpdesk.findings import CODES

from .library_api import approve_handover, choose_password
from .passkeys_http import add_passkey, authenticator, passkey_attempt, remove_passkey
from .scenarios import (
    CL,
    EB,
    HELPDESK,
    IA,
    LD,
    REACHED,
    READING,
    Desk,
    Made,
    World,
    days_ago,
    tag,
)

PASSWORD_RESET_SUBJECT = "Een nieuw wachtwoord"
# What the desk may not do (helpdesk and managers may): lift a block, unlink a family member.
DESK_MAY_NOT = {"login_account_unblock", "unlink"}


@pytest.fixture(scope="module")
def world(system, mailbox) -> World:
    return World(system, mailbox, patrons=56)  # one per set-up that needs a fresh account


# -- the set-ups -------------------------------------------------------------------------
# Each makes one customer of Bibliotheek aan de Maas in one state and says which names the
# customer might type. Accounts are linked through the library's own menu, and each set-up
# waits for the rights push the library queues with it, so that no push from the library's
# worker changes the state behind the test's back; outdated data at identity is older data
# another system pushed after that (World.linked(stale=True)). Only accounts the library may
# not link (colleagues) or that belong to a family member are linked at identity directly.


def names(made: Made, **more: str) -> Made:
    made.names.setdefault("unknown", f"bestaat.niet.{tag()}")
    if made.patron:
        made.names.setdefault("own", made.patron.username)
        made.names.setdefault("own in capitals", made.patron.username.upper())
    made.names.update(more)
    return made


def all_in_order(w: World) -> Made:
    card = w.member()
    patron = w.linked(card)
    return names(Made(card, patron=patron, mail_to=w.email_of(card)))


def colleague_with_account(w: World) -> Made:
    card = w.member(kind="colleague")
    # The library's own menu refuses a colleague's account ("private_customer").
    return names(Made(card, patron=w.colleague_account(card)))


def recovery_in_other_capitals(w: World) -> Made:
    card = w.member()
    local, domain = w.email_of(card).split("@")
    return names(Made(card, patron=w.linked(card, recovery=f"{local.upper()}@{domain}")))


def customer_become_volunteer(w: World) -> Made:
    made = all_in_order(w)
    w.manager.update(made.card, kind="volunteer")  # only a manager may
    return made


def subscription_ended(w: World) -> Made:
    card = w.desk.customer()
    w.desk.subscription(card, "compleet", start=days_ago(400), end=days_ago(36))
    return names(Made(card, patron=w.linked(card)))


def subscription_cancelled(w: World) -> Made:
    card = w.desk.customer()
    subscription = w.desk.subscription(card, "compact")
    w.desk.update_subscription(subscription["id"], status="cancelled")
    return names(Made(card, patron=w.linked(card)))


def no_subscription_no_account(w: World) -> Made:
    return names(Made(w.member(None)))


def inactive_account_and_subscription_ended(w: World) -> Made:
    card = w.desk.customer()
    w.desk.subscription(card, "compleet", start=days_ago(400), end=days_ago(2))
    w.desk.generate(card)  # through the library: inactive, awaiting activation
    w.wait_for_push(card)  # the rights the library pushes with it
    return names(Made(card))


def no_account(w: World) -> Made:
    return names(Made(w.member()))


def own_account_not_linked(w: World) -> Made:
    """The seed's "*": the customer signs in at the KB with an account of their own."""
    card = w.member()
    return names(Made(card, patron=w.patrons.take()))


def no_account_linked_patron_has_one(w: World) -> Made:
    """No account linked; the patron has one (and signs in with it on the handover page)."""
    return names(Made(w.member("compact"), patron=w.patrons.take()))


def unlinked_types_old_account(w: World) -> Made:
    """The helpdesk unlinked the account (a mix-up, say); the customer still types it."""
    card = w.member()
    patron = w.linked(card)
    w.desk.menu(card, "link", method="DELETE")
    return names(Made(card, patron=patron))


def generated_never_activated_then_purged(w: World) -> Made:
    card = w.member()
    w.desk.generate(card)
    w.purge_after_a_day()
    return names(Made(card))


def generated_without_email_then_purged(w: World) -> Made:
    card = w.member("compact", email=None)
    w.desk.generate(card)  # no address: the activation had to happen at the desk
    w.purge_after_a_day()
    return names(Made(card))


def generated_by_the_library(w: World) -> Made:
    card = w.member()
    w.desk.generate(card)
    w.wait_for_push(card)
    return names(Made(card))


def inactive_account_from_elsewhere(w: World) -> Made:
    """Made at identity by another way (the library did not generate it)."""
    card = w.member("compact")
    w.identity.ok(w.identity.generate(card, {}), 201)
    return names(Made(card))


def types_unknown_name(w: World) -> Made:
    return all_in_order(w)


def types_unknown_name_and_recovery_differs(w: World) -> Made:
    card = w.member()
    return names(Made(card, patron=w.linked(card, recovery=f"oud.{tag()}@example.net")))


def types_account_not_linked_here(w: World) -> Made:
    """Rule L5: identity says nothing about an account not linked to this library, so the
    helpdesk can only say it is not the customer's (as for a name that does not exist)."""
    made = all_in_order(w)
    return names(made, other=w.patrons.take().username)


def types_account_of_another_customer_here(w: World) -> Made:
    made = all_in_order(w)
    other = w.member()
    return names(made, other=w.linked(other).username)


def no_link_types_account_of_another_customer(w: World) -> Made:
    other = w.member()
    their = w.linked(other)
    return names(Made(w.member()), other=their.username)


def family(w: World, role: str) -> tuple[str, str]:
    """A Gezin Compleet subscription: (main member's card, the `role` member's card)."""
    main = w.desk.customer(name=f"Ouder {tag()}", birth_date="1980-02-02")
    if role == "child":
        member = w.desk.customer(name=f"Kind {tag()}", birth_date="2015-06-01", email=None)
    else:
        member = w.desk.customer(name=f"Partner {tag()}", birth_date="1982-03-03")
    w.desk.subscription(main, "gezin", members=((member, role),))
    return main, member


def child_account_on_parent(w: World) -> Made:
    parent, child = family(w, "child")
    kid = w.patrons.take()
    w.link_at_identity(parent, kid)  # the kid agreed, at the parent's card
    return names(Made(child, patron=kid))


def partner_account_on_main_member(w: World) -> Made:
    main, partner = family(w, "partner")
    theirs = w.patrons.take()
    w.link_at_identity(main, theirs)
    return names(Made(partner, patron=theirs))


def stale_rights(w: World) -> Made:
    """Another system (an old import) pushed older data after the library's own push.
    ("Never authorized" does not last: the library pushes after every link it makes, and
    after a link made behind its back as soon as the changes feed shows it.)"""
    card = w.member()
    return names(Made(card, patron=w.linked(card, stale=True)))


def subscription_changed_old_rights_replayed(w: World) -> Made:
    card = w.desk.customer()
    subscription = w.desk.subscription(card, "compact")
    patron = w.linked(card)
    before = w.pushed_at(card)
    # Compact -> Compleet: the library pushes the change; then an old import replays the
    # Compact authorization.
    w.desk.update_subscription(subscription["id"], type="compleet")
    w.wait_for_push(card, after=before)
    w.push_stale(card)
    return names(Made(card, patron=patron))


def stale_rights_and_recovery_differs(w: World) -> Made:
    card = w.member()
    patron = w.linked(card, recovery=f"vroeger.{tag()}@example.net", stale=True)
    return names(Made(card, patron=patron))


def basis_subscription(w: World) -> Made:
    card = w.member("basis")
    return names(Made(card, patron=w.linked(card)))


def compleet_ended_now_basis(w: World) -> Made:
    card = w.desk.customer()
    w.desk.subscription(card, "compleet", start=days_ago(400), end=days_ago(40))
    w.desk.subscription(card, "basis", start=days_ago(39))
    return names(Made(card, patron=w.linked(card)))


def blocked(w: World) -> Made:
    made = all_in_order(w)
    w.block(made.patron.username)
    return made


def blocked_and_recovery_missing(w: World) -> Made:
    card = w.member()
    patron = w.linked(card, recovery=None)
    w.block(patron.username)
    return names(Made(card, patron=patron))


def wrong_passwords_today(w: World) -> Made:
    made = all_in_order(w)
    for _ in range(3):
        w.wrong_password(made.patron.username)
    return made


def wrong_passwords_and_recovery_differs(w: World) -> Made:
    card = w.member()
    old = f"oud.{tag()}@example.net"
    patron = w.linked(card, recovery=old)
    w.wrong_password(patron.username)
    return names(Made(card, patron=patron, mail_to=old))


def recovery_missing(w: World) -> Made:
    card = w.member()
    return names(Made(card, patron=w.linked(card, recovery=None)))


def generated_without_email_email_given_later(w: World) -> Made:
    card, later = w.member(email=None), f"later.{tag()}@example.org"
    w.active_without_password(card)
    w.desk.update(card, email=later)
    return names(Made(card, mail_to=later))


def recovery_differs(w: World) -> Made:
    card = w.member()
    return names(Made(card, patron=w.linked(card, recovery=f"oud.{tag()}@example.net")))


def email_changed_at_the_library(w: World) -> Made:
    card = w.member()
    first = w.email_of(card)
    w.active_without_password(card)
    w.desk.update(card, email=f"nieuw.{tag()}@example.org")
    return names(Made(card, mail_to=first))  # the recovery address is still the first


def active_without_password_tried(w: World) -> Made:
    """Activated at the desk, the mail to choose a password not used; the patron tries to
    sign in anyway (identity records `no_password`)."""
    card = w.member()
    w.active_without_password(card)
    account = w.identity.ok(w.identity.show(card))
    w.wrong_password(account["username"])
    return names(Made(card, mail_to=w.email_of(card)))


def recovery_differs_after_email_change(w: World) -> Made:
    """The patron's own (confirmed) address was the library's; then the customer gave the
    library a new one."""
    card = w.member()
    patron = w.linked(card)
    w.desk.update(card, email=f"verhuisd.{tag()}@example.org")
    return names(Made(card, patron=patron))


def email_given_after_linking(w: World) -> Made:
    card = w.member(email=None)
    patron = w.linked(card, recovery=None)
    w.desk.update(card, email=f"later.{tag()}@example.org")
    return names(Made(card, patron=patron))


def child_without_email_with_password(w: World) -> Made:
    card = w.member("jeugd", birth_date="2012-04-04", email=None)
    return names(Made(card, patron=w.linked(card, recovery=None)))


def no_address_anywhere(w: World) -> Made:
    card = w.member(email=None)
    return names(Made(card, patron=w.linked(card, recovery=None)))


def generated_without_recovery_address_activated(w: World) -> Made:
    """Generated at the desk without a recovery address (the customer did not want the
    library's), activated there: the mail to choose a password has nowhere to go yet."""
    card = w.member()
    w.desk.generate(card, recovery_email="")
    w.desk.activate(card)
    w.desk.authorize(card)
    return names(Made(card, mail_to=w.email_of(card)))


def child_without_email_activated_at_desk(w: World) -> Made:
    card = w.member("jeugd", birth_date="2013-09-09", email=None)
    w.active_without_password(card)
    return names(Made(card))


def with_passkeys(w: World, made: Made, *names: str):
    """The patron signs in with the password and adds passkeys (a software authenticator,
    tests/e2e/passkeys_http.py); the device and the signed-in browser."""
    browser, key = w.browser_at(made.patron), authenticator(w.system)
    for name in names:
        added = add_passkey(w.system, browser, key, name)
        assert added.status_code == 200, added.text
    return key, browser


def refused(answer) -> None:
    assert answer.status_code == 400, (answer.status_code, answer.text)


def removed_passkey_still_offered(w: World) -> Made:
    made = all_in_order(w)
    key, browser = with_passkeys(w, made, "telefoon")
    remove_passkey(w.system, browser, "telefoon")
    refused(passkey_attempt(w.system, key))  # the device still offers it
    return made


def old_phone_removed_new_one_kept(w: World) -> Made:
    made = all_in_order(w)
    key, browser = with_passkeys(w, made, "oude telefoon", "nieuwe telefoon")
    old = next(iter(key.credentials))
    remove_passkey(w.system, browser, "oude telefoon")
    refused(passkey_attempt(w.system, key, old))
    refused(passkey_attempt(w.system, key, old))
    return made


def passkey_signed_by_another_key(w: World) -> Made:
    made = all_in_order(w)
    key, _browser = with_passkeys(w, made, "telefoon")
    refused(passkey_attempt(w.system, key.impostor()))
    return made


def cloned_passkey_counter_behind(w: World) -> Made:
    """A copied authenticator: its signature counter is behind the one identity saw last."""
    made = all_in_order(w)
    key, _browser = with_passkeys(w, made, "telefoon")
    assert passkey_attempt(w.system, key).status_code == 200  # signs in, counter 1
    refused(passkey_attempt(w.system, key, count=1))  # the copy says 1 again
    return made


def logout_detected_reported_by_mijn_menu(w: World) -> Made:
    made = all_in_order(w)
    w.signed_in_at_mijn_menu(made.patron)
    w.report_logout_detected(made.card)
    return made


def logout_detected_reported_by_the_online_bibliotheek(w: World) -> Made:
    made = all_in_order(w)
    w.signed_in_at_reading(made.patron)
    w.report_logout_detected(made.card, client_id=READING)
    return made


def signed_out_under_the_online_bibliotheek(w: World) -> Made:
    made = all_in_order(w)
    w.sign_out_under_the_online_bibliotheek(made.patron)
    w.wait_for_event(made.card, "logout_detected")  # reported by the reading worker
    return made


# -- the table ---------------------------------------------------------------------------
# Written from the procedures' YAML (src/bibid/library/helpdesk/procedures/): the walk goes
# from check to check while they find nothing; a check that finds something goes to its
# `found` (or `routes`) node, where an action stops the walk (the next fix), an advice goes
# on, and a question or an end stops it. `later`: the findings further on the path (after
# an advice); `also`: the findings of checks the walk did not reach ("ook gezien").


@dataclass(frozen=True)
class Scenario:
    name: str
    setup: Callable[[World], Made]
    problem: str
    username: str | None  # which of the set-up's names the customer types, if known
    expected: str  # the first finding on the path: the cause
    next: str  # where the walk stops: "fix <node>", "question <node>" or "end <node>"
    fix: str | None = None  # next's fix (the library REST API's operationId)
    later: tuple[str, ...] = ()  # the findings after the cause on the path, in order
    also: tuple[str, ...] = ()  # also_seen
    # What the fix achieves: "gone"; "mail" (the patron finishes it).
    after: str = "gone"

    @property
    def outcome(self) -> str:
        if self.expected == "not-allowed-colleague":
            return "not-allowed"
        if self.expected == "no-problem-found":
            return "no-problem-found"
        return "fix-available" if self.fix else "ask-customer"

    def __str__(self) -> str:
        return self.name


S = Scenario
GENERATE, LINK, ACTIVATE = (
    "login_account_generate",
    "login_account_link",
    "login_account_activate",
)
AUTHORIZE, UNBLOCK = "login_account_authorize", "login_account_unblock"
RESET, RECOVERY = "login_account_send_password_reset", "login_account_reset_recovery_email"
SCENARIOS = [
    S(
        "colleague with an account",
        colleague_with_account,
        CL,
        "own",
        "not-allowed-colleague",
        "end not_allowed",
    ),
    S(
        "customer who became a volunteer",
        customer_become_volunteer,
        EB,
        None,
        "not-allowed-colleague",
        "end not_allowed",
    ),
    S(
        "subscription ended",
        subscription_ended,
        CL,
        None,
        "subscription-inactive",
        "question try_now",
    ),
    S(
        "subscription cancelled",
        subscription_cancelled,
        EB,
        None,
        "subscription-inactive",
        "end no_subscription",
    ),
    S(
        "no subscription, no account",
        no_subscription_no_account,
        EB,
        None,
        "subscription-inactive",
        "end no_subscription",
        also=("no-login-account",),
    ),
    # The subscription is advice (renew, then go on): the walk reaches the inactive account.
    S(
        "inactive account AND ended subscription",
        inactive_account_and_subscription_ended,
        CL,
        None,
        "subscription-inactive",
        "fix activate",
        ACTIVATE,
        later=("login-account-inactive",),
    ),
    S("no account", no_account, CL, None, "no-login-account", "fix generate", GENERATE),
    # For e-books the seed links the patron's account (the handover page, no name typed).
    S(
        "no account linked, the patron has one",
        no_account_linked_patron_has_one,
        EB,
        None,
        "no-login-account",
        "fix link",
        LINK,
    ),
    S(
        "own account, not linked (types it)",
        own_account_not_linked,
        EB,
        "own",
        "account-not-linked",
        "fix link",
        LINK,
    ),
    S(
        "unlinked at the library, types the old account",
        unlinked_types_old_account,
        CL,
        "own",
        "account-not-linked",
        "fix link_typed",
        LINK,
    ),
    S(
        "generated, never activated, purged after 24 h",
        generated_never_activated_then_purged,
        CL,
        None,
        "login-account-deleted",
        "fix generate",
        GENERATE,
    ),
    S(
        "generated without e-mail, purged after 24 h",
        generated_without_email_then_purged,
        IA,
        None,
        "login-account-deleted",
        "fix generate",
        GENERATE,
    ),
    S(
        "generated by the library, not activated",
        generated_by_the_library,
        CL,
        None,
        "login-account-inactive",
        "fix activate",
        ACTIVATE,
    ),
    S(
        "inactive account made elsewhere",
        inactive_account_from_elsewhere,
        IA,
        None,
        "login-account-inactive",
        "fix activate",
        ACTIVATE,
    ),
    S(
        "types a name that does not exist",
        types_unknown_name,
        CL,
        "unknown",
        "wrong-username",
        "question try_now",
    ),
    S(
        "types a name that does not exist, recovery differs",
        types_unknown_name_and_recovery_differs,
        CL,
        "unknown",
        "wrong-username",
        "fix reset_recovery",
        RECOVERY,
        later=("recovery-email-differs",),
    ),
    S(
        "types another account, not linked here (L5: as if it did not exist)",
        types_account_not_linked_here,
        EB,
        "other",
        "wrong-username",
        "question check_now",
    ),
    S(
        "types the account of another customer here",
        types_account_of_another_customer_here,
        EB,
        "other",
        "other-account-in-use",
        "question check_now",
    ),
    S(
        "no link; types the account of another customer",
        no_link_types_account_of_another_customer,
        CL,
        "other",
        "other-account-in-use",
        "question try_now",
    ),
    S(
        "child's account linked to the parent",
        child_account_on_parent,
        CL,
        "own",
        "linked-to-other-family-member",
        "fix relink",
        LINK,
    ),
    S(
        "partner's account linked to the main member",
        partner_account_on_main_member,
        EB,
        "own",
        "linked-to-other-family-member",
        "fix relink",
        LINK,
    ),
    S(
        "older rights pushed by another system",
        stale_rights,
        CL,
        None,
        "authorization-outdated",
        "fix authorize",
        AUTHORIZE,
    ),
    S(
        "subscription changed, then the old rights replayed",
        subscription_changed_old_rights_replayed,
        EB,
        None,
        "authorization-outdated",
        "fix authorize",
        AUTHORIZE,
    ),
    S(
        "outdated authorization AND recovery differs",
        stale_rights_and_recovery_differs,
        CL,
        None,
        "authorization-outdated",
        "fix authorize",
        AUTHORIZE,
        also=("recovery-email-differs",),
    ),
    S(
        "Basis subscription",
        basis_subscription,
        EB,
        None,
        "subscription-without-ebooks",
        "end other_subscription",
    ),
    S(
        "Compleet ended, now Basis",
        compleet_ended_now_basis,
        EB,
        "own",
        "subscription-without-ebooks",
        "end other_subscription",
    ),
    S(
        "blocked AND wrong passwords",
        blocked,
        CL,
        None,
        "login-blocked",
        "fix unblock",
        UNBLOCK,
        also=("password-failures",),
    ),
    S(
        "blocked, no recovery address",
        blocked_and_recovery_missing,
        CL,
        "own in capitals",
        "login-blocked",
        "fix unblock",
        UNBLOCK,
        also=("password-failures", "recovery-email-missing"),
    ),
    S(
        "three wrong passwords today",
        wrong_passwords_today,
        CL,
        None,
        "password-failures",
        "fix reset",
        RESET,
        after="mail",
    ),
    S(
        "a wrong password, recovery differs",
        wrong_passwords_and_recovery_differs,
        CL,
        "own",
        "password-failures",
        "fix reset",
        RESET,
        also=("recovery-email-differs",),
        after="mail",
    ),
    S(
        "active, no password yet, sign-in tried",
        active_without_password_tried,
        CL,
        None,
        "password-not-set",
        "fix choose_password",
        RESET,
        after="mail",
    ),
    S(
        "e-mail changed at the library (no password chosen yet)",
        email_changed_at_the_library,
        CL,
        None,
        "password-not-set",
        "fix choose_password",
        RESET,
        also=("recovery-email-differs",),
        after="mail",
    ),
    # Without a recovery address the mail to choose a password cannot go: the flowchart sets
    # the address first (password_address), then the mail (choose_password).
    S(
        "generated without e-mail, e-mail given later (no password chosen yet)",
        generated_without_email_email_given_later,
        CL,
        None,
        "password-not-set-no-recovery-email",
        "fix password_address",
        RECOVERY,
        also=("recovery-email-missing",),
    ),
    S(
        "generated without a recovery address, activated at the desk",
        generated_without_recovery_address_activated,
        EB,
        None,
        "password-not-set-no-recovery-email",
        "fix password_address",
        RECOVERY,
    ),
    S(
        "no recovery address",
        recovery_missing,
        CL,
        None,
        "recovery-email-missing",
        "fix reset_recovery",
        RECOVERY,
    ),
    S(
        "e-mail given after linking an account without an address",
        email_given_after_linking,
        CL,
        "own in capitals",
        "recovery-email-missing",
        "fix reset_recovery",
        RECOVERY,
    ),
    S(
        "recovery address is an old one",
        recovery_differs,
        CL,
        None,
        "recovery-email-differs",
        "fix reset_recovery",
        RECOVERY,
    ),
    S(
        "recovery address set by the patron long ago, e-mail changed at the library since",
        recovery_differs_after_email_change,
        CL,
        "own",
        "recovery-email-differs",
        "fix reset_recovery",
        RECOVERY,
    ),
    S(
        "no address anywhere",
        no_address_anywhere,
        CL,
        None,
        "no-email-address",
        "question ask_address",
    ),
    S(
        "child without e-mail, activated at the desk (no password chosen yet)",
        child_without_email_activated_at_desk,
        CL,
        None,
        "no-email-address",
        "question ask_address",
    ),
    S(
        "child without e-mail, chose a password",
        child_without_email_with_password,
        CL,
        None,
        "no-email-address",
        "question ask_address",
    ),
    # Passkeys (issue 17): a refused passkey explains why the patron cannot sign in with it;
    # the password and its reset stay, so the walk goes on to what the helpdesk asks next.
    S(
        "a removed passkey still offered by the device",
        removed_passkey_still_offered,
        CL,
        None,
        "passkey-removed",
        "question try_now",
    ),
    S(
        "old phone's passkey removed, the new one kept",
        old_phone_removed_new_one_kept,
        CL,
        None,
        "passkey-removed",
        "question try_now",
    ),
    S(
        "a passkey signed by another key",
        passkey_signed_by_another_key,
        CL,
        None,
        "passkey-refused",
        "question try_now",
    ),
    S(
        "a copied passkey, its counter behind",
        cloned_passkey_counter_behind,
        CL,
        None,
        "passkey-refused",
        "question try_now",
    ),
    S(
        "LOGOUT_DETECTED reported by Mijn Menu",
        logout_detected_reported_by_mijn_menu,
        LD,
        None,
        "browser-interference",
        "question try_now",
    ),
    S(
        "LOGOUT_DETECTED reported by the Online Bibliotheek",
        logout_detected_reported_by_the_online_bibliotheek,
        CL,
        None,
        "browser-interference",
        "question try_now",
    ),
    # Signing out elsewhere is an ordinary sign-out (a back-channel logout), not the browser.
    S(
        "signed out under the Online Bibliotheek",
        signed_out_under_the_online_bibliotheek,
        CL,
        None,
        "no-problem-found",
        "question try_now",
    ),
    S("all in order", all_in_order, CL, None, "no-problem-found", "question try_now"),
    S(
        "recovery address in other capitals, types own name in capitals",
        recovery_in_other_capitals,
        EB,
        "own in capitals",
        "no-problem-found",
        "question check_now",
    ),
]


def test_the_table_covers_every_finding_code_twice():
    """Every code is the cause for at least two different set-ups."""
    for code in CODES:
        setups = {s.setup for s in SCENARIOS if s.expected == code}
        assert len(setups) >= 2, f"{code}: {len(setups)} set-up(s)"


def test_the_table_agrees_with_the_definitions():
    """Every `next` node exists in its procedure with that kind (a renamed node is caught
    here, not by a confusing diagnosis mismatch)."""
    kinds = {"fix": "action", "question": "question", "end": "end"}
    for scenario in SCENARIOS:
        kind, node = scenario.next.split()
        definition = definitions.procedure_for(scenario.problem)
        assert definition.nodes[node].kind == kinds[kind], scenario
        assert (kind == "fix") is (scenario.fix is not None), scenario


def codes(diagnosis: dict) -> list[str]:
    return [f["code"] for f in diagnosis["findings"]]


def all_codes(diagnosis: dict) -> list[str]:
    return codes(diagnosis) + [f["code"] for f in diagnosis["also_seen"]]


def assert_well_formed(diagnosis: dict, card: str, problem: str) -> None:
    assert diagnosis["problem"] == problem
    assert diagnosis["customer"]["card_number"] == card
    assert diagnosis["customer"]["library"] == "aan-de-maas"
    found = all_codes(diagnosis)
    assert len(set(found)) == len(found), found
    assert diagnosis["path"] and diagnosis["procedure"]["id"] == problem
    assert isinstance(diagnosis["case"], int)
    assert diagnosis["cause"] == diagnosis["findings"][0]
    path = [step["node"] for step in diagnosis["path"]]
    assert diagnosis["next"]["node"] == path[-1]
    nodes = definitions.procedure_for(problem).nodes
    for finding in diagnosis["findings"] + diagnosis["also_seen"]:
        # The node that ran the check gives the step and the title.
        assert finding["node"] in nodes and finding["step"] == nodes[finding["node"]].step
        assert finding["title"] == nodes[finding["node"]].title and finding["summary"]
        if finding["code"] not in ("not-allowed-colleague", "no-problem-found"):
            assert nodes[finding["node"]].kind == "check", finding
    on_path = [f["node"] for f in diagnosis["findings"] if f["code"] != "no-problem-found"]
    assert on_path == [n for n in path if n in on_path], (on_path, path)
    assert not {f["node"] for f in diagnosis["also_seen"]} & set(path), diagnosis["also_seen"]


def the_fixed_code(diagnosis: dict) -> str:
    """The finding whose fix `next` is: the one on the path that routed to that action."""
    node = diagnosis["next"]["node"]
    return next(
        f["code"] for f in reversed(diagnosis["findings"]) if (f["fix"] or {}).get("node") == node
    )


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
def test_scenario(world: World, scenario: Scenario):
    made = scenario.setup(world)
    typed = made.names[scenario.username] if scenario.username else None
    answer = world.desk.diagnose(made.card, scenario.problem, typed)
    diagnosis = Desk.ok(answer)
    assert_well_formed(diagnosis, made.card, scenario.problem)
    assert codes(diagnosis) == [scenario.expected, *scenario.later], diagnosis["path"]
    assert sorted(c["code"] for c in diagnosis["also_seen"]) == sorted(scenario.also)
    nxt = diagnosis["next"]
    assert f"{nxt['kind']} {nxt['node']}" == scenario.next, diagnosis["path"]
    assert (nxt["fix"] or {}).get("operation") == scenario.fix, nxt
    assert diagnosis["outcome"] == scenario.outcome
    if scenario.fix is None:
        first = diagnosis["findings"][0]
        assert first["question"] or nxt["text"] or scenario.outcome == "not-allowed", first
        if nxt["kind"] == "question":
            assert nxt["answers"], nxt
        return

    fix, code = nxt["fix"], the_fixed_code(diagnosis)
    # One click, except linking an account: the patron must agree (rule L2); moving one
    # between family members needs the staff member's tick first.
    linking = fix["operation"] == LINK
    assert fix["one_click"] is not linking
    assert fix["confirm"] is bool(fix["args"].get("unlink_from"))
    # Who may carry it out: the helpdesk always; the desk neither lifts blocks nor unlinks.
    assert fix["allowed"] is True
    desk_view = Desk.ok(world.counter.diagnose(made.card, scenario.problem, typed))
    needs = {fix["operation"]} | ({"unlink"} if fix["args"].get("unlink_from") else set())
    assert desk_view["next"]["fix"]["allowed"] is not bool(needs & DESK_MAY_NOT)

    before = world.mailbox.count()
    if fix["confirm"]:
        refused = world.desk.fix(made.card, scenario.problem, code, typed)
        assert refused.status_code == 400, refused.text
        assert refused.json()["code"] == "confirm_first"
        assert codes(refused.json()["data"]["diagnosis"]) == codes(diagnosis)  # unchanged
    fixed = Desk.ok(
        world.desk.fix(
            made.card, scenario.problem, code, typed, confirm=True if fix["confirm"] else None
        )
    )
    assert fixed["done"]["summary"]
    assert fixed["fix"]["operation"] == fix["operation"]
    after = fixed["diagnosis"]
    assert_well_formed(after, made.card, scenario.problem)
    assert after["case"] != diagnosis["case"]
    if linking:
        assert fixed["fix"]["state"] == "waiting_for_patron"
        after = link_with_the_patron(world, made, scenario, fix, fixed, code, typed)
    if scenario.after == "gone":
        assert linking or fixed["fix"]["state"] == "worked", fixed["fix"]
        assert code not in all_codes(after), after["findings"]
    else:  # a mail: the patron still has to choose the password
        assert fixed["fix"]["state"] == "waiting_for_patron", fixed["fix"]
        # Carried out: in this case the walk goes on past it.
        assert {p["node"]: p["result"] for p in after["path"]}[fix["node"]] == "done"
        assert code in all_codes(after)
        mail = world.wait_for_mail(made.mail_to, PASSWORD_RESET_SUBJECT, after=before)
        link = mail.link("/wachtwoord-herstellen/")
        assert link.startswith(world.system.urls["identity"])
        # Once the patron has chosen one, the cause is gone (the failures before it are
        # history, not a cause all day).
        chosen = choose_password(link, f"Nieuw-en-lang-{tag()}")
        assert chosen.status_code in (200, 302), chosen.status_code
        again = Desk.ok(world.desk.diagnose(made.card, scenario.problem, typed))
        assert code not in all_codes(again), again["findings"]


def link_with_the_patron(
    world: World,
    made: Made,
    scenario: Scenario,
    fix: dict,
    fixed: dict,
    code: str,
    typed: str | None,
) -> dict:
    """The login_account_link fix opened a link request and linked nothing (rule L2); the
    patron signs in on the handover page, then the helpdesk confirms. An account linked to a
    family member moves only then. Returns the diagnosis after the link (and its push)."""
    done = fixed["done"]
    identity = world.system.urls["identity"]
    request_id = done["identity"]["request_id"]
    assert done["action"] == "link", done
    assert done["identity"]["handover_url"] == f"{identity}/koppelen/{request_id}/", done
    assert codes(fixed["diagnosis"])[0] == code  # nothing linked
    member = fix["args"].get("unlink_from")
    if member:
        assert done["identity"]["move_from"] == member

    def account_of(card: str) -> str | None:
        """The username linked to `card`, as identity has it."""
        shown = world.identity.show(card)
        return shown.json()["username"] if shown.status_code == 200 else None

    # Nothing happens before the patron agrees.
    waiting = world.desk.confirm_link(made.card, request_id, status=409)
    assert waiting["code"] == "waiting_for_patron", waiting
    assert account_of(made.card) is None
    approve_handover(done["identity"]["handover_url"], made.patron.username, made.patron.password)
    if member:
        # Without `move_from` the confirmation does not take the account from the family
        # member: refused, nothing moved. With it, the account moves (after the patron's
        # proof), in one call, as in the console.
        refused = world.desk.confirm_link(made.card, request_id, status=409)
        assert refused["code"] == "account_linked_to_other_customer", refused
        assert account_of(member) == made.patron.username
        assert account_of(made.card) is None
    confirmed = Desk.ok(
        world.desk.link_confirm(
            made.card,
            scenario.problem,
            request_id,
            username=typed,
            case=fixed["diagnosis"]["case"],
            move_from=member,
        )
    )
    assert confirmed["done"]["action"] == "link_confirm", confirmed["done"]
    assert confirmed["done"]["identity"]["account"]["username"] == made.patron.username
    # Linked and its rights push delivered: the effect is confirmed.
    assert confirmed["fix"] == {"state": "worked", "operation": LINK}, confirmed["fix"]
    assert account_of(made.card) == made.patron.username
    assert world.desk.get(made.card)["login_account"]["username"] == made.patron.username
    if member:
        assert account_of(member) is None
    after = confirmed["diagnosis"]
    assert_well_formed(after, made.card, scenario.problem)
    return after


# -- beyond the table --------------------------------------------------------------------


def test_the_desk_links_the_customers_own_account_in_two_steps(world: World):
    """Koppel inlogaccount through the library's REST API (rule L2): a link request (202),
    nothing linked until the patron agrees on the handover page, then the link (201)."""
    card, patron = world.member(), world.patrons.take()
    asked = world.counter.link(card, patron.username)
    assert asked["action"] == "link"
    request = asked["identity"]
    identity = world.system.urls["identity"]
    assert request["handover_url"] == f"{identity}/koppelen/{request['request_id']}/"
    assert request["expires_at"]
    waiting = world.counter.confirm_link(card, request["request_id"], status=409)
    assert waiting["code"] == "waiting_for_patron"
    wrong = world.counter.confirm_link(card, request["request_id"], "000000", status=400)
    assert (wrong["code"], wrong["data"]) == ("wrong_code", {"attempts_left": 4})
    assert world.desk.get(card)["login_account"]["linked"] is False
    assert world.identity.show(card).status_code == 404
    approve_handover(request["handover_url"], patron.username, patron.password)
    done = world.counter.confirm_link(card, request["request_id"])
    assert done["action"] == "link_confirm"
    assert done["identity"]["account"]["username"] == patron.username
    assert world.desk.get(card)["login_account"] == {
        "linked": True,
        "username": patron.username,
        "visible": True,
        "unconfirmed": 0,
    }
    after = Desk.ok(world.desk.diagnose(card, CL, patron.username))
    assert "no-login-account" not in codes(after)
    assert "wrong-username" not in codes(after)


def test_the_desk_cannot_lift_a_block(world: World):
    made = blocked(world)
    refused = world.counter.fix(made.card, CL, "login-blocked")
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "not_allowed"
    still = Desk.ok(world.desk.diagnose(made.card, CL))
    assert codes(still)[0] == "login-blocked"


def test_colleague_rule_through_the_api(world: World):
    made = colleague_with_account(world)
    account = world.identity.ok(world.identity.show(made.card))
    answer = world.desk.diagnose(made.card, CL, made.names["own"])
    diagnosis = Desk.ok(answer)
    assert diagnosis["outcome"] == "not-allowed"
    assert codes(diagnosis)[0] == "not-allowed-colleague"
    assert diagnosis["findings"][0]["fix"] is None
    for secret in (account["username"], str(account["account_id"]), account["recovery_email"]):
        assert secret not in answer.text, secret  # nothing identity knows about the account
    # No fix for a colleague, whatever the form says.
    for code in ("not-allowed-colleague", "no-login-account", "authorization-outdated"):
        refused = world.desk.fix(made.card, CL, code, made.names["own"])
        assert refused.status_code == 409, refused.text


def test_colleague_findings_are_only_the_colleague_rule(world: World):
    """Nothing but the colleague rule speaks: no claim about an account that was not read
    (before 8657be8 the other checks ran on the empty status and said no-login-account)."""
    made = colleague_with_account(world)
    for problem in (CL, EB, LD, IA):
        diagnosis = Desk.ok(world.desk.diagnose(made.card, problem, made.names["own"]))
        assert codes(diagnosis) == ["not-allowed-colleague"], (problem, codes(diagnosis))
        assert diagnosis["outcome"] == "not-allowed"


def test_colleague_rule_through_the_command_line(world: World, system):
    made = customer_become_volunteer(world)
    out = system.bibid(
        "diagnose", "--library", "aan-de-maas", "--card", made.card, "--problem", CL, "--json"
    )
    diagnosis = json.loads(out)
    assert diagnosis["outcome"] == "not-allowed"
    assert codes(diagnosis) == ["not-allowed-colleague"]
    assert made.patron.username not in out


def test_the_command_line_says_what_the_api_says(world: World, system):
    made = recovery_differs(world)
    api = Desk.ok(world.desk.diagnose(made.card, CL))
    cli = json.loads(
        system.bibid(
            "diagnose", "--library", "aan-de-maas", "--card", made.card, "--problem", CL, "--json"
        )
    )
    assert codes(cli) == codes(api) == ["recovery-email-differs"]
    assert cli["findings"][0]["fix"]["operation"] == "login_account_reset_recovery_email"
    assert cli["next"] == api["next"]
    assert (cli["next"]["kind"], cli["next"]["node"]) == ("fix", "reset_recovery")
    assert cli["outcome"] == api["outcome"] == "fix-available"


def test_a_colleague_may_diagnose_themselves(world: World, system):
    nina = Desk(system, "nina")  # desk staff, and customer 2010000014 (a colleague)
    diagnosis = Desk.ok(nina.diagnose("2010000014", CL))
    assert diagnosis["outcome"] != "not-allowed"
    assert "not-allowed-colleague" not in codes(diagnosis)


def test_another_librarys_staff_get_404(world: World, system):
    made = all_in_order(world)
    other = Desk(system, "helpdesk.duin")
    for answer in (
        other.diagnose(made.card, CL),
        other.diagnose("2010000001", CL),
        other.fix(made.card, CL, "no-problem-found"),
        other.fix("2010000006", CL, "no-login-account"),
    ):
        assert answer.status_code == 404, answer.text
        assert answer.json()["code"] == "customer_not_found"
    assert (
        Desk.ok(world.desk.diagnose("2010000006", CL))["findings"][0]["code"] == "no-login-account"
    )  # and nothing was generated for it


BAD = [
    ("unknown problem", {"problem": "kan-niet-printen"}, 400, "problem"),
    ("no problem", {}, 400, "problem"),
    ("problem null", {"problem": None}, 400, "problem"),
    ("problem a number", {"problem": 7}, 400, "problem"),
    ("username of 255", {"problem": CL, "username": "x" * 255}, 400, "username"),
    ("username a list", {"problem": CL, "username": ["a"]}, 400, "username"),
    # A misspelt field is refused, not silently ignored (the diagnosis would run without it).
    ("misspelt username", {"problem": CL, "usernaam": "jan"}, 400, "usernaam"),
]


@pytest.mark.parametrize(("label", "body", "status", "field_"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_a_clear_4xx(world: World, label, body, status, field_):
    answer = world.desk.call("POST", "/customers/2010000001/diagnosis", body)
    assert answer.status_code == status, answer.text
    problem = answer.json()
    assert problem["field"] == field_
    assert problem["messages"]["nl"] and problem["messages"]["en"]
    if label == "unknown problem":
        assert "cannot-login" in json.dumps(problem)  # names the choices


def test_other_bad_input_is_never_a_500(world: World):
    call, card = world.desk.call, "/customers/2010000001"
    refused = [
        call(
            "POST", f"{card}/diagnosis", data="{nope", headers={"Content-Type": "application/json"}
        ),
        call("POST", f"{card}/diagnosis/fix", {"problem": CL}),
        call("POST", f"{card}/diagnosis/fix", {"problem": CL, "code": "x" * 41}),
        call("POST", f"{card}/diagnosis/fix", {"problem": "onzin", "code": "login-blocked"}),
        call("POST", f"{card}/diagnosis/fix", {"problem": CL, "code": "bestaat-niet"}),
        call("POST", f"{card}/diagnosis/fix", {"problem": CL, "code": "login-blocked"}),
        call("POST", "/customers/..%2F..%2Fadmin/diagnosis", {"problem": CL}),
        call("POST", "/customers/" + "9" * 21 + "/diagnosis", {"problem": CL}),
    ]
    for answer in refused:
        assert 400 <= answer.status_code < 500, (
            answer.request.url,
            answer.request.body,
            answer.status_code,
            answer.text[:300],
        )
    # Odd but valid names are just names nobody has.
    for odd in ("é" * 254, "' OR 1=1--", "a\u202eb\u200bc", "%", "2010000001 "):
        answer = call("POST", f"{card}/diagnosis", {"problem": CL, "username": odd})
        assert answer.status_code == 200, (odd, answer.status_code, answer.text[:300])
    unauthenticated = Desk(world.system, HELPDESK)
    unauthenticated.http.headers["Authorization"] = "Bearer bibid_nope"
    assert unauthenticated.diagnose("2010000001", CL).status_code == 401


def test_fix_for_a_cause_that_is_gone_is_refused(world: World):
    made = recovery_differs(world)
    Desk.ok(world.desk.fix(made.card, CL, "recovery-email-differs"))
    again = world.desk.fix(made.card, CL, "recovery-email-differs")
    assert again.status_code == 409, again.text
    assert again.json()["code"] == "no_such_fix"


# -- found while writing these ------------------------------------------------------------


def test_wrong_passwords_just_after_dutch_midnight_count_as_today(world: World, system):
    """'Vandaag' is the Dutch day, as identity's failures_today counts it (password_failures
    compared UTC dates at first: failures between 00:00 and 01:00 in Amsterdam, in winter,
    were forgotten an hour later)."""
    made = all_in_order(world)
    # Move the services' clock to 23:20 UTC (00:20 or 01:20 in Amsterdam, the next day).
    now = datetime.now(UTC) + timedelta(seconds=float(system.clock_file.read_text() or 0))
    target = now.replace(hour=23, minute=20, second=0, microsecond=0)
    if target <= now:
        target += timedelta(days=1)
    shift = (target - now).total_seconds()
    system.move_clock(seconds=shift)
    try:
        for _ in range(2):
            world.wrong_password(made.patron.username)
        system.move_clock(hours=1)  # 00:20 UTC: still the same day in Amsterdam
        shift += 3600
        identity = world.identity_now()  # a token of this (moved) hour
        status = identity.ok(identity.status(made.card))
        assert status["failures_today"] == 2  # identity: same (Dutch) day
        diagnosis = Desk.ok(world.desk.diagnose(made.card, CL))
        assert codes(diagnosis)[0] == "password-failures", codes(diagnosis)
    finally:
        system.move_clock(seconds=-shift)


def without(diagnosis: dict, typed: str) -> dict:
    """A diagnosis's findings and outcome with the typed name left out (the case differs)."""
    text = json.dumps(
        {
            key: diagnosis[key]
            for key in ("outcome", "cause", "findings", "also_seen", "next", "path")
        }
    )
    return json.loads(text.replace(typed, "TYPED"))


def test_a_name_not_linked_here_reads_like_a_name_that_does_not_exist(world: World):
    """Rule L5: about a name that is not linked to this library, identity tells nothing (not
    whether it exists, nor its state or failures), so the helpdesk says the same for an
    existing account of someone elsewhere as for a made-up name."""
    exists_elsewhere = world.patrons.take().username
    nobody = f"bestaat.niet.{tag()}"
    # A customer with an account of their own: "not the account linked to this customer".
    made = all_in_order(world)
    linked = made.patron.username
    found = Desk.ok(world.desk.diagnose(made.card, CL, exists_elsewhere))
    assert without(found, exists_elsewhere) == without(
        Desk.ok(world.desk.diagnose(made.card, CL, nobody)), nobody
    )
    first = found["findings"][0]
    assert first["code"] == "wrong-username" and first["fix"] is None
    assert first["summary"] == (
        f"De klant typt {exists_elsewhere}; dat is niet het "
        f"inlogaccount dat aan deze klant gekoppeld is ({linked})."
    )
    assert "bestaat" not in first["summary"] + " ".join(first["evidence"])
    assert f"Vertel de klant de gebruikersnaam {linked}" in first["question"]
    # A customer without one: link it if it is theirs; the patron proves it (rule L2).
    card = world.member()
    found = Desk.ok(world.desk.diagnose(card, CL, exists_elsewhere))
    assert without(found, exists_elsewhere) == without(
        Desk.ok(world.desk.diagnose(card, CL, nobody)), nobody
    )
    fix = found["findings"][0]["fix"]
    assert found["findings"][0]["code"] == "account-not-linked"
    assert (fix["operation"], fix["one_click"], fix["args"]) == (
        "login_account_link",
        False,
        {"username": exists_elsewhere},
    )


def test_another_librarys_card_number_names_no_account(world: World):
    """A card number works as a username, but only this library's: staff of Bibliotheek aan
    de Maas who type a Duinstreek card number learn nothing about that card's account (at
    first identity looked card numbers up over every library's links and named it, with a
    one-click account_link to it)."""
    card = world.member()
    diagnosis = Desk.ok(world.desk.diagnose(card, CL, "3020000002"))  # Piet, Duinstreek only
    assert "piet.hendriks" not in json.dumps(diagnosis), diagnosis["findings"][0]
    assert codes(diagnosis)[0] == "account-not-linked"
    # Rule L5: the same as for a name nobody has; the fix is a link request the patron
    # must agree to (rule L2), never one click.
    nobody = f"bestaat.niet.{tag()}"
    unknown = Desk.ok(world.desk.diagnose(card, CL, nobody))
    assert without(diagnosis, "3020000002") == without(unknown, nobody)
    fix = diagnosis["findings"][0]["fix"]
    assert (fix["operation"], fix["one_click"], fix["args"]) == (
        "login_account_link",
        False,
        {"username": "3020000002"},
    )
    # The customer's own card number is the linked account.
    made = all_in_order(world)
    own = Desk.ok(world.desk.diagnose(made.card, CL, made.card))
    assert codes(own) == ["no-problem-found"], own["findings"]


# -- last: every node of every procedure ---------------------------------------------------
# Runs after the other helpdesk modules' tests (pytest takes files in name order:
# test_helpdesk_combinations.py, then this one, and this test last in it). Every diagnosis
# the Desk received there and here (scenarios, combinations, fixes, answers) added its
# path's nodes to REACHED.


def everything_ran(request) -> bool:
    """Did this session run every scenario and every combination?"""
    from . import test_helpdesk_combinations as combinations

    here = sys.modules[__name__]
    ran = Counter((item.module, item.originalname) for item in request.session.items)
    wanted = {
        (module, name)
        for module in (here, combinations)
        for name in vars(module)
        if name.startswith("test_")
    }
    return (
        wanted <= set(ran)
        and ran[(here, "test_scenario")] == len(SCENARIOS)
        and ran[(combinations, "test_combination")] == len(combinations.COMBINATIONS)
    )


def test_zz_every_node_of_every_procedure_was_reached(request, capsys):
    lines = []
    for procedure in sorted(definitions.procedures(), key=lambda d: d.id):
        seen = REACHED.get(procedure.id, set()) & set(procedure.nodes)
        missing = sorted(set(procedure.nodes) - seen)
        lines.append(
            f"{procedure.id}: {len(seen)}/{len(procedure.nodes)} nodes reached"
            + (f", missing: {', '.join(missing)}" if missing else "")
        )
    with capsys.disabled():  # shown in every run's output (CI's log too)
        print("\nhelpdesk node coverage (scenarios + combinations + answers):")
        for line in lines:
            print(f"  {line}")
    if not everything_ran(request):
        pytest.skip("only when every scenario and every combination runs")
    if request.session.testsfailed:
        pytest.skip("a scenario or combination failed")
    assert all("missing" not in line for line in lines), "\n".join(lines)
