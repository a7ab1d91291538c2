"""Sign-ins/s of one identity node and of two behind nginx, against the hash-bound limit.

Starts the production topology (`bibid cluster up`: PostgreSQL, Redis, nginx with TLS, two
identity nodes of `--web-workers` gunicorn workers each) and, in alternating rounds in one
run (this machine's speed drifts), times:

- bare Argon2id verifications in as many processes as there are cores: the hash-bound
  limit (bench/login.py's method and code);
- form sign-ins straight to identity's node 1 (plain HTTP on 127.0.0.1, the headers nginx
  sets): one node, no balancer;
- the same sign-ins through nginx (TLS, keep-alive connections from the clients) spread
  over both nodes.

Then it prints sign-ins/s, the ratio to the limit, p50/p95 per sign-in, and the resident
memory (RSS) of every web process of the cluster after the load.

    .venv/bin/python bench/cluster.py [--requests 400] [--concurrency 4] [--web-workers 1]

Nothing is asserted about time; the run fails only when a sign-in does not succeed.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.login import Client, Verifiers, create_patrons, drive, split  # noqa: E402
from tests.e2e import cluster as clusters  # noqa: E402

ROUNDS = 4


class NodeClient(Client):
    """Straight to one node: plain HTTP with the Host and X-Forwarded-Proto nginx sets."""

    def __init__(self, node_url: str, public_url: str) -> None:
        super().__init__(public_url)
        parts = urlsplit(node_url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)

    def request(self, method, path, *, body=None, headers):
        return super().request(
            method, path, body=body, headers={**headers, "X-Forwarded-Proto": "https"}
        )


class BalancerClient(Client):
    """Through nginx: HTTPS with the cluster's CA, one keep-alive connection per thread."""

    def __init__(self, public_url: str, ca: str) -> None:
        super().__init__(public_url)
        context = ssl.create_default_context(cafile=ca)
        self.conn = http.client.HTTPSConnection(self.host, self.port, timeout=60, context=context)


class Shell:
    """What bench.login.create_patrons needs of a system: an identity shell."""

    def __init__(self, cluster: clusters.Cluster) -> None:
        self.cluster = cluster

    def identity_shell(self, code: str) -> str:
        return self.cluster.shell("identity", code)


def rss_of_web_processes(cluster: clusters.Cluster) -> dict[str, list[int]]:
    """Resident memory (kB) of every gunicorn worker, by node, read from /proc."""
    found: dict[str, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            status = (entry / "status").read_text()
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if b"gunicorn" not in b" ".join(cmdline) or str(cluster.state).encode() not in environ:
            continue
        ppid = int(next(x for x in status.splitlines() if x.startswith("PPid:")).split()[1])
        parent = Path(f"/proc/{ppid}/cmdline")
        if not parent.exists() or b"gunicorn" not in parent.read_bytes():
            continue  # the master, not a worker
        rss = int(next(x for x in status.splitlines() if x.startswith("VmRSS:")).split()[1])
        node = next(
            (c.decode().split("/")[-1] for c in cmdline if c.endswith(b".pid")),
            f"pid {ppid}",
        )
        found.setdefault(node.removesuffix(".pid"), []).append(rss)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=400, help="sign-ins per way, measured")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--web-workers", type=int, default=1, help="gunicorn workers per node")
    args = parser.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="bibid-bench-cluster-"))
    folder.chmod(0o711)  # PostgreSQL and Redis run as their own users under root
    cluster = clusters.start_cluster(folder / "state", web_workers=args.web_workers)
    verifiers = Verifiers(os.cpu_count() or 2)
    try:
        identity = cluster.url("identity")
        browsers = create_patrons(Shell(cluster), max(50, args.concurrency))
        ways = {
            "one node, no balancer": lambda: NodeClient(cluster.node_url("identity", 1), identity),
            "two nodes behind nginx (TLS)": lambda: BalancerClient(identity, cluster.ca),
        }
        clients = {way: [make() for _ in range(args.concurrency)] for way, make in ways.items()}
        errors: list[str] = []
        # Warm-up: every patron once, one at a time (their device cookies), then a few each way.
        first = clients["two nodes behind nginx (TLS)"]
        for i, browser in enumerate(browsers):
            first[i % len(first)].open_login_page(browser)
            if problem := first[i % len(first)].log_in(browser):
                errors.append(problem)
        for way in ways:
            drive(clients[way], browsers, 4 * args.concurrency, None, errors)
        if errors:
            raise SystemExit(f"warm-up sign-ins failed: {errors[:5]}")
        hashing = 0.0
        spent = dict.fromkeys(ways, 0.0)
        latencies: dict[str, list[float]] = {way: [] for way in ways}
        for number, share in enumerate(split(args.requests, ROUNDS), 1):
            took = verifiers.seconds(share)
            hashing += took
            line = [f"round {number}/{ROUNDS}: {share / took:.1f} verifications/s"]
            for way in ways:
                for client in clients[way]:
                    client.conn.close()
                start = time.perf_counter()
                drive(clients[way], browsers, share, latencies[way], errors)
                spent[way] += time.perf_counter() - start
                line.append(f"{way} {share / (time.perf_counter() - start):.1f}/s")
            print("== " + "; ".join(line), flush=True)
        limit = args.requests / hashing
        print(f"\nhash-bound limit: {limit:.1f} verifications/s on {os.cpu_count()} cores")
        print(f"{'way':<32} {'sign-ins/s':>10} {'ratio':>6} {'p50 ms':>7} {'p95 ms':>7}")
        for way in ways:
            rate = len(latencies[way]) / spent[way]
            ordered = sorted(latencies[way])
            p50 = statistics.median(ordered) * 1000
            p95 = ordered[int(0.95 * (len(ordered) - 1))] * 1000
            print(f"{way:<32} {rate:>10.1f} {rate / limit:>6.2f} {p50:>7.1f} {p95:>7.1f}")
        print("\nresident memory of the web workers after the load (MB):")
        for node, sizes in sorted(rss_of_web_processes(cluster).items()):
            print(f"  {node:<16} " + ", ".join(f"{kb / 1024:.0f}" for kb in sorted(sizes)))
        if errors:
            print(f"\n{len(errors)} sign-ins failed, e.g. {errors[:3]}")
            return 1
        return 0
    finally:
        verifiers.close()
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
