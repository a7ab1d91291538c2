"""The helpdesk through the library REST API, as an integrating library system uses it:
the same engine as the console (cause, next step, also seen), fixes that need a tick need
`confirm: true`, a fix counts as working only once its effect is confirmed, misspelt fields
and unknown codes are clear 400s, and the cases (read, history, list, answer) are there —
with the tenant and colleague rules. Against the real identity service."""

from __future__ import annotations

import pytest

from bibid.library.helpdesk.models import Case
from bibid.library.loginaccounts.models import PendingPush
from bibid.library.staff.models import AuditEvent

from .test_api import Api

pytestmark = pytest.mark.django_db
HELPDESK = "helpdesk.maas"
ANNA, DIRK, LOTTE, NINA = "2010000001", "2010000004", "2010000012", "2010000014"


@pytest.fixture(autouse=True)
def _pushed(demo):
    from bibid.library.loginaccounts import pushes

    pushes.drain()


def diagnose(api: Api, card: str, **body):
    return api.send("post", f"/customers/{card}/diagnosis", {"problem": "cannot-login", **body})


def fix(api: Api, card: str, code: str, **body):
    return api.send(
        "post",
        f"/customers/{card}/diagnosis/fix",
        {"problem": "cannot-login", "code": code, **body},
    )


def test_a_fix_that_needs_a_tick_needs_confirm_true(restores_identity):
    api = Api(HELPDESK)
    seen = diagnose(api, LOTTE, username="lotte.bos").json()
    assert seen["next"]["kind"] == "fix" and seen["next"]["node"] == "relink"
    assert seen["next"]["fix"]["confirm"] is True
    assert seen["next"]["fix"]["operation"] == "login_account_link"
    links_before = AuditEvent.objects.filter(action="login_link").count()
    refused = fix(
        api, LOTTE, "linked-to-other-family-member", username="lotte.bos", case=seen["case"]
    )
    assert refused.status_code == 400, refused.content
    body = refused.json()
    assert body["code"] == "confirm_first" and body["field"] == "confirm"
    assert body["data"]["diagnosis"]["cause"]["code"] == "linked-to-other-family-member"
    assert AuditEvent.objects.filter(action="login_link").count() == links_before  # nothing
    done = fix(
        api,
        LOTTE,
        "linked-to-other-family-member",
        username="lotte.bos",
        case=seen["case"],
        confirm=True,
    )
    assert done.status_code == 200, done.content
    answer = done.json()
    assert answer["done"]["action"] == "link" and answer["done"]["identity"]["move_from"]
    # Nothing is linked until Lotte proves the account is hers: not a success yet.
    assert answer["fix"] == {"state": "waiting_for_patron", "operation": "login_account_link"}
    assert Case.objects.get(pk=seen["case"]).fix_worked is None


def test_misspelt_fields_and_unknown_codes_are_400s_that_say_which(demo):
    api = Api(HELPDESK)
    typo = diagnose(api, ANNA, usernme="anna")
    assert typo.status_code == 400 and "usernme" in typo.text
    typo = fix(api, DIRK, "login-blocked", confirmed=True)
    assert typo.status_code == 400 and "confirmed" in typo.text
    unknown = fix(api, DIRK, "login-blokked")
    assert unknown.status_code == 400, unknown.content
    assert unknown.json()["code"] == "unknown_finding" and unknown.json()["field"] == "code"
    bad = fix(api, DIRK, "Login Blocked")
    assert bad.status_code == 400
    assert not Case.objects.filter(customer__card_number=DIRK).exists()  # nothing recorded


def test_a_fix_that_no_longer_applies_carries_the_diagnosis_it_speaks_of(demo):
    gone = fix(Api(HELPDESK), ANNA, "login-blocked")
    assert gone.status_code == 409
    body = gone.json()
    assert body["code"] == "no_such_fix" and "opnieuw gedaan" in body["detail"]
    assert body["data"]["diagnosis"]["outcome"] == "no-problem-found"
    assert body["data"]["diagnosis"]["next"]["node"] == "try_now"


def test_a_generated_account_is_a_success_only_once_its_rights_arrived(restores_identity):
    """Generating queues the rights push: the fix pushes it at once, so the diagnosis right
    after does not say `authorization-outdated`, and the state is `worked`."""
    api = Api(HELPDESK)
    made = api.send(
        "post",
        "/customers",
        {"name": "Nieuwe Klant", "birth_date": "1990-01-02", "email": "nieuw.klant@example.org"},
    )
    card = made.json()["card_number"]
    assert (
        api.send("post", "/subscriptions", {"card_number": card, "type": "compleet"}).status_code
        == 201
    )
    answer = fix(api, card, "no-login-account")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["done"]["action"] == "generate"
    assert body["fix"] == {"state": "worked", "operation": "login_account_generate"}
    after = body["diagnosis"]
    codes = [f["code"] for f in after["findings"] + after["also_seen"]]
    assert "authorization-outdated" not in codes and "no-login-account" not in codes
    assert after["cause"]["code"] == "login-account-inactive"  # the next step on the path
    assert not PendingPush.objects.filter(customer__card_number=card).exists()


def test_a_reset_mail_waits_for_the_patron_and_the_walk_goes_past_it(restores_identity):
    api = Api(HELPDESK)
    seen = diagnose(api, DIRK).json()
    assert seen["next"]["node"] == "unblock", seen
    assert [f["code"] for f in seen["also_seen"]] == ["password-failures"], seen
    unblocked = fix(api, DIRK, "login-blocked", case=seen["case"]).json()
    assert unblocked["fix"]["state"] == "worked"
    after = unblocked["diagnosis"]
    assert after["next"]["node"] == "reset" and after["cause"]["code"] == "password-failures"
    mailed = fix(api, DIRK, "password-failures", case=after["case"]).json()
    assert mailed["fix"]["state"] == "waiting_for_patron"
    # The mail went: the walk passes it ("done") and asks the next question.
    path = {p["node"]: p["result"] for p in mailed["diagnosis"]["path"]}
    assert path["reset"] == "done"
    assert mailed["diagnosis"]["next"]["kind"] in ("question", "fix")
    assert mailed["diagnosis"]["next"]["node"] != "reset"
    # The chain of the case: diagnosis → unblock → diagnosis → reset mail → diagnosis.
    history = api.get(f"/cases/{seen['case']}").json()["history"]
    assert [h["fix_operation"] for h in history] == [
        "login_account_unblock",
        "login_account_send_password_reset",
        None,
    ]
    assert [h["fix_state"] for h in history] == ["worked", "waiting_for_patron", None]
    assert history[0]["case"] == seen["case"]


def test_a_question_is_answered_through_the_api(demo):
    api = Api(HELPDESK)
    seen = diagnose(api, ANNA).json()
    assert seen["next"] == {
        **seen["next"],
        "kind": "question",
        "node": "try_now",
        "answers": ["Ja", "Nee"],
    }
    on = api.send("post", f"/cases/{seen['case']}/answer", {"node": "try_now", "answer": "Nee"})
    assert on.status_code == 200, on.content
    assert on.json()["next"]["node"] == "mail_received"
    assert on.json()["answers"] == {"try_now": "Nee"}
    # A question the walk does not stop at (any more) is refused with the diagnosis now.
    closed = api.send("post", f"/cases/{seen['case']}/answer", {"node": "last_try", "answer": "Ja"})
    assert closed.status_code == 409 and closed.json()["code"] == "question_not_open"
    assert closed.json()["data"]["diagnosis"]["next"]["node"] == "mail_received"
    wrong = api.send(
        "post", f"/cases/{seen['case']}/answer", {"node": "mail_received", "answer": "Misschien"}
    )
    assert wrong.status_code == 400 and wrong.json()["field"] == "answer"
    extra = api.send(
        "post",
        f"/cases/{seen['case']}/answer",
        {"node": "mail_received", "answer": "Ja", "why": "x"},
    )
    assert extra.status_code == 400
    assert Case.objects.get(pk=seen["case"]).answers == {"try_now": "Nee"}


def test_cases_are_read_and_listed_within_the_rules(demo):
    api = Api(HELPDESK)
    first = diagnose(api, ANNA).json()["case"]
    second = diagnose(api, ANNA, username="anna.jansn").json()["case"]
    case = api.get(f"/cases/{second}")
    assert case.status_code == 200
    body = case.json()
    assert body["customer"] == ANNA and body["cause"] == "wrong-username"
    assert body["findings"][0]["node"] == "username" and body["path"]
    assert [h["case"] for h in body["history"]] == [second]
    listed = api.get(f"/customers/{ANNA}/cases?limit=1").json()
    assert [c["case"] for c in listed["cases"]] == [second] and listed["more"] is True
    page2 = api.get(f"/customers/{ANNA}/cases?limit=1&before={second}").json()
    assert [c["case"] for c in page2["cases"]] == [first] and page2["more"] is False
    # Another library's staff: the case does not exist for them.
    assert Api("balie.duin").get(f"/cases/{second}").status_code == 404
    assert Api("balie.duin").get(f"/customers/{ANNA}/cases").status_code == 404
    assert api.get("/cases/99999999").status_code == 404


def test_a_colleagues_cases_are_theirs_alone(demo):
    """An old case of someone who is now a colleague holds their login data: nobody else
    reads it (404, as if it did not exist), and their case list is closed too."""
    api = Api(HELPDESK)
    case = Case.objects.create(
        library_id=Case._meta.get_field("library").related_model.objects.get(code="aan-de-maas").pk,
        customer_id=Case._meta.get_field("customer").related_model.objects.get(card_number=NINA).pk,
        who="x",
        via="api",
        problem="cannot-login",
        procedure="cannot-login",
        procedure_version=3,
        outcome="ask-customer",
        first_code="wrong-username",
        findings=[{"summary": "nina.degroot"}],
    )
    refused = api.get(f"/cases/{case.pk}")
    assert refused.status_code == 404 and "nina" not in refused.text
    assert api.get(f"/customers/{NINA}/cases").status_code == 404


def test_english_when_english_is_asked(demo):
    api = Api(HELPDESK)
    api.headers["HTTP_ACCEPT_LANGUAGE"] = "en"
    gone = fix(api, ANNA, "login-blocked")
    assert gone.status_code == 409
    assert gone.json()["detail"] == "This fix no longer applies; the diagnosis has been done again."


# -- the defects the testers found, each against the real identity -------------------------


def new_member(api: Api, **customer) -> str:
    made = api.send(
        "post",
        "/customers",
        {
            "name": "Nieuwe Klant",
            "birth_date": "1990-01-02",
            "email": f"nieuw.{id(customer)}@example.org",
            **customer,
        },
    )
    card = made.json()["card_number"]
    assert (
        api.send("post", "/subscriptions", {"card_number": card, "type": "compleet"}).status_code
        == 201
    )
    return card


def test_a_purged_account_is_named_at_once_not_after_the_feed(live_identity, restores_identity):
    """identity's status answer says the account was purged: no minute of "no-login-account"
    while the library's feed reader has not run (it does not run here at all)."""
    api = Api(HELPDESK)
    card = new_member(api)
    generated = api.send("post", f"/customers/{card}/login-account", {})
    assert generated.status_code == 201, generated.content
    username = generated.json()["identity"]["account"]["username"]
    live_identity.shell(
        "from datetime import timedelta\n"
        "from bibid.common import clock\n"
        "from bibid.identity.accounts.models import Account\n"
        f"Account.objects.filter(username={username!r})"
        ".update(created_at=clock.now() - timedelta(hours=25))\n"
    )
    live_identity.bibid("purge-inactive", "--no-progress")
    assert not AuditEvent.objects.filter(action="feed_account_deleted").exists()
    found = diagnose(api, card).json()
    assert found["cause"]["code"] == "login-account-deleted", found["cause"]
    assert username in found["cause"]["evidence"][0]
    assert found["next"]["node"] == "generate"
    assert diagnose(api, card, problem="no-ebook-rights").json()["next"]["node"] == "generate"


def test_failures_before_the_last_sign_in_are_history(live_identity, restores_identity):
    """Dirk's wrong passwords stay the cause only until he signs in: after the block is
    lifted and he signs in with his password, the diagnosis no longer names them."""
    import requests

    from tests.e2e.oidc import sign_in_at_identity

    api = Api(HELPDESK)
    assert fix(api, DIRK, "login-blocked").json()["fix"]["state"] == "worked"
    still = diagnose(api, DIRK).json()
    assert still["cause"]["code"] == "password-failures"
    with requests.Session() as browser:
        sign_in_at_identity(browser, live_identity.url, "dirk.bakker", "Boekenkast-vol-verhalen")
    after = diagnose(api, DIRK).json()
    codes = [f["code"] for f in after["findings"] + after["also_seen"]]
    assert "password-failures" not in codes and after["outcome"] == "no-problem-found"


def test_an_active_account_without_a_password_is_found(restores_identity):
    """Activated at the desk, no password chosen: every sign-in fails (identity records
    `no_password`); the diagnosis says so and offers the mail to choose one again."""
    api = Api(HELPDESK)
    card = new_member(api)
    assert api.send("post", f"/customers/{card}/login-account", {}).status_code == 201
    assert api.send("post", f"/customers/{card}/login-account/activate", {}).status_code == 200
    found = diagnose(api, card).json()
    assert found["cause"]["code"] == "password-not-set", found["cause"]
    assert found["next"]["fix"]["operation"] == "login_account_send_password_reset"
    assert found["outcome"] == "fix-available"
    mailed = fix(api, card, "password-not-set", case=found["case"]).json()
    assert mailed["fix"]["state"] == "waiting_for_patron"
    assert {p["node"]: p["result"] for p in mailed["diagnosis"]["path"]}[
        "choose_password"
    ] == "done"


def test_a_link_fix_is_finished_through_the_api_and_recorded(live_identity, restores_identity):
    """Lotte's account sits on her father's card: the fix (ticked) opens a link request,
    Lotte agrees on identity's handover page, the API's link-confirm moves the account
    and records on the case that it worked."""
    from tests.e2e.library_api import approve_handover

    api = Api(HELPDESK)
    seen = diagnose(api, LOTTE, username="lotte.bos").json()
    opened = fix(
        api,
        LOTTE,
        "linked-to-other-family-member",
        username="lotte.bos",
        case=seen["case"],
        confirm=True,
    ).json()
    request = opened["done"]["identity"]
    step = {
        "problem": "cannot-login",
        "username": "lotte.bos",
        "case": seen["case"],
        "request_id": request["request_id"],
    }
    early = api.send(
        "post",
        f"/customers/{LOTTE}/diagnosis/link-confirm",
        {**step, "move_from": request["move_from"]},
    )
    assert early.status_code == 409 and early.json()["code"] == "waiting_for_patron"
    approve_handover(request["handover_url"], "lotte.bos", "Paarden-en-draken-10")
    stranger = api.send(
        "post", f"/customers/{LOTTE}/diagnosis/link-confirm", {**step, "move_from": ANNA}
    )  # not on Lotte's subscription
    assert stranger.status_code == 409 and stranger.json()["code"] == "no_such_fix"
    done = api.send(
        "post",
        f"/customers/{LOTTE}/diagnosis/link-confirm",
        {**step, "move_from": request["move_from"]},
    )
    assert done.status_code == 200, done.content
    body = done.json()
    assert body["fix"] == {"state": "worked", "operation": "login_account_link"}
    assert "linked-to-other-family-member" not in [
        f["code"] for f in body["diagnosis"]["findings"] + body["diagnosis"]["also_seen"]
    ]
    assert api.get(f"/customers/{LOTTE}").json()["login_account"]["username"] == "lotte.bos"
    history = api.get(f"/cases/{seen['case']}").json()["history"]
    assert history[0]["fix_state"] == "worked"
