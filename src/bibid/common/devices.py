"""A browser string as a person says it: "Firefox op Windows", "Safari op iPhone", "Bibid-app".

Recognising browsers is the maintained uap-core rule set's job (through `ua-parser`); this
module only turns its answer into words a patron recognises. A raw string is never shown to a
patron: what the rules do not know becomes "onbekende browser", not the string itself (it is
whatever the sender chose to send, up to 300 characters of it).
"""

from __future__ import annotations

from functools import lru_cache

from django.utils.translation import gettext as _
from ua_parser import parse

# Our own app identifies itself by its first product token ("BibidApp/2.1 (...)").
APP_TOKENS = ("bibid", "bibidapp", "bibid-app")

# uap-core's family names, shortened to the names people use: a phone's Chrome is "Chrome".
BROWSER_NAMES = {
    "Chrome Mobile": "Chrome",
    "Chrome Mobile iOS": "Chrome",
    "HeadlessChrome": "Chrome",
    "Chromium": "Chrome",
    "Mobile Safari": "Safari",
    "Firefox Mobile": "Firefox",
    "Firefox iOS": "Firefox",
    "Edge Mobile": "Edge",
    "Opera Mobile": "Opera",
}
# An app showing a web page inside itself (no browser of its own).
WEBVIEWS = {"Mobile Safari UI/WKWebView", "Chrome Mobile WebView", "Android WebView"}
# Programs rather than browsers: a patron seeing one of these did not sign in by hand.
PROGRAMS = {
    "Python Requests",
    "curl",
    "Wget",
    "Go-http-client",
    "Java",
    "okhttp",
    "Apache-HttpClient",
}

SYSTEM_NAMES = {
    "Mac OS X": "Mac",
    "Chrome OS": "Chromebook",
    "Ubuntu": "Linux",
    "Fedora": "Linux",
    "Debian": "Linux",
}


def describe(user_agent: str | None) -> str:
    """The words for a browser string, in the active language; "" when there was none."""
    if not user_agent or not user_agent.strip():
        return ""
    browser, system = _parts(user_agent[:300])
    if browser == "app":
        return _("Bibid-app")
    if browser == "program":
        return _("een programma, geen browser")
    if browser == "webview":
        browser = _("een app")
    if browser and system:
        # Translators: "Firefox op Windows", "Safari op iPhone".
        return _("%(browser)s op %(system)s") % {"browser": browser, "system": system}
    if browser:
        return browser
    if system:
        return _("een browser op %(system)s") % {"system": system}
    return _("onbekende browser")


@lru_cache(maxsize=1024)
def _parts(user_agent: str) -> tuple[str, str]:
    """(browser, system) for one string; cached, since a page shows the same few again."""
    first_token = user_agent.split("/", 1)[0].split(" ", 1)[0].strip().lower()
    if first_token in APP_TOKENS:
        return "app", ""
    result = parse(user_agent)
    family = result.user_agent.family if result.user_agent else ""
    if family in PROGRAMS:
        return "program", ""
    if family in WEBVIEWS:
        browser = "webview"
    else:
        browser = BROWSER_NAMES.get(family, family) if family and family != "Other" else ""
    system = ""
    if result.os and result.os.family and result.os.family != "Other":
        system = SYSTEM_NAMES.get(result.os.family, result.os.family)
        device = result.device.family if result.device else ""
        # On Apple's phones and tablets the device is the name people use, not "iOS".
        if result.os.family == "iOS" and device in {"iPhone", "iPad", "iPod"}:
            system = device
    return browser, system
