"""Two and three faults on one customer, for each procedure, over real HTTP: the cause comes
from the flowchart, and the fix-then-re-diagnose loop goes through the faults in the
flowchart's order.

Each combination sets its faults up together through the real APIs (scenarios.py) and
lists, step by step, what `POST /api/v1/customers/{card}/diagnosis` must say: the findings
on the walked path (the first is the cause), where the walk stops (`next`: a fix, a
question or an end, with its node) and which faults are `also_seen` (found by a check the
walk did not pass). The expectations are written by hand from the procedures' YAML
(src/bibid/library/helpdesk/procedures/), not from the code's output: a check node whose
check finds something goes to its `found` (or `routes`) node; an action stops the walk
(the next fix), an advice goes on, a question or an end stops it.

Then the loop, as staff and patron would go on: carry out `next.fix` (a link is finished by
the patron on identity's handover page; a password mail by the patron choosing a password;
a fix that needs a tick is refused without `confirm: true` first), or answer `next`'s
question as the patron does, diagnose again, and compare with the next step, until the
case reaches an end or a question only the patron can answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from .library_api import approve_handover
from .scenarios import (
    CL,
    EB,
    IA,
    LD,
    MIJN_MENU,
    READING,
    Desk,
    Made,
    World,
    days_ago,
    tag,
)


@pytest.fixture(scope="module")
def world(system, mailbox) -> World:
    return World(system, mailbox, patrons=40)


# -- the steps ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """What one diagnosis must say, and what is done next."""

    findings: tuple[str, ...]  # on the path, in path order; the first is the cause
    next: tuple[str, str]  # (kind, node): where the walk stops
    also: frozenset[str]  # also_seen: found by checks off the path
    answer: str | None = None  # at a question: the patron's answer (None: the loop ends)
    # Instead of carrying out next.fix: what staff do by hand there first, after which the
    # diagnosis is done again (see staff_enter_another_address).
    by_hand: Callable[[World, Made], None] | None = None


def step(
    findings: str,
    next_: str,
    also: str = "",
    answer: str | None = None,
    by_hand: Callable[[World, Made], None] | None = None,
) -> Step:
    kind, node = next_.split()
    return Step(tuple(findings.split()), (kind, node), frozenset(also.split()), answer, by_hand)


@dataclass(frozen=True)
class Combination:
    name: str
    problem: str
    setup: Callable[[World], Made]
    steps: tuple[Step, ...]
    typed: str | None = None  # which of the set-up's names the customer types

    def __str__(self) -> str:
        return f"{self.problem}: {self.name}"


# -- set-ups: several faults on one customer ----------------------------------------------


def ended(w: World, *, email: str | None = "") -> str:
    """A customer whose Compleet subscription ended five weeks ago."""
    card = w.desk.customer(email=email)
    w.desk.subscription(card, "compleet", start=days_ago(400), end=days_ago(36))
    return card


def wrong_passwords(w: World, made: Made, times: int = 2) -> None:
    for _ in range(times):
        w.wrong_password(made.patron.username)


def logout_detected(w: World, made: Made, *services: str) -> None:
    """The patron signed in at the service(s) (Mijn Menu unless told), which then report
    AUTHENTICATION.LOGOUT_DETECTED: a service reports only patrons who signed in there."""
    for service in services or (MIJN_MENU,):
        if service == READING:
            w.signed_in_at_reading(made.patron)
        else:
            w.signed_in_at_mijn_menu(made.patron)
        w.report_logout_detected(made.card, client_id=service)


def family(w: World, role: str, *, end_days_ago: int | None = None) -> tuple[str, str]:
    """A Gezin Compleet subscription (ended `end_days_ago` days ago, if given): (main
    member's card, the `role` member's card)."""
    main = w.desk.customer(name=f"Ouder {tag()}", birth_date="1980-02-02")
    if role == "child":
        member = w.desk.customer(name=f"Kind {tag()}", birth_date="2015-06-01", email=None)
    else:
        member = w.desk.customer(name=f"Partner {tag()}", birth_date="1982-03-03")
    dates = (
        {"start": days_ago(400), "end": days_ago(end_days_ago)} if end_days_ago is not None else {}
    )
    w.desk.subscription(main, "gezin", members=((member, role),), **dates)
    return main, member


def with_names(made: Made, **names: str) -> Made:
    made.names.setdefault("unknown", f"bestaat.niet.{tag()}")
    if made.patron:
        made.names.setdefault("own", made.patron.username)
    made.names.update(names)
    return made


# cannot-login


def cl_ended_inactive_wrong_passwords(w: World) -> Made:
    card = ended(w)
    made = Made(card, patron=w.linked(card), mail_to=w.email_of(card))
    w.deactivate(made.patron)
    wrong_passwords(w, made)
    return with_names(made)


def cl_colleague_wrong_passwords_reports(w: World) -> Made:
    card = w.member(kind="colleague")
    made = Made(card, patron=w.colleague_account(card))
    logout_detected(w, made)
    wrong_passwords(w, made)
    return with_names(made)


def cl_own_unlinked_no_email_ended(w: World) -> Made:
    return with_names(Made(ended(w, email=None), patron=w.patrons.take()))


def cl_stale_rights_blocked_old_recovery(w: World) -> Made:
    card, old = w.member(), f"oud.{tag()}@example.net"
    made = Made(card, patron=w.linked(card, recovery=old, stale=True), mail_to=old)
    w.block(made.patron.username)
    return with_names(made)


def cl_stale_rights_reports(w: World) -> Made:
    card = w.member()
    made = Made(card, patron=w.linked(card, stale=True))
    logout_detected(w, made)
    return with_names(made)


def cl_partner_on_main_member_no_recovery(w: World) -> Made:
    main, partner = family(w, "partner")
    theirs = w.patrons.take()  # an account without a recovery address
    w.link_at_identity(main, theirs)
    return with_names(Made(partner, patron=theirs))


def cl_purged_ended(w: World) -> Made:
    card = ended(w)
    w.desk.generate(card)
    # identity's status answer says at once that the account was purged (the feed not read)
    w.purge_after_a_day(follow=False)
    return with_names(Made(card, mail_to=w.email_of(card)))


def cl_other_account_blocked(w: World) -> Made:
    card, other = w.member(), w.member()
    made = Made(card, patron=w.linked(card), mail_to=w.email_of(card))
    theirs = w.linked(other)
    w.block(made.patron.username)
    return with_names(made, other=theirs.username)


def staff_enter_another_address(w: World, made: Made) -> None:
    """ "Ja, ingevuld" led to the advice to put the address in the customer's record and
    diagnose again (recheck_address): staff do that. From then on the recovery address
    differs from the library's, so the next diagnosis stops at reset_recovery (the seed's
    step 7 with the new address) before it reaches the questions again."""
    made.mail_to = f"ander.{tag()}@example.org"
    w.desk.update(made.card, email=made.mail_to)


# no-ebook-rights


def eb_no_subscription_no_account(w: World) -> Made:
    return with_names(Made(w.member(None)))


def eb_basis_now_inactive_stale(w: World) -> Made:
    card = w.desk.customer()
    w.desk.subscription(card, "compleet", start=days_ago(400), end=days_ago(40))
    w.desk.subscription(card, "basis", start=days_ago(39))
    made = Made(card, patron=w.linked(card, stale=True))
    w.deactivate(made.patron)
    return with_names(made)


def eb_colleague_basis_no_account(w: World) -> Made:
    return with_names(Made(w.member("basis", kind="colleague")))


def eb_purged_no_email(w: World) -> Made:
    card = w.member("compact", email=None)
    w.desk.generate(card)  # no address: no activation mail
    w.purge_after_a_day(follow=False)
    return with_names(Made(card))


def eb_other_account_inactive_stale(w: World) -> Made:
    card, other = w.member(), w.member()
    made = Made(card, patron=w.linked(card, stale=True))
    w.deactivate(made.patron)
    return with_names(made, other=w.linked(other).username)


def eb_partner_on_main_member(w: World) -> Made:
    main, partner = family(w, "partner")
    theirs = w.patrons.take()
    w.link_at_identity(main, theirs)
    return with_names(Made(partner, patron=theirs))


def eb_family_ended_child_on_parent(w: World) -> Made:
    parent, child = family(w, "child", end_days_ago=30)
    kid = w.patrons.take()
    w.link_at_identity(parent, kid)
    return with_names(Made(child, patron=kid))


# inactive-account


def ia_purged_ended(w: World) -> Made:
    card = ended(w)
    w.desk.generate(card)
    w.purge_after_a_day(follow=False)
    return with_names(Made(card))


def ia_volunteer_inactive(w: World) -> Made:
    card = w.member(kind="volunteer")
    # The library's menu refuses a volunteer's account; made at identity another way.
    w.identity.ok(w.identity.generate(card, {}), 201)
    return with_names(Made(card))


def ia_own_unlinked_ended(w: World) -> Made:
    return with_names(Made(ended(w), patron=w.patrons.take()))


def ia_inactive_wrong_passwords_reports(w: World) -> Made:
    card = w.member()
    made = Made(card, patron=w.linked(card))
    logout_detected(w, made)
    w.deactivate(made.patron)
    wrong_passwords(w, made)
    return with_names(made)


# logout-detected


def ld_colleague_reports(w: World) -> Made:
    card = w.member(kind="colleague")
    made = Made(card, patron=w.colleague_account(card))
    logout_detected(w, made)
    return with_names(made)


def ld_reports_wrong_passwords_stale(w: World) -> Made:
    card = w.member()
    made = Made(card, patron=w.linked(card, stale=True))
    logout_detected(w, made)
    wrong_passwords(w, made)
    return with_names(made)


def ld_inactive_wrong_passwords(w: World) -> Made:
    card = w.member()
    made = Made(card, patron=w.linked(card))
    w.deactivate(made.patron)
    wrong_passwords(w, made)
    return with_names(made)


def ld_reports_of_two_services_ended(w: World) -> Made:
    card = ended(w)
    made = Made(card, patron=w.linked(card))
    logout_detected(w, made, MIJN_MENU, READING)
    return with_names(made)


def ld_no_account(w: World) -> Made:
    return with_names(Made(w.member()))


# -- the table: written from the procedures' YAML ----------------------------------------

C, s = Combination, step
COMBINATIONS = [
    # cannot-login: colleague → subscription (renew: advice) → account (generate | link_typed)
    # → active (activate) → password (choose_password | password_address | ask_address) →
    # username (tell_username: advice |
    # relink) → authorization (authorize) → blocked (unblock) → failures (reset) → recovery
    # (reset_recovery | ask_address) → browser (browser_advice: advice) → try_now → ...
    C(
        "ended subscription + inactive account + wrong passwords",
        CL,
        cl_ended_inactive_wrong_passwords,
        (
            s(
                "subscription-inactive login-account-inactive",
                "fix activate",
                also="password-failures",
            ),
            s("subscription-inactive password-failures", "fix reset"),
            s("subscription-inactive", "question try_now", answer="Ja"),
            s("subscription-inactive", "end solved"),
        ),
    ),
    C(
        "colleague + wrong passwords + LOGOUT_DETECTED reports",
        CL,
        cl_colleague_wrong_passwords_reports,
        (s("not-allowed-colleague", "end not_allowed"),),
        typed="own",
    ),
    C(
        "ended subscription + own account not linked (typed) + no e-mail anywhere",
        CL,
        cl_own_unlinked_no_email_ended,
        (
            s("subscription-inactive account-not-linked", "fix link_typed"),
            s("subscription-inactive no-email-address", "question ask_address", answer="Nee"),
            s("subscription-inactive no-email-address", "end escalate"),
        ),
        typed="own",
    ),
    C(
        "stale rights + blocked + old recovery address",
        CL,
        cl_stale_rights_blocked_old_recovery,
        (
            s(
                "authorization-outdated",
                "fix authorize",
                also="login-blocked password-failures recovery-email-differs",
            ),
            s("login-blocked", "fix unblock", also="password-failures recovery-email-differs"),
            s("password-failures", "fix reset", also="recovery-email-differs"),
            s("recovery-email-differs", "fix reset_recovery"),
            s("no-problem-found", "question try_now", answer="Nee"),
            s("no-problem-found", "question mail_received", answer="Ja"),
            s("no-problem-found", "question try_again", answer="Nee"),
            s("no-problem-found", "question last_try", answer="Nee"),
            s("no-problem-found", "end escalate"),
        ),
    ),
    C(
        "types an unknown name + stale rights + LOGOUT_DETECTED reports",
        CL,
        cl_stale_rights_reports,
        (
            s(
                "wrong-username authorization-outdated",
                "fix authorize",
                also="browser-interference",
            ),
            s("wrong-username browser-interference", "question try_now", answer="Ja"),
            s("wrong-username browser-interference", "end solved"),
        ),
        typed="unknown",
    ),
    C(
        "partner's account on the main member + it has no recovery address",
        CL,
        cl_partner_on_main_member_no_recovery,
        (
            s("linked-to-other-family-member", "fix relink"),
            s("recovery-email-missing", "fix reset_recovery"),
            s("no-problem-found", "question try_now"),
        ),
        typed="own",
    ),
    C(
        "ended subscription + account purged (identity says so before the feed)",
        CL,
        cl_purged_ended,
        (
            s("subscription-inactive login-account-deleted", "fix generate"),
            s("subscription-inactive login-account-inactive", "fix activate"),
            s("subscription-inactive password-not-set", "fix choose_password"),
            s("subscription-inactive", "question try_now", answer="Nee"),
            s("subscription-inactive", "question mail_received", answer="Nee"),
            s("subscription-inactive", "question ask_address", answer="Ja, ingevuld"),
            s("subscription-inactive", "question try_again", by_hand=staff_enter_another_address),
            s("subscription-inactive recovery-email-differs", "fix reset_recovery"),
            s("subscription-inactive", "question try_now"),
        ),
    ),
    C(
        "types another customer's account + blocked + wrong passwords",
        CL,
        cl_other_account_blocked,
        (
            s("other-account-in-use login-blocked", "fix unblock", also="password-failures"),
            s("other-account-in-use password-failures", "fix reset"),
            s("other-account-in-use", "question try_now"),
        ),
        typed="other",
    ),
    # no-ebook-rights: colleague → subscription (no_subscription: end) → ebooks
    # (other_subscription: end) → linked (link | generate) → right_account (tell_account:
    # advice | relink) → activate_check (activate) → password (choose_password |
    # password_address | no_address: advice) → rights (authorize) → check_now
    C(
        "no subscription + no account",
        EB,
        eb_no_subscription_no_account,
        (s("subscription-inactive", "end no_subscription", also="no-login-account"),),
    ),
    C(
        "Compleet ended, now Basis + inactive account + stale rights",
        EB,
        eb_basis_now_inactive_stale,
        (
            s(
                "subscription-without-ebooks",
                "end other_subscription",
                also="login-account-inactive authorization-outdated",
            ),
        ),
    ),
    C(
        "colleague + Basis + no account",
        EB,
        eb_colleague_basis_no_account,
        (s("not-allowed-colleague", "end not_allowed"),),
    ),
    # Activated at the desk without any address: the password check finds that the mail to
    # choose one has nowhere to go (advice: ask for an address), then the rights question.
    C(
        "account purged + no e-mail anywhere",
        EB,
        eb_purged_no_email,
        (
            s("login-account-deleted", "fix generate"),
            s("login-account-inactive", "fix activate"),
            s("no-email-address", "question check_now", answer="Nee"),
            s("no-email-address", "end escalate"),
        ),
    ),
    C(
        "types another customer's account + inactive account + stale rights",
        EB,
        eb_other_account_inactive_stale,
        (
            s(
                "other-account-in-use login-account-inactive",
                "fix activate",
                also="authorization-outdated",
            ),
            s("other-account-in-use authorization-outdated", "fix authorize"),
            s("other-account-in-use", "question check_now", answer="Ja"),
            s("other-account-in-use", "end solved"),
        ),
        typed="other",
    ),
    C(
        "partner's account linked to the main member (Gezin)",
        EB,
        eb_partner_on_main_member,
        (
            s("linked-to-other-family-member", "fix relink"),
            s("no-problem-found", "question check_now"),
        ),
        typed="own",
    ),
    C(
        "Gezin ended + the child's account on the parent",
        EB,
        eb_family_ended_child_on_parent,
        (s("subscription-inactive", "end no_subscription", also="linked-to-other-family-member"),),
        typed="own",
    ),
    # inactive-account: colleague → account (generate | link) → active (activate) → solved
    C(
        "account purged + ended subscription (no check of this procedure)",
        IA,
        ia_purged_ended,
        (
            s("login-account-deleted", "fix generate"),
            s("login-account-inactive", "fix activate"),
            s("no-problem-found", "end solved"),
        ),
    ),
    C(
        "volunteer + inactive account",
        IA,
        ia_volunteer_inactive,
        (s("not-allowed-colleague", "end not_allowed"),),
    ),
    C(
        "own account not linked (typed) + ended subscription",
        IA,
        ia_own_unlinked_ended,
        (
            s("account-not-linked", "fix link"),
            s("no-problem-found", "end solved"),
        ),
        typed="own",
    ),
    C(
        "inactive account + wrong passwords + LOGOUT_DETECTED reports",
        IA,
        ia_inactive_wrong_passwords_reports,
        (
            s("login-account-inactive", "fix activate"),
            s("no-problem-found", "end solved"),
        ),
    ),
    # logout-detected: colleague → reports (advice → try_now | ask_blockers) → try_now
    C(
        "colleague + LOGOUT_DETECTED reports",
        LD,
        ld_colleague_reports,
        (s("not-allowed-colleague", "end not_allowed"),),
    ),
    C(
        "reports + wrong passwords + stale rights (no checks of this procedure)",
        LD,
        ld_reports_wrong_passwords_stale,
        (
            s("browser-interference", "question try_now", answer="Nee"),
            s("browser-interference", "end escalate"),
        ),
    ),
    C(
        "no reports; inactive account + wrong passwords",
        LD,
        ld_inactive_wrong_passwords,
        (
            s("no-problem-found", "question ask_blockers", answer="Ja"),
            s("no-problem-found", "question try_now", answer="Ja"),
            s("no-problem-found", "end solved"),
        ),
    ),
    C(
        "reports of two services + ended subscription",
        LD,
        ld_reports_of_two_services_ended,
        (
            s("browser-interference", "question try_now", answer="Ja"),
            s("browser-interference", "end solved"),
        ),
    ),
    C(
        "no reports, no account",
        LD,
        ld_no_account,
        (
            s("no-problem-found", "question ask_blockers", answer="Nee"),
            s("no-problem-found", "end escalate"),
        ),
    ),
]


def test_the_table_has_two_and_three_faults_for_every_procedure():
    for problem in (CL, EB, IA, LD):
        assert sum(c.problem == problem for c in COMBINATIONS) >= 4, problem
    for combination in COMBINATIONS:
        last = combination.steps[-1]
        assert last.next[0] == "end" or (last.next[0] == "question" and last.answer is None), (
            f"{combination}: the loop must end at an end or an open question"
        )


# -- the loop ----------------------------------------------------------------------------


def codes(findings: list[dict]) -> list[str]:
    return [f["code"] for f in findings]


def outcome_of(step_: Step) -> str:
    if step_.findings[0] == "not-allowed-colleague":
        return "not-allowed"
    if step_.findings[0] == "no-problem-found":
        return "no-problem-found"
    return "fix-available" if step_.next[0] == "fix" else "ask-customer"


def assert_says(diagnosis: dict, expected: Step, where: str) -> None:
    said = {
        "findings": codes(diagnosis["findings"]),
        "next": (diagnosis["next"]["kind"], diagnosis["next"]["node"]),
        "also_seen": sorted(codes(diagnosis["also_seen"])),
    }
    wanted = {
        "findings": list(expected.findings),
        "next": expected.next,
        "also_seen": sorted(expected.also),
    }
    assert said == wanted, f"{where}: {diagnosis['path']}"
    assert diagnosis["cause"] == diagnosis["findings"][0], where
    assert diagnosis["outcome"] == outcome_of(expected), (where, diagnosis["outcome"])
    path = [p["node"] for p in diagnosis["path"]]
    assert path[-1] == diagnosis["next"]["node"], (where, path)
    # On the path, in its order; also_seen off it (and each with its own evidence).
    on_path = [f["node"] for f in diagnosis["findings"] if f["code"] != "no-problem-found"]
    assert on_path == [n for n in path if n in on_path], (where, on_path, path)
    for finding in diagnosis["also_seen"]:
        assert finding["node"] not in path, (where, finding["node"], path)
        assert finding["evidence"] and finding["summary"], (where, finding)
    if expected.next[0] == "question":
        assert diagnosis["next"]["answers"], where
    if expected.next[0] == "fix":  # always a fix the fix endpoint offers
        fix = diagnosis["next"]["fix"]
        assert fix is not None and fix["node"] == expected.next[1], (where, diagnosis["next"])
        assert fix["operation"].startswith("login_account_"), fix


def fix_code(diagnosis: dict) -> str:
    """The finding whose fix `next` is: the one on the path that routed to that action."""
    node = diagnosis["next"]["node"]
    return next(
        f["code"] for f in reversed(diagnosis["findings"]) if (f["fix"] or {}).get("node") == node
    )


def carry_out(
    world: World,
    made: Made,
    combination: Combination,
    diagnosis: dict,
    typed: str | None,
    where: str,
) -> dict:
    """Carry out next.fix as staff would, finish it as the patron would, and return the
    diagnosis after it."""
    fix, code = diagnosis["next"]["fix"], fix_code(diagnosis)
    desk, card, problem = world.desk, made.card, combination.problem
    if fix["confirm"]:
        refused = desk.fix(card, problem, code, typed, case=diagnosis["case"])
        assert refused.status_code == 400, (where, refused.text[:300])
        assert refused.json()["code"] == "confirm_first", where
        assert refused.json()["data"]["diagnosis"]["next"]["node"] == fix["node"], where
    before = world.mailbox.count()
    answer = Desk.ok(
        desk.fix(
            card,
            problem,
            code,
            typed,
            case=diagnosis["case"],
            confirm=True if fix["confirm"] else None,
        )
    )
    state, after = answer["fix"]["state"], answer["diagnosis"]
    assert answer["fix"]["operation"] == fix["operation"], where
    if fix["operation"] == "login_account_link":
        # Nothing linked yet (rule L2): the patron agrees on identity's handover page, then
        # the desk confirms; an account of a family member moves only then.
        assert state == "waiting_for_patron", (where, state)
        assert code in codes(after["findings"]), where
        request = answer["done"]["identity"]
        approve_handover(request["handover_url"], made.patron.username, made.patron.password)
        linked = Desk.ok(
            desk.link_confirm(
                card,
                problem,
                request["request_id"],
                username=typed,
                case=diagnosis["case"],
                move_from=request.get("move_from"),
            )
        )
        # Linked, and the rights push it queued delivered: the effect is confirmed.
        assert linked["fix"]["state"] == "worked", (where, linked["fix"])
        assert code not in codes(linked["diagnosis"]["findings"]), where
        return linked["diagnosis"]
    if fix["operation"] == "login_account_send_password_reset":
        # A mail: the walk goes past it in this case, the finding stays until the patron
        # chooses a password.
        assert state == "waiting_for_patron", (where, state)
        path = {p["node"]: p["result"] for p in after["path"]}
        assert path.get(fix["node"]) == "done", (where, after["path"])
        assert code in codes(after["findings"]), where
        world.patron_chooses_password(made.mail_to, before)
        return Desk.ok(desk.diagnose(card, problem, typed))
    assert state == "worked", (where, state, answer["fix"])
    assert code not in codes(after["findings"]) + codes(after["also_seen"]), where
    return after


@pytest.mark.parametrize("combination", COMBINATIONS, ids=str)
def test_combination(world: World, combination: Combination):
    made = combination.setup(world)
    typed = made.names[combination.typed] if combination.typed else None
    diagnosis = Desk.ok(world.desk.diagnose(made.card, combination.problem, typed))
    for number, expected in enumerate(combination.steps, 1):
        where = f"step {number}"
        assert_says(diagnosis, expected, where)
        kind = expected.next[0]
        if kind == "end" or (
            kind == "question" and expected.answer is None and expected.by_hand is None
        ):
            assert number == len(combination.steps), f"{where}: the case stops here"
            return
        if expected.by_hand is not None:  # staff do what the step says, then diagnose again
            expected.by_hand(world, made)
            diagnosis = Desk.ok(world.desk.diagnose(made.card, combination.problem, typed))
        elif kind == "question":
            diagnosis = Desk.ok(
                world.desk.answer(diagnosis["case"], expected.next[1], expected.answer)
            )
        else:
            diagnosis = carry_out(world, made, combination, diagnosis, typed, where)
    raise AssertionError("the steps ran out before an end or an open question")
