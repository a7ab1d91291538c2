"""The helpdesk's diagnosis over real HTTP, as a spec: for each of the 17 finding codes at
least two customers in different states, made through the real APIs (the library's REST
API, identity's library API, identity's sign-in page, the services' sign-in and their
LOGOUT_DETECTED reports, the clock and the 24-hour purge with the changes feed).

For each: `POST /api/v1/customers/{card}/diagnosis` gives the expected first finding (the
cause, in the seed's order), its fix (an operation of identity's library API) or else a
question, and the outcome. Where a fix exists, `POST .../diagnosis/fix` carries it out and
the diagnosis it returns no longer has that cause (the fix worked at the first try); a
password-reset mail cannot finish the job by itself, so there the mail must arrive; linking
an account needs the patron (rule L2), so there the fix opens a link request, the patron
signs in on identity's handover page and the helpdesk confirms, and only then is the cause
gone (an account linked to a family member moves only at that point).

Then the rules around it: colleagues and volunteers (the seed's LET OP) through the API and
the command line, another library's staff, names not linked to the library (rule L5), bad
input.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from bibid.library.helpdesk.findings import ORDER

from .library_api import approve_handover
from .scenarios import HELPDESK, READING, Desk, Made, World, days_ago, tag

PASSWORD_RESET_SUBJECT = "Een nieuw wachtwoord"
# What the desk may not do (helpdesk and managers may): lift a block, unlink a family member.
DESK_MAY_NOT = {"account_unblock", "unlink"}


@pytest.fixture(scope="module")
def world(system, mailbox) -> World:
    return World(system, mailbox, patrons=48)


# -- the set-ups -------------------------------------------------------------------------
# Each makes one customer of Bibliotheek aan de Maas in one state and says which names the
# customer might type. Accounts are linked at identity directly (as another library system
# or an old import would), so no push from the library's worker changes the state behind
# the test's back; "authorized" pushes the customer's current data with the library's own
# "Autoriseer inlogaccount".


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
    return names(Made(card, patron=w.linked(card, authorized=False)))


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
    return names(Made(card))


def no_account(w: World) -> Made:
    return names(Made(w.member()))


def own_account_not_linked(w: World) -> Made:
    """The seed's "*": the customer signs in at the KB with an account of their own."""
    card = w.member()
    return names(Made(card, patron=w.patrons.take()))


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


def never_authorized(w: World) -> Made:
    card = w.member()
    return names(Made(card, patron=w.linked(card, authorized=False)))


def subscription_changed_rights_not_pushed(w: World) -> Made:
    card = w.desk.customer()
    subscription = w.desk.subscription(card, "compact")
    patron = w.linked(card)
    # Compact -> Compleet; the library's push has nothing to go on (it does not know the link).
    w.desk.update_subscription(subscription["id"], type="compleet")
    return names(Made(card, patron=patron))


def stale_rights_and_recovery_differs(w: World) -> Made:
    card = w.member()
    patron = w.linked(card, recovery=f"vroeger.{tag()}@example.net", authorized=False)
    w.push_stale(card)
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
    card = w.member(email=None)
    w.desk.generate(card)
    w.desk.activate(card)
    w.desk.authorize(card)
    w.desk.update(card, email=f"later.{tag()}@example.org")
    return names(Made(card))


def recovery_differs(w: World) -> Made:
    card = w.member()
    return names(Made(card, patron=w.linked(card, recovery=f"oud.{tag()}@example.net")))


def email_changed_at_the_library(w: World) -> Made:
    card = w.member()
    w.desk.generate(card)
    w.desk.activate(card)
    w.desk.authorize(card)
    w.desk.update(card, email=f"nieuw.{tag()}@example.org")
    return names(Made(card))


def no_address_anywhere(w: World) -> Made:
    card = w.member(email=None)
    return names(Made(card, patron=w.linked(card, recovery=None)))


def child_without_email_activated_at_desk(w: World) -> Made:
    card = w.member("jeugd", birth_date="2013-09-09", email=None)
    w.desk.generate(card)
    w.desk.activate(card)
    w.desk.authorize(card)
    return names(Made(card))


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


@dataclass(frozen=True)
class Scenario:
    name: str
    setup: Callable[[World], Made]
    problem: str
    username: str | None  # which of the set-up's names the customer types, if known
    expected: str  # the first finding's code: the cause
    fix: str | None  # its fix (identity's operationId), or None: a question instead
    also: tuple[str, ...] = ()  # further findings that must be there (seed-order combos)
    after: str = "gone"  # what the fix must achieve: "gone" | "mail"

    @property
    def outcome(self) -> str:
        if self.expected == "not-allowed-colleague":
            return "not-allowed"
        if self.expected == "no-problem-found":
            return "no-problem-found"
        return "fix-available" if self.fix else "ask-customer"

    def __str__(self) -> str:
        return self.name


CL, EB, LD, IA = "cannot-login", "no-ebook-rights", "logout-detected", "inactive-account"
S = Scenario
SCENARIOS = [
    S("colleague with an account", colleague_with_account, CL, "own",
      "not-allowed-colleague", None),
    S("customer who became a volunteer", customer_become_volunteer, EB, None,
      "not-allowed-colleague", None),

    S("subscription ended", subscription_ended, CL, None, "subscription-inactive", None),
    S("subscription cancelled", subscription_cancelled, EB, None, "subscription-inactive", None),
    S("no subscription, no account", no_subscription_no_account, EB, None,
      "subscription-inactive", None, also=("no-login-account",)),
    S("inactive account AND ended subscription", inactive_account_and_subscription_ended, CL,
      None, "subscription-inactive", None, also=("login-account-inactive",)),

    S("no account", no_account, CL, None, "no-login-account", "account_generate"),
    S("own account, not linked (types it)", own_account_not_linked, EB, "own",
      "no-login-account", "account_link"),

    S("generated, never activated, purged after 24 h", generated_never_activated_then_purged,
      CL, None, "login-account-deleted", "account_generate"),
    S("generated without e-mail, purged after 24 h", generated_without_email_then_purged, IA,
      None, "login-account-deleted", "account_generate"),

    S("generated by the library, not activated", generated_by_the_library, CL, None,
      "login-account-inactive", "account_activate"),
    S("inactive account made elsewhere", inactive_account_from_elsewhere, IA, None,
      "login-account-inactive", "account_activate"),

    S("types a name that does not exist", types_unknown_name, CL, "unknown",
      "wrong-username", None),
    S("types a name that does not exist, recovery differs",
      types_unknown_name_and_recovery_differs, CL, "unknown", "wrong-username", None,
      also=("recovery-email-differs",)),

    S("types another account, not linked here (L5: as if it did not exist)",
      types_account_not_linked_here, EB, "other", "wrong-username", None),
    S("types the account of another customer here", types_account_of_another_customer_here,
      EB, "other", "other-account-in-use", None),
    S("no link; types the account of another customer",
      no_link_types_account_of_another_customer, CL, "other", "other-account-in-use", None),

    S("child's account linked to the parent", child_account_on_parent, CL, "own",
      "linked-to-other-family-member", "account_link"),
    S("partner's account linked to the main member", partner_account_on_main_member, EB, "own",
      "linked-to-other-family-member", "account_link"),

    S("never authorized", never_authorized, CL, None, "authorization-outdated",
      "account_authorize"),
    S("subscription changed, rights not pushed", subscription_changed_rights_not_pushed, EB,
      None, "authorization-outdated", "account_authorize"),
    S("outdated authorization AND recovery differs", stale_rights_and_recovery_differs, CL,
      None, "authorization-outdated", "account_authorize", also=("recovery-email-differs",)),

    S("Basis subscription", basis_subscription, EB, None, "subscription-without-ebooks", None),
    S("Compleet ended, now Basis", compleet_ended_now_basis, EB, "own",
      "subscription-without-ebooks", None),

    S("blocked AND wrong passwords", blocked, CL, None, "login-blocked", "account_unblock",
      also=("password-failures",)),
    S("blocked, no recovery address", blocked_and_recovery_missing, CL, "own in capitals",
      "login-blocked", "account_unblock", also=("recovery-email-missing",)),

    S("three wrong passwords today", wrong_passwords_today, CL, None, "password-failures",
      "account_send_password_reset", after="mail"),
    S("a wrong password, recovery differs", wrong_passwords_and_recovery_differs, CL, "own",
      "password-failures", "account_send_password_reset", also=("recovery-email-differs",),
      after="mail"),

    S("no recovery address", recovery_missing, CL, None, "recovery-email-missing",
      "account_reset_recovery_email"),
    S("generated without e-mail, e-mail given later", generated_without_email_email_given_later,
      CL, None, "recovery-email-missing", "account_reset_recovery_email"),

    S("recovery address is an old one", recovery_differs, CL, None, "recovery-email-differs",
      "account_reset_recovery_email"),
    S("e-mail changed at the library", email_changed_at_the_library, CL, None,
      "recovery-email-differs", "account_reset_recovery_email"),

    S("no address anywhere", no_address_anywhere, CL, None, "no-email-address", None),
    S("child without e-mail, activated at the desk", child_without_email_activated_at_desk, CL,
      None, "no-email-address", None),

    S("LOGOUT_DETECTED reported by Mijn Menu", logout_detected_reported_by_mijn_menu, LD, None,
      "browser-interference", None),
    S("LOGOUT_DETECTED reported by the Online Bibliotheek",
      logout_detected_reported_by_the_online_bibliotheek, CL, None, "browser-interference",
      None),
    # Signing out elsewhere is an ordinary sign-out (a back-channel logout), not the browser.
    S("signed out under the Online Bibliotheek", signed_out_under_the_online_bibliotheek, CL,
      None, "no-problem-found", None),

    S("all in order", all_in_order, CL, None, "no-problem-found", None),
    S("recovery address in other capitals, types own name in capitals",
      recovery_in_other_capitals, EB, "own in capitals", "no-problem-found", None),
]


def test_the_table_covers_every_finding_code_twice():
    for code in ORDER:
        setups = {s.setup for s in SCENARIOS if s.expected == code}
        assert len(setups) >= 2, f"{code}: {len(setups)} set-up(s)"


def codes(diagnosis: dict) -> list[str]:
    return [f["code"] for f in diagnosis["findings"]]


def assert_well_formed(diagnosis: dict, card: str, problem: str) -> None:
    assert diagnosis["problem"] == problem
    assert diagnosis["customer"]["card_number"] == card
    assert diagnosis["customer"]["library"] == "aan-de-maas"
    found = codes(diagnosis)
    assert found == sorted(found, key=ORDER.index), "findings not in the seed's order"
    assert len(set(found)) == len(found)
    assert diagnosis["path"] and diagnosis["procedure"]["id"] == problem
    assert isinstance(diagnosis["case"], int)
    for finding in diagnosis["findings"]:
        assert finding["step"] and finding["summary"]
        if finding["code"] != "not-allowed-colleague":  # its summary says what to do
            assert finding["fix"] is not None or finding["question"], finding


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
def test_scenario(world: World, scenario: Scenario):
    made = scenario.setup(world)
    typed = made.names[scenario.username] if scenario.username else None
    answer = world.desk.diagnose(made.card, scenario.problem, typed)
    diagnosis = Desk.ok(answer)
    assert_well_formed(diagnosis, made.card, scenario.problem)
    first = diagnosis["findings"][0]
    assert first["code"] == scenario.expected, diagnosis["findings"]
    assert (first["fix"] or {}).get("operation") == scenario.fix, first
    assert diagnosis["outcome"] == scenario.outcome
    for code in scenario.also:
        assert code in codes(diagnosis), (code, codes(diagnosis))
    if scenario.fix is None:
        assert first["question"] or scenario.outcome == "not-allowed", first
        return

    # One click, except linking an account: the patron must agree (rule L2).
    linking = first["fix"]["operation"] == "account_link"
    assert first["fix"]["one_click"] is not linking
    # Who may carry it out: the helpdesk always; the desk neither lifts blocks nor unlinks.
    assert first["fix"]["allowed"] is True
    desk_view = Desk.ok(world.counter.diagnose(made.card, scenario.problem, typed))
    needs = {first["fix"]["operation"]} | ({"unlink"} if first["fix"]["args"].get(
        "unlink_from") else set())
    assert desk_view["findings"][0]["fix"]["allowed"] is not bool(needs & DESK_MAY_NOT)

    before = world.mailbox.count()
    fixed = Desk.ok(world.desk.fix(made.card, scenario.problem, scenario.expected, typed))
    assert fixed["done"]["summary"]
    after = fixed["diagnosis"]
    assert_well_formed(after, made.card, scenario.problem)
    assert after["case"] != diagnosis["case"]
    if linking:
        after = link_with_the_patron(world, made, scenario, first["fix"], fixed, typed)
    if scenario.after == "gone":
        assert scenario.expected not in codes(after), after["findings"]
    else:  # a reset mail: the patron still has to choose the password
        mail = world.wait_for_mail(made.mail_to, PASSWORD_RESET_SUBJECT, after=before)
        assert mail.link("/wachtwoord-herstellen/").startswith(world.system.urls["identity"])


def link_with_the_patron(world: World, made: Made, scenario: Scenario, fix: dict, fixed: dict,
                         typed: str | None) -> dict:
    """The account_link fix opened a link request and linked nothing (rule L2); the patron
    signs in on the handover page, then the helpdesk confirms. An account linked to a
    family member moves only then. Returns the diagnosis after the link."""
    done = fixed["done"]
    identity = world.system.urls["identity"]
    request_id = done["identity"]["request_id"]
    assert done["action"] == "link", done
    assert done["identity"]["handover_url"] == f"{identity}/koppelen/{request_id}/", done
    assert fixed["diagnosis"]["findings"][0]["code"] == scenario.expected  # nothing linked
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
    approve_handover(done["identity"]["handover_url"], made.patron.username,
                     made.patron.password)
    if member:
        # Without `move_from` the confirmation does not take the account from the family
        # member: refused, nothing moved. With it, the account moves (after the patron's
        # proof), in one call, as in the console.
        refused = world.desk.confirm_link(made.card, request_id, status=409)
        assert refused["code"] == "account_linked_to_other_customer", refused
        assert account_of(member) == made.patron.username
        assert account_of(made.card) is None
    linked = world.desk.confirm_link(made.card, request_id, move_from=member)
    assert linked["action"] == "link_confirm", linked
    assert linked["identity"]["account"]["username"] == made.patron.username, linked
    assert account_of(made.card) == made.patron.username
    assert world.desk.get(made.card)["login_account"]["username"] == made.patron.username
    if member:
        assert account_of(member) is None
    after = Desk.ok(world.desk.diagnose(made.card, scenario.problem, typed))
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
        "linked": True, "username": patron.username, "visible": True, "unconfirmed": 0}
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
    out = system.bibid("diagnose", "--library", "aan-de-maas", "--card", made.card,
                       "--problem", CL, "--json")
    diagnosis = json.loads(out)
    assert diagnosis["outcome"] == "not-allowed"
    assert codes(diagnosis) == ["not-allowed-colleague"]
    assert made.patron.username not in out


def test_the_command_line_says_what_the_api_says(world: World, system):
    made = recovery_differs(world)
    api = Desk.ok(world.desk.diagnose(made.card, CL))
    cli = json.loads(system.bibid("diagnose", "--library", "aan-de-maas", "--card", made.card,
                                  "--problem", CL, "--json"))
    assert codes(cli) == codes(api) == ["recovery-email-differs"]
    assert cli["findings"][0]["fix"]["operation"] == "account_reset_recovery_email"
    assert cli["outcome"] == api["outcome"] == "fix-available"


def test_a_colleague_may_diagnose_themselves(world: World, system):
    nina = Desk(system, "nina")  # desk staff, and customer 2010000014 (a colleague)
    diagnosis = Desk.ok(nina.diagnose("2010000014", CL))
    assert diagnosis["outcome"] != "not-allowed"
    assert "not-allowed-colleague" not in codes(diagnosis)


def test_another_librarys_staff_get_404(world: World, system):
    made = all_in_order(world)
    other = Desk(system, "helpdesk.duin")
    for answer in (other.diagnose(made.card, CL), other.diagnose("2010000001", CL),
                   other.fix(made.card, CL, "no-problem-found"),
                   other.fix("2010000006", CL, "no-login-account")):
        assert answer.status_code == 404, answer.text
        assert answer.json()["code"] == "customer_not_found"
    assert Desk.ok(world.desk.diagnose("2010000006", CL))["findings"][0]["code"] == \
        "no-login-account"  # and nothing was generated for it


BAD = [
    ("unknown problem", {"problem": "kan-niet-printen"}, 400, "problem"),
    ("no problem", {}, 400, "problem"),
    ("problem null", {"problem": None}, 400, "problem"),
    ("problem a number", {"problem": 7}, 400, "problem"),
    ("username of 255", {"problem": CL, "username": "x" * 255}, 400, "username"),
    ("username a list", {"problem": CL, "username": ["a"]}, 400, "username"),
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
        call("POST", f"{card}/diagnosis", data="{nope",
             headers={"Content-Type": "application/json"}),
        call("POST", f"{card}/diagnosis/fix", {"problem": CL}),
        call("POST", f"{card}/diagnosis/fix", {"problem": CL, "code": "x" * 41}),
        call("POST", f"{card}/diagnosis/fix", {"problem": "onzin", "code": "login-blocked"}),
        call("POST", f"{card}/diagnosis/fix", {"problem": CL, "code": "bestaat-niet"}),
        call("POST", f"{card}/diagnosis/fix", {"problem": CL, "code": "login-blocked"}),
        call("POST", "/customers/..%2F..%2Fadmin/diagnosis", {"problem": CL}),
        call("POST", "/customers/" + "9" * 21 + "/diagnosis", {"problem": CL}),
    ]
    for answer in refused:
        assert 400 <= answer.status_code < 500, (answer.request.url, answer.request.body,
                                                 answer.status_code, answer.text[:300])
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
    text = json.dumps({"outcome": diagnosis["outcome"], "findings": diagnosis["findings"],
                       "path": diagnosis["path"]})
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
        Desk.ok(world.desk.diagnose(made.card, CL, nobody)), nobody)
    first = found["findings"][0]
    assert first["code"] == "wrong-username" and first["fix"] is None
    assert first["summary"] == (f"De klant typt {exists_elsewhere}; dat is niet het "
                                f"inlogaccount dat aan deze klant gekoppeld is ({linked}).")
    assert "bestaat" not in first["summary"] + " ".join(first["evidence"])
    assert f"Vertel de klant de gebruikersnaam {linked}" in first["question"]
    # A customer without one: link it if it is theirs; the patron proves it (rule L2).
    card = world.member()
    found = Desk.ok(world.desk.diagnose(card, CL, exists_elsewhere))
    assert without(found, exists_elsewhere) == without(
        Desk.ok(world.desk.diagnose(card, CL, nobody)), nobody)
    fix = found["findings"][0]["fix"]
    assert found["findings"][0]["code"] == "no-login-account"
    assert (fix["operation"], fix["one_click"], fix["args"]) == (
        "account_link", False, {"username": exists_elsewhere})


def test_another_librarys_card_number_names_no_account(world: World):
    """A card number works as a username, but only this library's: staff of Bibliotheek aan
    de Maas who type a Duinstreek card number learn nothing about that card's account (at
    first identity looked card numbers up over every library's links and named it, with a
    one-click account_link to it)."""
    card = world.member()
    diagnosis = Desk.ok(world.desk.diagnose(card, CL, "3020000002"))  # Piet, Duinstreek only
    assert "piet.hendriks" not in json.dumps(diagnosis), diagnosis["findings"][0]
    assert codes(diagnosis)[0] == "no-login-account"
    # Rule L5: the same as for a name nobody has; the fix is a link request the patron
    # must agree to (rule L2), never one click.
    nobody = f"bestaat.niet.{tag()}"
    unknown = Desk.ok(world.desk.diagnose(card, CL, nobody))
    assert without(diagnosis, "3020000002") == without(unknown, nobody)
    fix = diagnosis["findings"][0]["fix"]
    assert (fix["operation"], fix["one_click"], fix["args"]) == (
        "account_link", False, {"username": "3020000002"})
    # The customer's own card number is the linked account.
    made = all_in_order(world)
    own = Desk.ok(world.desk.diagnose(made.card, CL, made.card))
    assert codes(own) == ["no-problem-found"], own["findings"]
