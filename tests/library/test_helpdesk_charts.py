"""The helpdesk's flowcharts: the SVG (well-formed, complete, escaped, deterministic, the
path of a case), the layout, and the console pages that show them."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from itertools import pairwise

import pytest
from django.test import Client

from bibid.library.helpdesk import chart_layout, charts, definitions, engine
from bibid.library.helpdesk.definitions import Definition
from bibid.library.helpdesk.findings import Found
from bibid.library.helpdesk.models import Case
from bibid.library.staff.models import Staff
from tests.mfa_support import force_login_verified

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def demo(db):
    """The demo libraries, staff and customers (overrides conftest's: these pages never call
    the login service, so no identity server is needed)."""
    from bibid.library import demo as library_demo

    library_demo.load()
    return library_demo


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own SVG, parsed to check it is well-formed


def drawn_nodes(root: ET.Element) -> dict[str, ET.Element]:
    return {g.get("data-node"): g for g in root.iter(f"{SVG}g") if g.get("data-node")}


def drawn_edges(root: ET.Element) -> dict[str, ET.Element]:
    return {p.get("data-edge"): p for p in root.iter(f"{SVG}path") if p.get("data-edge")}


def classes(element: ET.Element) -> set[str]:
    return set((element.get("class") or "").split())


def finding(code: str) -> Found:
    return Found(code, "samenvatting")


def tricky() -> Definition:
    """A small definition with a loop and text that must be escaped."""
    return Definition.model_validate(
        {
            "id": "tricky",
            "version": 2,
            "kind": "procedure",
            "title": 'Titel <b>&"x"</b>',
            "seed": 'Sectie <&">',
            "start": "first",
            "nodes": {
                "first": {
                    "kind": "check",
                    "check": "colleague_rule",
                    "step": 'Stap <1> & "2"',
                    "title": 'Is <script>alert("x")</script> & zo?',
                    "ok": "ask",
                    "found": "fix",
                    "text": 'Meer <tekst> & "zo"',
                },
                "fix": {
                    "kind": "action",
                    "operation": "account_activate",
                    "step": "Stap 3",
                    "title": "Activeer ]]> <![CDATA[",
                    "next": "ask",
                },
                "ask": {
                    "kind": "question",
                    "step": "Stap 4",
                    "title": "Nog eens?",
                    "answers": [
                        {"label": '"<ja>" & weer', "next": "first"},
                        {"label": "nee", "next": "done"},
                    ],
                },
                "done": {"kind": "end", "result": "solved", "step": "Stap 5", "title": "Klaar"},
            },
        }
    )


def flow() -> Definition:
    return Definition.model_validate(
        {
            "id": "inloggen",
            "version": 1,
            "kind": "flow",
            "title": "Inloggen",
            "seed": "Stroomschema's: Inloggen",
            "start": "open",
            "nodes": {
                "open": {
                    "kind": "patron",
                    "step": "1",
                    "title": "Klant opent Mijn Menu",
                    "next": "form",
                },
                "form": {
                    "kind": "system",
                    "step": "2",
                    "title": "Het inlogscherm verschijnt",
                    "next": "ok",
                },
                "ok": {
                    "kind": "question",
                    "step": "3",
                    "title": "Gegevens juist?",
                    "answers": [{"label": "ja", "next": "in"}, {"label": "nee", "next": "form"}],
                },
                "in": {"kind": "end", "result": "solved", "step": "4", "title": "Ingelogd"},
            },
        }
    )


# -- the SVG -----------------------------------------------------------------------------


@pytest.mark.parametrize("definition_id", sorted(definitions.all_definitions()))
def test_every_definition_draws_every_node_and_edge(definition_id):
    definition = definitions.get(definition_id)
    root = parse(charts.render_svg(definition))
    assert root.get("role") == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title.text == definition.title and definition.title in desc.text
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    nodes = drawn_nodes(root)
    assert set(nodes) == set(definition.nodes)
    for name, node in definition.nodes.items():
        assert nodes[name].find(f"{SVG}title").text.startswith(node.title)
        words = " ".join("".join(t.itertext()) for t in nodes[name].iter(f"{SVG}text"))
        assert node.title.split()[0] in words and node.step.split()[0] in words
    expected = {f"{s}>{t}" for s, t, _label in charts.edges(definition)}
    assert set(drawn_edges(root)) == expected
    assert {s: t for s, t, _label in charts.edges(definition)}  # a chart has edges
    assert "style=" not in charts.render_svg(definition)  # the console's CSP allows none


def test_edge_labels_say_in_orde_gevonden_findings_in_words_and_answers():
    labels = {(s, t): label for s, t, label in charts.edges(definitions.get("cannot-login"))}
    assert labels[("subscription", "account")] == "in orde"
    assert labels[("subscription", "renew")] == "gevonden"
    # A route of a particular finding is labelled with its words, never its code.
    assert labels[("username", "relink")] == "gekoppeld aan een gezinslid"
    assert labels[("recovery", "ask_address")] == "geen e-mailadres"
    assert labels[("ask_address", "recheck_address")] == "Ja, ingevuld"
    assert labels[("generate", "active")] == ""
    svg = charts.render_svg(definitions.get("cannot-login"))
    for text in ("in orde", "gevonden", "geen e-mailadres", "Ja, ingevuld", "Legenda"):
        assert text in svg
    assert "no-email-address" not in svg and "linked-to-other-family-member" not in svg


def test_the_walked_path_is_highlighted_and_the_stop_outlined():
    definition = definitions.get("cannot-login")
    path = engine.walk(definition, {"login_account_active": [finding("login-account-inactive")]})
    assert [p.node for p in path] == ["colleague", "subscription", "account", "active", "activate"]
    root = parse(charts.render_svg(definition, path=path))
    nodes, edges = drawn_nodes(root), drawn_edges(root)
    on_path = {name for name, g in nodes.items() if "on-path" in classes(g)}
    assert on_path == {p.node for p in path}
    assert {name for name, g in nodes.items() if "stopped" in classes(g)} == {"activate"}
    hot = {key for key, p in edges.items() if "on-path" in classes(p)}
    assert hot == {
        "colleague>subscription",
        "subscription>account",
        "account>active",
        "active>activate",
    }
    assert edges["active>activate"].get("stroke-width") == "4"
    assert edges["active>password"].get("stroke-width") == "1.5"
    # The order of the steps is numbered at the boxes, and said in the description.
    assert "5" in "".join(nodes["activate"].itertext())
    assert "Activeer inlogaccount" in root.find(f"{SVG}desc").text
    assert "hier stopte de diagnose" in charts.render_svg(definition, path=path)
    assert "hier stopte" not in charts.render_svg(definition)


def test_back_edges_are_drawn_at_the_side():
    # cannot-login has no cycle since version 2 (a walk with fixed answers could not end).
    assert not [
        k
        for k, p in drawn_edges(parse(charts.render_svg(definitions.get("cannot-login")))).items()
        if "back" in classes(p)
    ]
    definition = tricky()
    placed = chart_layout.layout(
        list(definition.nodes),
        {n: (100.0, 40.0) for n in definition.nodes},
        definition.start,
        [(s, t, 0.0) for s, t, _label in charts.edges(definition)],
    )
    route = placed.routes[("ask", "first")]
    boxes = placed.boxes
    low, high = boxes["first"].rank, boxes["ask"].rank
    spanned = [b for b in boxes.values() if low <= b.rank <= high]
    assert route.back and low < high
    assert route.lane > max(b.right for b in spanned) or route.lane < min(b.left for b in spanned)


def test_a_loop_back_to_the_start_is_a_back_edge():
    root = parse(charts.render_svg(tricky()))
    back = {key for key, p in drawn_edges(root).items() if "back" in classes(p)}
    assert back == {"ask>first"}


def test_text_from_a_definition_is_escaped():
    definition = tricky()
    path = engine.walk(definition, {"colleague_rule": [finding("not-allowed-colleague")]})
    svg = charts.render_svg(definition, path=path)
    root = parse(svg)  # well-formed, so nothing broke out of its element or attribute
    assert "<script>" not in svg and "<b>" not in svg and "<ja>" not in svg
    assert "&lt;script&gt;" in svg
    assert root.find(f"{SVG}title").text == 'Titel <b>&"x"</b>'
    node = drawn_nodes(root)["first"]
    assert (
        node.find(f"{SVG}title").text == 'Is <script>alert("x")</script> & zo?: Meer <tekst> & "zo"'
    )
    words = "".join(root.itertext())
    for text in ('"<ja>" & weer', 'Stap <1> & "2"', "Activeer ]]> <![CDATA[", 'Sectie <&">'):
        assert text in words
    assert root.find(f".//{SVG}script") is None


def test_the_same_definition_gives_the_same_svg():
    definition = definitions.get("cannot-login")
    path = engine.walk(definition, {"password_failures": [finding("password-failures")]})
    first = charts.render_svg(definition, path=path)
    assert charts.render_svg(definition, path=list(path)) == first
    assert charts.render_svg(definition.model_copy(deep=True), path=path) == first
    assert charts.render_svg(definition) != first


def test_process_flows_draw_system_and_patron_steps_in_their_own_colours():
    svg = charts.render_svg(flow())
    nodes = drawn_nodes(parse(svg))
    fills = {
        name: g.find(f"{SVG}rect").get("fill")
        for name, g in nodes.items()
        if name in ("open", "form")
    }
    assert fills["open"] != fills["form"]
    assert "het systeem doet iets" in svg and "de klant doet iets" in svg
    assert "controle (automatisch)" not in svg  # the legend shows what the chart uses


def test_boxes_never_overlap_and_edges_point_down():
    for definition in [*definitions.all_definitions().values(), tricky(), flow()]:
        sizes = {name: charts._size(node) for name, node in definition.nodes.items()}
        placed = chart_layout.layout(
            list(definition.nodes),
            sizes,
            definition.start,
            [(s, t, 0.0) for s, t, _l in charts.edges(definition)],
        )
        boxes = sorted(placed.boxes.values(), key=lambda b: (b.rank, b.x))
        for a, b in pairwise(boxes):
            if a.rank == b.rank:
                assert a.right <= b.left, (definition.id, a.name, b.name)
        for route in placed.routes.values():
            if not route.back:
                assert placed.boxes[route.source].rank < placed.boxes[route.target].rank


def test_a_case_path_from_json_skips_what_it_cannot_read():
    steps = charts.case_path(
        [
            {"node": "colleague", "kind": "check", "result": "ok"},
            {"kind": "check"},
            "nonsense",
            {"node": 3},
        ]
    )
    assert steps == [engine.PathStep("colleague", "check", "ok")]
    assert charts.case_path(None) == []
    # A path through nodes that no longer exist draws what does.
    svg = charts.render_svg(
        definitions.get("cannot-login"),
        path=[engine.PathStep("gone", "check", "ok"), engine.PathStep("colleague", "check", "ok")],
    )
    assert "stopped" in drawn_nodes(parse(svg))["colleague"].get("class")


# -- the pages -----------------------------------------------------------------------------


def signed_in(username: str) -> Client:
    client = Client()
    force_login_verified(client, Staff.objects.get(username=username))
    return client


def make_case(library_code: str, procedure: str = "cannot-login", **extra) -> Case:
    from bibid.library.tenants.models import Library

    definition = definitions.get(procedure)
    path = extra.pop(
        "path",
        [
            {"node": "colleague", "kind": "check", "result": "ok"},
            {"node": "subscription", "kind": "check", "result": "ok"},
            {"node": "account", "kind": "check", "result": "no-login-account"},
            {"node": "generate", "kind": "action", "result": "fix"},
        ],
    )
    return Case.objects.create(
        library=Library.objects.get(code=library_code),
        who="test",
        via="console",
        problem=definition.problem,
        procedure=definition.id,
        procedure_version=definition.version,
        outcome="fix-available",
        first_code="no-login-account",
        path=path,
        ended=path[-1]["node"],
        **extra,
    )


URLS = (
    "/console/helpdesk/schema/",
    "/console/helpdesk/schema/cannot-login/",
    "/console/helpdesk/schema/cannot-login.svg",
    "/console/helpdesk/rapport/",
)


@pytest.mark.parametrize("url", URLS)
def test_anonymous_visitors_go_to_the_console_sign_in(db, url):
    response = Client().get(url + "?case=7")
    assert response.status_code == 302
    # The whole address comes back after signing in, the case too.
    assert response["Location"] == f"/console/inloggen/?next={url}%3Fcase%3D7"


def test_the_list_shows_every_definition(demo):
    from django.urls import reverse

    page = signed_in("balie.maas").get(reverse("helpdesk:charts"))
    assert page.status_code == 200
    for definition in definitions.all_definitions().values():
        assert definition.title in page.text
        assert reverse("helpdesk:chart", args=[definition.id]) in page.text
        assert reverse("helpdesk:chart_svg", args=[definition.id]) in page.text
    assert "Geen rechten om e-books te lenen" in page.text


@pytest.mark.parametrize("username", ["balie.maas", "helpdesk.maas", "manager.duin"])
def test_every_staff_role_sees_the_chart_inline_and_as_a_file(demo, username):
    client = signed_in(username)
    page = client.get("/console/helpdesk/schema/no-ebook-rights/")
    assert page.status_code == 200
    assert 'role="img"' in page.text and "Koppel het juiste inlogaccount" in page.text
    assert "Het schema in woorden" in page.text and "console/helpdesk.css" in page.text
    svg = client.get("/console/helpdesk/schema/no-ebook-rights.svg")
    assert svg.status_code == 200 and svg["Content-Type"].startswith("image/svg+xml")
    root = parse(svg.content.decode())
    assert set(drawn_nodes(root)) == set(definitions.get("no-ebook-rights").nodes)


def test_an_unknown_chart_is_not_found(demo):
    client = signed_in("balie.maas")
    assert client.get("/console/helpdesk/schema/bestaat-niet/").status_code == 404
    assert client.get("/console/helpdesk/schema/bestaat-niet.svg").status_code == 404


def test_a_case_of_ones_own_library_shows_its_path(demo):
    case = make_case("aan-de-maas")
    client = signed_in("balie.maas")
    page = client.get(f"/console/helpdesk/schema/cannot-login/?case={case.pk}")
    assert page.status_code == 200
    assert f"De weg van zaak {case.pk}" in page.text
    assert "gestopt bij <strong>Genereer inlogaccount</strong>" in page.text
    assert "hier gestopt" in page.text and "volgde versie" not in page.text
    # The path in words names the finding in words, not by its code.
    walked = page.text.split('class="walked"', 1)[1].split("</ol>", 1)[0]
    assert "geen inlogaccount" in walked and "no-login-account" not in walked
    svg = client.get(f"/console/helpdesk/schema/cannot-login.svg?case={case.pk}")
    nodes = drawn_nodes(parse(svg.content.decode()))
    assert "stopped" in classes(nodes["generate"])
    assert {n for n, g in nodes.items() if "on-path" in classes(g)} == {
        "colleague",
        "subscription",
        "account",
        "generate",
    }
    Case.objects.filter(pk=case.pk).update(procedure_version=0)
    older = client.get(f"/console/helpdesk/schema/cannot-login/?case={case.pk}")
    current = definitions.get("cannot-login").version
    assert f"Deze zaak volgde versie 0 van het schema; dit is versie {current}." in older.text
    # Asked on another procedure's chart, the case goes to its own.
    moved = client.get(f"/console/helpdesk/schema/no-ebook-rights/?case={case.pk}")
    assert moved.status_code == 302
    assert moved["Location"] == f"/console/helpdesk/schema/cannot-login/?case={case.pk}"


def test_another_librarys_case_does_not_exist(demo):
    theirs = make_case("duinstreek")
    for username in ("balie.maas", "manager.maas"):
        client = signed_in(username)
        for url in (
            "/console/helpdesk/schema/cannot-login/",
            "/console/helpdesk/schema/cannot-login.svg",
            "/console/helpdesk/schema/no-ebook-rights/",
        ):
            response = client.get(url, {"case": theirs.pk})
            assert response.status_code == 404, (username, url)
            assert b"generate" not in response.content
    assert (
        signed_in("helpdesk.duin")
        .get("/console/helpdesk/schema/cannot-login/", {"case": theirs.pk})
        .status_code
        == 200
    )


@pytest.mark.parametrize("value", ["abc", "", "-1", "99999999", "1.5", "9" * 40])
def test_a_bad_case_number_is_not_found(demo, value):
    response = signed_in("balie.maas").get(
        "/console/helpdesk/schema/cannot-login/", {"case": value}
    )
    assert response.status_code == 404
