"""The helpdesk in the staff console, in-process against the real identity service: the
Helpdesk box, the diagnosis page (cause, evidence, fix or question, the path), the fix and the
diagnosis after it, answers, and every refusal as a page with its own status."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings

from bibid.library.customers.models import Customer
from bibid.library.helpdesk.models import Case
from bibid.library.staff.models import AuditEvent

from .identity_server import patron_confirms
from .test_console import signed_in

pytestmark = pytest.mark.django_db
ANNA, BRAM, DIRK, GERRIT, JEROEN, LOTTE, NINA = (
    "2010000001",
    "2010000002",
    "2010000004",
    "2010000007",
    "2010000010",
    "2010000012",
    "2010000014",
)
PIET = "3020000002"  # Bibliotheek Duinstreek


@pytest.fixture(autouse=True)
def _pushed(demo):
    """What `bibid up` does after loading the demo: push every linked customer's rights
    (all but Gerrit Mulder's, out of date on purpose)."""
    from bibid.library.loginaccounts import pushes

    pushes.drain()


def diagnose(client: Client, card: str, problem: str = "cannot-login", username: str = ""):
    return client.post(
        f"/console/klanten/{card}/helpdesk/",
        {"helpdesk-problem": problem, "helpdesk-username": username},
    )


def fix(client: Client, card: str, code: str, problem: str = "cannot-login", **extra):
    return client.post(
        f"/console/klanten/{card}/helpdesk/oplossen/",
        {"problem": problem, "code": code, "username": "", **extra},
    )


def section(html: str, testid: str) -> str:
    found = re.search(rf'<(\w+)[^>]*data-testid="{testid}"[^>]*>(.*?)</\1>', html, re.S)
    assert found, f"no {testid} on the page"
    return found.group(2)


def buttons(html: str) -> list[str]:
    return [
        re.sub(r"\s+", " ", b).strip()
        for b in re.findall(r"<button[^>]*>(.*?)</button>", html, re.S)
    ]


def cause(html: str) -> str:
    return section(html, "cause")


def test_the_customer_page_has_the_helpdesk_box(demo):
    page = signed_in("balie.maas").get(f"/console/klanten/{BRAM}/")
    assert 'id="helpdesk-heading">Helpdesk<' in page.text
    for label in (
        "Kan niet inloggen",
        "Geen rechten e-books",
        "LOGOUT_DETECTED",
        "Inactief inlogaccount",
    ):
        assert label in buttons(page.text)
    assert (
        '<label for="id_helpdesk-username">Gebruikersnaam die de klant intypt</label>' in page.text
    )
    assert f'action="/console/klanten/{BRAM}/helpdesk/#resultaat"' in page.text
    # A colleague's record has no Helpdesk box (the seed's LET OP); her own has.
    assert "Kan niet inloggen" not in signed_in("balie.maas").get(f"/console/klanten/{NINA}/").text
    assert "Kan niet inloggen" in signed_in("nina").get(f"/console/klanten/{NINA}/").text


def test_an_inactive_account_shows_cause_evidence_and_the_fix(demo):
    page = diagnose(signed_in("balie.maas"), BRAM)
    assert page.status_code == 200
    assert cause(page.text) == (
        "Het inlogaccount bram.devries is nog niet geactiveerd; zonder "
        "activering wordt het na 24 uur verwijderd."
    )
    assert "Oorzaak:" in page.text
    assert "Aangemaakt op" in section(page.text, "evidence")
    form = section(page.text, "fix")
    assert buttons(form) == ["Activeer inlogaccount"]
    assert 'name="code" value="login-account-inactive"' in form
    assert 'name="bevestig"' not in form  # one click: the button is the confirmation
    assert "Inlogaccount actief?" in section(page.text, "path")
    assert 'id="resultaat" tabindex="-1"' in page.text  # the form's #resultaat: the heading
    case = Case.objects.get()
    assert (case.first_code, case.staff.username, case.via) == (
        "login-account-inactive",
        "balie.maas",
        "console",
    )


@pytest.fixture
def status_calls(monkeypatch):
    """Counts the status calls to the (real) login service."""
    from bibid.library.loginaccounts.identity import IdentityClient

    calls = []
    real = IdentityClient.account_status

    def counted(self, ref, username=None):
        calls.append(ref)
        return real(self, ref, username)

    monkeypatch.setattr(IdentityClient, "account_status", counted)
    return calls


def test_the_fix_activates_and_the_diagnosis_after_it_shows_that(
    demo, restores_identity, status_calls
):
    client = signed_in("balie.maas")
    page = fix(client, BRAM, "login-account-inactive")
    assert page.status_code == 200, page.text[:2000]
    # One status call for the fresh diagnosis the fix is taken from, one to show it worked.
    assert len(status_calls) == 2, status_calls
    done = section(page.text, "done")
    assert "Gedaan: Activeer inlogaccount" in done
    assert "Het inlogaccount is geactiveerd" in section(page.text, "done-summary")
    assert "Opnieuw gecontroleerd:" in page.text
    assert "nog niet geactiveerd" not in cause(page.text)
    assert (
        'data-outcome="no-problem-found"' in page.text
        or 'data-outcome="fix-available"' in page.text
    )
    assert AuditEvent.objects.filter(action="login_activate", result="ok").exists()
    fixed = Case.objects.exclude(fix_operation="").get()
    assert fixed.fix_operation == "account_activate" and fixed.fix_worked is True
    # The same fix again: nothing to do any more, said plainly, the fresh diagnosis shown.
    again = fix(client, BRAM, "login-account-inactive")
    assert again.status_code == 409
    assert "niet (meer) van toepassing" in section(again.text, "error")
    assert 'data-testid="cause"' in again.text


def test_a_colleague_gives_the_not_allowed_page_with_no_data(demo):
    page = diagnose(signed_in("balie.maas"), NINA, username="nina.degroot")
    assert page.status_code == 200
    assert "Niet toegestaan" in page.text
    assert "collega of vrijwilliger" in cause(page.text)
    for absent in (
        'data-testid="evidence"',
        'data-testid="path"',
        'data-testid="fix"',
        'data-testid="chart"',
        "Stappen",
        "Gebruikersnaam die de klant intypt",
        "nina.degroot@",
        "Aangemaakt op",
    ):
        assert absent not in page.text
    assert not AuditEvent.objects.filter(action="login_status", customer__card_number=NINA).exists()


def test_another_library_s_customer_is_not_found(demo):
    client = signed_in("helpdesk.maas")
    for response in (
        diagnose(client, PIET),
        fix(client, PIET, "login-account-inactive"),
        client.post(
            f"/console/klanten/{PIET}/helpdesk/zaken/1/antwoord/",
            {"node": "try_now", "label": "Ja"},
        ),
    ):
        assert response.status_code == 404
        assert "Klant niet gevonden" in response.text and "Piet" not in response.text
    assert not Case.objects.exists()


def test_the_desk_asks_the_helpdesk_to_lift_a_block(demo):
    page = diagnose(signed_in("balie.maas"), DIRK)
    assert "geblokkeerd" in cause(page.text)
    asked = section(page.text, "ask-helpdesk")
    assert "Vraag dit aan de helpdesk" in asked and "Hef de blokkade op" in asked
    assert "Hef de blokkade op" not in buttons(page.text)
    # Posting it anyway is refused by the operation, with nothing changed.
    refused = fix(signed_in("balie.maas"), DIRK, "login-blocked")
    assert refused.status_code == 403
    assert "Dit mag je met jouw rol niet doen" in section(refused.text, "error")
    assert not AuditEvent.objects.filter(action="login_unblock", result="ok").exists()
    # The helpdesk has the button.
    helpdesk = diagnose(signed_in("helpdesk.maas"), DIRK)
    assert buttons(section(helpdesk.text, "fix")) == ["Hef de blokkade op"]


def test_csrf_is_enforced(demo):
    client = signed_in("helpdesk.maas")
    client.handler.enforce_csrf_checks = True
    refused = diagnose(client, BRAM)
    assert refused.status_code == 403 and "Formulier verlopen" in refused.text
    assert fix(client, BRAM, "login-account-inactive").status_code == 403
    assert not Case.objects.exists()
    page = client.get(f"/console/klanten/{BRAM}/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    allowed = client.post(
        f"/console/klanten/{BRAM}/helpdesk/",
        {"helpdesk-problem": "cannot-login", "csrfmiddlewaretoken": token},
    )
    assert allowed.status_code == 200


def test_the_posts_refuse_get(demo):
    client = signed_in("helpdesk.maas")
    case = Case.objects.create(
        library=Customer.objects.get(card_number=ANNA).library,
        customer=Customer.objects.get(card_number=ANNA),
        who="x",
        via="console",
        problem="cannot-login",
        procedure="cannot-login",
        procedure_version=1,
        outcome="no-problem-found",
        first_code="x",
    )
    base = f"/console/klanten/{ANNA}/helpdesk/"
    for path in (base, f"{base}oplossen/", f"{base}zaken/{case.pk}/antwoord/"):
        assert client.get(path).status_code == 405
    assert Case.objects.count() == 1
    # And signed out, each leads to the sign-in page.
    assert Client().get(f"/console/klanten/{ANNA}/helpdesk/").status_code == 302


def test_an_unknown_problem_is_a_400_page(demo):
    client = signed_in("helpdesk.maas")
    page = diagnose(client, ANNA, problem="alles-kapot")
    assert page.status_code == 400
    assert "Onbekend probleem" in section(page.text, "error")
    assert "Uitloggen" in page.text  # inside the console, the buttons to choose again
    assert "Kan niet inloggen" in buttons(page.text)
    assert fix(client, ANNA, "login-blocked", problem="").status_code == 400
    assert fix(client, ANNA, "<script>").status_code == 400
    assert not Case.objects.exists()


def test_the_typed_username_names_the_right_one(demo):
    page = diagnose(signed_in("balie.maas"), ANNA, username="anna.jansn")
    # Rule L5: whether anna.jansn exists is not the library's to know.
    assert cause(page.text) == (
        "De klant typt anna.jansn; dat is niet het inlogaccount dat aan "
        "deze klant gekoppeld is (anna.jansen)."
    )
    assert "Vertel de klant de gebruikersnaam anna.jansen" in section(page.text, "question")
    assert 'value="anna.jansn"' in page.text  # kept in the box, to ask again
    # The path walks on to the next question, answered on the page.
    question = section(page.text, "next-question")
    assert "Kan de klant nu inloggen?" in question and buttons(question) == ["Ja", "Nee"]


def test_a_fix_further_along_the_path_is_offered_when_the_cause_has_none(demo):
    # Dirk types a wrong username (tell him) and is blocked too (lift it): the path stops
    # at the block, so that is the next step, with its button for the helpdesk.
    page = diagnose(signed_in("helpdesk.maas"), DIRK, username="dirk.bakkr")
    assert "niet het inlogaccount dat aan deze klant gekoppeld is (dirk.bakker)" in cause(page.text)
    assert 'data-testid="fix"' not in page.text
    assert buttons(section(page.text, "next-fix")) == ["Hef de blokkade op"]
    assert 'name="code" value="login-blocked"' in section(page.text, "next-fix")
    desk = diagnose(signed_in("balie.maas"), DIRK, username="dirk.bakkr")
    assert "Vraag dit aan de helpdesk" in section(desk.text, "ask-helpdesk")
    assert 'data-testid="next-fix"' not in desk.text


def test_answering_the_next_question_resumes_the_path(demo):
    client = signed_in("helpdesk.maas")
    page = diagnose(client, ANNA)
    assert 'data-outcome="no-problem-found"' in page.text
    case = Case.objects.get()
    action = f"/console/klanten/{ANNA}/helpdesk/zaken/{case.pk}/antwoord/"
    assert f'action="{action}#resultaat"' in page.text
    answered = client.post(action, {"node": "try_now", "label": "Nee"})
    assert answered.status_code == 200
    assert "Resetmail ontvangen?" in section(answered.text, "next-question")
    solved = client.post(action, {"node": "mail_received", "label": "Ja"})
    solved = client.post(action, {"node": "try_again", "label": "Ja"})
    assert "Opgelost" in section(solved.text, "path")
    assert 'data-testid="next-question"' not in solved.text
    assert Case.objects.get().ended == "solved"
    wrong = client.post(action, {"node": "try_now", "label": "Misschien"})
    assert wrong.status_code == 400 and "past niet bij deze vraag" in wrong.text
    # Another customer's case is no case here.
    elsewhere = client.post(
        f"/console/klanten/{BRAM}/helpdesk/zaken/{case.pk}/antwoord/",
        {"node": "try_now", "label": "Ja"},
    )
    assert elsewhere.status_code == 404


def test_moving_an_account_between_family_members_needs_the_tick(demo, restores_identity):
    client = signed_in("helpdesk.maas")
    page = diagnose(client, LOTTE, username="lotte.bos")
    form = section(page.text, "fix")
    assert buttons(form) == ["Koppel lotte.bos aan deze klant"]
    assert 'name="bevestig"' in form and "required" in form
    refused = fix(client, LOTTE, "linked-to-other-family-member", username="lotte.bos")
    assert refused.status_code == 400
    assert "Vink eerst aan" in section(refused.text, "error")
    assert 'name="bevestig"' in section(refused.text, "fix")  # the tick box, to try again
    assert Customer.objects.get(card_number=JEROEN).account_username == "lotte.bos"
    opened = fix(client, LOTTE, "linked-to-other-family-member", username="lotte.bos", bevestig="1")
    assert opened.status_code == 200, opened.text[:2000]
    # Rule L2: the fix opens a link request; nothing moves until the patron confirms.
    step = section(opened.text, "link-step")
    assert "Vraag de klant om de code uit de e-mail" in step
    assert buttons(step) == ["Koppel", "De klant heeft bevestigd"]
    assert Customer.objects.get(card_number=JEROEN).account_username == "lotte.bos"
    assert not Customer.objects.get(card_number=LOTTE).account_username
    request_id = re.search(r'name="request_id" value="([^"]+)"', step).group(1)
    confirm = {"problem": "cannot-login", "username": "lotte.bos", "request_id": request_id}
    waiting = client.post(
        f"/console/klanten/{LOTTE}/helpdesk/koppelen/", {**confirm, "without_code": "on"}
    )
    assert waiting.status_code == 400
    assert "nog niet bevestigd" in section(waiting.text, "link-error")
    assert Customer.objects.get(card_number=JEROEN).account_username == "lotte.bos"
    patron_confirms(restores_identity, request_id)
    done = client.post(
        f"/console/klanten/{LOTTE}/helpdesk/koppelen/", {**confirm, "without_code": "on"}
    )
    assert done.status_code == 200, done.text[:2000]
    assert "lotte.bos is gekoppeld" in section(done.text, "done-summary")
    # Only after the patron's proof did the account leave her father.
    assert Customer.objects.get(card_number=LOTTE).account_username == "lotte.bos"
    assert not Customer.objects.get(card_number=JEROEN).account_username
    assert 'data-testid="link-step"' not in done.text


def test_the_login_service_down_is_a_503_page(demo):
    client = signed_in("helpdesk.maas")
    with override_settings(BIBID_PUBLIC_URLS={"identity": "http://127.0.0.1:9"}):
        from bibid.library.loginaccounts import identity

        identity._tokens.clear()
        page = diagnose(client, BRAM)
        assert page.status_code == 503
        assert "niet bereikbaar" in section(page.text, "error")
        fixed = fix(client, BRAM, "login-account-inactive")
        assert fixed.status_code == 503
    assert not AuditEvent.objects.filter(action="login_activate").exists()


def test_the_diagnosis_page_has_a_fixed_cost(demo):
    client = signed_in("helpdesk.maas")
    counts = []
    for card in (ANNA, DIRK, GERRIT):
        with CaptureQueriesContext(connection) as queries:
            assert diagnose(client, card).status_code == 200
        counts.append(len(queries.captured_queries))
    assert max(counts) - min(counts) <= 1, counts
    assert max(counts) <= 20, counts


def test_the_chart_is_linked_when_it_exists(demo):
    from django.urls import NoReverseMatch, reverse

    try:
        reverse("helpdesk:chart_svg", args=["cannot-login"])
    except NoReverseMatch:
        pytest.skip("helpdesk.charts is not there yet")
    page = diagnose(signed_in("helpdesk.maas"), BRAM)
    case = Case.objects.get()
    svg = reverse("helpdesk:chart_svg", args=["cannot-login"]) + f"?case={case.pk}"
    assert f'src="{svg}"' in page.text
    assert "Stroomschema Kan niet inloggen (single identity), met de gevolgde stappen" in page.text
    chart = reverse("helpdesk:chart", args=["cannot-login"]) + f"?case={case.pk}"
    assert f'href="{chart}"' in page.text


def test_what_the_walk_did_not_reach_is_also_seen_and_a_fix_says_if_it_worked(
    demo, restores_identity
):
    """Dirk: the block stops the walk at its fix; his wrong passwords (the next check) are
    "Ook gezien" with their evidence. After the fix the page says the cause is gone, and the
    wrong passwords are now the cause with the reset mail as the next step."""
    client = signed_in("helpdesk.maas")
    page = diagnose(client, DIRK)
    assert "geblokkeerd" in cause(page.text)
    seen = section(page.text, "others")
    assert "Verkeerde wachtwoorden vandaag?" in seen and "mislukte pogingen vandaag" in seen
    case = Case.objects.filter(customer__card_number=DIRK).latest("pk")
    assert case.also_seen[0]["code"] == "password-failures"
    done = fix(client, DIRK, "login-blocked", case=case.pk)
    assert done.status_code == 200
    assert section(done.text, "fix-state") == "Gecontroleerd: de oorzaak is weg."
    assert "verkeerd wachtwoord" in cause(done.text)
    assert buttons(section(done.text, "fix")) == ["Stuur wachtwoord-resetmail"]
