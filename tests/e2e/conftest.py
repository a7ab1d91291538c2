"""Fixtures for cross-service tests: a running system, HTTP helpers, a real browser."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from .harness import System, start_system, stop_system

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def mailbox():
    """A real SMTP server that every service of the test system sends to."""
    from .harness import free_port
    from .mailbox import start_mailbox

    box = start_mailbox(free_port())
    yield box
    box.controller.stop()


@pytest.fixture(scope="session")
def system(tmp_path_factory, mailbox) -> System:
    var = tmp_path_factory.mktemp("bibid-var")
    clock_file = var / "clock-offset"
    clock_file.write_text("0")
    # The library looks at its queues and the feed every 3 s instead of every minute: tests
    # wait for what the system does by itself, not for the clock.
    running = start_system(
        var,
        extra_env={
            "EMAIL_URL": mailbox.url,
            "BIBID_TEST_CLOCK_FILE": str(clock_file),
            "BIBID_LIBRARY_POLL_SECONDS": "3",
            # One cache for all processes of a service, as Redis is in production: a service
            # registered with the CLI is in the sign-in page's CSP at once (oidc/csp.py).
            "CACHE_URL": f"filecache://{var / 'cache'}",
        },
    )
    running.clock_file = clock_file
    yield running
    stop_system(running)


@pytest.fixture(scope="session")
def named_system(tmp_path_factory, mailbox) -> System:
    """A second system whose identity and library answer at http://localhost:<port>: a
    browser refuses an IP address as a WebAuthn relying party id, so passkeys and security
    keys (test_browser_passkeys.py, test_browser_mfa.py) need a host name. One system for
    both modules: a start costs about 40 s of CI. (The main `system` stays on 127.0.0.1,
    where the other tests' URLs and cookies live.)"""
    from .harness import free_port

    var = tmp_path_factory.mktemp("bibid-named")
    env = {"EMAIL_URL": mailbox.url}
    for service in ("identity", "library"):
        port = free_port()
        env[f"{service.upper()}_PORT"] = str(port)
        env[f"{service.upper()}_PUBLIC_URL"] = f"http://localhost:{port}"
    running = start_system(var, extra_env=env)
    yield running
    stop_system(running)


def chromium_available() -> bool:
    return Path(CHROMIUM).exists() or shutil.which("chromium") is not None


@pytest.fixture(scope="session")
def browser():
    if not chromium_available():
        if os.environ.get("BIBID_REQUIRE_BROWSER") == "1":
            pytest.fail("Debian's Chromium is required (BIBID_REQUIRE_BROWSER=1) but missing")
        pytest.skip("Debian's Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="nl-NL")
    page = context.new_page()
    yield page
    context.close()


def pytest_collection_modifyitems(config, items):
    """The browser tests run once, on the embedded default (SQLite); the cluster tests and the
    API fuzzing run once, on the PostgreSQL pass.

    CI runs the whole suite twice, on SQLite and on PostgreSQL. What a browser adds (pages,
    layout, keyboard, CSP, redirects in Chromium) does not depend on the database, and the
    database work behind those pages is the same service code the HTTP, fault and
    concurrency tests run on PostgreSQL; running the browser modules twice cost about ten of
    CI's minutes. BIBID_BROWSER_ON_POSTGRES=1 runs them there too.

    The cluster tests (test_cluster.py) start the production topology with a PostgreSQL of
    its own, whichever pass runs them: they belong to the pass that is about PostgreSQL.
    BIBID_CLUSTER_TESTS=1 runs them on any pass (a developer running that module alone).

    The API fuzzing (test_api_schemathesis.py, two of CI's minutes per pass) also belongs to
    the PostgreSQL pass: PostgreSQL is the stricter database for what a fuzzer sends (a NUL
    byte in a text, an integer out of range raise there and pass on SQLite), so a server
    error it can provoke shows there. BIBID_FUZZ_ON_SQLITE=1 runs it on SQLite too."""
    on_postgres = bool(os.environ.get("BIBID_TEST_POSTGRES_URL"))
    skips = []
    if on_postgres and os.environ.get("BIBID_BROWSER_ON_POSTGRES") != "1":
        skips.append(("browser", "browser tests run on the SQLite pass only (see conftest)"))
    if not on_postgres and os.environ.get("BIBID_CLUSTER_TESTS") != "1":
        skips.append(("cluster", "cluster tests run on the PostgreSQL pass only (see conftest)"))
    if not on_postgres and os.environ.get("BIBID_FUZZ_ON_SQLITE") != "1":
        skips.append(("fuzz", "API fuzzing runs on the PostgreSQL pass only (see conftest)"))
    for marker, reason in skips:
        skip = pytest.mark.skip(reason=reason)
        for item in items:
            if item.get_closest_marker(marker) is not None:
                item.add_marker(skip)
