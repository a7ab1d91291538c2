"""The catalogue: search and filters, pages, covers, the start page, the demo titles."""

from __future__ import annotations

import html
import io
import json
import re
import xml.etree.ElementTree as ET

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bibid.reading.catalogue import demo
from bibid.reading.catalogue.covers import cover_svg
from bibid.reading.catalogue.models import Title
from bibid.reading.loans import services

from .patrons import ANNA, sign_in

pytestmark = pytest.mark.django_db
SVG = "{http://www.w3.org/2000/svg}"


def parse(svg) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own service's output, not untrusted input


def titles_on(page) -> list[str]:
    return [html.unescape(t) for t in re.findall(r'class="title-name"[^>]*>([^<]*)<', page.text)]


# -- the list --------------------------------------------------------------------------------


def test_the_catalogue_is_open_to_everyone(client, catalogue):
    page = client.get("/catalogus/")
    assert page.status_code == 200
    assert "36 titels gevonden" in page.text
    assert len(titles_on(page)) == 12  # one page
    assert 'href="/titel/' in page.text and 'src="/omslag/' in page.text
    assert "Inloggen" in page.text


def test_search_title_or_author_ignoring_case_and_accents(client, catalogue):
    assert titles_on(client.get("/catalogus/", {"q": "havelaar"})) == ["Max Havelaar"] * 2
    assert set(titles_on(client.get("/catalogus/", {"q": "COUPERUS"}))) == {
        "Eline Vere",
        "De stille kracht",
        "Van oude menschen, de dingen, die voorbijgaan",
    }
    assert titles_on(client.get("/catalogus/", {"q": "bronte"})) == ["Jane Eyre"]
    assert titles_on(client.get("/catalogus/", {"q": "brontë eyre"})) == ["Jane Eyre"]
    nothing = client.get("/catalogus/", {"q": "%"})
    assert titles_on(nothing) == [] and "Geen titels gevonden" in nothing.text


def test_filter_on_kind_and_youth(client, catalogue):
    audio = client.get("/catalogus/", {"soort": "luisterboek", "voor": "jeugd"})
    expected = {t.title for t in catalogue.values() if t.kind == "audiobook" and t.youth}
    assert set(titles_on(audio)) == expected and expected
    adult_ebooks = client.get(
        "/catalogus/", {"soort": "e-book", "voor": "volwassenen", "pagina": 2}
    )
    expected = sorted(t.title for t in catalogue.values() if t.kind == "ebook" and not t.youth)
    assert titles_on(adult_ebooks) == expected[12:24]


def test_a_bad_filter_value_spoils_nothing_else(client, catalogue):
    page = client.get("/catalogus/", {"soort": "film", "q": "pinokkio"})
    assert page.status_code == 200 and titles_on(page) == ["Pinokkio"]


def test_pagination_keeps_the_search(client, catalogue):
    first = client.get("/catalogus/", {"voor": "volwassenen"})
    assert "Pagina 1 van 2" in first.text
    assert 'href="?voor=volwassenen&amp;pagina=2"' in first.text
    second = client.get("/catalogus/", {"voor": "volwassenen", "pagina": 2})
    assert 'rel="prev"' in second.text and 'rel="next"' not in second.text
    assert client.get("/catalogus/", {"pagina": "999"}).status_code == 200  # the last page
    assert client.get("/catalogus/", {"pagina": "nee"}).status_code == 200  # the first


def test_the_list_shows_the_patrons_loans_in_a_fixed_number_of_queries(catalogue):
    client = sign_in(Client(), ANNA)
    with CaptureQueriesContext(connection) as none_borrowed:
        client.get("/catalogus/")
    for slug in ("camera-obscura", "de-kleine-johannes", "de-stille-kracht", "eline-vere"):
        services.borrow(sub=ANNA.sub, rights=ANNA.rights, title=catalogue[slug])
    with CaptureQueriesContext(connection) as four_borrowed:
        page = client.get("/catalogus/")
    assert page.text.count('class="on-loan"') == 4
    assert len(four_borrowed.captured_queries) == len(none_borrowed.captured_queries)


def test_list_query_budget(catalogue, django_assert_max_num_queries):
    client = sign_in(Client(), ANNA)
    for slug in ("camera-obscura", "eline-vere", "heidi"):
        services.borrow(sub=ANNA.sub, rights=ANNA.rights, title=catalogue[slug])
    # session, count, page of titles, the patron's loans of those titles
    with django_assert_max_num_queries(4):
        client.get("/catalogus/")
    with django_assert_max_num_queries(5):  # session, three shelves, the loans
        client.get("/")


# -- one title -------------------------------------------------------------------------------


def test_title_page(client, catalogue):
    page = client.get("/titel/max-havelaar-luisterboek/")
    assert page.status_code == 200
    for text in (
        "Max Havelaar",
        "Multatuli",
        "Luisterboek",
        "Ruud de Haan",
        "13 u 32 min",
        "Nederlands",
        "1860",
        "Inloggen om te lenen",
        'href="/inloggen/?next=%2Ftitel%2Fmax-havelaar-luisterboek%2F"',
    ):
        assert text in page.text, text
    assert 'src="/omslag/max-havelaar-luisterboek.svg"' in page.text


def test_unknown_title_is_not_found(client, catalogue):
    assert client.get("/titel/bestaat-niet/").status_code == 404
    assert client.get("/omslag/bestaat-niet.svg").status_code == 404


def test_title_page_escapes_text(client, make_title):
    make_title(slug="streken", title="<script>alert(1)</script>", author="A & B")
    page = client.get("/titel/streken/")
    assert "<script>alert" not in page.text and "&lt;script&gt;" in page.text


# -- covers ----------------------------------------------------------------------------------


def test_cover_is_a_cached_svg(client, catalogue):
    response = client.get("/omslag/max-havelaar.svg")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml; charset=utf-8"
    assert "max-age=31536000" in response["Cache-Control"] and "public" in response["Cache-Control"]
    root = parse(response.content)
    assert root.tag == f"{SVG}svg"
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "Max Havelaar" in texts and "Multatuli" in texts
    assert "http" not in response.text.replace("http://www.w3.org/2000/svg", "")  # nothing fetched
    again = client.get("/omslag/max-havelaar.svg", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304


def test_covers_are_deterministic_and_differ_per_title():
    one = cover_svg(slug="a", title="Een", author="X")
    assert one == cover_svg(slug="a", title="Een", author="X")
    assert one != cover_svg(slug="b", title="Een", author="X")
    assert "<path" in cover_svg(slug="a", title="Een", author="X", audiobook=True)


def test_cover_escapes_markup_in_titles(client, make_title):
    make_title(slug="gevaar", title='Tom & <Jerry> "zeggen" \x01hoi', author="<b>A</b> & co")
    response = client.get("/omslag/gevaar.svg")
    root = parse(response.content)  # well-formed XML
    assert "Tom & <Jerry>" in " ".join(t.text for t in root.iter(f"{SVG}text"))
    assert root.get("aria-label") == 'Tom & <Jerry> "zeggen" hoi'
    assert "<Jerry>" not in response.text and "&lt;Jerry&gt;" in response.text
    assert root.find(f"{SVG}script") is None


def test_long_titles_are_cut_on_the_cover():
    root = parse(cover_svg(slug="x", title="woord " * 40, author="Iemand"))
    lines = [t.text for t in root.iter(f"{SVG}text")]
    assert len(lines) <= 6 and lines[3].endswith("…")


# -- start page ------------------------------------------------------------------------------


def test_start_page_shows_shelves(client, catalogue):
    page = client.get("/")
    assert page.status_code == 200
    for text in (
        "E-books",
        "Luisterboeken",
        "Jeugd",
        "Alle luisterboeken",
        "?soort=luisterboek&amp;voor=volwassenen",
        "Zoek op titel of auteur",
    ):
        assert text in page.text, text
    assert len(titles_on(page)) == page.text.count('<h3 class="title-name"') == 18


# -- demo data -------------------------------------------------------------------------------


def test_load_demo_is_idempotent_and_prints_one_json_line(settings):
    settings.BIBID_DEMO = True
    for _ in range(2):
        out = io.StringIO()
        call_command("load_demo", stdout=out)
        lines = out.getvalue().strip().splitlines()
        assert len(lines) == 1 and json.loads(lines[0]) == {"reading_titles": 36}
    assert Title.objects.count() == 36 == len(demo.TITLES)
    assert Title.objects.filter(youth=True).count() == 12
    assert Title.objects.filter(kind="audiobook").count() >= 12
    assert Title.objects.filter(language="en").exists()
    assert len({t.identifier for t in Title.objects.all()}) == 36


def test_load_demo_updates_changed_titles_and_keeps_loans(settings, catalogue):
    settings.BIBID_DEMO = True
    title = catalogue["heidi"]
    loan = services.borrow(sub=ANNA.sub, rights=ANNA.rights, title=title)
    Title.objects.filter(pk=title.pk).update(title="Verkeerd")
    call_command("load_demo", if_empty=True, stdout=io.StringIO())
    assert Title.objects.get(pk=title.pk).title == "Verkeerd"  # not empty: left alone
    call_command("load_demo", stdout=io.StringIO())
    assert Title.objects.get(pk=title.pk).title == "Heidi"
    loan.refresh_from_db()
    assert loan.title_id == title.pk


def test_load_demo_refuses_outside_demo_mode_but_shows(settings, catalogue):
    settings.BIBID_DEMO = settings.DEBUG = False
    with pytest.raises(CommandError):
        call_command("load_demo", stdout=io.StringIO())
    out = io.StringIO()
    call_command("load_demo", show=True, stdout=out)
    assert json.loads(out.getvalue()) == {"reading_titles": 36}


def test_prepare_runs_the_reading_demo(settings):
    """`bibid demo` and `bibid up` run `prepare` per service, which runs its load_demo."""
    settings.BIBID_DEMO = True
    out = io.StringIO()
    call_command("prepare", demo="reset", stdout=out)
    assert json.loads(out.getvalue().strip().splitlines()[-1]) == {"reading_titles": 36}
