"""The helpdesk report: per problem the first findings, the fixes and whether they worked,
where cases end; one library's cases only; a fixed number of queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bibid.common import clock
from bibid.common.problems import Problem
from bibid.library.helpdesk import report
from bibid.library.helpdesk.models import Case
from bibid.library.staff.models import Staff
from bibid.library.staff.permissions import Actor
from bibid.library.tenants.models import Library
from tests.mfa_support import force_login_verified


@pytest.fixture
def demo(db):
    """The demo libraries, staff and customers (overrides conftest's: the report never calls
    the login service, so no identity server is needed)."""
    from bibid.library import demo as library_demo

    library_demo.load()
    return library_demo


def case(library: str, problem: str, first: str, ended: str, **extra) -> Case:
    return Case(
        library_id=Library.objects.values_list("pk", flat=True).get(code=library),
        who="test",
        via="console",
        problem=problem,
        procedure=problem,
        procedure_version=1,
        outcome="fix-available",
        first_code=first,
        ended=ended,
        **extra,
    )


@pytest.fixture
def cases(demo):
    """A month at aan-de-maas (and one case at duinstreek that must never show there)."""
    follow_1 = case("aan-de-maas", "cannot-login", "no-problem-found", "try_now")
    follow_2 = case("aan-de-maas", "cannot-login", "login-account-inactive", "activate")
    Case.objects.bulk_create([follow_1, follow_2])
    Case.objects.bulk_create(
        [
            # Activated, and it worked: the diagnosis again found nothing, asked the customer.
            case(
                "aan-de-maas",
                "cannot-login",
                "login-account-inactive",
                "activate",
                fix_operation="account_activate",
                fix_worked=True,
                followed_by=follow_1,
            ),
            # Activated, and it did not work; the story ends at the same fix.
            case(
                "aan-de-maas",
                "cannot-login",
                "login-account-inactive",
                "activate",
                fix_operation="account_activate",
                fix_worked=False,
                followed_by=follow_2,
            ),
            case("aan-de-maas", "cannot-login", "login-account-inactive", "activate"),
            case("aan-de-maas", "cannot-login", "wrong-username", "solved"),
            case(
                "aan-de-maas",
                "no-ebook-rights",
                "subscription-without-ebooks",
                "other_subscription",
            ),
            case(
                "aan-de-maas",
                "cannot-login",
                "login-blocked",
                "unblock",
                created_at=clock.now() - timedelta(days=40),
            ),
            case(
                "duinstreek",
                "cannot-login",
                "password-failures",
                "reset",
                fix_operation="account_send_password_reset",
                fix_worked=True,
            ),
        ]
    )


def actor(username: str) -> Actor:
    return Actor(Staff.objects.select_related("library").get(username=username))


def rows(items) -> list[tuple]:
    return [(r.key, r.count, r.share) for r in items]


def test_the_report_counts_first_findings_fixes_and_ends(cases):
    data = report.build(actor=actor("balie.maas"))
    assert data.days == 30 and data.cases == 5
    assert [p.problem for p in data.problems] == ["cannot-login", "no-ebook-rights"]
    login, ebooks = data.problems
    assert login.title == "Kan niet inloggen (single identity)" and login.cases == 4
    # The follow-ups (the diagnosis after a fix) are no new cases.
    assert rows(login.first_findings) == [
        ("login-account-inactive", 3, 75),
        ("wrong-username", 1, 25),
    ]
    assert [(f.operation, f.label, f.tried, f.worked, f.share) for f in login.fixes] == [
        ("account_activate", "Activeer inlogaccount", 2, 1, 50)
    ]
    # Ends: the last case of each story.
    assert rows(login.ends) == [("activate", 2, 50), ("solved", 1, 25), ("try_now", 1, 25)]
    assert [r.label for r in login.ends] == [
        "Activeer inlogaccount",
        "Opgelost",
        "Kan de klant nu inloggen?",
    ]
    assert rows(ebooks.first_findings) == [("subscription-without-ebooks", 1, 100)]
    assert [r.label for r in ebooks.ends] == ["Abonnement zonder e-books"]
    assert ebooks.fixes == []


def test_the_period_and_bad_input(cases):
    year = report.build(actor=actor("balie.maas"), days=365)
    assert year.problems[0].cases == 5
    assert ("login-blocked", 1, 20) in rows(year.problems[0].first_findings)
    assert report.build(actor=actor("balie.maas"), days=7).cases == 5
    for value in (None, "", "abc", "8", "-30", "1e9", "30.0", ["7"], "9" * 400):
        assert report.period(value) == 30
    assert [report.period(v) for v in ("7", " 365 ", 30)] == [7, 365, 30]


def test_only_ones_own_library_manager_or_not(cases):
    for username in ("balie.maas", "helpdesk.maas", "manager.maas"):
        data = report.build(actor=actor(username), days=365)
        codes = {r.key for p in data.problems for r in p.first_findings}
        assert "password-failures" not in codes and data.cases == 6
    theirs = report.build(actor=actor("manager.duin"), days=365)
    assert theirs.cases == 1
    assert rows(theirs.problems[0].first_findings) == [("password-failures", 1, 100)]
    assert [(f.tried, f.worked) for f in theirs.problems[0].fixes] == [(1, 1)]
    with pytest.raises(Problem):
        report.build(actor=Actor.system("cli"))


def test_own_case_is_of_ones_own_library(cases):
    ours = Case.objects.filter(library__code="aan-de-maas").first()
    theirs = Case.objects.get(library__code="duinstreek")
    assert report.own_case(actor=actor("balie.maas"), pk=ours.pk) == ours
    assert report.own_case(actor=actor("balie.maas"), pk=str(theirs.pk)) is None
    assert report.own_case(actor=actor("helpdesk.duin"), pk=theirs.pk) == theirs
    for bad in ("x", None, "0", "-3", "9" * 30):
        assert report.own_case(actor=actor("balie.maas"), pk=bad) is None


def signed_in(username: str) -> Client:
    client = Client()
    force_login_verified(client, Staff.objects.get(username=username))
    return client


def test_the_report_page(cases):
    page = signed_in("balie.maas").get("/console/helpdesk/rapport/")
    assert page.status_code == 200
    for text in (
        "Kan niet inloggen (single identity)",
        "login-account-inactive",
        "75%",
        "Activeer inlogaccount",
        "Kan de klant nu inloggen?",
        "Geen rechten om e-books te lenen",
        'aria-current="page">de laatste 30',
    ):
        assert text in page.text, text
    assert "password-failures" not in page.text and "login-blocked" not in page.text
    year = signed_in("manager.maas").get("/console/helpdesk/rapport/", {"dagen": "365"})
    assert "login-blocked" in year.text and "password-failures" not in year.text
    for bad in ("x", "0", "<script>", "99999999999999999999"):
        response = signed_in("balie.maas").get("/console/helpdesk/rapport/", {"dagen": bad})
        assert response.status_code == 200 and "de laatste 30 dagen" in response.text
    theirs = signed_in("helpdesk.duin").get("/console/helpdesk/rapport/")
    assert "password-failures" in theirs.text and "login-account-inactive" not in theirs.text


def test_an_empty_report(demo):
    page = signed_in("balie.maas").get("/console/helpdesk/rapport/")
    assert page.status_code == 200 and "In deze periode zijn er geen zaken." in page.text


def test_the_report_costs_a_fixed_number_of_queries(demo, django_assert_num_queries):
    library = Library.objects.get(code="aan-de-maas")
    codes = ["login-account-inactive", "wrong-username", "no-login-account", "login-blocked"]
    Case.objects.bulk_create([case("aan-de-maas", "cannot-login", "no-problem-found", "try_now")])
    client = signed_in("balie.maas")
    client.get("/console/helpdesk/rapport/")  # the session, warm
    with CaptureQueriesContext(connection) as one:
        client.get("/console/helpdesk/rapport/")
    staff = actor("balie.maas")
    with django_assert_num_queries(3):
        report.build(actor=staff)
    Case.objects.bulk_create(
        [
            case(
                "aan-de-maas",
                ("cannot-login", "no-ebook-rights")[i % 2],
                codes[i % 4],
                ("activate", "solved", "escalate")[i % 3],
                fix_operation=("account_activate", "")[i % 2],
                fix_worked=bool(i % 3),
            )
            for i in range(199)
        ]
    )
    assert Case.objects.filter(library=library).count() == 200
    with CaptureQueriesContext(connection) as many:
        page = client.get("/console/helpdesk/rapport/")
    assert page.status_code == 200 and "101 zaken" in page.text and "99 zaken" in page.text
    assert len(many.captured_queries) == len(one.captured_queries)
    with django_assert_num_queries(3):
        data = report.build(actor=staff)
    assert data.cases == 200


def test_a_fix_whose_effect_is_not_known_yet_is_neither_success_nor_failure(demo):
    """A reset mail the patron has not used yet waits: counted as tried and waiting, and
    the share of successes is of the fixes whose effect is known."""
    Case.objects.bulk_create(
        [
            case(
                "aan-de-maas",
                "cannot-login",
                "password-failures",
                "try_now",
                fix_operation="account_send_password_reset",
                fix_worked=None,
                fix_state="waiting_for_patron",
            ),
            case(
                "aan-de-maas",
                "cannot-login",
                "password-failures",
                "try_now",
                fix_operation="account_send_password_reset",
                fix_worked=True,
                fix_state="worked",
            ),
            case(
                "aan-de-maas",
                "cannot-login",
                "password-failures",
                "reset",
                fix_operation="account_send_password_reset",
                fix_worked=False,
                fix_state="not_worked",
            ),
        ]
    )
    login = report.build(actor=actor("balie.maas")).problems[0]
    assert [(f.tried, f.worked, f.waiting, f.share) for f in login.fixes] == [(3, 1, 1, 50)]
    page = signed_in("balie.maas").get("/console/helpdesk/rapport/")
    assert "Wacht nog (klant of inlogdienst)" in page.text
