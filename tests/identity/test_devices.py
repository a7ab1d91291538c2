"""Recent sign-ins in words a patron understands: the browser and system by name, "hier" for
the network they are on now, never the raw browser string or an address block."""

import pytest
from django.test import Client
from django.utils import translation

from bibid.common import devices
from bibid.identity.signin.models import LoginEvent

from .conftest import PASSWORD

FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36"
)
SAFARI_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15"
)
EDGE_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0"
)
IN_APP_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148"
)


@pytest.mark.parametrize(
    ("user_agent", "dutch", "english"),
    [
        (FIREFOX_WINDOWS, "Firefox op Windows", "Firefox on Windows"),
        (SAFARI_IPHONE, "Safari op iPhone", "Safari on iPhone"),
        (CHROME_ANDROID, "Chrome op Android", "Chrome on Android"),
        (SAFARI_MAC, "Safari op Mac", "Safari on Mac"),
        (EDGE_WINDOWS, "Edge op Windows", "Edge on Windows"),
        (IN_APP_IPHONE, "een app op iPhone", "an app on iPhone"),
        ("BibidApp/2.1 (iPhone; iOS 17.4)", "Bibid-app", "Bibid app"),
        ("python-requests/2.32.3", "een programma, geen browser", "a program, not a browser"),
        ("Mozilla/5.0 (demo)", "onbekende browser", "unknown browser"),
        ("   ", "", ""),
        ("", "", ""),
    ],
)
def test_a_browser_string_in_words(user_agent, dutch, english):
    with translation.override("nl"):
        assert devices.describe(user_agent) == dutch
    with translation.override("en"):
        assert devices.describe(user_agent) == english


def test_whatever_a_sender_puts_in_the_string_is_never_echoed():
    # The string is the sender's choice: a made-up one must not come back as text.
    made_up = "Mozilla/5.0 (<script>Bel 0900-1234 voor hulp</script>) Evil/1.0"
    assert "0900" not in devices.describe(made_up)
    assert "script" not in devices.describe(made_up)


@pytest.mark.django_db
def test_mijn_inlogaccount_shows_words_not_strings_or_address_blocks(anna, clock):
    client = Client(HTTP_USER_AGENT=FIREFOX_WINDOWS, REMOTE_ADDR="192.0.2.15")
    assert client.post("/inloggen/", {"username": "anna.jansen", "password": PASSWORD}).status_code
    # An attempt from another network and another device.
    LoginEvent.objects.create(
        account_id=anna.pk,
        username="anna.jansen",
        outcome=LoginEvent.Outcome.FAILURE,
        reason=LoginEvent.Reason.WRONG_PASSWORD,
        ip="198.51.100.7",
        user_agent=SAFARI_IPHONE,
    )
    page = client.get("/")
    assert page.status_code == 200
    text = page.text
    assert "Firefox op Windows" in text and "Safari op iPhone" in text
    assert "hier (het netwerk waar je nu bent)" in text  # the sign-in from this network
    assert text.count("hier (het netwerk waar je nu bent)") == 1  # and not the other one
    for raw in ("Mozilla/5.0", "Gecko/", "192.0.2.", "198.51.100", "/24"):
        assert raw not in text, raw
