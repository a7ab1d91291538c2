"""Flows 1-4 walked against the running system: Inloggen, Wachtwoord vergeten,
Gebruikersnaam vergeten, Uitloggen."""

from __future__ import annotations

import subprocess
import sys
import time

import requests

from ..harness import ROOT
from ..oidc import TIMEOUT, csrf_of, library_api
from .walk import (
    FAILURE,
    LIBRARY,
    NEW_PASSWORD,
    PASSWORD,
    Walk,
    account_of,
    browser,
    can_sign_in,
    deliveries,
    eventually,
    fresh,
    h1,
    handled_request,
    history,
    login_event,
    mails,
    main,
    make_patron,
    no_mail,
    service_sign_in,
    service_state,
    sign_in,
    signed_in,
    submit,
)


def test_the_definitions_load_without_django():
    """The walks read the definitions in a process where Django is not set up (pytest runs
    with -p no:django): loading them needs no settings, no app registry, no database. The
    menu table they check operations against holds lazy translations: importing those loads
    a few of Django's utility modules, but nothing that reads settings until a label is
    shown."""
    code = (
        "import sys\n"
        "from bibid.library.helpdesk import definitions, engine\n"
        "assert len([d for d in definitions.all_definitions().values()"
        " if d.kind == 'flow']) == 11\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] == 'django']\n"
        "assert not [m for m in loaded if m.split('.')[1:2] in (['conf'], ['db'],"
        " ['contrib'], ['http'], ['template'])], loaded\n"
        "assert not [m for m in sys.modules if m.startswith('bibid.')"
        " and m.rsplit('.', 1)[-1] in ('models', 'services', 'apps')], 'models'\n"
        "from django.apps import apps\n"
        "from django.conf import settings\n"
        "assert not settings.configured and not apps.apps_ready, 'Django was set up'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr


# == 1. Inloggen ============================================================================


def login_attempt(system, walk: Walk, http, name: str, password: str) -> requests.Response:
    identity = system.urls["identity"]
    walk.at("open_form")
    page = http.get(f"{identity}/inloggen/", timeout=TIMEOUT)
    assert page.status_code == 200 and "Gebruikersnaam of pasnummer" in page.text
    walk.at("enter")
    return sign_in(system, http, name, password)


def assert_generic_failure(walk: Walk, answer: requests.Response) -> str:
    walk.at("failed")
    assert answer.status_code == 200
    alert = FAILURE.search(answer.text).group(0)
    assert "Onjuiste inlog" in alert and "Onjuiste inlog" in walk.text("failed")
    for link in ("Wachtwoord vergeten?", "Gebruikersnaam vergeten?", "Hulp bij inloggen"):
        assert link in answer.text
    return alert


def test_inloggen_with_the_card_number(system):
    walk, http = Walk("inloggen"), browser()
    username, _address, card = make_patron(system)
    answer = login_attempt(system, walk, http, card, PASSWORD)  # "of pasnummer"
    walk.answer("too_many", "nee")
    assert answer.status_code != 429
    walk.answer("account_exists", "ja")
    walk.answer("has_password", "ja")
    walk.answer("password_right", "ja")
    walk.answer("active", "ja")
    walk.at("signed_in")
    assert answer.status_code == 302 and answer.headers["Location"] == "/"
    home = http.get(f"{system.urls['identity']}/", timeout=TIMEOUT)
    assert h1(home.text) == "Mijn inlogaccount" and username in home.text
    assert login_event(system, card)["reason"] == "ok"
    walk.at("solved")
    walk.done()


def test_inloggen_fails_the_same_way_for_every_reason(system):
    """Unknown name, no password yet, wrong password, inactive account: one message, and the
    real reason in the log the helpdesk reads."""
    alerts = {}
    cases = [
        ("reason_unknown", {"account_exists": "nee"}, None, "unknown_username"),
        (
            "reason_no_password",
            {"account_exists": "ja", "has_password": "nee"},
            {"password": None, "active": False},
            "no_password",
        ),
        (
            "reason_wrong_password",
            {"account_exists": "ja", "has_password": "ja", "password_right": "nee"},
            {},
            "wrong_password",
        ),
        # Inactive with a password: the patron cannot sign in to agree to a link (rule L2).
        (
            "reason_inactive",
            {"account_exists": "ja", "has_password": "ja", "password_right": "ja", "active": "nee"},
            {"active": False, "link": False},
            "inactive",
        ),
    ]
    for reason_node, answers, patron, reason in cases:
        walk, http = Walk("inloggen"), browser()
        if patron is None:
            name, password = fresh("niemand"), PASSWORD
        else:
            name = make_patron(system, **patron)[0]
            password = "Niet-het-goede-wachtwoord" if reason == "wrong_password" else PASSWORD
        answer = login_attempt(system, walk, http, name, password)
        walk.answer("too_many", "nee")
        assert answer.status_code == 200
        for question, label in answers.items():
            walk.answer(question, label)
        walk.at(reason_node)
        event = login_event(system, name)
        assert event["outcome"] == "failure" and event["reason"] == reason, event
        assert (event["account"] is None) == (reason == "unknown_username")
        alerts[reason] = assert_generic_failure(walk, answer)
        walk.at("not_signed_in")
        assert not signed_in(system, http)
        walk.done()
    assert len(set(alerts.values())) == 1, alerts  # the patron cannot tell them apart


def test_inloggen_too_many_attempts_means_waiting(system):
    walk, http = Walk("inloggen"), browser()
    username, _address, ref = make_patron(system)
    # "Na 5 mislukte pogingen in een uur moet de klant steeds langer wachten: 2, 4, 8 ..."
    assert "Na 5 mislukte pogingen" in walk.text("too_many")
    identity = system.urls["identity"]
    token = csrf_of(http.get(f"{identity}/inloggen/", timeout=TIMEOUT).text)

    def attempt(password: str) -> requests.Response:
        return http.post(
            f"{identity}/inloggen/",
            timeout=TIMEOUT,
            allow_redirects=False,
            data={"csrfmiddlewaretoken": token, "username": username, "password": password},
        )

    for _ in range(5):
        assert attempt("Fout-wachtwoord-123").status_code == 200
    walk.at("open_form")  # the form is open; the sixth attempt comes at once
    walk.at("enter")
    answer = attempt(PASSWORD)  # even the right password
    walk.answer("too_many", "ja")
    walk.at("wait")
    assert answer.status_code == 429, answer.status_code
    assert 1 <= int(answer.headers["Retry-After"]) <= 2  # the first wait: 2 seconds
    assert "Er is te vaak een verkeerd wachtwoord geprobeerd." in answer.text
    assert "Even wachten" in answer.text and "Onjuiste inlog" not in answer.text
    assert login_event(system, username)["reason"] == "throttled"
    walk.at("not_signed_in")
    walk.done()
    # "De bibliotheek kan het wachten opheffen" (rule L4): the next attempt goes at once, but
    # the failures of the hour stay counted, so after one more wrong password the patron
    # waits again, longer; at most 3 times per account an hour.
    assert "mislukte pogingen blijven meetellen" in walk.text("wait")
    assert "hooguit 3 keer per uur" in walk.text("wait")
    api = library_api(system, LIBRARY)
    assert api.unblock(ref).status_code == 200
    assert account_of(system, ref)["block"]["failures"] >= 5
    assert attempt("Weer-een-fout-wachtwoord").status_code == 200  # not made to wait
    again = attempt(PASSWORD)
    assert again.status_code == 429, again.status_code
    assert int(again.headers["Retry-After"]) > 2  # longer than the first wait
    assert [api.unblock(ref).status_code for _ in range(3)] == [200, 200, 429]


# == 2. Wachtwoord vergeten =================================================================


def forgot_password(system, walk: Walk, http, name: str) -> requests.Response:
    identity = system.urls["identity"]
    walk.at("open_form")
    login = http.get(f"{identity}/inloggen/", timeout=TIMEOUT)
    assert 'href="/wachtwoord-vergeten/"' in login.text
    walk.at("enter_name")
    answer = submit(http, f"{identity}/wachtwoord-vergeten/", {"name": name})
    walk.at("same_answer")
    assert answer.status_code == 200 and h1(answer.text) == "Kijk in je e-mail"
    assert "De link werkt 30 minuten." in answer.text and "30 minuten" in walk.text("same_answer")
    return answer


def test_wachtwoord_vergeten_and_a_new_password(system, mailbox):
    walk, http = Walk("wachtwoord-vergeten"), browser()
    username, address, ref = make_patron(system)
    elsewhere = browser()  # signed in on another device
    assert sign_in(system, elsewhere, username, PASSWORD).status_code == 302
    for _ in range(5):  # and somebody has been guessing: the patron must wait now
        assert sign_in(system, browser(), username, "Geraden-wachtwoord-1").status_code == 200
    assert account_of(system, ref)["block"]["failures"] == 5
    before = mailbox.count()
    forgot_password(system, walk, http, username.upper())
    walk.answer("account_found", "ja")
    walk.answer("within_limit", "ja")
    walk.at("mail_sent")
    mail = mailbox.wait_for(address, "nieuw wachtwoord", after=before)
    assert "Deze link werkt 30 minuten en één keer." in mail.text
    assert "30 minuten" in walk.text("mail_sent")
    walk.at("open_link")
    link = mail.link("/wachtwoord-herstellen/")
    page = http.get(link, timeout=TIMEOUT)
    walk.answer("link_works", "ja")
    assert page.status_code == 200 and "Nieuw wachtwoord" in page.text
    walk.at("choose")
    done = submit(http, link, {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    walk.at("saved")
    assert h1(done.text) == "Je nieuwe wachtwoord is ingesteld"
    assert account_of(system, ref)["block"] == {"failures": 0, "blocked_until": None}
    assert not signed_in(system, elsewhere)  # every session ended
    assert http.get(link, timeout=TIMEOUT).status_code == 410  # used
    walk.answer("had_password", "ja")
    walk.at("notice")
    mailbox.wait_for(address, "wachtwoord is gewijzigd", after=before)
    walk.at("sign_in")
    assert can_sign_in(system, username, NEW_PASSWORD)
    assert not can_sign_in(system, username, PASSWORD)
    walk.at("solved")
    walk.done()


def test_wachtwoord_vergeten_unknown_name_same_answer_no_mail(system, mailbox):
    known = forgot_password(system, Walk("wachtwoord-vergeten"), browser(), make_patron(system)[0])
    walk, http, name = Walk("wachtwoord-vergeten"), browser(), fresh("onbekend")
    answer = forgot_password(system, walk, http, name)
    assert main(answer.text) == main(known.text)  # nothing tells the two apart
    walk.answer("account_found", "nee")
    walk.at("no_mail")
    assert handled_request(system, name) == {"mail_queued": False, "account": None}
    walk.at("ask_library")
    walk.done()


def test_wachtwoord_vergeten_at_most_three_mails_an_hour(system, mailbox):
    username, address, _ref = make_patron(system)
    before = mailbox.count()
    for _ in range(3):
        submit(browser(), f"{system.urls['identity']}/wachtwoord-vergeten/", {"name": username})
        assert handled_request(system, username)["mail_queued"] is True
    walk = Walk("wachtwoord-vergeten")
    forgot_password(system, walk, browser(), username)
    walk.answer("account_found", "ja")
    walk.answer("within_limit", "nee")
    assert "3 mails per uur" in walk.text("within_limit")
    walk.at("no_mail")
    assert handled_request(system, username)["mail_queued"] is False
    eventually(lambda: mails(mailbox, address, "nieuw wachtwoord", before) >= 3, "3 mails")
    time.sleep(5)
    assert mails(mailbox, address, "nieuw wachtwoord", before) == 3
    walk.at("ask_library")
    walk.done()


def test_wachtwoord_vergeten_link_dead_after_signing_in(system, mailbox):
    walk, http = Walk("wachtwoord-vergeten"), browser()
    username, address, _ref = make_patron(system)
    before = mailbox.count()
    forgot_password(system, walk, http, username)
    walk.answer("account_found", "ja")
    walk.answer("within_limit", "ja")
    walk.at("mail_sent")
    mail = mailbox.wait_for(address, "nieuw wachtwoord", after=before)
    # The patron remembers the password after all, and signs in ("toch weer is ingelogd").
    assert "toch weer is ingelogd" in walk.text("link_works")
    assert can_sign_in(system, username, PASSWORD)
    walk.at("open_link")
    page = http.get(mail.link("/wachtwoord-herstellen/"), timeout=TIMEOUT)
    walk.answer("link_works", "nee")
    walk.at("link_dead")
    assert page.status_code == 410 and h1(page.text) == "Deze link werkt niet meer"
    assert "De link is al gebruikt, of er is intussen een nieuw wachtwoord gekozen." in page.text
    walk.at("ask_again")
    walk.done()


def test_wachtwoord_vergeten_activates_an_account_never_activated(system, mailbox):
    """The reset link reached the patron at the recovery address, as the activation link
    would have: choosing a password through it activates the account and confirms the
    address, and the library learns the account is active."""
    walk, http = Walk("wachtwoord-vergeten"), browser()
    username, address, ref = make_patron(system, password=None, active=False, confirmed=False)
    assert account_of(system, ref)["state"] == "inactive"
    before = mailbox.count()
    forgot_password(system, walk, http, username)
    walk.answer("account_found", "ja")
    walk.answer("within_limit", "ja")
    walk.at("mail_sent")
    link = mailbox.wait_for(address, "nieuw wachtwoord", after=before).link(
        "/wachtwoord-herstellen/"
    )
    walk.at("open_link")
    assert http.get(link, timeout=TIMEOUT).status_code == 200
    walk.answer("link_works", "ja")
    walk.at("choose")
    done = submit(http, link, {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    walk.at("saved")
    assert h1(done.text) == "Je nieuwe wachtwoord is ingesteld"
    assert "nu actief" in walk.text("saved")
    account = account_of(system, ref)
    assert account["state"] == "active" and account["recovery_email_confirmed"] is True
    # A first password is no change: no "wasn't this you?" alarm to a new patron.
    walk.answer("had_password", "nee")
    walk.at("sign_in")
    assert can_sign_in(system, username, NEW_PASSWORD)
    walk.at("solved")
    walk.done()
    assert no_mail(mailbox, address, "wachtwoord is gewijzigd", before, wait=3)
    # The library learns of it from its changes feed, as it does after the activation link.
    api = library_api(system, LIBRARY)
    changes, after = [], 0
    while True:
        page = api.changes(after)
        assert page.status_code == 200, page.text
        changes += page.json()["changes"]
        after = page.json()["next_after"]
        if not page.json()["more"]:
            break
    # The library's own link (link_created, so a lost answer is repaired), then activation.
    assert [c["kind"] for c in changes if c["customer_ref"] == ref] == [
        "link_created",
        "account_activated",
    ]


def test_wachtwoord_vergeten_not_to_an_address_a_library_just_set(system, mailbox):
    """A library set a new recovery address on an activated account less than 24 hours ago
    and the patron has not confirmed it (rule L3): the link goes to the previous, confirmed
    address, and using it does not confirm the library's."""
    walk, http = Walk("wachtwoord-vergeten"), browser()
    username, address, ref = make_patron(system)
    new = f"bieb.{address}"
    assert (
        library_api(system, LIBRARY).recovery_email(ref, new).json()["result"]
        == "confirmation_sent"
    )
    assert "het vorige, bevestigde adres" in walk.text("mail_sent")
    before = mailbox.count()
    forgot_password(system, walk, http, username)
    walk.answer("account_found", "ja")
    walk.answer("within_limit", "ja")
    walk.at("mail_sent")
    assert handled_request(system, username)["mail_queued"] is True
    link = mailbox.wait_for(address, "nieuw wachtwoord", after=before).link(
        "/wachtwoord-herstellen/"
    )
    assert mails(mailbox, new, "nieuw wachtwoord", before) == 0
    walk.at("open_link")
    assert http.get(link, timeout=TIMEOUT).status_code == 200
    walk.answer("link_works", "ja")
    walk.at("choose")
    done = submit(http, link, {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    walk.at("saved")
    assert h1(done.text) == "Je nieuwe wachtwoord is ingesteld"
    assert "blijft dat nieuwe adres onbevestigd" in walk.text("saved")
    account = account_of(system, ref)
    assert account["recovery_email"] == new and account["recovery_email_confirmed"] is False
    walk.answer("had_password", "ja")
    walk.at("notice")  # to the address the patron holds, not the library's unconfirmed one
    assert "naar het vorige adres" in walk.text("notice")
    mailbox.wait_for(address, "wachtwoord is gewijzigd", after=before)
    assert mails(mailbox, new, "wachtwoord is gewijzigd", before) == 0
    walk.at("sign_in")
    assert can_sign_in(system, username, NEW_PASSWORD)
    walk.at("solved")
    walk.done()
    assert no_mail(mailbox, new, "nieuw wachtwoord", after=before, wait=0)


# == 3. Gebruikersnaam vergeten =============================================================


def forgot_username(system, walk: Walk, http, address: str) -> requests.Response:
    identity = system.urls["identity"]
    walk.at("open_form")
    assert (
        'href="/gebruikersnaam-vergeten/"'
        in http.get(f"{identity}/inloggen/", timeout=TIMEOUT).text
    )
    walk.at("enter_email")
    answer = submit(http, f"{identity}/gebruikersnaam-vergeten/", {"email": address})
    walk.at("same_answer")
    assert answer.status_code == 200 and h1(answer.text) == "Kijk in je e-mail"
    return answer


def test_gebruikersnaam_vergeten_mails_every_name_then_three_an_hour(system, mailbox):
    username, address, _card = make_patron(system)
    other = fresh("tweede")  # a second account with the same confirmed address
    system.identity_shell(
        "from bibid.common import clock\n"
        "from bibid.identity.accounts.actors import Actor\n"
        "from bibid.identity.accounts.services import create_account\n"
        f"a = create_account(username={other!r}, password={PASSWORD!r}, active=True,"
        f" recovery_email={address!r}, actor=Actor.system('test'))\n"
        "a.recovery_email_confirmed_at = clock.now()\n"
        "a.save(update_fields=['recovery_email_confirmed_at'])\n"
    )
    walk, http = Walk("gebruikersnaam-vergeten"), browser()
    before = mailbox.count()
    known = forgot_username(system, walk, http, address.upper())
    walk.answer("address_known", "ja")
    walk.answer("within_limit", "ja")
    walk.at("mail_sent")
    mail = mailbox.wait_for(address, "gebruikersnaam", after=before)
    assert username in mail.text and other in mail.text
    assert "Inloggen kan ook met je pasnummer." in mail.text
    walk.at("sign_in")
    assert can_sign_in(system, other, PASSWORD)
    walk.at("solved")
    walk.done()

    for _ in range(2):  # three in all this hour
        submit(browser(), f"{system.urls['identity']}/gebruikersnaam-vergeten/", {"email": address})
        assert handled_request(system, address)["mail_queued"] is True
    walk = Walk("gebruikersnaam-vergeten")
    answer = forgot_username(system, walk, browser(), address)
    assert main(answer.text) == main(known.text)
    walk.answer("address_known", "ja")
    walk.answer("within_limit", "nee")
    walk.at("no_mail")
    assert handled_request(system, address)["mail_queued"] is False
    walk.at("ask_library")
    walk.done()


def test_gebruikersnaam_vergeten_unconfirmed_address_gets_no_mail(system, mailbox):
    """An address a library set ("Reset herstel-e-mailadres") on an account the patron
    activated is not confirmed (rule L3): no reminder goes there until the patron used the
    confirmation link sent to it. Then it does."""
    username, address, ref = make_patron(system)
    new = f"bieb.{address}"  # the address the library has
    before = mailbox.count()
    reset = library_api(system, LIBRARY).recovery_email(ref, new)
    assert reset.status_code == 200 and reset.json()["result"] == "confirmation_sent", reset.text
    account = account_of(system, ref)
    assert account["recovery_email"] == new and account["recovery_email_confirmed"] is False
    walk, http = Walk("gebruikersnaam-vergeten"), browser()
    forgot_username(system, walk, http, new)
    walk.answer("address_known", "nee")
    assert "pas bevestigd als de klant de link" in walk.text("address_known")
    walk.at("no_mail")
    assert handled_request(system, new)["mail_queued"] is False
    assert no_mail(mailbox, new, "gebruikersnaam", after=before)
    walk.at("ask_library")
    walk.done()
    # The patron opens the confirmation link the library's change sent to the new address.
    link = mailbox.wait_for(new, "Bevestig", after=before).link("/e-mailadres-bevestigen/")
    assert h1(submit(browser(), link, {}).text) == "Je herstel-e-mailadres is bevestigd"
    assert account_of(system, ref)["recovery_email_confirmed"] is True
    walk = Walk("gebruikersnaam-vergeten")
    before = mailbox.count()
    forgot_username(system, walk, browser(), new)
    walk.answer("address_known", "ja")
    walk.answer("within_limit", "ja")
    walk.at("mail_sent")
    assert username in mailbox.wait_for(new, "gebruikersnaam", after=before).text
    walk.at("sign_in")
    assert can_sign_in(system, username, PASSWORD)
    walk.at("solved")
    walk.done()


def test_gebruikersnaam_vergeten_after_a_reset_link_confirmed_the_address(system, mailbox):
    """Staff reset the recovery address of an account the patron has not activated yet (the
    library's own, rule L1: set at once) and sent a password reset; the patron chose a
    password through the link sent there: the address is confirmed, so the username
    reminder reaches it."""
    username, address, ref = make_patron(system, password=None, active=False, confirmed=False)
    assert (
        library_api(system, LIBRARY).recovery_email(ref, address).json()["result"]
        == "recovery_email_set"
    )
    assert account_of(system, ref)["recovery_email_confirmed"] is False
    before = mailbox.count()
    sent = library_api(system, LIBRARY).password_reset(ref)
    assert sent.status_code == 202 and sent.json()["result"] == "password_reset_queued", sent.text
    link = mailbox.wait_for(address, "nieuw wachtwoord", after=before).link(
        "/wachtwoord-herstellen/"
    )
    done = submit(browser(), link, {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    assert h1(done.text) == "Je nieuwe wachtwoord is ingesteld"
    account = account_of(system, ref)
    assert account["recovery_email_confirmed"] is True and account["state"] == "active"
    walk, http = Walk("gebruikersnaam-vergeten"), browser()
    before = mailbox.count()
    forgot_username(system, walk, http, address.upper())
    walk.answer("address_known", "ja")
    walk.answer("within_limit", "ja")
    walk.at("mail_sent")
    assert username in mailbox.wait_for(address, "gebruikersnaam", after=before).text
    walk.at("sign_in")
    assert can_sign_in(system, username, NEW_PASSWORD)
    walk.at("solved")
    walk.done()


# == 4. Uitloggen ===========================================================================


def test_uitloggen_at_identity_ends_every_service(system):
    identity = system.urls["identity"]
    walk, http = Walk("uitloggen"), browser()
    username, _address, ref = make_patron(system)
    assert sign_in(system, http, username, PASSWORD).status_code == 302
    reading = service_sign_in(system, http, "reading")
    mijn_menu = service_sign_in(system, http, "mijnmenu")
    walk.answer("where", "bij de inlogdienst")
    walk.at("confirm")
    ask = http.get(f"{identity}/uitloggen/", timeout=TIMEOUT)
    assert ask.status_code == 200 and "Je bent ingelogd als" in ask.text
    assert signed_in(system, http)  # opening the page signs nobody out
    out = submit(http, f"{identity}/uitloggen/", {}, follow=False)
    assert out.status_code == 302
    walk.at("identity_ends")
    assert not signed_in(system, http)
    # The newest sign-in or sign-out is this one. The services' own reports (Mijn Menu's
    # not_linked for this patron, who is no customer there) are queued and may arrive later.
    kinds = [e["kind"] for e in history(system, ref) if e["kind"] in ("login", "logout", "service")]
    assert kinds[:1] == ["logout"], kinds
    walk.at("backchannel")
    sent = eventually(
        lambda: (d := deliveries(system, username)) and all(x["delivered_at"] for x in d) and d,
        "back-channel logouts",
        60,
    )
    assert {d["client_id"] for d in sent} == {"online-bibliotheek", f"mijnmenu-{LIBRARY}"}
    walk.at("logged_out")
    page = http.get(identity + out.headers["Location"], timeout=TIMEOUT)
    assert h1(page.text) == "Je bent uitgelogd"
    walk.answer("other_open", "ja")
    walk.at("logout_detected")
    assert service_state(http, mijn_menu) == "logout_detected"  # told, not asked: at once
    assert service_state(http, reading) == "logout_detected"
    detected = http.get(
        f"{system.urls['library']}/mijn/{LIBRARY}/sessie-beeindigd/", timeout=TIMEOUT
    )
    assert "AUTHENTICATION.LOGOUT_DETECTED" in detected.text
    assert "AUTHENTICATION.LOGOUT_DETECTED" in walk.text("logout_detected")
    # ... and the services report it to the login history the helpdesk reads.
    reports = eventually(
        lambda: [e for e in history(system, ref) if e["kind"] == "logout_detected"],
        "logout_detected reports",
    )
    assert {r["details"]["reason"] for r in reports} == {"backchannel"}
    walk.at("solved")
    assert service_state(http, mijn_menu) == "sign_in"
    walk.done()


def test_uitloggen_at_a_service(system):
    identity, reading = system.urls["identity"], system.urls["reading"]
    walk, http = Walk("uitloggen"), browser()
    username, _address, _ref = make_patron(system)
    assert sign_in(system, http, username, PASSWORD).status_code == 302
    shelf = service_sign_in(system, http, "reading")
    walk.answer("where", "bij een dienst")
    walk.at("service_forgets")
    out = submit(http, shelf, {}, action=f"{reading}/uitloggen/", follow=False)
    assert out.status_code == 302
    end_session = out.headers["Location"]
    assert end_session.startswith(f"{identity}/o/logout/?") and "id_token_hint=" in end_session
    assert service_state(http, shelf) == "sign_in"  # forgotten here at once
    walk.at("identity_ends")
    back = http.get(end_session, timeout=TIMEOUT, allow_redirects=False)  # no question asked
    assert back.status_code == 302 and back.headers["Location"].startswith(f"{reading}/uitgelogd/")
    assert not signed_in(system, http)
    walk.at("backchannel")
    eventually(
        lambda: (d := deliveries(system, username)) and all(x["delivered_at"] for x in d),
        "back-channel logout",
        60,
    )
    walk.at("logged_out")
    page = http.get(back.headers["Location"], timeout=TIMEOUT)
    assert h1(page.text) == "Je bent uitgelogd"
    assert (
        "Je bent uitgelogd bij Online Bibliotheek, bij de inlogdienst en bij de andere "
        "diensten van de bibliotheek in deze browser."
    ) in page.text
    walk.answer("other_open", "nee")
    walk.at("solved")
    walk.done()
