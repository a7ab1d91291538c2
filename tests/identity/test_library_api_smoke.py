"""A first walk through the library API in-process."""

import pytest

from .api_helpers import make_library

pytestmark = pytest.mark.django_db


def test_generate_show_authorize_status(db):
    maas = make_library("maas", "Bibliotheek aan de Maas")
    r = maas.post("/customers/20123/account", {"recovery_email": "anna@example.org"})
    assert r.status_code == 201, r.content
    assert r.json()["account"]["username"] == "20123"
    r = maas.get("/customers/20123/account")
    assert r.status_code == 200, r.content
    body = {"customer": {"name": "Anna"}, "rights": [{"code": "ebooks", "limits": {"loans": 10}}]}
    r = maas.put("/customers/20123/authorization", body)
    assert r.status_code == 200 and r.json()["result"] == "updated", r.content
    r = maas.put("/customers/20123/authorization", body)
    assert r.json()["result"] == "unchanged"
    r = maas.get("/customers/20123/status")
    assert r.status_code == 200, r.content
    print(r.json())
