"""The sign-in and sign-out pages, including what bad input gets."""

import re

import pytest
from django.test import Client

from bibid.identity.signin.device import COOKIE_NAME as DEVICE_COOKIE
from bibid.identity.signin.models import LoginEvent

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db
LOGIN = "/inloggen/"


@pytest.fixture
def browser():
    """A client that enforces CSRF like a browser session would."""
    return Client(enforce_csrf_checks=True)


def csrf(client) -> str:
    page = client.get(LOGIN)
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)


def post_login(client, username, password, **extra):
    data = {"csrfmiddlewaretoken": csrf(client), "username": username, "password": password}
    data.update(extra)
    return client.post(LOGIN, data)


def test_login_page_is_dutch_and_accessible(browser):
    page = browser.get(LOGIN)
    assert page.status_code == 200
    assert '<html lang="nl">' in page.text
    assert '<label for="id_username">Gebruikersnaam of pasnummer' in page.text
    assert 'autocomplete="current-password"' in page.text
    assert "Wachtwoord vergeten?" in page.text and "Hulp bij inloggen" in page.text
    assert "default-src 'self'" in page["Content-Security-Policy"]
    assert page["X-Frame-Options"] == "DENY"
    assert "no-store" in page["Cache-Control"]


def test_login_page_in_english(browser):
    browser.cookies["bibid_language"] = "en"
    page = browser.get(LOGIN)
    assert '<html lang="en">' in page.text
    assert "Password" in page.text and "Wachtwoord" not in page.text


def test_sign_in_then_account_page_then_sign_out(browser, anna):
    response = post_login(browser, "Anna.Jansen", PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/"
    assert response.cookies[DEVICE_COOKIE]["httponly"]
    home = browser.get("/")
    assert "anna.jansen" in home.text and "Mijn inlogaccount" in home.text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', home.text).group(1)
    assert browser.get("/uitloggen/").status_code == 200  # GET only asks
    assert browser.get("/").status_code == 200  # still signed in
    out = browser.post("/uitloggen/", {"csrfmiddlewaretoken": token})
    assert out.status_code == 302 and out["Location"] == "/uitgelogd/"
    assert browser.get("/").status_code == 302
    kinds = list(LoginEvent.objects.order_by("id").values_list("kind", "outcome"))
    assert kinds == [("login", "success"), ("logout", "success")]


def test_signed_in_patron_visiting_login_goes_to_account(browser, anna):
    post_login(browser, "anna.jansen", PASSWORD)
    assert browser.get(LOGIN)["Location"] == "/"


def _failure_fingerprint(response) -> tuple:
    body = re.sub(r'value="[^"]*"', 'value=""', response.text)
    # Clock, name length and the per-request id, not the outcome.
    varying = {"date", "expires", "content-length", "x-request-id"}
    headers = sorted((k, v) for k, v in response.headers.items() if k.lower() not in varying)
    return response.status_code, body, headers, sorted(response.cookies.keys())


def test_unknown_user_and_wrong_password_get_the_same_answer(anna, make_account):
    make_account("eva.visser", password=None, active=False)
    answers = {}
    for label, username in [
        ("unknown", "nobody.home"),
        ("wrong", "anna.jansen"),
        ("inactive", "eva.visser"),
    ]:
        client = Client(enforce_csrf_checks=True)
        answers[label] = post_login(client, username, "not-the-password")
        answers[label].text = answers[label].text.replace(username, "NAME")
    assert answers["wrong"].status_code == 200
    assert "Onjuiste inlog" in answers["wrong"].text
    fingerprints = {label: _failure_fingerprint(r) for label, r in answers.items()}
    assert fingerprints["unknown"] == fingerprints["wrong"] == fingerprints["inactive"]
    # No session and no device cookie on failure (only the CSRF cookie, the same for all).
    assert set(answers["wrong"].cookies) <= {"bibid_identity_csrftoken"}


def test_failed_login_keeps_username_but_not_password(browser, anna):
    page = post_login(browser, "anna.jansen", "not-the-password")
    assert 'value="anna.jansen"' in page.text
    assert "not-the-password" not in page.text


def test_too_many_attempts_gets_429_with_retry_after(browser, anna):
    for _ in range(5):
        post_login(browser, "anna.jansen", "wrong")
    page = post_login(browser, "anna.jansen", PASSWORD)
    assert page.status_code == 429
    assert page["Retry-After"] == "2"
    assert "Even wachten" in page.text
    assert "_auth_user_id" not in browser.session


@pytest.mark.parametrize(
    "target",
    ["/beheer/", "/?tab=events"],
)
def test_next_on_this_host_is_followed(browser, anna, target):
    response = post_login(browser, "anna.jansen", PASSWORD, next=target)
    assert response["Location"] == target


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "http://testserver@evil.example/",
        "https://testserver/",
        "\\\\evil.example",
    ],
)
def test_next_elsewhere_is_ignored(browser, anna, target):
    response = post_login(browser, "anna.jansen", PASSWORD, next=target)
    assert response["Location"] == "/"


@pytest.mark.parametrize(
    ("username", "password", "message"),
    [
        ("", PASSWORD, "Vul je gebruikersnaam of pasnummer in."),
        ("anna.jansen", "", "Vul je wachtwoord in."),
        ("a" * 10_000, PASSWORD, "Dit is te lang voor een gebruikersnaam."),
        ("anna.jansen", "p" * 10_000, "Dit is te lang voor een wachtwoord."),
        ("anna\x00jansen", PASSWORD, "tekens die niet getypt kunnen worden"),
        ("anna\u202ejansen", PASSWORD, "tekens die niet getypt kunnen worden"),
        ("anna.jansen", "pass\x00word", "tekens die niet getypt kunnen worden"),
    ],
)
def test_bad_input_gets_a_clear_message_and_changes_nothing(
    browser, anna, username, password, message
):
    page = post_login(browser, username, password)
    assert page.status_code == 200
    assert message in page.text
    assert 'aria-invalid="true"' in page.text
    assert LoginEvent.objects.count() == 0
    assert "_auth_user_id" not in browser.session


def test_malformed_utf8_in_the_body_is_not_a_500(browser, anna):
    token = csrf(browser)
    body = f"csrfmiddlewaretoken={token}&username=%C3%28%FF%FE&password=%ED%A0%80x"
    page = browser.post(LOGIN, body, content_type="application/x-www-form-urlencoded")
    assert page.status_code == 200
    assert "Onjuiste inlog" in page.text


def test_missing_csrf_token_is_refused_with_a_friendly_page(browser, anna):
    browser.get(LOGIN)
    page = browser.post(LOGIN, {"username": "anna.jansen", "password": PASSWORD})
    assert page.status_code == 403
    assert "Formulier verlopen" in page.text and "Er is niets gewijzigd" in page.text
    assert LoginEvent.objects.count() == 0


def test_double_submit_signs_in_once_per_post(browser, anna):
    token = csrf(browser)
    data = {"csrfmiddlewaretoken": token, "username": "anna.jansen", "password": PASSWORD}
    first = browser.post(LOGIN, data)
    second = browser.post(LOGIN, data)  # the stale token from before the sign-in
    assert first.status_code == 302
    assert second.status_code in (302, 403)
    assert browser.get("/").status_code == 200


def test_logout_is_post_only_and_csrf_protected(browser, anna):
    post_login(browser, "anna.jansen", PASSWORD)
    assert browser.post("/uitloggen/", {}).status_code == 403
    assert browser.get("/").status_code == 200  # not signed out by a forged post
    token = browser.cookies["bibid_identity_csrftoken"].value
    assert browser.put("/uitloggen/", HTTP_X_CSRFTOKEN=token).status_code == 405


def test_anonymous_logout_goes_to_the_signed_out_page(browser):
    assert browser.get("/uitloggen/")["Location"] == "/uitgelogd/"
    assert "Je bent uitgelogd" in browser.get("/uitgelogd/").text


def test_help_page(browser):
    page = browser.get("/hulp-bij-inloggen/")
    assert page.status_code == 200
    for advice in ("ongewenste e-mail", "privévenster", "Edge, Chrome, Safari of Firefox"):
        assert advice in page.text


def test_unknown_page_is_a_friendly_404(browser):
    page = browser.get("/bestaat-niet/")
    assert page.status_code == 404 and "Pagina niet gevonden" in page.text


def test_a_sign_in_costs_six_statements(browser, anna):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from .test_guard import data_statements

    data = {"csrfmiddlewaretoken": csrf(browser), "username": "anna.jansen", "password": PASSWORD}
    with CaptureQueriesContext(connection) as ctx:
        assert browser.post(LOGIN, data).status_code == 302
    statements = data_statements(ctx.captured_queries)
    # Count the guess, find the account, take the count back, store the session, note the
    # last sign-in, record the attempt: nothing else, and nothing twice.
    assert len(statements) == 6, "\n".join(statements)
