"""The library service answers: start page, health, its own cookies, friendly errors."""

import pytest

pytestmark = pytest.mark.django_db


def test_start_page_links_to_the_login_service(client, settings):
    page = client.get("/")
    assert page.status_code == 200
    assert "Bibliotheeksysteem" in page.text
    assert f'href="{settings.BIBID_PUBLIC_URLS["identity"]}/"' in page.text


def test_health(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ok", "database": "ok"}


def test_own_cookie_names_and_strict_policy(settings, client):
    assert settings.SESSION_COOKIE_NAME == "bibid_library_session"
    assert settings.CSRF_COOKIE_NAME == "bibid_library_csrftoken"
    assert "frame-ancestors 'none'" in client.get("/")["Content-Security-Policy"]


def test_not_found_page(client):
    page = client.get("/nergens/")
    assert page.status_code == 404 and "Pagina niet gevonden" in page.text


def test_english_start_page(client):
    client.cookies["bibid_language"] = "en"
    assert "Library system" in client.get("/").text
