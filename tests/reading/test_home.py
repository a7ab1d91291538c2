"""The reading service answers: start page, health, its own cookies, friendly errors."""

import pytest

pytestmark = pytest.mark.django_db


def test_start_page(client):
    page = client.get("/")
    assert page.status_code == 200 and "Online Bibliotheek" in page.text


def test_health(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ok", "database": "ok"}


def test_own_cookie_names(settings):
    assert settings.SESSION_COOKIE_NAME == "bibid_reading_session"
    assert settings.CSRF_COOKIE_NAME == "bibid_reading_csrftoken"


def test_not_found_page(client):
    page = client.get("/nergens/")
    assert page.status_code == 404 and "Pagina niet gevonden" in page.text


def test_english_start_page(client):
    client.cookies["bibid_language"] = "en"
    assert "Borrow e-books and audiobooks" in client.get("/").text
