"""A service joins with one command: `register_service` records its origin, the sign-in
pages' CSP form-action is built from the active registered services (cached, invalidated on
every change), and a disabled or removed service signs nobody in and leaves the policy."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client

from bibid.common.problems import Problem
from bibid.identity.oidc import csp
from bibid.identity.oidc.models import Client as Service
from bibid.identity.oidc.services import (
    origin_of,
    register_service,
    remove_service,
    set_service_active,
)
from tests.mfa_support import pass_second_step

from .test_oidc import (  # noqa: F401  (signing_keys_fixture: autouse, a key to sign with)
    Rp,
    authorize,
    browser,
    exchange,
    refresh,
    sign_in_to,
    signing_keys_fixture,
)

pytestmark = pytest.mark.django_db

NEW = "https://leesclub.example:8443"


@pytest.fixture(autouse=True)
def _empty_cache():
    # The cache is per process and outlives each test's rolled-back database.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def commits(django_capture_on_commit_callbacks):
    """Run what waits for the commit (the cache invalidation) as a real commit would."""

    def run(change, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return change(*args, **kwargs)

    return run


def register_new(commits, name: str = "Leesclub", base: str = NEW):
    return commits(
        register_service,
        kind="other",
        name=name,
        redirect_uris=[f"{base}/auth/callback"],
        post_logout_redirect_uris=[f"{base}/"],
    )


def as_rp(done, base: str = NEW) -> Rp:
    return Rp(
        client_id=done.client_id,
        secret=done.client_secret,
        application=done.application,
        redirect_uri=f"{base}/auth/callback",
        post_logout_redirect_uri=f"{base}/",
        backchannel_logout_uri="",
    )


def form_action(response) -> list[str]:
    policy = response["Content-Security-Policy"]
    directive = next(d.strip() for d in policy.split(";") if d.strip().startswith("form-action"))
    return directive.split()[1:]


# -- the origin ------------------------------------------------------------------------------


def test_the_origin_is_the_one_web_address_of_all_return_uris():
    assert origin_of(["https://Leesclub.example/cb", "https://leesclub.example:443/"]) == (
        "https://leesclub.example"
    )
    assert origin_of([f"{NEW}/a", f"{NEW}/b?x=1"]) == NEW
    with pytest.raises(Problem) as two:
        origin_of(["https://leesclub.example/cb", "https://other.example/"])
    assert two.value.code == "several_origins"
    assert "https://leesclub.example, https://other.example" in two.value.text("nl")
    for bad in (
        "https://user:pw@leesclub.example/cb",  # userinfo
        "https://leesclub.example/cb#frag",
        "https://lees;club.example/cb",  # would start a CSP directive of its own
        "https://leesclub.example:99999/cb",
        "/relative/cb",
        "ftp://leesclub.example/cb",
    ):
        with pytest.raises(Problem) as refused:
            origin_of([bad])
        assert refused.value.code == "invalid_service_uri", bad


def test_plain_http_only_to_this_machine_and_only_in_demo(settings):
    # Production settings: https only (DOT refuses the scheme first, then our rule).
    with pytest.raises((Problem, ValidationError)):
        register_service(kind="other", name="X", redirect_uris=["http://127.0.0.1:9/cb"])
    settings.BIBID_DEMO = True
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https"],
    }
    done = register_service(kind="other", name="X", redirect_uris=["http://127.0.0.1:9/cb"])
    assert done.origin == "http://127.0.0.1:9"
    with pytest.raises(Problem) as refused:
        register_service(kind="other", name="Y", redirect_uris=["http://leesclub.example/cb"])
    assert refused.value.code == "invalid_service_uri"


def test_registering_records_the_origin_and_updates_keep_it_true(commits):
    done = register_new(commits)
    service = Service.objects.get(application__client_id=done.client_id)
    assert (service.origin, service.active, service.kind) == (NEW, True, "other")
    assert done.application.redirect_uris == f"{NEW}/auth/callback"
    # Our own relying parties: their base URL gives the three URLs, and the origin.
    ours = commits(
        register_service,
        kind="reading",
        name="Online Bibliotheek",
        base_url="https://online.bibliotheek.example/lezen",
    )
    assert ours.origin == "https://online.bibliotheek.example"
    # Updating by client id moves the origin along.
    moved = commits(
        register_service,
        kind="other",
        name="Leesclub",
        client_id=done.client_id,
        redirect_uris=["https://nieuw.leesclub.example/cb"],
    )
    assert moved.client_id == done.client_id
    assert Service.objects.get(pk=service.pk).origin == "https://nieuw.leesclub.example"


def test_a_library_api_client_is_never_turned_into_a_service(commits):
    from bibid.identity.libraries.services import register_library

    library = register_library(code="maas", name="Maas", card_prefixes=["2010"])
    with pytest.raises(Problem) as refused:
        register_service(
            kind="other",
            name="Overname",
            client_id=library.client_id,
            redirect_uris=[f"{NEW}/cb"],
        )
    assert refused.value.code == "not_a_service"


# -- the sign-in pages' policy ----------------------------------------------------------------


def test_the_sign_in_page_allows_forms_to_lead_to_registered_services_only(commits, settings):
    before = form_action(Client().get("/inloggen/"))
    assert "'self'" in before and NEW not in before
    siblings = [o for o in before if o != "'self'"]
    assert settings.BIBID_PUBLIC_URLS["library"] in siblings
    done = register_new(commits)
    after = form_action(Client().get("/inloggen/"))
    assert after == [*before, NEW]
    # Only the pages whose forms end on a service: the others keep the settings' policy.
    assert NEW not in form_action(Client().get("/wachtwoord-vergeten/"))
    # The whole policy stays as strict as the settings' one otherwise.
    policy = Client().get("/inloggen/")["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    # Disabled: its origin leaves the policy at once; enabled again: back.
    commits(set_service_active, client_id=done.client_id, active=False)
    assert NEW not in form_action(Client().get("/inloggen/"))
    commits(set_service_active, client_id=done.client_id, active=True)
    assert NEW in form_action(Client().get("/inloggen/"))
    commits(remove_service, client_id=done.client_id)
    assert NEW not in form_action(Client().get("/inloggen/"))
    assert not Service.objects.filter(application__client_id=done.client_id).exists()


def test_the_rp_initiated_logout_confirmation_allows_the_service(anna, commits):
    done = register_new(commits)
    here = browser()
    sign_in_to(as_rp(done), here)
    page = here.get(
        "/o/logout/", {"client_id": done.client_id, "post_logout_redirect_uri": f"{NEW}/"}
    )
    assert page.status_code == 200  # no id_token_hint: the patron is asked
    assert NEW in form_action(page)


def test_the_origins_are_read_once_then_from_the_cache(commits, django_assert_num_queries):
    register_new(commits)
    assert csp.registered_origins() == [NEW]
    with django_assert_num_queries(0):
        assert csp.registered_origins() == [NEW]
    # A change invalidates only when it commits (a rolled-back change must not count).
    register_new(lambda change, *a, **k: change(*a, **k), name="Ander", base="https://b.example")
    assert csp.registered_origins() == [NEW]
    csp.invalidate()
    assert csp.registered_origins() == ["https://b.example", NEW]


def test_the_admin_keeps_one_origin_and_records_a_new_one(commits, settings):
    from bibid.identity.accounts.models import Account

    Account.objects.create_superuser("beheerder", "Een-beheerder-met-een-lange-zin")
    done = register_new(commits)
    admin = Client()
    operator = Account.objects.get(username="beheerder")
    admin.force_login(operator)
    # The admin asks for the second step too (bibid.common.mfa).
    assert pass_second_step(admin, operator, "/beheer/tweede-stap/").status_code == 302
    url = f"/beheer/oauth2_provider/application/{done.application.pk}/change/"
    page = admin.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {
        name: ("" if value is None else value)
        for name, value in form.initial.items()
        if name in form.fields and not isinstance(value, bool | list)
    }
    data.update({name: "on" for name, value in form.initial.items() if value is True})
    data.update(
        {
            "client_secret": "",
            "bibid_client-TOTAL_FORMS": "1",
            "bibid_client-INITIAL_FORMS": "1",
            "bibid_client-MIN_NUM_FORMS": "0",
            "bibid_client-MAX_NUM_FORMS": "1",
            "bibid_client-0-id": str(done.application.bibid_client.pk),
            "bibid_client-0-application": str(done.application.pk),
            "bibid_client-0-kind": "other",
            "bibid_client-0-active": "on",
        }
    )
    mixed = {**data, "redirect_uris": f"{NEW}/cb https://elders.example/cb"}
    refused = admin.post(url, mixed)
    assert refused.status_code == 200  # the form again, with the error
    assert "één webadres" in refused.content.decode()
    moved = {
        **data,
        "redirect_uris": "https://elders.example/cb",
        "post_logout_redirect_uris": "https://elders.example/",
    }
    saved = commits(admin.post, url, moved)
    assert saved.status_code == 302, saved.content.decode()[:2000]
    assert Service.objects.get(pk=done.application.bibid_client.pk).origin == (
        "https://elders.example"
    )
    assert "https://elders.example" in form_action(Client().get("/inloggen/"))


# -- a disabled service signs nobody in --------------------------------------------------------


def test_a_disabled_service_cannot_sign_anyone_in_and_its_sign_ins_end(anna, commits):
    done = register_new(commits)
    rp = as_rp(done)
    here = browser()
    tokens = sign_in_to(rp, here)
    pending = authorize(here, rp)
    assert pending.code
    commits(set_service_active, client_id=done.client_id, active=False)
    refused = authorize(here, rp)
    # An unknown client: an error page here, never a redirect to the service.
    assert refused.response.status_code == 400 and not refused.location
    # The code given just before cannot be exchanged, the refresh token is revoked.
    assert exchange(rp, pending.code, pending.verifier).status_code in (400, 401)
    assert refresh(rp, tokens["refresh_token"]).status_code in (400, 401)
    commits(set_service_active, client_id=done.client_id, active=True)
    assert authorize(here, rp).code


# -- the command -----------------------------------------------------------------------------


def command(*args: str) -> dict:
    out = StringIO()
    call_command("register_service", *args, stdout=out)
    return json.loads(out.getvalue())


def test_the_command_registers_disables_enables_and_removes():
    done = command(
        "--kind",
        "other",
        "--name",
        "Leesclub",
        "--redirect-uri",
        f"{NEW}/auth/callback",
        "--post-logout-redirect-uri",
        f"{NEW}/",
    )
    assert done["origin"] == NEW and done["client_id"] and done["client_secret"]
    client_id = done["client_id"]
    assert command("--client-id", client_id, "--disable") == {
        "client_id": client_id,
        "origin": NEW,
        "active": False,
    }
    assert command("--client-id", client_id, "--enable")["active"] is True
    assert command("--client-id", client_id, "--remove")["removed"] is True
    with pytest.raises(CommandError, match=r"no service with this client id|Er is geen"):
        command("--client-id", client_id, "--disable")
    with pytest.raises(CommandError, match=r"one web address|één webadres"):
        command(
            "--kind",
            "other",
            "--name",
            "Twee",
            "--redirect-uri",
            f"{NEW}/cb",
            "--post-logout-redirect-uri",
            "https://elders.example/",
        )
    with pytest.raises(CommandError, match="--kind and --name"):
        command("--redirect-uri", f"{NEW}/cb")
