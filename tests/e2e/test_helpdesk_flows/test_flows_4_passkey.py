"""Flow "Inloggen met passkey" walked against the running system, over plain HTTP: the
browser's part of WebAuthn is JSON, so a software authenticator (tests/webauthn_soft.py)
answers for it with real keys and signatures. Its origin is identity's URL and its relying
party id "127.0.0.1": py_webauthn accepts an IP address there (only browsers refuse one)."""

from __future__ import annotations

import html
import re
import uuid

import requests

from tests.webauthn_soft import SoftAuthenticator

from ..oidc import TIMEOUT, csrf_of
from ..passkeys_http import add_passkey, authenticator, post_json
from .walk import (
    LIBRARY,
    PASSWORD,
    Walk,
    browser,
    can_sign_in,
    h1,
    history,
    make_patron,
    member_with_account,
    shell_json,
    sign_in,
    signed_in,
    submit,
)

FLOW = "inloggen-met-passkey"
REFUSAL = (
    "Inloggen met deze passkey is niet gelukt. Log in met je gebruikersnaam en wachtwoord, "
    "of probeer een andere passkey."
)
PASSKEY_FORM = re.compile(r'<form[^>]*data-webauthn="get".*?</form>', re.S)


def click(system, walk: Walk, http, key: SoftAuthenticator, credential_id=None, *, page=None):
    """The patron chooses "Inloggen met een passkey" on the sign-in page (`page`: that page,
    already open) and confirms on the device; the answer to the browser's last request."""
    identity = system.urls["identity"]
    walk.at("click")
    page = page or http.get(f"{identity}/inloggen/", timeout=TIMEOUT)
    form = PASSKEY_FORM.search(page.text).group(0)
    # Next to the password form; no username asked; hidden until webauthn.js finds a browser
    # that can use passkeys ("Een browser die geen passkeys kent, toont de knop niet").
    assert "Inloggen met een passkey" in form and 'name="username"' not in form
    assert re.search(r"<form[^>]*\shidden[\s>]", form)
    assert 'name="username"' in page.text and 'name="password"' in page.text
    token = csrf_of(form)
    found = re.search(r'<input type="hidden" name="next" value="([^"]*)"', form)
    fields = {"next": html.unescape(found.group(1))} if found else {}
    begun = post_json(http, f"{identity}/inloggen/passkey/begin/", {"fields": fields}, token)
    assert begun.status_code == 200, begun.text
    options = begun.json()["publicKey"]
    assert options["allowCredentials"] == []  # discoverable: the device offers its passkeys
    assert options["userVerification"] == "required"  # fingerprint, face or PIN
    answer = key.get(options, credential_id)
    return post_json(
        http, f"{identity}/inloggen/passkey/", {"credential": answer, "fields": fields}, token
    )


def patron_with_passkey(system) -> tuple[str, str, SoftAuthenticator, requests.Session]:
    """A linked patron (make_patron) who added a passkey right after signing in."""
    username, _address, ref = make_patron(system)
    http, key = browser(), authenticator(system)
    assert sign_in(system, http, username, PASSWORD).status_code == 302
    added = add_passkey(system, http, key, "telefoon")
    assert added.json() == {"redirect": "/passkeys/"}, added.text
    return username, ref, key, http


def last_sign_in(system, ref: str) -> dict:
    """The newest sign-in attempt in the login history the library reads (the helpdesk's)."""
    return next(e for e in history(system, ref) if e["kind"] == "login")


def attempt_from(system, ip: str) -> dict | None:
    """The newest sign-in attempt from this address (one without an account is in no
    account's history: the operator's view of identity's log)."""
    return shell_json(
        system,
        (
            "from bibid.identity.signin.models import LoginEvent\n"
            f"e = LoginEvent.objects.filter(ip={ip!r}, kind='login').order_by('-at', '-id')"
            ".first()\n"
            "result = e and {'reason': e.reason, 'account': e.account_id,"
            " 'method': e.details.get('method')}\n"
        ),
    )


def test_passkey_added_then_signed_in(system, mailbox):
    identity = system.urls["identity"]
    walk, http, key = Walk(FLOW), browser(), authenticator(system)
    username, address, card = member_with_account(system)
    walk.answer("has_passkey", "nee")
    walk.at("add")
    assert sign_in(system, http, username, PASSWORD).status_code == 302
    home = http.get(f"{identity}/", timeout=TIMEOUT)
    assert h1(home.text) == "Mijn inlogaccount" and 'href="/passkeys/"' in home.text
    page = http.get(f"{identity}/passkeys/", timeout=TIMEOUT)
    assert "Je hebt nog geen passkey." in page.text and 'data-webauthn="create"' in page.text
    # "Was het inloggen langer dan 5 minuten geleden, dan vraagt het systeem eerst het
    # wachtwoord nog eens."
    assert "langer dan 5 minuten geleden" in walk.text("add")
    # Time passes, as for a patron who read the page a while first (forward only: a clock
    # moved back would leave the notice mail dated in the future, unsent).
    system.move_clock(minutes=6)
    page = http.get(f"{identity}/passkeys/", timeout=TIMEOUT)
    assert 'data-webauthn="create"' not in page.text
    assert "Vul daarom eerst je wachtwoord in." in page.text
    token = csrf_of(page.text)
    refused = post_json(
        http, f"{identity}/passkeys/toevoegen/begin/", {"fields": {"name": "x"}}, token
    )
    assert refused.status_code == 403, refused.text
    assert "vul je wachtwoord in" in refused.json()["error"]
    wrong = submit(
        http,
        f"{identity}/passkeys/",
        {"current_password": "Niet-het-wachtwoord-1"},
        action=f"{identity}/passkeys/bevestigen/",
    )
    assert wrong.status_code == 400 and 'data-webauthn="create"' not in wrong.text
    confirmed = submit(
        http,
        f"{identity}/passkeys/",
        {"current_password": PASSWORD},
        action=f"{identity}/passkeys/bevestigen/",
        follow=False,
    )
    assert confirmed.status_code == 302, confirmed.status_code
    before = mailbox.count()
    added = add_passkey(system, http, key, "telefoon")
    assert added.status_code == 200 and added.json() == {"redirect": "/passkeys/"}
    page = http.get(f"{identity}/passkeys/", timeout=TIMEOUT)
    assert "De passkey &#x27;telefoon&#x27; is toegevoegd." in page.text
    assert 'value="telefoon"' in page.text and "nog niet" in page.text  # not used yet
    mail = mailbox.wait_for(address, "passkey toegevoegd", after=before)
    assert '"telefoon"' in mail.text and "zonder wachtwoord" in mail.text
    assert "krijgt een mail dat er een passkey is toegevoegd" in walk.text("add")

    # Later, signed out, the patron comes from Mijn Menu and signs in with the passkey.
    http = browser()
    start = http.get(
        f"{system.urls['library']}/mijn/{LIBRARY}/inloggen/?next=/mijn/{LIBRARY}/",
        timeout=TIMEOUT,
    )
    assert start.url.startswith(f"{identity}/inloggen/"), start.url
    answer = click(system, walk, http, key, page=start)
    walk.answer("too_many", "nee")
    assert answer.status_code != 429
    walk.answer("known", "ja")
    walk.answer("signature", "ja")
    walk.answer("active", "ja")
    walk.at("signed_in")
    assert answer.status_code == 200, answer.text
    target = answer.json()["redirect"]
    assert target.startswith("/o/authorize/"), target  # back to where the patron came from
    assert signed_in(system, http)
    event = last_sign_in(system, card)
    assert event["outcome"] == "success" and event["reason"] == "ok", event
    assert event["details"]["method"] == "passkey" and event["details"]["name"] == "telefoon"
    back = http.get(identity + target, timeout=TIMEOUT)
    assert back.status_code == 200 and back.url.endswith(f"/mijn/{LIBRARY}/"), back.url
    # "De dienst hoort dat de klant met een passkey inlogde (Mijn Menu toont het)"
    assert "Mijn Menu toont het" in walk.text("signed_in")
    assert "Je bent ingelogd met een passkey." in back.text
    # "... en Mijn inlogaccount toont wanneer de passkey voor het laatst is gebruikt."
    page = http.get(f"{identity}/passkeys/", timeout=TIMEOUT)
    assert 'value="telefoon"' in page.text and "nog niet" not in page.text
    walk.at("solved")
    walk.done()


def test_passkey_refused_the_same_way_for_every_reason(system, mailbox):
    """A removed passkey, one identity never saw, a bad signature, an inactive account: one
    message; the real reason in the log the helpdesk reads."""
    identity = system.urls["identity"]
    refusals = {}

    def refused(walk: Walk, http, answer: requests.Response, username: str | None) -> None:
        walk.at("failed")
        assert answer.status_code == 400, answer.text
        assert answer.json() == {"error": REFUSAL}
        assert REFUSAL in " ".join(walk.text("failed").split())
        refusals[walk.visited[-2]] = answer.text
        walk.at("not_signed_in")
        assert not signed_in(system, http)
        if username:  # "Het wachtwoord en Wachtwoord vergeten blijven altijd werken."
            assert can_sign_in(system, username, PASSWORD)
        walk.done()

    # -- removed: the patron took it off the account; the device still offers it.
    username, ref, key, own = patron_with_passkey(system)
    page = own.get(f"{identity}/passkeys/", timeout=TIMEOUT)
    remove = re.search(r'action="(/passkeys/\d+/verwijderen/)"', page.text).group(1)
    before = mailbox.count()
    gone = submit(own, f"{identity}/passkeys/", {}, action=identity + remove)
    assert "De passkey &#x27;telefoon&#x27; is verwijderd." in gone.text
    assert "Je hebt nog geen passkey." in gone.text
    mailbox.wait_for(f"{username}@example.org", "passkey verwijderd", after=before)
    walk, http = Walk(FLOW), browser()
    walk.answer("has_passkey", "ja")
    answer = click(system, walk, http, key)
    walk.answer("too_many", "nee")
    walk.answer("known", "verwijderd")
    walk.at("reason_removed")
    event = last_sign_in(system, ref)
    assert (event["reason"], event["outcome"]) == ("passkey_removed", "failure"), event
    assert event["details"]["method"] == "passkey"
    refused(walk, http, answer, username)

    # -- never seen: a passkey made for no account here (another site's, say).
    walk, http = Walk(FLOW), browser()
    stranger = authenticator(system)
    stranger.create({"challenge": "eA", "user": {"id": "AAAA"}})
    walk.answer("has_passkey", "ja")
    answer = click(system, walk, http, stranger)
    walk.answer("too_many", "nee")
    walk.answer("known", "nooit gezien")
    walk.at("reason_unknown")
    event = attempt_from(system, http.headers["X-Forwarded-For"])
    assert event == {"reason": "passkey_unknown", "account": None, "method": "passkey"}, event
    assert "zonder account" in walk.text("reason_unknown")
    refused(walk, http, answer, None)

    # -- a bad signature: the registered credential id, signed by another key.
    username, ref, key, _own = patron_with_passkey(system)
    walk, http = Walk(FLOW), browser()
    walk.answer("has_passkey", "ja")
    answer = click(system, walk, http, key.impostor())
    walk.answer("too_many", "nee")
    walk.answer("known", "ja")
    walk.answer("signature", "nee")
    walk.at("reason_invalid")
    event = last_sign_in(system, ref)
    assert (event["reason"], event["outcome"]) == ("passkey_invalid", "failure"), event
    assert event["details"]["method"] == "passkey"
    refused(walk, http, answer, username)

    # -- inactive: the account got a passkey, then an operator deactivated it (the admin's
    # edit of the account: update_account).
    username, ref, key, _own = patron_with_passkey(system)
    system.identity_shell(
        "from bibid.identity.accounts.actors import Actor\n"
        "from bibid.identity.accounts.models import Account\n"
        "from bibid.identity.accounts.services import update_account\n"
        f"a = Account.objects.get(username={username!r})\n"
        "a.state = Account.State.INACTIVE\n"
        "update_account(account=a, actor=Actor.system('test'), changed=['state'])\n"
    )
    walk, http = Walk(FLOW), browser()
    walk.answer("has_passkey", "ja")
    answer = click(system, walk, http, key)
    walk.answer("too_many", "nee")
    walk.answer("known", "ja")
    walk.answer("signature", "ja")
    walk.answer("active", "nee")
    walk.at("reason_inactive")
    event = last_sign_in(system, ref)
    assert (event["reason"], event["outcome"]) == ("inactive", "failure"), event
    assert event["details"]["method"] == "passkey"
    assert not can_sign_in(system, username, PASSWORD)  # "zoals bij het wachtwoord"
    refused(walk, http, answer, None)

    assert set(refusals) == {
        "reason_removed",
        "reason_unknown",
        "reason_invalid",
        "reason_inactive",
    }
    assert len(set(refusals.values())) == 1, refusals  # the patron cannot tell them apart


def test_passkey_too_many_from_one_network_means_waiting(system):
    """The guard counts per network, not per account: 20 failures from one address are free,
    then everyone there waits, even with a good passkey; the password still works there, and
    another network is not touched."""
    username, ref, key, _own = patron_with_passkey(system)
    walk = Walk(FLOW)
    assert "na 20 mislukte pogingen" in walk.text("too_many")
    # An address of its own (TEST-NET-2), so no other test's lane is touched.
    network = f"198.51.100.{uuid.uuid4().int % 250 + 1}"
    http = requests.Session()
    http.headers["X-Forwarded-For"] = network
    stranger = authenticator(system)
    stranger.create({"challenge": "eA", "user": {"id": "AAAA"}})
    for n in range(20):
        answer = click(system, Walk(FLOW), http, stranger)
        assert answer.status_code == 400, (n, answer.status_code)
    walk.answer("has_passkey", "ja")
    answer = click(system, walk, http, key)  # the patron's own, good passkey
    walk.answer("too_many", "ja")
    walk.at("wait")
    assert answer.status_code == 429, answer.text
    wait = int(answer.headers["Retry-After"])
    assert 1 <= wait <= 60  # "tot hooguit 1 minuut"
    assert answer.json()["error"].startswith("Er is te vaak geprobeerd in te loggen.")
    assert f"Probeer het over {wait} seconde" in answer.json()["error"]
    assert attempt_from(system, network)["reason"] == "throttled"
    assert last_sign_in(system, ref)["reason"] == "ok"  # the refusal is in no account's log
    walk.at("not_signed_in")
    assert not signed_in(system, http)
    walk.done()
    # "inloggen met het wachtwoord kan ook": the password has lanes of its own.
    assert "inloggen met het wachtwoord kan ook" in walk.text("wait")
    assert sign_in(system, http, username, PASSWORD).status_code == 302
    # Per network: the same passkey from another network goes in at once.
    elsewhere = browser()
    assert click(system, Walk(FLOW), elsewhere, key).status_code == 200
    # "Het wachten houdt vanzelf op."
    system.move_clock(seconds=wait + 1)
    again_http = requests.Session()
    again_http.headers["X-Forwarded-For"] = network
    again = click(system, Walk(FLOW), again_http, key)
    assert again.status_code == 200, again.text
    assert last_sign_in(system, ref)["reason"] == "ok"
