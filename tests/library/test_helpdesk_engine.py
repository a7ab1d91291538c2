"""The definition decides: the cause is the first finding on the path walked through the
procedure's YAML, the next step is where that walk stops, everything else found is "also
seen". Fed with check results directly (no identity, no database), so every combination of
findings can be tried; plus the start-up check of the definitions and the typed boundary
of identity's status answer."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime

import pytest

from bibid.library.helpdesk import checks, definitions, diagnosis, system_checks
from bibid.library.helpdesk.definitions import Definition
from bibid.library.helpdesk.findings import CODES, Found
from bibid.library.loginaccounts import status as identity_status


def found(*codes: str) -> dict[str, list[Found]]:
    """Check results with these codes, each under the check that declares it."""
    results: dict[str, list[Found]] = {}
    for code in codes:
        check = next(name for name, c in checks.REGISTRY.items() if code in c.codes)
        results.setdefault(check, []).append(Found(code, f"summary {code}", (f"ev {code}",)))
    return results


def evaluate(problem: str, *codes: str, answers=None, done=()):
    procedure = definitions.procedure_for(problem)
    return diagnosis.evaluate(procedure, found(*codes), answers=answers, done=done)


# -- the issue's own example, and others read off the YAML by hand ---------------------------


def test_no_ebooks_and_inactive_account_the_flowchart_decides():
    """no-ebook-rights walks colleague → subscription → ebooks and ends at
    other_subscription: that is the cause; the inactive account is only also seen."""
    path, on_path, also, step = evaluate(
        "no-ebook-rights", "subscription-without-ebooks", "login-account-inactive"
    )
    assert [p.node for p in path] == ["colleague", "subscription", "ebooks", "other_subscription"]
    assert [f.code for f in on_path] == ["subscription-without-ebooks"]
    assert on_path[0].node == "ebooks"
    assert on_path[0].title == "Abonnement met e-books?"  # the node's, not the check's
    assert on_path[0].step == "Vraag: heeft de klant een abonnement met e-books?"
    assert [f.code for f in also] == ["login-account-inactive"]
    assert also[0].node == "activate_check" and also[0].fix.operation == "account_activate"
    assert also[0].evidence == ("ev login-account-inactive",)
    assert (step.kind, step.node, step.result) == ("end", "other_subscription", "escalate")


def test_cannot_login_an_advice_does_not_stop_the_walk():
    """subscription_active → renew (advice) → account ...: the cause is the subscription,
    the next step the activation further on, and both are on the path."""
    _path, on_path, also, step = evaluate(
        "cannot-login", "subscription-inactive", "login-account-inactive", "recovery-email-differs"
    )
    assert [f.code for f in on_path] == ["subscription-inactive", "login-account-inactive"]
    assert on_path[0].fix is None  # renew is advice
    assert (step.kind, step.node) == ("fix", "activate")
    assert step.finding.code == "login-account-inactive"
    assert step.fix.api_operation == "login_account_activate"
    # The recovery check comes after the stop: not on the path, so also seen.
    assert [f.code for f in also] == ["recovery-email-differs"]
    assert also[0].node == "recovery" and also[0].fix.node == "reset_recovery"


def test_blocked_and_wrong_passwords_block_first():
    _path, on_path, also, step = evaluate("cannot-login", "password-failures", "login-blocked")
    assert on_path[0].code == "login-blocked" and step.node == "unblock"
    assert [f.code for f in also] == ["password-failures"]
    # Once the unblock is done (the walk passes it), the reset mail is next.
    _p, on_path, _a, step = evaluate(
        "cannot-login", "password-failures", "login-blocked", done=["unblock"]
    )
    assert [f.code for f in on_path] == ["login-blocked", "password-failures"]
    assert step.node == "reset" and step.fix.waits_for_patron


def test_routes_choose_the_action():
    """One check, three codes, three different next steps in cannot-login."""
    cases = {
        "no-login-account": ("generate", "account_generate"),
        "login-account-deleted": ("generate", "account_generate"),
        "account-not-linked": ("link_typed", "account_link"),
    }
    for code, (node, operation) in cases.items():
        _p, _on_path, _a, step = evaluate("cannot-login", code)
        assert (step.node, step.fix.operation) == (node, operation), code
    # In the e-book procedure a missing link is linked (the patron signs in on the
    # handover page), a purged account generated again.
    assert evaluate("no-ebook-rights", "no-login-account")[3].node == "link"
    assert evaluate("no-ebook-rights", "login-account-deleted")[3].node == "generate"


def test_a_family_mix_up_needs_the_tick():
    _p, _on_path, _a, step = evaluate("cannot-login", "linked-to-other-family-member")
    assert step.node == "relink" and step.fix.confirm and not step.fix.one_click
    _p, _f, _a, step = evaluate("cannot-login", "account-not-linked")
    assert not step.fix.confirm and not step.fix.one_click


def test_nothing_found_is_no_problem_found_at_the_first_question():
    _p, on_path, also, step = evaluate("cannot-login")
    assert [f.code for f in on_path] == ["no-problem-found"] and also == []
    assert (step.kind, step.node) == ("question", "try_now")
    assert step.answers == ("Ja", "Nee")


def test_an_active_account_without_a_password_is_found_and_fixed_by_mail():
    _p, on_path, _a, step = evaluate("cannot-login", "password-not-set")
    assert on_path[0].code == "password-not-set" and on_path[0].node == "password"
    assert step.fix.operation == "account_send_password_reset" and step.fix.waits_for_patron


# -- invariants over every combination --------------------------------------------------------


def check_codes(procedure: Definition) -> list[list[tuple[str, str] | None]]:
    """Per check of the procedure: nothing, or each (check, code) it may find."""
    names = dict.fromkeys(n.check for n in procedure.nodes.values() if n.kind == "check")
    return [
        [None, *((name, code) for code in checks.REGISTRY[name].codes)]
        for name in names
        if name != "colleague_rule"
    ]


@pytest.mark.parametrize("problem", diagnosis.PROBLEMS)
def test_every_combination_the_cause_is_the_first_finding_on_the_path(problem):
    """For every combination of one result per check: the cause is the first check on the
    path that found something, and every check before it on the path said "ok"; every
    code found is in exactly one of findings / also seen; the next step is where the path
    stops. Exhaustive where small, else 3,000 random combinations (seeded)."""
    procedure = definitions.procedure_for(problem)
    options = check_codes(procedure)
    combos = list(itertools.product(*options))
    if len(combos) > 3000:
        combos = random.Random(14).sample(combos, 3000)
    for combo in combos:
        results: dict[str, list[Found]] = {}
        for check, code in filter(None, combo):
            results[check] = [Found(code, f"summary {code}")]
        codes = {code for _check, code in filter(None, combo)}
        path, on_path, also, step = diagnosis.evaluate(procedure, results)
        checks_on_path = [p for p in path if p.kind == "check"]
        first_found = next((p for p in checks_on_path if p.result != "ok"), None)
        if first_found is None:
            assert on_path[0].code == "no-problem-found", combo
        else:
            assert on_path[0].code == first_found.result, combo
            assert on_path[0].node == first_found.node
        listed = [f.code for f in [*on_path, *also] if f.code != "no-problem-found"]
        # Every code found is listed once (two checks may find the same thing).
        assert sorted(listed) == sorted(codes), combo
        assert step.node == path[-1].node
        if step.kind == "fix":  # a fix to carry out always says which and for what
            assert step.fix is not None and step.fix.node == step.node, combo
        on_path_nodes = {p.node for p in path}
        assert all(f.node in on_path_nodes for f in on_path)
        for finding in also:  # off the path: its check's node was not reached with a result
            assert (finding.node, finding.code) not in {(p.node, p.result) for p in path}


def test_an_action_reached_by_an_answer_is_the_fix_of_the_finding_before_it():
    """A question whose answer leads to an action: that action is `next`, and the finding
    that led to the question carries it (the fix endpoint offers exactly what `next`
    says)."""
    procedure = Definition.model_validate(
        {
            "id": "vraag",
            "version": 1,
            "kind": "procedure",
            "title": "t",
            "seed": "s",
            "problem": "cannot-login",
            "start": "blocked",
            "nodes": {
                "blocked": {
                    "kind": "check",
                    "check": "not_blocked",
                    "step": "1",
                    "title": "B?",
                    "ok": "done",
                    "found": "ask",
                },
                "ask": {
                    "kind": "question",
                    "step": "2",
                    "title": "Ophef?",
                    "answers": [{"label": "ja", "next": "lift"}, {"label": "nee", "next": "done"}],
                },
                "lift": {
                    "kind": "action",
                    "operation": "account_unblock",
                    "step": "3",
                    "title": "Hef op",
                    "next": "done",
                },
                "done": {"kind": "end", "result": "solved", "step": "4", "title": "Klaar"},
            },
        }
    )
    _p, _f, _a, asked = diagnosis.evaluate(procedure, found("login-blocked"))
    assert (asked.kind, asked.node) == ("question", "ask")
    _p, on_path, _a, step = diagnosis.evaluate(
        procedure, found("login-blocked"), answers={"ask": "ja"}
    )
    assert (step.kind, step.node) == ("fix", "lift")
    assert step.finding.code == "login-blocked"
    assert step.fix.operation == "account_unblock" and step.fix.label == "Hef op"
    assert on_path[-1].fix == step.fix


def test_without_a_recovery_address_the_address_comes_before_the_password_mail():
    for problem in ("cannot-login", "no-ebook-rights"):
        _p, _f, _a, step = evaluate(problem, "password-not-set-no-recovery-email")
        assert step.node == "password_address", problem
        assert step.fix.operation == "account_reset_recovery_email"
    _p, _f, _a, step = evaluate("cannot-login", "no-email-address")
    assert (step.kind, step.node) == ("question", "ask_address")
    _p, _f, _a, step = evaluate(
        "cannot-login", "no-email-address", answers={"ask_address": "Ja, ingevuld"}
    )
    assert (step.kind, step.node) == ("question", "try_again")  # after the advice to recheck


def test_not_allowed_only_the_colleague_rule():
    procedure = definitions.procedure_for("cannot-login")
    _path, on_path, also, step = diagnosis.evaluate(procedure, found("not-allowed-colleague"))
    assert [f.code for f in on_path] == ["not-allowed-colleague"] and also == []
    assert (step.kind, step.node, step.result) == ("end", "not_allowed", "escalate")


# -- the start-up check ---------------------------------------------------------------------


def test_the_definitions_pass_the_start_up_check():
    assert system_checks.problems_in() == []
    assert system_checks.check_definitions() == []


def broken(change: dict) -> dict[str, Definition]:
    data = definitions.procedure_for("inactive-account").model_dump()
    for (node, key), value in change.items():
        data["nodes"][node][key] = value
    return {"inactive-account": Definition.model_validate(data)}


def test_an_unregistered_check_is_refused_at_start_up():
    errors = system_checks.problems_in(broken({("active", "check"): "login_acount_active"}))
    assert errors == [
        "inactive-account.yaml: node 'active' names unregistered check 'login_acount_active'"
    ]


def test_a_route_its_check_never_finds_is_refused_at_start_up():
    errors = system_checks.problems_in(
        broken({("account", "routes"): {"account-not-linked": "link", "login-blocked": "generate"}})
    )
    assert errors == [
        "inactive-account.yaml: node 'account' routes 'login-blocked', which "
        "check 'login_account_exists' never finds"
    ]


def test_a_check_with_an_unknown_code_is_refused_at_start_up():
    class Bad(checks.Check):
        name = "bad"
        codes = ("login-blokked",)

    registry = {**checks.REGISTRY, "bad": Bad}
    assert (
        "check 'bad' declares unknown finding codes ['login-blokked']"
        in system_checks.problems_in(registry=registry)
    )


def test_a_code_no_check_produces_is_reported():
    registry = {k: v for k, v in checks.REGISTRY.items() if k != "password_set"}
    errors = system_checks.problems_in(registry=registry)
    assert "finding code 'password-not-set' is produced by no registered check" in errors


def test_an_unknown_code_cannot_be_found():
    with pytest.raises(ValueError, match="unknown finding code"):
        Found("login-blokked", "x")
    assert "no-problem-found" in CODES


def test_manage_check_fails_on_a_broken_definition(monkeypatch):
    bad = broken({("active", "check"): "nope"})
    monkeypatch.setattr(definitions, "all_definitions", lambda: bad)
    messages = system_checks.check_definitions()
    assert [m.id for m in messages] == ["helpdesk.E001"]
    assert "unregistered check 'nope'" in messages[0].msg


# -- the typed boundary --------------------------------------------------------------------


def answer(**change) -> dict:
    at = datetime(2026, 12, 6, 10, 0, tzinfo=UTC).isoformat()
    account = {
        "customer_ref": "M100",
        "account_id": "0b6f3f9e-8a43-5d3e-9d55-0f1c2a3b4c5d",
        "username": "anna",
        "state": "active",
        "has_password": True,
        "recovery_email": "a@example.org",
        "recovery_email_confirmed": True,
        "recovery_email_set_by": "patron",
        "created_at": at,
        "activated_at": at,
        "last_login": None,
        "password_changed_at": at,
        "linked_libraries": ["X"],
        "block": {"failures": 0, "blocked_until": None},
    }
    data = {
        "linked": True,
        "account": account,
        "authorization": {"customer": {}, "rights": [], "authorized_at": at},
        "effective_rights": [],
        "recent_events": [],
        "failures_today": 0,
        "typed": None,
        "removed": None,
    }
    for key, value in change.items():
        target, _sep, name = key.rpartition("__")
        (data[target] if target else data)[name] = value
    return data


def test_the_status_answer_parses_into_typed_objects():
    parsed = identity_status.parse(answer())
    assert parsed.account.username == "anna" and parsed.account.block.failures == 0
    assert parsed.account.created_at.tzinfo is not None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"account__state": "actief"}, "account.state"),
        ({"account__has_pasword": True}, "account.has_pasword"),  # a renamed field: unknown...
        (
            {"recent_events": [{"at": "2026-12-06T10:00:00Z", "kind": "login"}]},
            "recent_events.0.outcome",
        ),
        (
            {
                "removed": {
                    "kind": "account_deleted",
                    "reason": "purged",
                    "at": "x",
                    "username": None,
                }
            },
            "removed.at",
        ),
    ],
)
def test_an_unexpected_answer_is_an_error_never_ok(change, field):
    with pytest.raises(identity_status.UnexpectedAnswer) as error:
        identity_status.parse(answer(**change))
    assert field in error.value.fields


def test_a_missing_field_is_an_error():
    data = answer()
    del data["account"]["has_password"]  # ...and the missing one: both are named
    with pytest.raises(identity_status.UnexpectedAnswer) as error:
        identity_status.parse(data)
    assert error.value.fields == ["account.has_password"]
    with pytest.raises(identity_status.UnexpectedAnswer):
        identity_status.parse({**answer(), "account": None})  # linked without an account


# -- passkeys (issue 17): identity's passkey refusals, read from its answer ------------------


def passkey_event(reason: str, minute: int, outcome: str = "failure", **details) -> dict:
    return {
        "at": datetime(2026, 12, 6, 10, minute, tzinfo=UTC).isoformat(),
        "kind": "login",
        "outcome": outcome,
        "reason": reason,
        "address": "192.0.2.0/24",
        "browser": "Safari op iOS",
        "service": "",
        "details": {"method": "passkey", "credential": "ab12", **details},
    }


def passkey_findings(*events: dict) -> list[Found]:
    from types import SimpleNamespace

    status = identity_status.parse(answer(recent_events=list(events)))  # newest first
    return checks.REGISTRY["passkey_trouble"]().run(SimpleNamespace(status=status))


def test_a_removed_passkey_still_offered_is_found_until_the_patron_signs_in():
    found = passkey_findings(
        passkey_event("passkey_removed", 30, name="iPhone van Anna"),
        passkey_event("passkey_removed", 29),
        passkey_event("wrong_password", 28) | {"details": None},
    )
    assert [f.code for f in found] == ["passkey-removed"]
    assert "verwijderd" in found[0].summary and found[0].question
    assert found[0].evidence[0].startswith("2 mislukte pogingen met een passkey")
    assert "Passkey: iPhone van Anna" in found[0].evidence
    # A sign-in since (with the password, here) makes the old attempts history.
    assert (
        passkey_findings(
            passkey_event("ok", 31, outcome="success") | {"details": None},
            passkey_event("passkey_removed", 30),
        )
        == []
    )


def test_a_refused_passkey_is_its_own_finding_and_the_cause_only_after_the_password_checks():
    found = passkey_findings(
        passkey_event("passkey_invalid", 30), passkey_event("passkey_unknown", 29)
    )
    # A passkey the identity never saw belongs to no account: not in an account's history.
    assert [f.code for f in found] == ["passkey-refused"]
    # On the procedure's path the passkey comes after the block and the wrong passwords.
    _path, on_path, _also, step = evaluate("cannot-login", "passkey-removed", "password-failures")
    assert [f.code for f in on_path] == ["password-failures"]
    _path, on_path, _also, step = evaluate("cannot-login", "passkey-removed")
    assert [f.code for f in on_path] == ["passkey-removed"]
    assert (step.kind, step.node) != ("fix", "passkey")  # advice: no one-click fix exists
