"""Borrowing, renewing and giving back through the pages, and Mijn leenplank."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bibid.common.rp.patron import PatronRight
from bibid.reading.loans import services
from bibid.reading.loans.models import Loan

from .patrons import ANNA, COMPLEET, HANNA, INGRID, LOTTE, OTTO, PIET, patron, sign_in, signed_in

pytestmark = pytest.mark.django_db


def borrow(client: Client, slug: str, **data):
    return client.post(f"/titel/{slug}/lenen/", data)


def login_next(response) -> str:
    assert response.status_code == 302
    parts = urlsplit(response["Location"])
    assert parts.path == "/inloggen/"
    return parse_qs(parts.query)["next"][0]


# -- borrowing -------------------------------------------------------------------------------


def test_borrow_then_see_it_on_the_title_page(catalogue, identity, clock):
    client = signed_in(PIET)
    response = borrow(client, "max-havelaar")
    assert response.status_code == 302 and response["Location"] == "/titel/max-havelaar/"
    loan = Loan.objects.get(sub=PIET.sub)
    assert loan.title.slug == "max-havelaar" and loan.due_at == clock.current + timedelta(21)
    assert identity.refreshed == 1  # the rights were read again first
    page = client.get(response["Location"])
    assert "Je hebt “Max Havelaar” geleend tot" in page.text  # the message, once
    assert "Je hebt deze titel geleend tot" in page.text
    assert "Inleveren" in page.text and "Verlengen kan vanaf" in page.text
    assert "Je hebt “Max Havelaar” geleend" not in client.get("/titel/max-havelaar/").text


def test_anonymous_borrow_goes_to_sign_in_and_back_to_the_title(catalogue, client):
    assert login_next(borrow(client, "max-havelaar")) == "/titel/max-havelaar/"
    assert not Loan.objects.exists()


def test_borrow_of_an_unknown_title(catalogue):
    assert borrow(signed_in(PIET), "bestaat-niet").status_code == 404


def test_without_the_right_a_clear_page_and_a_report(catalogue, identity):
    client = signed_in(INGRID)
    page = borrow(client, "max-havelaar")
    assert page.status_code == 403
    for text in (
        "Je hebt geen recht om e-books te lenen.",
        "abonnement bij de bibliotheek",
        "Vraag je bibliotheek",
        "gekoppeld",
        "Opnieuw controleren",
        'action="/titel/max-havelaar/lenen/"',
        "Je inlogaccount heeft nu geen rechten",
    ):
        assert text in page.text, text
    assert not Loan.objects.exists()
    assert identity.events == [
        (
            "rights_missing",
            {"title": "max-havelaar", "needed": "ebooks", "had": [], "reason": "no_right"},
        )
    ]


def test_an_audiobook_needs_the_audiobook_right(catalogue, identity):
    ebooks_only = patron("ebooks.only", [COMPLEET[0]])
    page = borrow(signed_in(ebooks_only), "heidi")
    assert page.status_code == 403 and "luisterboeken te lenen" in page.text
    assert identity.events[0][1] == {
        "title": "heidi",
        "needed": "audiobooks",
        "had": ["ebooks"],
        "reason": "no_right",
    }


def test_ended_rights_are_no_rights(catalogue, identity):
    page = borrow(signed_in(HANNA), "max-havelaar")
    assert page.status_code == 403 and identity.events[0][1]["had"] == []


def test_a_failing_report_does_not_break_the_page(catalogue, identity):
    identity.reporting_fails = True
    page = borrow(signed_in(INGRID), "max-havelaar")
    assert page.status_code == 403 and "Opnieuw controleren" in page.text


def test_check_again_after_the_library_authorized(catalogue, identity):
    """The seed's "authorize, then check": the library pushes rights, the patron retries."""
    client = signed_in(INGRID)
    assert borrow(client, "max-havelaar").status_code == 403
    identity.fresh[INGRID.sub] = patron("ingrid.peters", COMPLEET)  # the library authorized
    assert borrow(client, "max-havelaar").status_code == 302
    assert Loan.objects.filter(sub=INGRID.sub).count() == 1
    assert identity.refreshed == 2
    assert "E-books:" in client.get("/leenplank/").text  # the session has the new rights


def test_an_ended_identity_session_means_signing_in_again(catalogue, identity):
    identity.session_over = True
    assert login_next(borrow(signed_in(PIET), "max-havelaar")) == "/titel/max-havelaar/"
    assert not Loan.objects.exists()


def test_when_identity_cannot_be_asked_the_rights_from_sign_in_stand(catalogue, identity):
    identity.down = True
    assert borrow(signed_in(PIET), "max-havelaar").status_code == 302
    assert borrow(signed_in(INGRID), "max-havelaar").status_code == 403


def test_youth_only(catalogue, identity):
    client = signed_in(LOTTE)
    page = borrow(client, "max-havelaar")
    assert page.status_code == 403
    assert "alleen jeugdtitels" in page.text and "?voor=jeugd" in page.text
    assert identity.events[0][1]["reason"] == "youth_only"
    assert identity.events[0][1]["had"] == ["audiobooks", "ebooks"]
    assert borrow(client, "pinokkio").status_code == 302


def test_limit_reached_changes_nothing(catalogue, clock):
    adult_ebooks = [t for t in catalogue.values() if t.kind == "ebook"][:7]
    for title in adult_ebooks[:6]:
        services.borrow(sub=OTTO.sub, rights=OTTO.rights, title=title)
    page = borrow(signed_in(OTTO), adult_ebooks[6].slug)
    assert page.status_code == 409
    assert 'data-code="limit_reached"' in page.text
    assert "al 6 e-books geleend" in page.text and "komt er weer een plek vrij" in page.text
    assert Loan.objects.filter(sub=OTTO.sub).count() == 6


def test_double_borrow(catalogue):
    client = signed_in(PIET)
    assert borrow(client, "heidi").status_code == 302
    again = borrow(client, "heidi")
    assert again.status_code == 409 and "al geleend" in again.text
    assert Loan.objects.count() == 1


# -- renewing and giving back ----------------------------------------------------------------


@pytest.fixture
def piets_loan(catalogue, clock):
    return services.borrow(sub=PIET.sub, rights=PIET.rights, title=catalogue["eline-vere"])


def renew(client, loan, back="leenplank"):
    return client.post(f"/leenplank/{loan.pk}/verlengen/", {"terug": back})


def give_back(client, loan, back="leenplank"):
    return client.post(f"/leenplank/{loan.pk}/inleveren/", {"terug": back})


def test_renew_too_early_then_ok_then_once(piets_loan, clock):
    client = signed_in(PIET)
    early = renew(client, piets_loan)
    assert early.status_code == 409 and 'data-code="renew_too_early"' in early.text
    assert "Verlengen kan vanaf 3 dagen voor het einde" in early.text
    clock.advance(days=18)
    done = renew(client, piets_loan)
    assert done.status_code == 302 and done["Location"] == "/leenplank/"
    piets_loan.refresh_from_db()
    assert piets_loan.renewed and piets_loan.due_at == clock.current + timedelta(days=24)
    assert "is verlengd tot" in client.get("/leenplank/").text
    once = renew(client, piets_loan, back="titel")
    assert once.status_code == 409 and "maar één keer" in once.text
    assert '<h1 lang="nl">Eline Vere</h1>' in once.text  # answered on the page the form was on


def test_give_back(piets_loan, clock):
    client = signed_in(PIET)
    response = give_back(client, piets_loan, back="titel")
    assert response.status_code == 302 and response["Location"] == "/titel/eline-vere/"
    piets_loan.refresh_from_db()
    assert piets_loan.returned_at == clock.current
    assert "Je hebt “Eline Vere” ingeleverd." in client.get(response["Location"]).text
    assert give_back(client, piets_loan).status_code == 409  # loan_ended
    assert borrow(client, "eline-vere").status_code == 302  # borrowed again


def test_someone_elses_loan_is_not_found(piets_loan):
    client = signed_in(ANNA)
    assert renew(client, piets_loan).status_code == 404
    assert give_back(client, piets_loan).status_code == 404
    assert client.post("/leenplank/999999/inleveren/").status_code == 404
    piets_loan.refresh_from_db()
    assert piets_loan.returned_at is None


def test_anonymous_forms_go_to_sign_in_and_back(piets_loan, client):
    assert login_next(renew(client, piets_loan)) == "/leenplank/"
    assert login_next(give_back(client, piets_loan, back="titel")) == "/leenplank/"
    assert login_next(client.get("/leenplank/")) == "/leenplank/"


def test_forms_take_post_only(piets_loan):
    client = signed_in(PIET)
    for url in (
        "/titel/eline-vere/lenen/",
        f"/leenplank/{piets_loan.pk}/verlengen/",
        f"/leenplank/{piets_loan.pk}/inleveren/",
        "/leenplank/rechten/",
    ):
        assert client.get(url).status_code == 405, url
    assert client.post("/leenplank/").status_code == 405
    assert client.post("/catalogus/").status_code == 405


def test_forms_need_the_csrf_token(catalogue):
    client = sign_in(Client(enforce_csrf_checks=True), PIET)
    refused = borrow(client, "heidi")
    assert refused.status_code == 403 and not Loan.objects.exists()
    page = client.get("/titel/heidi/")
    token = page.cookies["bibid_reading_csrftoken"].value
    accepted = client.post("/titel/heidi/lenen/", {"csrfmiddlewaretoken": token})
    assert accepted.status_code == 302 and Loan.objects.count() == 1


def test_buttons_name_the_title(piets_loan, catalogue):
    client = signed_in(PIET)
    title_page = client.get("/titel/eline-vere/").text
    assert '<span class="visually-hidden">: Eline Vere</span>' in title_page
    shelf = client.get("/leenplank/").text
    assert 'Inleveren<span class="visually-hidden">: Eline Vere</span>' in shelf
    assert 'Lenen<span class="visually-hidden">: Heidi</span>' in client.get("/titel/heidi/").text


# -- Mijn leenplank --------------------------------------------------------------------------


def test_shelf_shows_loans_in_dutch_time_rights_and_history(catalogue, clock):
    # 23:30 UTC on 10 March is 00:30 on 11 March in Amsterdam; three weeks later summer
    # time has begun, so the loan ends at 01:30 on 1 April.
    clock.current = datetime(2026, 3, 10, 23, 30, tzinfo=UTC)
    for slug in ("eline-vere", "heidi", "de-stille-kracht"):
        services.borrow(sub=ANNA.sub, rights=ANNA.rights, title=catalogue[slug])
    old = services.borrow(sub=ANNA.sub, rights=ANNA.rights, title=catalogue["camera-obscura"])
    services.give_back(sub=ANNA.sub, loan=old)
    page = signed_in(ANNA).get("/leenplank/")
    assert page.status_code == 200
    assert "Geleend tot <strong>1 april 2026, 01:30</strong>" in page.text
    # Three times 24 hours earlier, across the change to summer time: 00:30.
    assert "Verlengen kan vanaf 29 maart 2026, 00:30." in page.text
    for text in (
        "<strong>E-books:</strong> 2 van 10 tegelijk",
        "<strong>E-books:</strong> 3 van 6 in de afgelopen 365 dagen",
        "<strong>Luisterboeken:</strong> 1 van 10 tegelijk",
        "<strong>Luisterboeken:</strong> 1 van 6 in de afgelopen 365 dagen",
        "Via Bibliotheek aan de Maas",
        "Via Bibliotheek Duinstreek",
        "Eerder geleend",
        "Camera obscura",
        "(ingeleverd)",
    ):
        assert text in page.text, text
    assert "no-cache" in page["Cache-Control"] or "max-age=0" in page["Cache-Control"]


def test_shelf_says_when_a_full_right_frees_up_and_youth_only(catalogue):
    for title in [t for t in catalogue.values() if t.kind == "ebook"][:6]:
        services.borrow(sub=OTTO.sub, rights=OTTO.rights, title=title)
    page = signed_in(OTTO).get("/leenplank/")
    assert "6 van 6 in de afgelopen 365 dagen; weer een plek vrij op" in page.text
    assert "alleen jeugdtitels" in signed_in(LOTTE).get("/leenplank/").text


def test_shelf_without_rights_explains_where_they_come_from(db):
    other_service = patron("ingrid.peters", [PatronRight(code="printing")])
    page = signed_in(other_service).get("/leenplank/")
    assert "printing" not in page.text
    assert "geen rechten om e-books of luisterboeken te lenen" in page.text
    assert "abonnement bij de bibliotheek" in page.text
    assert "Je hebt nu niets geleend." in page.text


def test_shelf_query_count_does_not_grow_with_loans(catalogue, django_assert_max_num_queries):
    client = signed_in(ANNA)
    services.borrow(sub=ANNA.sub, rights=ANNA.rights, title=catalogue["heidi"])
    with CaptureQueriesContext(connection) as one:
        client.get("/leenplank/")
    for slug in ("eline-vere", "pinokkio", "schateiland", "max-havelaar"):
        loan = services.borrow(sub=ANNA.sub, rights=ANNA.rights, title=catalogue[slug])
    services.give_back(sub=ANNA.sub, loan=loan)
    with django_assert_max_num_queries(len(one.captured_queries)):
        client.get("/leenplank/")
    assert len(one.captured_queries) <= 4  # session, current, past, the last year's loans


def test_check_rights_again(db, identity):
    client = signed_in(INGRID)
    identity.fresh[INGRID.sub] = patron("ingrid.peters", COMPLEET)
    response = client.post("/leenplank/rechten/")
    assert response.status_code == 302 and response["Location"] == "/leenplank/"
    page = client.get("/leenplank/")
    assert "opnieuw opgehaald" in page.text and "0 van 10 tegelijk" in page.text
    identity.down = True
    client.post("/leenplank/rechten/")
    assert "konden nu niet worden opgehaald" in client.get("/leenplank/").text
    identity.down, identity.session_over = False, True
    assert login_next(client.post("/leenplank/rechten/")) == "/leenplank/"


def test_the_header_shows_who_is_signed_in(catalogue):
    page = signed_in(PIET).get("/catalogus/")
    assert "piet.hendriks" in page.text and "Mijn leenplank" in page.text
    assert 'action="/uitloggen/"' in page.text


def test_title_page_query_budget(piets_loan, django_assert_max_num_queries):
    client = signed_in(PIET)
    with django_assert_max_num_queries(3):  # session, the title, the patron's loan of it
        page = client.get("/titel/eline-vere/")
    assert "Inleveren" in page.text
