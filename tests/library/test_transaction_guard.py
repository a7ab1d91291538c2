"""The guard of tests/transaction_guard.py can fail: an HTTP call inside a transaction is
caught (and a call outside one is not)."""

import pytest
import requests
from django.db import transaction


@pytest.mark.external_call_in_transaction_ok  # this test makes the mistake on purpose
def test_an_http_call_inside_a_transaction_is_caught(live_identity, db):
    from tests.transaction_guard import violations

    assert requests.get(f"{live_identity.url}/healthz", timeout=5).status_code == 200
    assert violations == []
    with pytest.raises(AssertionError, match="inside a database transaction"), transaction.atomic():
        requests.get(f"{live_identity.url}/healthz", timeout=5)
    assert len(violations) == 1 and "HTTP GET" in violations[0]
