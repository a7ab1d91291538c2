"""What glibc's malloc settings cost an identity worker: CPU per password check and memory.

Every sign-in verifies one Argon2id hash with the service's own hasher (19 MiB, 2
iterations, 1 lane). This starts a fresh process per setting and per round, runs
`--threads` threads of `--checks` verifications each (the threads of one gunicorn worker),
and prints the process's CPU per verification, verifications per second and its RSS
afterwards. The settings take turns within each round, so a noisy minute hits all of them.

    .venv/bin/python bench/malloc.py [--rounds 3] [--threads 4] [--checks 20]

Only numbers are printed; nothing is asserted about time. See bench/README.md ("malloc.py").
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The settings compared: glibc's defaults, a fixed mmap threshold (every 19 MiB block is
# mapped and returned; the dynamic threshold is off), and fewer malloc arenas (the blocks
# freed by threads are reused from one or two heaps instead of one heap per thread).
SETTINGS: dict[str, dict[str, str]] = {
    "glibc defaults": {},
    "MALLOC_MMAP_THRESHOLD_=1 MiB": {"MALLOC_MMAP_THRESHOLD_": str(1024 * 1024)},
    "MALLOC_ARENA_MAX=2": {"MALLOC_ARENA_MAX": "2"},
    "MALLOC_ARENA_MAX=1": {"MALLOC_ARENA_MAX": "1"},
}


def child(threads: int, checks: int) -> None:
    """Measure in this process; prints 'cpu_ms rate rss_mb'."""
    sys.path.insert(0, str(ROOT / "src"))
    from django.conf import settings

    settings.configure(PASSWORD_HASHERS=["bibid.common.hashers.Argon2idHasher"])
    from django.contrib.auth.hashers import check_password, make_password

    encoded = make_password("a patron's password")

    def work(count: int) -> None:
        for _ in range(count):
            if not check_password("a patron's password", encoded):
                raise SystemExit("the hash did not verify")

    work(2)  # the library loaded, the first block allocated
    cpu0, wall0 = time.process_time(), time.perf_counter()
    workers = [threading.Thread(target=work, args=(checks,)) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    cpu = (time.process_time() - cpu0) / (threads * checks) * 1000
    rate = threads * checks / (time.perf_counter() - wall0)
    with open("/proc/self/status") as status:
        rss_kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    print(f"{cpu:.2f} {rate:.2f} {rss_kb / 1024:.0f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--checks", type=int, default=20, help="verifications per thread")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.threads, args.checks)
        return 0
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in SETTINGS}
    for _ in range(args.rounds):
        for name, extra in SETTINGS.items():
            env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
            env.update(extra)
            command = [sys.executable, __file__, "--child", "--threads", str(args.threads)]
            out = subprocess.run(
                [*command, "--checks", str(args.checks)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            results[name].append((float(out[0]), float(out[1]), float(out[2])))
    print(f"{args.threads} threads x {args.checks} verifications, {args.rounds} rounds")
    print(f"{'setting':32} {'CPU ms/check':>16} {'checks/s':>14} {'RSS MB':>10}")
    for name, rows in results.items():
        cpu = [r[0] for r in rows]
        rate = [r[1] for r in rows]
        rss = [r[2] for r in rows]
        print(
            f"{name:32} {min(cpu):7.1f}-{max(cpu):<7.1f} {min(rate):6.1f}-{max(rate):<6.1f}"
            f" {min(rss):4.0f}-{max(rss):<4.0f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
