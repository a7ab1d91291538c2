"""bibid: the operators' command line, Django's management commands behind one entry point.

bibid up                      start everything (the embedded default, with demo data)
bibid cluster up|env|run|reload|backup|restore
                              the production topology on one machine (nginx, PostgreSQL,
                              Redis, two nodes per service; bibid.cluster.command)
bibid demo [--show] [--json]  load or reset demo data and print every demo sign-in
bibid purge-inactive          delete inactive accounts older than 24 hours
bibid diagnose --library L --card N --problem P [--username U] [--json]
                              the helpdesk's diagnosis of a customer's login problem
bibid rotate-oidc-key         new ID-token signing key of the identity service
bibid createsuperuser --service identity
bibid migrate|check [--service S]
bibid identity|library|reading <command> [...]   any management command of a service
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

SERVICES = ("identity", "library", "reading")
DEFAULT_PORTS = {"identity": 8000, "library": 8001, "reading": 8002}
SHORTCUTS = {
    "purge-inactive": ("identity", "purge_inactive"),
    "diagnose": ("library", "diagnose"),
    "rotate-oidc-key": ("identity", "rotate_oidc_key"),
}
PER_SERVICE = ("migrate", "check", "showmigrations", "createsuperuser")


def _settings_module(service: str) -> str:
    return f"bibid.{service}.settings"


def _embedded() -> bool:
    """True when the operator configured nothing: no database and no secret key of any
    service. That is the embedded demo default (a fresh clone, `make run`)."""
    return not any(
        os.environ.get(f"{s.upper()}_{name}")
        for s in SERVICES
        for name in ("DATABASE_URL", "SECRET_KEY")
    )


def _demo_if_embedded() -> None:
    # The embedded default (SQLite under var/, keys generated there) is the demo system, so
    # demo data and plain HTTP on 127.0.0.1 are allowed there, for every command alike (a
    # command that saw other settings than `bibid up` would fail, or write elsewhere). An
    # operator who sets a database or a secret key is configuring production: demo mode
    # stays off unless BIBID_DEMO=1 is set on purpose (and BIBID_DEMO=0 is always obeyed).
    if _embedded():
        os.environ.setdefault("BIBID_DEMO", "1")


def _demo_allowed() -> bool:
    truthy = ("1", "true", "yes", "on")
    return any(os.environ.get(name, "").lower() in truthy for name in ("BIBID_DEMO", "DEBUG"))


def _service_env(service: str) -> dict[str, str]:
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = _settings_module(service)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def _port(service: str) -> int:
    return int(os.environ.get(f"{service.upper()}_PORT", DEFAULT_PORTS[service]))


def _url(service: str) -> str:
    default = f"http://127.0.0.1:{_port(service)}"
    return os.environ.get(f"{service.upper()}_PUBLIC_URL", default).rstrip("/")


def run_in_process(service: str, argv: list[str]) -> int:
    """Run one management command of one service in this process."""
    os.environ["DJANGO_SETTINGS_MODULE"] = _settings_module(service)
    from django.core.management import execute_from_command_line

    execute_from_command_line([f"bibid {service}", *argv])
    return 0


def _sub(service: str, argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - our own interpreter and module, no shell
        [sys.executable, "-m", "bibid", service, *argv],
        env=_service_env(service),
        check=False,
        **kwargs,
    )


def _take_service(argv: list[str]) -> tuple[list[str], list[str]]:
    """Split `--service S` (or --service=S) out of argv; all services when absent."""
    services: list[str] = []
    rest: list[str] = []
    it = iter(argv)
    for arg in it:
        if arg == "--service":
            services.append(next(it, ""))
        elif arg.startswith("--service="):
            services.append(arg.split("=", 1)[1])
        else:
            rest.append(arg)
    for name in services:
        if name not in SERVICES:
            raise SystemExit(f"bibid: unknown service {name!r}; choose from {', '.join(SERVICES)}")
    return services or list(SERVICES), rest


def _prepare_all(demo: str, static: bool) -> dict:
    """Run `prepare` for the three services at once; merge their demo sign-ins.

    A reset changes the three databases together or none of them: it is refused before
    anything changes when demo data is not allowed, the three migrate first (the step that
    fails on a broken or unreachable database), and only then does each reset its demo
    data, in one transaction per service.
    """
    if demo in ("reset", "if-empty") and not _demo_allowed():
        raise SystemExit("bibid: demo data needs BIBID_DEMO=1 (or DEBUG); nothing was changed")
    if demo == "reset":
        _prepare_all("none", static)
        static = False
    args = ["prepare", f"--demo={demo}"] + (["--static"] if static else [])

    def one(service: str) -> dict:
        done = _sub(service, args, capture_output=True, text=True)
        if done.returncode != 0:
            sys.stderr.write(done.stderr)
            raise SystemExit(f"bibid: preparing the {service} service failed")
        lines = [line for line in done.stdout.splitlines() if line.strip()]
        return json.loads(lines[-1]) if lines else {}

    with ThreadPoolExecutor(len(SERVICES)) as pool:
        parts = list(pool.map(one, SERVICES))
    merged: dict = {
        "urls": {s: _url(s) for s in SERVICES},
        "patrons": [],
        "operators": [],
        "staff": [],
        "library_clients": [],
        "service_clients": [],
    }
    for part in parts:
        for key, value in part.items():
            if isinstance(value, list):
                merged.setdefault(key, []).extend(value)
            else:
                merged[key] = value
    return merged


def _print_signins(data: dict, title: str = "Bibid is running:") -> None:
    urls = data["urls"]
    print(f"\n{title}")
    print(f"  identity (login, Mijn inlogaccount)  {urls['identity']}/")
    print(f"  identity admin (operators)           {urls['identity']}/beheer/")
    print(f"  library (staff console, Mijn Menu)   {urls['library']}/")
    print(f"  reading (Online Bibliotheek)         {urls['reading']}/")
    if data.get("patrons"):
        print("\nDemo patrons (sign in at the identity service):")
        for p in data["patrons"]:
            password = p["password"] or "(no password yet)"
            print(f"  {p['username']:<16} {password:<26} {p['state']:<17} {p.get('note', '')}")
    if data.get("operators"):
        print("\nIdentity operators (admin at /beheer/):")
        for p in data["operators"]:
            # Demo data only: the published one-time-code secret of the admin's second step.
            print(f"  {p['username']:<16} {p['password']:<26} TOTP {p.get('totp_secret', '')}")
    if data.get("staff"):
        print("\nLibrary staff (console at /console/ of the library service):")
        for s in data["staff"]:
            print(f"  {s['username']:<14} {s['password']:<27} {s['library']:<12} {s['role']}")
        # Demo data only: the published one-time-code secret of each (an authenticator app
        # takes it typed, or compute the codes with any TOTP tool).
        print("  (second step: a code from an app set up with the TOTP secret below)")
        for s in data["staff"]:
            print(f"  {s['username']:<14} TOTP {s.get('totp_secret', '')}")
    if data.get("customers"):
        print("\nDemo customers (search them in the console by card number):")
        for c in data["customers"]:
            print(f"  {c['library']:<12} {c['card_number']}  {c['name']:<18} {c['state']}")
    for key, title in (
        ("library_clients", "Library API clients (identity's library API)"),
        ("service_clients", "Sign-in clients (OpenID Connect)"),
    ):
        if data.get(key):
            print(f"\n{title}:")
            for row in data[key]:
                print("  " + "  ".join(f"{k}={v}" for k, v in row.items()))
    print()


def demo(argv: list[str]) -> int:
    show = "--show" in argv
    as_json = "--json" in argv
    unknown = [a for a in argv if a not in ("--show", "--json")]
    if unknown:
        raise SystemExit(f"bibid demo: unknown option(s) {' '.join(unknown)}")
    _demo_if_embedded()
    data = _prepare_all("show" if show else "reset", static=False)
    if as_json:
        print(json.dumps(data, indent=2))
    else:
        _print_signins(data, title="Bibid demo data (start it all with `bibid up`):")
    return 0


def up(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="bibid up", description="Start the whole system.")
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 2,
        help="web processes per service (default: the number of cores)",
    )
    parser.add_argument("--threads", type=int, default=4, help="threads per web process")
    parser.add_argument("--no-demo", action="store_true", help="do not load demo data")
    parser.add_argument("--bind", default=os.environ.get("BIBID_BIND", "127.0.0.1"))
    args = parser.parse_args(argv)

    _demo_if_embedded()
    demo_mode = "none" if args.no_demo or os.environ.get("BIBID_DEMO") != "1" else "if-empty"
    data = _prepare_all(demo_mode, static=True)

    from bibid.common.metrics import multiproc_env
    from bibid.common.serving import memory_env, web_command
    from bibid.supervise import Program, Supervisor

    programs = []
    python = sys.executable
    for service in SERVICES:
        env = _service_env(service)
        env.update(multiproc_env(service))  # metrics of all its processes (bibid.common.metrics)
        env.update(memory_env())  # one malloc arena: Argon2id blocks reused (serving.memory_env)
        web = web_command(
            service, bind=args.bind, port=_port(service), workers=args.workers, threads=args.threads
        )
        worker = [python, "-m", "bibid", service, "db_worker", "--no-reload"]
        cron = [python, "-m", "bibid", service, "crontask", "--no-heartbeat"]
        programs += [
            Program(f"{service}-web", web, env),
            Program(f"{service}-worker", worker, env),
            Program(f"{service}-cron", cron, env),
        ]
    _print_signins(data)
    print("Press Ctrl-C to stop everything.\n", flush=True)
    return Supervisor(programs).run()


def usage() -> int:
    print(__doc__.strip())
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        return usage()
    _demo_if_embedded()
    command, rest = argv[0], argv[1:]
    if command in SERVICES:
        return run_in_process(command, rest)
    if command == "up":
        return up(rest)
    if command == "cluster":
        from bibid.cluster.command import main as cluster

        return cluster(rest)
    if command == "demo":
        return demo(rest)
    if command in SHORTCUTS:
        service, name = SHORTCUTS[command]
        return run_in_process(service, [name, *rest])
    if command in PER_SERVICE:
        services, rest = _take_service(rest)
        if command == "createsuperuser" and len(services) != 1:
            raise SystemExit("bibid createsuperuser: say which service, e.g. --service identity")
        if len(services) == 1:
            return run_in_process(services[0], [command, *rest])
        status = 0
        for service in services:
            print(f"== {service}", flush=True)
            status = status or _sub(service, [command, *rest]).returncode
        return status
    print(f"bibid: unknown command {command!r}\n", file=sys.stderr)
    usage()
    return 2


if __name__ == "__main__":
    sys.exit(main())
