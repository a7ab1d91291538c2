"""The Inlogaccount menu is one table (loginaccounts.menu): the console's menu, its audit
words, the helpdesk's fixes and report, the definitions' operations and the REST API's
routes all come from it."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from bibid.library.console.templatetags.console import action_label
from bibid.library.helpdesk import definitions, diagnosis, report
from bibid.library.loginaccounts import menu
from bibid.library.staff.permissions import ROLES, Perm

from .test_linking import signed_in

pytestmark = pytest.mark.django_db
ANNA = "2010000001"


@pytest.fixture
def offline(db):
    from bibid.library import demo as library_demo

    library_demo.load()


def menu_html(page: str) -> str:
    return re.search(r'<nav aria-label="Inlogaccount-menu".*?</nav>', page, re.S).group(0)


def test_the_table_is_consistent():
    keys = [item.key for item in menu.MENU]
    assert len(set(keys)) == len(keys)
    assert len({item.slug for item in menu.MENU}) == len(menu.MENU)
    assert len({item.audit_action for item in menu.MENU}) == len(menu.MENU)
    for item in menu.MENU:
        assert menu.by_slug(item.slug) is item
        assert menu.by_operation(item.operation_id) is item
        assert menu.by_audit_action(item.audit_action) is item
        assert item.kind in ("read", "change", "form") and callable(item.operation)
        assert str(item.label) and str(item.done_label)


def test_every_reader_of_the_menu_reads_the_table():
    assert definitions.OPERATIONS == menu.FIX_OPERATIONS
    for item in menu.MENU:
        assert diagnosis.FIX_PERMS[item.operation_id] == item.perm
        assert report.OPERATIONS[item.operation_id] == item.label
        assert action_label(item.audit_action) == item.done_label
    assert action_label("login_unblock") == "gedeblokkeerd"


@pytest.mark.parametrize("username", ["balie.maas", "helpdesk.maas", "manager.maas"])
def test_the_console_renders_every_item_a_role_may_use(offline, username):
    from bibid.library.staff.models import Staff

    role = Staff.objects.get(username=username).role
    nav = menu_html(signed_in(username).get(f"/console/klanten/{ANNA}/").text)
    for item in menu.entries():
        allowed = item.perm in ROLES[role]
        if item.kind == "form":
            shown = f"<summary>{item.label}</summary>" in nav
        else:
            shown = f"/inlogaccount/{item.slug}/" in nav and f">{item.label}</button>" in nav
        assert shown == allowed, (username, item.key)
    # The desk's menu lacks what is the helpdesk's (and the label they would click).
    if role == "desk":
        assert Perm.LOGIN_UNBLOCK not in ROLES[role] and "Deblokkeer" not in nav
    # The destructive item looks it.
    if role != "desk":
        assert re.search(r'class="button danger">Ontkoppel inlogaccount<', nav)


def test_a_change_of_the_table_changes_the_console(offline, monkeypatch):
    """The template has no list of its own: a relabelled item shows its new label."""
    import dataclasses

    from bibid.library.console import views

    item = menu.by_key("unblock")
    renamed = dataclasses.replace(item, label="Hef de blokkade op")
    monkeypatch.setattr(menu, "MENU", tuple(renamed if i is item else i for i in menu.MENU))
    monkeypatch.setitem(views.ACTIONS, "deblokkeren", renamed)
    nav = menu_html(signed_in("helpdesk.maas").get(f"/console/klanten/{ANNA}/").text)
    assert ">Hef de blokkade op</button>" in nav and ">Deblokkeer<" not in nav


def test_the_api_routes_come_from_the_table(offline):
    schema = Client().get("/api/v1/openapi.json").json()
    found = {
        op["operationId"]: (method, path)
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
    }
    for item in menu.MENU:
        method, path = found[item.api_operation_id]
        assert method == item.api_method
        assert path == f"/api/v1/customers/{{card_number}}/login-account{item.api_path}"


def test_an_item_a_role_may_not_use_is_refused_even_by_posting(offline):
    client = signed_in("balie.maas")
    client.post(f"/console/klanten/{ANNA}/inlogaccount/deblokkeren/")
    page = client.get(f"/console/klanten/{ANNA}/").text
    assert "Dit mag je met jouw rol niet doen" in page
    assert client.post(f"/console/klanten/{ANNA}/inlogaccount/opblazen/").status_code == 404
