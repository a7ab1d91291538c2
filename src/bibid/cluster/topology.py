"""What the cluster is made of: folders, ports, secrets, and every process with its command.

One state folder holds everything the cluster keeps (`var/cluster/` by default):

    secrets.env      generated secrets (mode 0600), unless the environment gives them
    tls/             the local CA and the balancer's certificate (bibid.cluster.tls)
    postgres/        PostgreSQL's data folder (initdb on first start)
    redis/           Redis's working folder (no persistence: it holds a cache and locks)
    nginx/           nginx's configuration, temporary files and access log
    var/             BIBID_VAR_DIR of every process: static files, the OIDC signing keys
    run/             pid files and PostgreSQL's socket
    metrics/         one Prometheus multiprocess folder per node and per service's tasks

Ports: the balancer serves https on `public_ports` (8443, 8444, 8445 by default); everything
else listens on 127.0.0.1 from `port_base` (18000): identity's web nodes on base+0, +1, …,
the library's on base+10, …, reading's on base+20, …, PostgreSQL on base+30, Redis on +31.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from bibid.common.serving import memory_env

SERVICES = ("identity", "library", "reading")
OFFSETS = {"identity": 0, "library": 10, "reading": 20}
DEFAULT_PUBLIC_PORTS = {"identity": 8443, "library": 8444, "reading": 8445}
DEFAULT_NODES = {"identity": 2, "library": 2, "reading": 1}
DATABASE_ROLE = "bibid"

# Secrets the cluster needs. An operator gives them in the environment (the production way);
# whatever is not given is generated once and kept in secrets.env, so a restart keeps
# sessions, sealed secrets and passwords valid.
GENERATED_SECRETS = (
    "IDENTITY_SECRET_KEY",
    "LIBRARY_SECRET_KEY",
    "READING_SECRET_KEY",
    "BIBID_CLUSTER_DB_PASSWORD",  # the services' role (no superuser)
    "BIBID_CLUSTER_PG_SUPERUSER_PASSWORD",  # postgres: creating the role and databases
    "BIBID_CLUSTER_REDIS_PASSWORD",
    "BIBID_METRICS_TOKEN",
)


def find_program(name: str, *extra_dirs: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for folder in (*extra_dirs, "/usr/sbin", "/usr/local/sbin", "/sbin"):
        candidate = Path(folder, name)
        if candidate.exists():
            return str(candidate)
    return None


def postgres_bin() -> Path | None:
    """The newest PostgreSQL server binaries of the machine (Debian's layout), or PG_BIN."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: p.parts[-3])
    found.sort(key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    return found[-1].parent if found else None


def missing_programs() -> list[str]:
    """The Debian packages the cluster needs that this machine lacks."""
    missing = []
    if postgres_bin() is None:
        missing.append("postgresql")
    if find_program("nginx") is None:
        missing.append("nginx-light")
    if find_program("redis-server") is None:
        missing.append("redis-server")
    return missing


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@dataclass
class Topology:
    state: Path
    public_ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PUBLIC_PORTS))
    port_base: int = 18000
    nodes: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_NODES))
    web_workers: int = 2
    threads: int = 4
    task_workers: int = 2
    schedulers: int = 2
    # Extra environment for every process (the tests' mail server, a short poll interval).
    extra_env: dict[str, str] = field(default_factory=dict)

    # ---- places ---------------------------------------------------------------------------

    @property
    def secrets_file(self) -> Path:
        return self.state / "secrets.env"

    @property
    def pgdata(self) -> Path:
        return self.state / "postgres"

    @property
    def run_dir(self) -> Path:
        return self.state / "run"

    @property
    def var_dir(self) -> Path:
        return self.state / "var"

    @property
    def key_dir(self) -> Path:
        return self.var_dir / "secrets" / "oidc"

    @property
    def tls_dir(self) -> Path:
        return self.state / "tls"

    @property
    def nginx_dir(self) -> Path:
        return self.state / "nginx"

    @property
    def access_log(self) -> Path:
        return self.nginx_dir / "access.log"

    def node_port(self, service: str, node: int) -> int:
        """The port of web node `node` (1, 2, …) of a service."""
        return self.port_base + OFFSETS[service] + node - 1

    def node_ports(self, service: str) -> list[int]:
        return [self.node_port(service, n) for n in range(1, self.nodes[service] + 1)]

    @property
    def pg_port(self) -> int:
        return self.port_base + 30

    @property
    def redis_port(self) -> int:
        return self.port_base + 31

    def public_url(self, service: str) -> str:
        return f"https://127.0.0.1:{self.public_ports[service]}"

    def node_url(self, service: str, node: int) -> str:
        return f"http://127.0.0.1:{self.node_port(service, node)}"

    def pid_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    # ---- users ----------------------------------------------------------------------------

    @staticmethod
    def data_user(preferred: str) -> str | None:
        """As root, the user a data server runs as (PostgreSQL refuses root); else nobody
        is switched to."""
        if os.geteuid() != 0:
            return None
        return preferred if _user_exists(preferred) else "nobody"

    # ---- secrets --------------------------------------------------------------------------

    def secrets(self) -> dict[str, str]:
        """The cluster's secrets: the environment's first, then secrets.env (made if needed)."""
        kept = read_env_file(self.secrets_file)
        changed = False
        for name in GENERATED_SECRETS:
            if not os.environ.get(name) and not kept.get(name):
                kept[name] = secrets.token_urlsafe(48 if name.endswith("_KEY") else 24)
                changed = True
        if changed:
            write_env_file(self.secrets_file, kept)
        return {**kept, **{n: os.environ[n] for n in GENERATED_SECRETS if os.environ.get(n)}}

    def remember(self, values: dict[str, str]) -> None:
        """Keep more values in secrets.env (the Online Bibliotheek's client, say)."""
        kept = read_env_file(self.secrets_file)
        kept.update(values)
        write_env_file(self.secrets_file, kept)

    # ---- environment ----------------------------------------------------------------------

    def database_url(self, service: str, password: str) -> str:
        return (
            f"postgresql://{DATABASE_ROLE}:{quote(password, safe='')}@127.0.0.1:"
            f"{self.pg_port}/bibid_{service}"
        )

    def redis_url(self, password: str, db: int = 0) -> str:
        return f"redis://:{quote(password, safe='')}@127.0.0.1:{self.redis_port}/{db}"

    def env(self) -> dict[str, str]:
        """The environment of every Bibid process of the cluster (and of `bibid` commands
        run against it: `bibid cluster env` prints it)."""
        found = self.secrets()
        env = {
            key: value
            for key, value in os.environ.items()
            # Nothing of a demo or test setting leaks into the production-mode cluster.
            if key not in ("BIBID_DEMO", "DEBUG", "DJANGO_SETTINGS_MODULE", "BIBID_HTTPS")
            and not key.endswith(("_DATABASE_URL", "_PUBLIC_URL", "_PORT"))
        }
        env.update(
            {
                "BIBID_DEMO": "0",
                "BIBID_VAR_DIR": str(self.var_dir),
                "BIBID_OIDC_KEY_DIR": str(self.key_dir),
                "ALLOWED_HOSTS": "127.0.0.1,localhost",
                # nginx terminates TLS and sets X-Forwarded-Proto and X-Forwarded-For itself
                # (it overwrites what a client sent), and the nodes listen on 127.0.0.1 only,
                # so the header and one forwarded hop can be believed.
                "BIBID_BEHIND_PROXY": "1",
                "BIBID_TRUSTED_PROXIES": "1",
                "CACHE_URL": self.redis_url(found["BIBID_CLUSTER_REDIS_PASSWORD"], 0),
                "CRONTASK_REDIS_URL": self.redis_url(found["BIBID_CLUSTER_REDIS_PASSWORD"], 1),
                # The services call each other through the balancer, over https with the
                # local CA (requests reads this variable; the machine's store is untouched).
                "REQUESTS_CA_BUNDLE": str(self.tls_dir / "ca.pem"),
                "PYTHONUNBUFFERED": "1",
                "IDENTITY_SECRET_KEY": found["IDENTITY_SECRET_KEY"],
                "LIBRARY_SECRET_KEY": found["LIBRARY_SECRET_KEY"],
                "READING_SECRET_KEY": found["READING_SECRET_KEY"],
                "BIBID_METRICS_TOKEN": found["BIBID_METRICS_TOKEN"],
            }
        )
        for service in SERVICES:
            prefix = service.upper()
            env[f"{prefix}_DATABASE_URL"] = self.database_url(
                service, found["BIBID_CLUSTER_DB_PASSWORD"]
            )
            env[f"{prefix}_PUBLIC_URL"] = self.public_url(service)
        for name in ("READING_OIDC_CLIENT_ID", "READING_OIDC_CLIENT_SECRET"):
            if found.get(name) and not os.environ.get(name):
                env[name] = found[name]
        env.update(self.extra_env)
        return env

    def service_env(self, service: str, metrics: str) -> dict[str, str]:
        env = self.env()
        env["DJANGO_SETTINGS_MODULE"] = f"bibid.{service}.settings"
        env["PROMETHEUS_MULTIPROC_DIR"] = str(self.state / "metrics" / metrics)
        env.update(memory_env())  # one malloc arena: Argon2id blocks reused
        return env

    def bibid(self) -> list[str]:
        return [sys.executable, "-m", "bibid"]


def read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


def write_env_file(path: Path, values: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    # Secrets: readable by the cluster's user only, replaced atomically.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("# Made by `bibid cluster`: secrets of this cluster. Keep it safe.\n")
        for key, value in values.items():
            fh.write(f"{key}={value}\n")
    os.replace(tmp, path)
