"""The helpdesk report's pictures and words: per week the first findings and how cases
ended as SVG bar charts (valid XML, bars as high as their counts, accessible, one library's
figures only), and no finding code in the visible text of the report or of any flowchart,
in Dutch and in English."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, time, timedelta
from xml.etree import ElementTree

import pytest
from django.test import Client
from django.utils import timezone

from bibid.common import clock
from bibid.library.helpdesk import definitions, findings, report
from bibid.library.helpdesk.models import Case
from bibid.library.staff.models import Staff
from bibid.library.staff.permissions import Actor
from tests.mfa_support import force_login_verified

from .test_helpdesk_report import case
from .visible_text import SVG, codes_in, svg_text, visible

REPORT = "/console/helpdesk/rapport/"


@pytest.fixture
def demo(db):
    """The demo libraries and staff; the report and the charts never call identity."""
    from bibid.library import demo as library_demo

    library_demo.load()
    return library_demo


# (days ago, first finding, the node the story ended at) at aan-de-maas
STORIES = [
    (0, "login-account-inactive", "activate"),
    (1, "login-account-inactive", "solved"),
    (2, "wrong-username", "tell_username"),
    (8, "login-account-inactive", "activate"),
    (9, "login-blocked", "escalate"),
    (10, "login-blocked", "solved"),
    (11, "login-blocked", "solved"),
    (12, "password-failures", "try_now"),
    (23, "no-login-account", "generate"),
]


@pytest.fixture
def cases(demo):
    now = clock.now()
    Case.objects.bulk_create(
        [
            case("aan-de-maas", "cannot-login", code, ended, created_at=now - timedelta(days=ago))
            for ago, code, ended in STORIES
        ]
        + [
            case(
                "duinstreek",
                "cannot-login",
                "authorization-outdated",
                "solved",
                created_at=now - timedelta(days=3),
            )
        ]
    )
    return now


def signed_in(username: str, language: str = "nl") -> Client:
    client = Client()
    force_login_verified(client, Staff.objects.get(username=username))
    client.cookies["bibid_language"] = language
    return client


def monday(moment):
    day = timezone.localdate(moment)
    return day - timedelta(days=day.weekday())


def charts(html: str) -> dict[str, ElementTree.Element]:
    """Every inline SVG of the page by its id, parsed (a malformed one fails here)."""
    found = {}
    for svg in re.findall(r"<svg\b.*?</svg>", html, re.S):
        root = ElementTree.fromstring(svg)  # noqa: S314 - our own SVG, checked to be well-formed
        found[root.get("id")] = root
    return found


def bars(root: ElementTree.Element) -> list[ElementTree.Element]:
    return [r for r in root.iter(f"{SVG}rect") if r.get("class") == "bar"]


def test_the_charts_count_per_week_with_bars_as_high_as_their_counts(cases):
    page = signed_in("balie.maas").get(REPORT)
    assert page.status_code == 200
    found = charts(page.text)
    assert set(found) == {"findings-1", "ends-1"}  # one problem: Kan niet inloggen

    weeks = report.build(actor=Actor(Staff.objects.get(username="balie.maas"))).problems[0]
    expected_first = Counter(
        (monday(cases - timedelta(days=ago)).isoformat(), code) for ago, code, _end in STORIES
    )
    for root in found.values():
        assert root.get("role") == "img"
        title, desc = root.get("aria-labelledby").split()
        assert root.find(f"{SVG}title").get("id") == title and "Kan niet inloggen" in (
            root.find(f"{SVG}title").text
        )
        assert root.find(f"{SVG}desc").get("id") == desc
        period = len(weeks.findings_by_week.weeks)
        assert f"9 zaken in {period} weken" in root.find(f"{SVG}desc").text
        # Every bar is its count times one scale: heights compare as the counts do.
        segments = bars(root)
        scale = float(root.get("data-scale"))
        assert segments and scale > 0
        for rect in segments:
            assert float(rect.get("height")) == pytest.approx(int(rect.get("data-count")) * scale)
        # A week's stack sums to its cases; every week of the period is there, empty or not.
        groups = [g for g in root.iter(f"{SVG}g") if g.get("class") == "week"]
        assert [g.get("data-week") for g in groups] == [
            w.isoformat() for w in weeks.findings_by_week.weeks
        ]
        for group in groups:
            counts = [int(r.get("data-count")) for r in bars(group)]
            assert sum(counts) == int(group.get("data-total"))
        heights = {g.get("data-week"): sum(float(r.get("height")) for r in bars(g)) for g in groups}
        totals = {g.get("data-week"): int(g.get("data-total")) for g in groups}
        busiest = max(totals, key=totals.get)
        assert heights[busiest] == pytest.approx(max(heights.values()))
        assert sum(totals.values()) == len(STORIES)

    drawn = Counter()
    for rect in bars(found["findings-1"]):
        drawn[(rect.get("data-week"), rect.get("data-key"))] += int(rect.get("data-count"))
    assert drawn == expected_first
    # How stories ended, by the kind of step: 3 solved, 1 escalated, 3 at a fix, ...
    ends = Counter()
    for rect in bars(found["ends-1"]):
        ends[rect.get("data-key")] += int(rect.get("data-count"))
    assert ends == {"solved": 3, "escalate": 1, "action": 3, "question": 1, "advice": 1}
    # The legend names each in words; the figures per week are a table too.
    text = svg_text(ElementTree.tostring(found["findings-1"], encoding="unicode"))
    assert "inlogaccount niet geactiveerd" in text and "inloggen geblokkeerd" in text
    assert "De cijfers per week" in page.text


def test_another_library_sees_only_its_own_figures(cases):
    theirs = charts(signed_in("manager.duin").get(REPORT).text)
    assert [(r.get("data-key"), r.get("data-count")) for r in bars(theirs["findings-1"])] == [
        ("authorization-outdated", "1")
    ]
    ours = charts(signed_in("manager.maas").get(REPORT).text)
    keys = {r.get("data-key") for root in ours.values() for r in bars(root)}
    assert "authorization-outdated" not in keys
    assert sum(int(r.get("data-count")) for r in bars(ours["findings-1"])) == len(STORIES)


def test_a_year_has_a_bar_place_for_every_week_and_the_rest_of_the_findings_share_one(demo):
    now = clock.now()
    codes = sorted(findings.CODES)[:8]  # more than a chart has colours for
    Case.objects.bulk_create(
        [
            case(
                "aan-de-maas",
                "cannot-login",
                code,
                "solved",
                created_at=now - timedelta(days=i * 40),
            )
            for i, code in enumerate(codes)
        ]
    )
    root = charts(signed_in("balie.maas").get(REPORT, {"dagen": "365"}).text)["findings-1"]
    weeks = [g for g in root.iter(f"{SVG}g") if g.get("class") == "week"]
    assert 53 <= len(weeks) <= 54
    keys = {r.get("data-key") for r in bars(root)}
    assert len(keys) == report.TOP_FINDINGS + 1 and report.OTHER in keys
    assert "overige bevindingen" in svg_text(ElementTree.tostring(root, encoding="unicode"))


@pytest.mark.parametrize("language", ["nl", "en"])
def test_the_report_and_every_flowchart_show_words_never_codes(demo, language):
    now = clock.now()
    Case.objects.bulk_create(
        [
            case("aan-de-maas", problem, code, "solved", created_at=now - timedelta(days=i % 20))
            for i, code in enumerate(sorted(findings.CODES))
            for problem in ("cannot-login", "no-ebook-rights")
        ]
    )
    client = signed_in("helpdesk.maas", language)
    page = client.get(REPORT)
    assert page.status_code == 200
    assert codes_in(visible(page.text), findings.CODES) == []
    for svg in charts(page.text).values():
        assert (
            codes_in(svg_text(ElementTree.tostring(svg, encoding="unicode")), findings.CODES) == []
        )
    # The codes stay where they are data.
    assert 'data-code="authorization-outdated"' in page.text
    if language == "nl":
        assert "Verouderde rechten bij de inlogdienst" in visible(page.text)

    for definition in definitions.all_definitions().values():
        chart = client.get(f"/console/helpdesk/schema/{definition.id}/")
        svg = client.get(f"/console/helpdesk/schema/{definition.id}.svg")
        assert chart.status_code == svg.status_code == 200
        assert codes_in(visible(chart.text), findings.CODES) == [], definition.id
        assert codes_in(svg_text(svg.content.decode()), findings.CODES) == [], definition.id
    if language == "nl":
        cannot_login = client.get("/console/helpdesk/schema/cannot-login.svg").content.decode()
        for label in ("gekoppeld aan een gezinslid", "geen e-mailadres"):
            assert label in svg_text(cannot_login)


def test_a_week_starts_at_monday_midnight_in_the_library_s_time_zone(demo):
    """Sunday 23:30 and Monday 00:30 in Amsterdam are two weeks, though both are Sunday in
    UTC (counted in the database by comparisons with each local Monday midnight)."""
    today = timezone.localdate(clock.now())
    monday = today - timedelta(days=today.weekday() + 14)
    zone = timezone.get_current_timezone()
    late, early = (
        timezone.make_aware(datetime.combine(monday - timedelta(days=1), time(23, 30)), zone),
        timezone.make_aware(datetime.combine(monday, time(0, 30)), zone),
    )
    assert late.astimezone(UTC).date() == early.astimezone(UTC).date()
    Case.objects.bulk_create(
        [
            case("aan-de-maas", "cannot-login", "login-blocked", "solved", created_at=late),
            case("aan-de-maas", "cannot-login", "login-blocked", "solved", created_at=early),
        ]
    )
    weekly = report.build(actor=Actor(Staff.objects.get(username="balie.maas"))).problems[0]
    assert weekly.findings_by_week.counts == {
        monday - timedelta(weeks=1): {"login-blocked": 1},
        monday: {"login-blocked": 1},
    }
