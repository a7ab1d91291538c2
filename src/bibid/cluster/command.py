"""`bibid cluster`: the production topology on one machine, and its upkeep.

    bibid cluster up [--state DIR] [--port-base N] [--public-ports 8443,8444,8445]
                     [--identity-nodes 2] [--library-nodes 2] [--reading-nodes 1]
                     [--web-workers 2] [--threads 4]
    bibid cluster env [--state DIR]           the environment of its processes, as exports
    bibid cluster run [--state DIR] -- ARGS   a `bibid` command against the cluster
    bibid cluster reload [--state DIR] [SERVICE ...]   rolling reload of the web nodes
    bibid cluster backup [--state DIR] FOLDER          pg_dump of the three databases + keys
    bibid cluster restore [--state DIR] FOLDER         into a stopped (or new) cluster

`up` starts, under one supervisor (bibid.supervise): PostgreSQL and Redis (tier 0), per
service its web nodes (gunicorn), two task workers and two schedulers (tier 1), and nginx
in front with TLS (tier 2). Demo mode is off: secrets come from the environment or are made
once into the state folder's secrets.env; cookies are secure and HSTS is on. It migrates the
databases, provisions the OIDC signing key and registers the Online Bibliotheek on first
start. The options given to `up` are kept in the state folder (topology.json), so the other
subcommands find the same ports.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from . import servers, tls
from .topology import (
    DEFAULT_NODES,
    DEFAULT_PUBLIC_PORTS,
    SERVICES,
    Topology,
    missing_programs,
    postgres_bin,
)

DEFAULT_STATE = Path(os.environ.get("BIBID_CLUSTER_DIR", "var/cluster"))


# ---- options ----------------------------------------------------------------------------------


def _ports(text: str) -> dict[str, int]:
    values = [int(v) for v in text.split(",")]
    if len(values) != len(SERVICES):
        raise argparse.ArgumentTypeError("three ports: identity,library,reading")
    return dict(zip(SERVICES, values, strict=True))


def _parser(action: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"bibid cluster {action}")
    parser.add_argument("--state", type=Path, default=DEFAULT_STATE, help="the state folder")
    if action == "up":
        parser.add_argument("--port-base", type=int, default=None)
        parser.add_argument("--public-ports", type=_ports, default=None)
        for service in SERVICES:
            parser.add_argument(f"--{service}-nodes", type=int, default=None)
        parser.add_argument("--web-workers", type=int, default=None)
        parser.add_argument("--threads", type=int, default=None)
    if action == "reload":
        parser.add_argument("services", nargs="*", metavar="SERVICE", default=[])
    if action in ("backup", "restore"):
        parser.add_argument("folder", type=Path)
    return parser


def load_topology(state: Path, overrides: argparse.Namespace | None = None) -> Topology:
    """The topology of a state folder: what `up` recorded, with today's options on top."""
    state = state.resolve()
    saved = {}
    recorded = state / "topology.json"
    if recorded.exists():
        saved = json.loads(recorded.read_text())
    nodes = dict(saved.get("nodes", DEFAULT_NODES))
    topology = Topology(
        state=state,
        public_ports=dict(saved.get("public_ports", DEFAULT_PUBLIC_PORTS)),
        port_base=saved.get("port_base", 18000),
        nodes=nodes,
        web_workers=saved.get("web_workers", 2),
        threads=saved.get("threads", 4),
    )
    if overrides is not None:
        if overrides.port_base is not None:
            topology.port_base = overrides.port_base
        if overrides.public_ports is not None:
            topology.public_ports = overrides.public_ports
        for service in SERVICES:
            count = getattr(overrides, f"{service}_nodes")
            if count is not None:
                if not 1 <= count <= 9:
                    raise SystemExit("bibid cluster: 1 to 9 nodes per service")
                topology.nodes[service] = count
        if overrides.web_workers is not None:
            topology.web_workers = overrides.web_workers
        if overrides.threads is not None:
            topology.threads = overrides.threads
    return topology


def _state_folder(path: Path) -> None:
    """The state folder: others may pass through it (PostgreSQL and Redis run as their own
    users and must reach their folders) but not list or read it; the secrets in it are
    0600 files and the TLS key's folder is 0700."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o711)  # noqa: S103 - pass-through only, see the docstring


def _record(topology: Topology) -> None:
    _state_folder(topology.state)
    (topology.state / "topology.json").write_text(
        json.dumps(
            {
                "public_ports": topology.public_ports,
                "port_base": topology.port_base,
                "nodes": topology.nodes,
                "web_workers": topology.web_workers,
                "threads": topology.threads,
            },
            indent=2,
        )
    )


# ---- up ---------------------------------------------------------------------------------------


def _plain_env() -> dict[str, str]:
    """The data servers and nginx get the search path and nothing else of ours (no secret
    keys, no database URLs)."""
    return {key: value for key, value in os.environ.items() if key in ("PATH", "TZ")}


def _programs(topology: Topology, tls_paths: dict, found: dict) -> list:
    from bibid.common.serving import web_command
    from bibid.supervise import Program

    pg_user = Topology.data_user("postgres")
    redis_user = Topology.data_user("redis")
    servers.initdb(topology, found["BIBID_CLUSTER_PG_SUPERUSER_PASSWORD"], pg_user)
    programs = [
        Program(
            "postgres",
            servers.postgres_command(topology, pg_user),
            {**_plain_env(), "LC_ALL": "C.UTF-8"},
            user=pg_user,
            stop_signal=signal.SIGINT,  # fast shutdown; SIGTERM would wait for every client
            tier=0,
        ),
        Program(
            "redis",
            servers.write_redis(topology, found["BIBID_CLUSTER_REDIS_PASSWORD"], redis_user),
            _plain_env(),
            user=redis_user,
            tier=0,
        ),
    ]
    python = sys.executable
    metrics = topology.state / "metrics"
    shutil.rmtree(metrics, ignore_errors=True)  # a new start counts from zero (metrics.py)
    for service in SERVICES:
        for node in range(1, topology.nodes[service] + 1):
            name = f"{service}-web-{node}"
            (metrics / name).mkdir(parents=True, exist_ok=True)
            web = web_command(
                service,
                bind="127.0.0.1",
                port=topology.node_port(service, node),
                workers=topology.web_workers,
                threads=topology.threads,
            )
            web += ["--pid", str(topology.pid_file(name))]
            programs.append(Program(name, web, topology.service_env(service, name)))
        (metrics / f"{service}-tasks").mkdir(parents=True, exist_ok=True)
        env = topology.service_env(service, f"{service}-tasks")
        for n in range(1, topology.task_workers + 1):
            argv = [python, "-m", "bibid", service, "db_worker", "--no-reload"]
            programs.append(Program(f"{service}-worker-{n}", argv, env))
        for n in range(1, topology.schedulers + 1):
            argv = [python, "-m", "bibid", service, "crontask", "--no-heartbeat"]
            programs.append(Program(f"{service}-cron-{n}", argv, env))
    programs.append(
        Program(
            "nginx",
            servers.write_nginx(topology, tls_paths),
            _plain_env(),
            stop_signal=signal.SIGQUIT,  # nginx's graceful stop: open requests finish
            tier=2,
        )
    )
    return programs


def _bibid(topology: Topology, *args: str, env: dict | None = None) -> str:
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bibid", *args],
        env=env or topology.env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bibid {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def _first_start(topology: Topology, programs: list, say) -> None:
    """Run between the data servers and the services (Supervisor's `prepare`): the
    databases and role, the OIDC signing key, migrations and static files, and the Online
    Bibliotheek's sign-in client. Each step is skipped when already done."""
    found = topology.secrets()
    servers.wait_for_postgres(topology, found["BIBID_CLUSTER_PG_SUPERUSER_PASSWORD"])
    servers.ensure_databases(
        topology, found["BIBID_CLUSTER_PG_SUPERUSER_PASSWORD"], found["BIBID_CLUSTER_DB_PASSWORD"]
    )
    servers.wait_for_redis(topology, found["BIBID_CLUSTER_REDIS_PASSWORD"])
    if not (topology.key_dir / "active.pem").exists():
        say("first start: making the OIDC signing key")
        _bibid(topology, "rotate-oidc-key")
    say("migrating the databases and collecting static files")
    with ThreadPoolExecutor(len(SERVICES)) as pool:
        list(pool.map(lambda s: _bibid(topology, s, "prepare", "--static"), SERVICES))
    if not found.get("READING_OIDC_CLIENT_ID") and not os.environ.get("READING_OIDC_CLIENT_ID"):
        say("first start: registering the Online Bibliotheek as a sign-in client")
        reply = json.loads(
            _bibid(
                topology,
                "identity",
                "register_service",
                "--kind",
                "reading",
                "--name",
                "Online Bibliotheek",
                "--base-url",
                topology.public_url("reading"),
            )
        )
        client = {
            "READING_OIDC_CLIENT_ID": reply["client_id"],
            "READING_OIDC_CLIENT_SECRET": reply["client_secret"],
        }
        topology.remember(client)
        for program in programs:
            if program.env is not None and "DJANGO_SETTINGS_MODULE" in program.env:
                program.env.update(client)
    lines = [f"  {s:<9} {topology.public_url(s)}/" for s in SERVICES]
    say("the cluster is starting; the balancer serves:\n" + "\n".join(lines))
    say(f"clients trust {topology.tls_dir / 'ca.pem'}; `bibid cluster run -- …` runs commands")


def up(argv: list[str]) -> int:
    from bibid.supervise import Supervisor

    args = _parser("up").parse_args(argv)
    missing = missing_programs()
    if missing:
        raise SystemExit(
            "bibid cluster: missing Debian packages: "
            + " ".join(missing)
            + f"\n  apt-get install --no-install-recommends {' '.join(missing)}"
        )
    topology = load_topology(args.state, args)
    _record(topology)
    found = topology.secrets()
    tls_paths = tls.ensure(topology.tls_dir)
    topology.run_dir.mkdir(parents=True, exist_ok=True)
    programs = _programs(topology, tls_paths, found)
    supervisor: Supervisor

    def prepare() -> None:
        _first_start(topology, programs, supervisor.log)

    supervisor = Supervisor(programs, prepare=prepare)
    return supervisor.run()


# ---- env, run ---------------------------------------------------------------------------------


def env(argv: list[str]) -> int:
    args = _parser("env").parse_args(argv)
    topology = load_topology(args.state)
    values = topology.env()
    for key in sorted(values):
        if key in os.environ and os.environ[key] == values[key]:
            continue  # only what the cluster sets
        print(f"export {key}={shlex.quote(values[key])}")
    return 0


def run(argv: list[str]) -> int:
    if "--" not in argv:
        raise SystemExit("bibid cluster run: give the command after --")
    split = argv.index("--")
    args = _parser("run").parse_args(argv[:split])
    topology = load_topology(args.state)
    command = [sys.executable, "-m", "bibid", *argv[split + 1 :]]
    return subprocess.call(command, env=topology.env())  # noqa: S603 - our own module


# ---- reload -----------------------------------------------------------------------------------


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as answer:  # noqa: S310 - ours
            return answer.status == 200
    except OSError:
        return False


def reload_node(topology: Topology, service: str, node: int, timeout: float = 60) -> None:
    """SIGHUP one gunicorn master: it starts new workers (which read the settings and keys
    again) and stops the old ones gracefully; wait until the old ones are gone."""
    name = f"{service}-web-{node}"
    pid = int(topology.pid_file(name).read_text().strip())
    old = _children(pid)
    os.kill(pid, signal.SIGHUP)
    deadline = time.monotonic() + timeout
    while any(_alive(p) for p in old) or not _healthy(topology.node_url(service, node)):
        if time.monotonic() > deadline:
            raise SystemExit(f"bibid cluster reload: {name} did not reload within {timeout} s")
        time.sleep(0.2)


def reload(argv: list[str]) -> int:
    """One node after another, so the others keep serving (after `bibid rotate-oidc-key`)."""
    args = _parser("reload").parse_args(argv)
    unknown = [s for s in args.services if s not in SERVICES]
    if unknown:
        raise SystemExit(f"bibid cluster reload: unknown service(s) {' '.join(unknown)}")
    topology = load_topology(args.state)
    for service in args.services or SERVICES:
        for node in range(1, topology.nodes[service] + 1):
            reload_node(topology, service, node)
            print(f"reloaded {service}-web-{node}", flush=True)
    return 0


# ---- backup and restore -----------------------------------------------------------------------


def _pg_env(password: str) -> dict[str, str]:
    # The password goes through the environment of PostgreSQL's own tools, never the
    # command line (which every local user can read in /proc).
    return {**_plain_env(), "PGPASSWORD": password}


def backup(argv: list[str]) -> int:
    """pg_dump of each service's database (custom format, one consistent snapshot per
    database), the OIDC signing keys and the generated secrets, into a new folder (0700)."""
    args = _parser("backup").parse_args(argv)
    topology = load_topology(args.state)
    found = topology.secrets()
    folder = args.folder.resolve()
    folder.mkdir(parents=True, exist_ok=False, mode=0o700)
    pg = postgres_bin()
    for service in SERVICES:
        subprocess.run(  # noqa: S603 - PostgreSQL's own tool
            [
                f"{pg}/pg_dump",
                "--format=custom",
                "--host=127.0.0.1",
                f"--port={topology.pg_port}",
                "--username=bibid",
                f"--dbname=bibid_{service}",
                f"--file={folder / f'{service}.dump'}",
            ],
            env=_pg_env(found["BIBID_CLUSTER_DB_PASSWORD"]),
            check=True,
            timeout=3600,
        )
    shutil.copytree(topology.key_dir, folder / "oidc")
    if topology.secrets_file.exists():
        shutil.copy2(topology.secrets_file, folder / "secrets.env")
    (folder / "manifest.json").write_text(
        json.dumps(
            {
                "made": datetime.now(UTC).isoformat(timespec="seconds"),
                "databases": {s: f"{s}.dump" for s in SERVICES},
                "topology": json.loads((topology.state / "topology.json").read_text()),
            },
            indent=2,
        )
    )
    print(f"backup in {folder}", flush=True)
    return 0


def _port_open(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def restore(argv: list[str]) -> int:
    """Into a stopped cluster (its state folder may be new): the secrets and keys of the
    backup, a PostgreSQL of its own started for the while, each database dropped and made
    again from its dump. `bibid cluster up` afterwards starts it as it was."""
    args = _parser("restore").parse_args(argv)
    folder = args.folder.resolve()
    manifest = json.loads((folder / "manifest.json").read_text())
    state = args.state.resolve()
    if not (state / "topology.json").exists():
        _state_folder(state)
        (state / "topology.json").write_text(json.dumps(manifest["topology"]))
    topology = load_topology(state)
    if _port_open(topology.pg_port) or any(_port_open(p) for p in topology.public_ports.values()):
        raise SystemExit("bibid cluster restore: the cluster is running; stop it first")
    if (folder / "secrets.env").exists():
        from .topology import read_env_file, write_env_file

        restored = read_env_file(folder / "secrets.env")
        current = read_env_file(topology.secrets_file)
        if (topology.pgdata / "PG_VERSION").exists() and current:
            # This PostgreSQL keeps its own superuser (initdb set that password); the
            # services' role gets the backup's password again (ensure_databases).
            restored["BIBID_CLUSTER_PG_SUPERUSER_PASSWORD"] = current[
                "BIBID_CLUSTER_PG_SUPERUSER_PASSWORD"
            ]
        write_env_file(topology.secrets_file, restored)
    shutil.rmtree(topology.key_dir, ignore_errors=True)
    shutil.copytree(folder / "oidc", topology.key_dir)
    found = topology.secrets()
    pg_user = Topology.data_user("postgres")
    servers.initdb(topology, found["BIBID_CLUSTER_PG_SUPERUSER_PASSWORD"], pg_user)
    postgres = subprocess.Popen(  # noqa: S603 - PostgreSQL's own server
        servers.postgres_command(topology, pg_user),
        user=pg_user,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        process_group=0,
    )
    try:
        password = found["BIBID_CLUSTER_PG_SUPERUSER_PASSWORD"]
        servers.wait_for_postgres(topology, password)
        servers.ensure_databases(topology, password, found["BIBID_CLUSTER_DB_PASSWORD"])
        from psycopg import sql

        for service in SERVICES:
            name = f"bibid_{service}"
            with servers.connect(topology, password) as conn:
                conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
            servers.ensure_databases(topology, password, found["BIBID_CLUSTER_DB_PASSWORD"])
            subprocess.run(  # noqa: S603 - PostgreSQL's own tool
                [
                    f"{postgres_bin()}/pg_restore",
                    "--host=127.0.0.1",
                    f"--port={topology.pg_port}",
                    "--username=bibid",
                    f"--dbname={name}",
                    "--no-owner",
                    "--exit-on-error",
                    str(folder / manifest["databases"][service]),
                ],
                env=_pg_env(found["BIBID_CLUSTER_DB_PASSWORD"]),
                check=True,
                timeout=3600,
            )
            print(f"restored {name}", flush=True)
    finally:
        postgres.send_signal(signal.SIGINT)
        postgres.wait(timeout=60)
    return 0


ACTIONS = {
    "up": up,
    "env": env,
    "run": run,
    "reload": reload,
    "backup": backup,
    "restore": restore,
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ACTIONS:
        print(__doc__.strip())
        return 0 if not argv or argv[0] in ("-h", "--help", "help") else 2
    return ACTIONS[argv[0]](argv[1:])
