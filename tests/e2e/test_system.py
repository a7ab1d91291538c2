"""The whole system as `bibid up` starts it: three services, health, demo sign-ins."""

import json
import time
import urllib.request


def get_json(url: str) -> tuple[int, dict]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, json.loads(response.read())


def test_every_service_is_live_and_ready(system):
    for service, url in system.urls.items():
        assert get_json(f"{url}/healthz") == (200, {"status": "ok"}), service
        assert get_json(f"{url}/readyz") == (200, {"status": "ok", "database": "ok"}), service


def test_demo_show_json_lists_patrons_with_passwords_and_states(system):
    demo = system.demo
    by_name = {p["username"]: p for p in demo["patrons"]}
    assert by_name["anna.jansen"]["state"] == "active"
    assert by_name["anna.jansen"]["password"]
    assert by_name["bram.devries"]["state"] == "inactive"
    assert by_name["bram.devries"]["password"] is None
    assert by_name["dirk.bakker"]["state"] == "blocked"
    assert by_name["carla.smit"]["state"] in {"inactive-expired", "deleted"}
    assert isinstance(demo["staff"], list)
    assert isinstance(demo["library_clients"], list)
    assert demo["urls"] == system.urls


def test_demo_show_changes_nothing(system):
    # Compared with itself, not with the session's first look: other tests purge carla.smit.
    first = json.loads(system.bibid("demo", "--show", "--json"))
    again = json.loads(system.bibid("demo", "--show", "--json"))
    assert again["patrons"] == first["patrons"]


def test_the_task_worker_runs_enqueued_work(system):
    task_id = system.identity_shell(
        "from bibid.identity.accounts.tasks import purge_inactive\n"
        "print(purge_inactive.enqueue().id)\n"
    ).strip()
    deadline = time.monotonic() + 60
    status = ""
    while time.monotonic() < deadline:
        status = system.identity_shell(
            "from bibid.identity.accounts.tasks import purge_inactive\n"
            f"print(purge_inactive.get_result({task_id!r}).status)\n"
        ).strip()
        if status in {"SUCCESSFUL", "FAILED"}:
            break
        time.sleep(1)
    assert status == "SUCCESSFUL"
