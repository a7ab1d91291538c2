"""The configuration of the servers from Debian's packages: nginx, Redis, PostgreSQL."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from .topology import DATABASE_ROLE, SERVICES, Topology, postgres_bin

# The balancer's access log: one JSON object a line. The path only ($uri), never the query
# string or the raw request line ($request, $request_uri): those carry authorization codes and
# reset tokens. The upstream address says which node served a request (tests and operators).
LOG_FORMAT = (
    "log_format bibid escape=json '{"
    '"time":"$time_iso8601","request_id":"$request_id","remote":"$remote_addr",'
    '"host":"$host","method":"$request_method","uri":"$uri","status":$status,'
    '"upstream":"$upstream_addr","upstream_status":"$upstream_status",'
    '"seconds":$request_time'
    "}';"
)


def nginx_conf(topology: Topology, tls: dict) -> str:
    folder = topology.nginx_dir
    upstreams, servers = [], []
    for service in SERVICES:
        nodes = "\n".join(
            # No passive "down" marking (max_fails=0): each worker of nginx keeps its own
            # failure counts, and with a node restarting and another crashing, both were
            # marked down at once and GETs got "no live upstreams" (measured in
            # test_cluster). A stopped node refuses connections at once, and nginx passes the
            # request to the next node (below), so trying it costs microseconds; a hung node
            # costs proxy_connect_timeout.
            f"        server 127.0.0.1:{port} max_fails=0;"
            for port in topology.node_ports(service)
        )
        upstreams.append(f"    upstream {service} {{\n{nodes}\n    }}")
        servers.append(
            f"""    server {{
        listen 127.0.0.1:{topology.public_ports[service]} ssl http2;
        ssl_certificate {tls["cert"]};
        ssl_certificate_key {tls["key"]};
        location / {{
            proxy_pass http://{service};
            # The request's own host and port (the public URL), for Django's host and
            # CSRF origin checks.
            proxy_set_header Host $http_host;
            # Set, not appended: whatever X-Forwarded-* a client sends is thrown away, so the
            # address the guessing limits count is the one nginx saw.
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto https;
            proxy_set_header X-Request-ID $request_id;
        }}
    }}"""
        )
    return f"""# Made by `bibid cluster up` at every start; edits are overwritten.
worker_processes 2;
pid {topology.pid_file("nginx")};
error_log stderr warn;
daemon off;

events {{
    worker_connections 1024;
}}

http {{
    {LOG_FORMAT}
    access_log {topology.access_log} bibid;
    client_body_temp_path {folder}/spool/body;
    proxy_temp_path {folder}/spool/proxy;
    fastcgi_temp_path {folder}/spool/fastcgi;
    uwsgi_temp_path {folder}/spool/uwsgi;
    scgi_temp_path {folder}/spool/scgi;
    server_tokens off;
    # Django refuses larger bodies itself (1 MiB of form data); nothing of ours is bigger.
    client_max_body_size 2m;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:bibid:10m;
    ssl_session_timeout 1h;
    # Which failures send a request to the next node: refused connections and timeouts.
    # nginx never resends a POST that reached a node (non_idempotent is not set), so a
    # sign-in is never checked twice; a POST that could not connect was not sent and is
    # passed on. A node that answered, even with 5xx, is not second-guessed.
    proxy_next_upstream error timeout;
    proxy_next_upstream_tries 2;
    proxy_connect_timeout 2s;
    # gunicorn's own timeout is 30 s; a little more here so that its answer arrives.
    proxy_read_timeout 35s;
    proxy_http_version 1.1;
    proxy_set_header Connection "";

{chr(10).join(upstreams)}

{chr(10).join(servers)}
}}
"""


def write_nginx(topology: Topology, tls: dict) -> list[str]:
    folder = topology.nginx_dir
    (folder / "spool").mkdir(parents=True, exist_ok=True)
    conf = folder / "nginx.conf"
    conf.write_text(nginx_conf(topology, tls))
    return [
        _require("nginx"),
        "-p",
        str(folder),
        "-c",
        str(conf),
        "-e",
        "stderr",
    ]


def write_redis(topology: Topology, password: str, user: str | None) -> list[str]:
    folder = topology.state / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    conf = folder / "redis.conf"
    # Loopback only and a password: the cache holds the sign-in page's allowed form targets
    # and the schedulers' lock, which no other local user may write. No persistence: nothing
    # in it needs to survive a restart (sessions, counters and tasks are in PostgreSQL).
    fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(
            f"bind 127.0.0.1\nport {topology.redis_port}\nprotected-mode yes\n"
            f'requirepass "{password}"\nsave ""\nappendonly no\ndir {folder}\n'
            "maxmemory 256mb\nmaxmemory-policy allkeys-lru\nloglevel warning\n"
        )
    if user:
        shutil.chown(folder, user)
        shutil.chown(conf, user)
    return [_require("redis-server"), str(conf)]


def _require(name: str) -> str:
    from .topology import find_program

    found = find_program(name)
    if not found:
        raise SystemExit(f"bibid cluster: {name} is not installed (apt-get install it)")
    return found


# ---- PostgreSQL -----------------------------------------------------------------------------


def _pg_bin() -> str:
    found = postgres_bin()
    if found is None:
        raise SystemExit("bibid cluster: PostgreSQL is not installed (apt-get install postgresql)")
    return str(found)


def check_reachable(folder: Path, user: str | None) -> None:
    """A data server running as `user` must pass through every folder above its own."""
    if not user:
        return
    import pwd

    uid = pwd.getpwnam(user).pw_uid
    for parent in [folder, *folder.parents]:
        if not parent.exists():
            continue
        info = parent.stat()
        if info.st_uid != uid and not info.st_mode & 0o001:
            raise SystemExit(
                f"bibid cluster: {user} cannot pass through {parent} (mode "
                f"{oct(info.st_mode & 0o777)}); choose a state folder under a path others may "
                f"pass through (chmod o+x), e.g. /srv/bibid or /tmp"
            )


def initdb(topology: Topology, password: str, user: str | None) -> bool:
    """Make the data folder on first start (superuser password from the secrets, scram
    authentication on 127.0.0.1); False when it exists already."""
    data = topology.pgdata
    check_reachable(topology.state, user)
    if (data / "PG_VERSION").exists():
        return False
    data.mkdir(parents=True, exist_ok=True, mode=0o700)
    pwfile = topology.state / "run" / "pg-password"
    pwfile.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(password + "\n")
    if user:
        shutil.chown(data, user)
        shutil.chown(pwfile, user)
    try:
        subprocess.run(  # noqa: S603 - PostgreSQL's own tool
            [
                f"{_pg_bin()}/initdb",
                "-D",
                str(data),
                "-U",
                "postgres",
                "--pwfile",
                str(pwfile),
                # Passwords on every connection, socket included: no local user gets in by
                # being on the machine.
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
            check=True,
            user=user,
            capture_output=True,
            text=True,
        )
    except subprocess.CalledProcessError as error:
        raise SystemExit(f"bibid cluster: initdb failed:\n{error.stderr}") from error
    finally:
        pwfile.unlink(missing_ok=True)
    return True


def postgres_command(topology: Topology, user: str | None) -> list[str]:
    sockets = topology.state / "run" / "postgres"
    sockets.mkdir(parents=True, exist_ok=True)
    if user:
        shutil.chown(sockets, user)
    return [
        f"{_pg_bin()}/postgres",
        "-D",
        str(topology.pgdata),
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        f"port={topology.pg_port}",
        "-c",
        f"unix_socket_directories={sockets}",
        # Room for every node's threads and workers with their kept connections
        # (BIBID_CONN_MAX_AGE): 2 identity + 2 library + 1 reading nodes of 2 workers x 4
        # threads, 6 task workers, 6 schedulers, commands: about 60.
        "-c",
        "max_connections=200",
        "-c",
        "shared_buffers=256MB",
    ]


def connect(topology: Topology, password: str, dbname: str = "postgres", user: str = "postgres"):
    import psycopg

    return psycopg.connect(
        host="127.0.0.1",
        port=topology.pg_port,
        user=user,
        password=password,
        dbname=dbname,
        autocommit=True,
        connect_timeout=3,
    )


def wait_for_postgres(topology: Topology, password: str, seconds: float = 60) -> None:
    import psycopg

    deadline = time.monotonic() + seconds
    while True:
        try:
            with connect(topology, password) as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.OperationalError as error:
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not start: {error}") from error
            time.sleep(0.3)


def ensure_databases(topology: Topology, superuser_password: str, role_password: str) -> None:
    """The role the services use (no superuser) and one database per service it owns."""
    from psycopg import sql

    with connect(topology, superuser_password) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [DATABASE_ROLE])
        statement = "ALTER ROLE {} LOGIN PASSWORD {}" if exists.fetchone() else None
        statement = statement or "CREATE ROLE {} LOGIN PASSWORD {}"
        conn.execute(
            sql.SQL(statement).format(sql.Identifier(DATABASE_ROLE), sql.Literal(role_password))
        )
        for service in SERVICES:
            name = f"bibid_{service}"
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if not found.fetchone():
                conn.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(name), sql.Identifier(DATABASE_ROLE)
                    )
                )


def wait_for_redis(topology: Topology, password: str, seconds: float = 30) -> None:
    import redis

    client = redis.Redis(
        host="127.0.0.1", port=topology.redis_port, password=password, socket_timeout=1
    )
    deadline = time.monotonic() + seconds
    while True:
        try:
            client.ping()
            return
        except redis.RedisError as error:
            if time.monotonic() > deadline:
                raise RuntimeError(f"Redis did not start: {error}") from error
            time.sleep(0.2)
