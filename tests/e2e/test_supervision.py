"""`bibid up` keeps the system running: a process killed with -9 comes back (and says so in
the log), a task whose worker died is run again after its lease (once in effect), and
stopping `bibid up` leaves no process behind. Real processes, killed for real."""

from __future__ import annotations

import os
import re
import signal
import time
import urllib.request

import pytest

from .harness import _proc_table, eventually, start_system, stop_system

LEASE = 4  # seconds; the lease job then looks every second (bibid.common.tasks)


@pytest.fixture(scope="module")
def supervised(tmp_path_factory):
    running = start_system(
        tmp_path_factory.mktemp("bibid-supervised"),
        workers=1,
        threads=2,
        extra_env={
            "BIBID_TASK_LEASE_SECONDS": str(LEASE),
            # Long enough that a push to a stopped identity is still waiting when the
            # library worker is killed.
            "BIBID_IDENTITY_TIMEOUT": "40",
        },
    )
    yield running
    stop_system(running)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def library_shell(system, code: str) -> str:
    return system.bibid("library", "shell", "-v", "0", "-c", code).strip()


def task_state(system, task_id: str) -> str:
    return library_shell(
        system,
        "from django_tasks_db.models import DBTaskResult\n"
        f"print(DBTaskResult.objects.get(pk={task_id!r}).status)",
    )


def test_a_killed_web_process_and_worker_come_back(supervised):
    system = supervised
    web = system.program_pid("gunicorn bibid.library.wsgi")
    worker = system.program_pid("bibid library db_worker")
    os.kill(web, signal.SIGKILL)
    os.kill(worker, signal.SIGKILL)

    eventually(
        lambda: (
            answers(system.urls["library"])
            and system.program_pids("gunicorn bibid.library.wsgi") not in ([], [web])
        ),
        "the library answers again, from a new gunicorn",
        timeout=60,
    )
    log = system.log_path.read_text()
    assert "library-web exited with -9 (SIGKILL); restarting in 1 s" in log
    assert "library-worker exited with -9 (SIGKILL); restarting in 1 s" in log
    # Nothing of the killed master is left: its orphaned workers were cleaned up with it.
    assert not _group_members(web), "a process of the killed gunicorn survived"
    assert system.program_pid("bibid library db_worker") != worker

    # A task queued now is run by the new worker.
    task_id = library_shell(
        system,
        "from bibid.common.tasks import requeue_expired\nprint(requeue_expired.enqueue().id)",
    )
    eventually(
        lambda: task_state(system, task_id) == "SUCCESSFUL",
        "a task queued after the restart ran",
        timeout=60,
    )


def _group_members(pgid: int) -> list[int]:
    """Living processes of a process group, wherever they were re-parented to."""
    members = []
    for pid, (_, cmd) in _proc_table().items():
        try:
            if cmd and os.getpgid(pid) == pgid:
                members.append(pid)
        except ProcessLookupError:
            pass
    return members


def _identity_state(system, username: str) -> tuple[int, str]:
    out = system.identity_shell(
        "from bibid.identity.accounts.models import Account, AccountEvent\n"
        "from bibid.identity.libraries.models import Link\n"
        f"a = Account.objects.get(username={username!r})\n"
        "n = AccountEvent.objects.filter(account_id=a.pk, kind='authorized').count()\n"
        "link = Link.objects.get(account=a, library__code='aan-de-maas')\n"
        "print(n, (link.customer or {}).get('name', ''), sep='|')\n"
    )
    count, name = out.strip().split("|", 1)
    return int(count), name


def test_the_library_worker_killed_mid_drain(supervised):
    """A push is running (identity is stopped, so it waits) when the library worker is
    killed; after the lease the push is run again by the restarted worker, and identity
    applies the change once."""
    system = supervised
    pushes_left = (
        "from bibid.library.loginaccounts.models import PendingPush\n"
        "print(PendingPush.objects.count())"
    )
    eventually(
        lambda: library_shell(system, pushes_left) == "0",
        "the demo's first pushes are done",
        timeout=90,
    )
    before, _ = _identity_state(system, "anna.jansen")

    identity_web = system.program_pid("gunicorn bibid.identity.wsgi")
    os.killpg(identity_web, signal.SIGSTOP)
    try:
        library_shell(
            system,
            (
                "from django.db import transaction\n"
                "from bibid.library.customers.models import Customer\n"
                "from bibid.library.loginaccounts.pushes import request_push\n"
                "with transaction.atomic():\n"
                "    c = Customer.objects.get(library__code='aan-de-maas', card_number='2010000001')\n"  # noqa: E501
                "    Customer.objects.filter(pk=c.pk).update(name='Anna Jansen-Supervisie')\n"
                "    request_push([c.pk])\n"
            ),
        )
        running = (
            "from django_tasks_db.models import DBTaskResult\n"
            "print(DBTaskResult.objects.filter(status='RUNNING',"
            " task_path__endswith='drain_pushes').count())"
        )
        eventually(
            lambda: library_shell(system, running) != "0",
            "the push is being drained (waiting for identity)",
            timeout=30,
        )
        os.kill(system.program_pid("bibid library db_worker"), signal.SIGKILL)
    finally:
        os.killpg(identity_web, signal.SIGCONT)

    eventually(
        lambda: library_shell(system, pushes_left) == "0",
        "the push was done after the lease",
        timeout=90,
    )
    after, name = _identity_state(system, "anna.jansen")
    assert name == "Anna Jansen-Supervisie"
    assert after - before == 1, f"the change was applied {after - before} times"
    log = system.log_path.read_text()
    assert "library-worker exited with -9 (SIGKILL)" in log
    assert f"past its lease of {LEASE} s" in log


def test_stopping_leaves_nothing_behind(supervised):
    system = supervised
    tree = system.processes()
    assert len(tree) >= 9  # nine programs, plus gunicorn's workers
    os.killpg(system.process.pid, signal.SIGINT)  # Ctrl-C in the terminal
    system.process.wait(timeout=30)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _survivors(tree):
        time.sleep(0.2)
    assert not _survivors(tree), f"left behind: {_survivors(tree)}"
    assert re.search(r"supervisor +\| stopped$", system.log_path.read_text(), re.MULTILINE)


def _survivors(tree: dict[int, tuple[int, str]]) -> dict[int, str]:
    """The processes of `tree` still there (same pid and same command line)."""
    now = _proc_table()
    return {pid: cmd for pid, (_, cmd) in tree.items() if now.get(pid, (0, ""))[1] == cmd}


# -- the supervision loop itself, on small shell programs (seconds, no services) --------------

SUPERVISE = """
import sys
from bibid.supervise import Program, Supervisor
programs = [Program(f"p{i}", ["sh", "-c", cmd]) for i, cmd in enumerate(sys.argv[2:])]
Supervisor(programs, stable_after=float(sys.argv[1]), stop_grace=1).run()
"""


def supervise(*commands: str, stable_after: float = 100, until: str, times: int = 1) -> str:
    """Run the supervisor on shell commands until `until` was in its output `times` times,
    then SIGTERM it; return everything it printed."""
    import subprocess
    import sys

    process = subprocess.Popen(
        [sys.executable, "-c", SUPERVISE, str(stable_after), *commands],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines = []
    try:
        for line in process.stdout:
            lines.append(line)
            if until in line:
                times -= 1
                if not times:
                    break
        process.send_signal(signal.SIGTERM)
        lines.extend(process.stdout)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    return "".join(lines)


def test_back_off_doubles_while_a_program_keeps_failing():
    out = supervise("echo started; exit 3", until="restarting in 4 s")
    delays = re.findall(r"p0 exited with 3; restarting in (\d+) s", out)
    assert delays == ["1", "2", "4"]
    # Three starts, each line of output prefixed with the time and the program's name.
    assert len(re.findall(r"^\d\d:\d\d:\d\d p0 +\| started$", out, re.MULTILINE)) == 3


def test_back_off_starts_again_after_a_stable_run():
    # Each run lasts longer than "stable", so every restart waits the first delay again.
    out = supervise("sleep 0.5; exit 1", stable_after=0.2, until="restarting in", times=3)
    assert re.findall(r"p0 exited with 1; restarting in (\d+) s", out) == ["1", "1", "1"]


def test_a_program_that_ignores_sigterm_is_killed_after_the_grace_period(tmp_path):
    pidfile = tmp_path / "pid"
    out = supervise(
        f"trap '' TERM; echo $$ > {pidfile}; echo waiting; sleep 60 & wait",
        "echo other; sleep 60",
        until="waiting",
    )
    assert "p0 did not stop within 1 s; killing it" in out
    assert re.search(r"supervisor +\| stopped$", out, re.MULTILINE)
    pid = int(pidfile.read_text())
    assert not _group_members(pid), "a process of the stubborn program survived"


TIERED = """
import sys, time
from bibid.supervise import Program, Supervisor

log = sys.argv[1]


def program(name, tier):
    script = (
        f"trap 'echo {name} stopped >> {log}; exit 0' TERM; echo {name} up >> {log}; "
        "while :; do sleep 0.1; done"
    )
    return Program(name, ["sh", "-c", script], tier=tier)


def prepare():
    while "database up" not in open(log).read():
        time.sleep(0.05)
    with open(log, "a") as fh:
        fh.write("prepare\\n")
    if sys.argv[2] == "fail":
        raise RuntimeError("database unreachable")


programs = [program("balancer", 2), program("service", 1), program("database", 0)]
sys.exit(Supervisor(programs, stop_grace=2, prepare=prepare).run())
"""


def run_tiered(tmp_path, outcome: str) -> tuple[int, list[str], str]:
    """The tiered supervisor of `bibid cluster up` on three small programs; SIGTERM once the
    balancer is up (or the start failed); (exit code, the programs' log, its output)."""
    import subprocess
    import sys

    log = tmp_path / "log"
    log.write_text("")
    process = subprocess.Popen(
        [sys.executable, "-c", TIERED, str(log), outcome],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        if outcome == "ok":
            eventually(lambda: "balancer up" in log.read_text(), "the balancer started", 30)
            process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    return code, log.read_text().splitlines(), process.stdout.read()


def test_tiers_start_after_prepare_and_stop_from_the_front(tmp_path):
    code, lines, _ = run_tiered(tmp_path, "ok")
    assert code == 0
    assert lines[:2] == ["database up", "prepare"]
    assert sorted(lines[2:4]) == ["balancer up", "service up"]
    # The balancer stops first, then the service, the database last.
    assert lines[4:] == ["balancer stopped", "service stopped", "database stopped"]


def test_a_failed_prepare_stops_everything_and_starts_nothing_more(tmp_path):
    code, lines, out = run_tiered(tmp_path, "fail")
    assert code == 1
    assert lines == ["database up", "prepare", "database stopped"]
    assert "could not start: database unreachable" in out
