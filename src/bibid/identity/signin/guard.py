"""Guessing protection: a progressive slow-down per account, per device and per address.

Why not django-axes: it checks "is this locked?" and records the failure afterwards, so N
parallel requests all pass the check before any of them is counted. Here an attempt is
*counted before the password is checked*, in one atomic INSERT .. ON CONFLICT DO UPDATE ..
WHERE .. RETURNING per key: the database decides, row by row, whether the attempt may go on,
and concurrent attempts (from any number of web processes) queue on the row. A successful
sign-in then takes its own count back.

Lanes (OWASP, "Slow Down Online Guessing Attacks with Device Cookies"):
- account: every attempt on a username from a browser that has not signed in to it before.
  At most `cap` (100) failures per hour however many addresses are used, and after `free`
  failures each further one waits 2, 4, 8, ... seconds, up to 15 minutes. Keys are the
  username's comparison key, whether or not the account exists, so a block never reveals
  that an account exists.
- device: a browser that signed in to this username before carries a signed device cookie
  and gets a lane of its own, so an attacker hammering the username cannot lock the patron
  out of their own browser. Nothing is permanent: every block ends by itself.
- address: all attempts from one network address (IPv6: its /64). Generous, because a whole
  library branch can sit behind one address.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection
from django.db.models import F
from django.utils.crypto import salted_hmac

from bibid.common import clock

from .models import Throttle

TABLE = Throttle._meta.db_table


@dataclass(frozen=True)
class Policy:
    name: str
    free: int  # failures in a window before any delay
    max_delay: int  # seconds, the longest wait between two failures
    cap: int = 100  # failures per window, a hard limit
    window: int = 3600  # seconds

    def delay(self, failures: int) -> int:
        """Seconds to wait after `failures` failures (mirrors the SQL below)."""
        if failures >= self.cap:
            return self.window
        if failures < self.free:
            return 0
        return min(self.max_delay, 2 ** (failures - self.free + 1))


ACCOUNT = Policy("acct", free=5, max_delay=900)
DEVICE = Policy("dev", free=5, max_delay=900)
ADDRESS = Policy("addr", free=20, max_delay=60)


@dataclass(frozen=True)
class Lane:
    policy: Policy
    key: str


@dataclass(frozen=True)
class Denied:
    retry_after: int  # seconds


def _hkey(policy: Policy, value: str) -> str:
    # Keys are keyed hashes: the table never holds what people typed (sometimes a password
    # typed into the username field), and keys cannot be guessed from outside.
    digest = salted_hmac("bibid.signin.guard", f"{policy.name}:{value}", algorithm="sha256")
    return f"{policy.name}:{digest.hexdigest()[:40]}"


def address_prefix(ip: str) -> str:
    """IPv4: the address; IPv6: its /64, since one client owns the whole /64."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return "invalid"
    if addr.version == 6:
        return str(ipaddress.ip_network(f"{addr}/64", strict=False))
    return str(addr)


def account_lane(username_key: str) -> Lane:
    return Lane(ACCOUNT, _hkey(ACCOUNT, username_key))


def device_lane(device_id: str, username_key: str) -> Lane:
    return Lane(DEVICE, _hkey(DEVICE, f"{device_id}:{username_key}"))


def address_lane(ip: str) -> Lane:
    return Lane(ADDRESS, _hkey(ADDRESS, address_prefix(ip)))


def _sql_delay(policy: Policy, n: str) -> str:
    # 2 ** k reaches max_delay at k = ceil(log2(max_delay)); from there on the delay is flat.
    k = math.ceil(math.log2(policy.max_delay))
    return (
        f"(CASE WHEN {n} < {policy.free} THEN 0 "
        f"WHEN {n} - {policy.free} + 1 >= {k} THEN {policy.max_delay} "
        f"ELSE (1 << ({n} - {policy.free} + 1)) END)"
    )


def _reserve_sql(policy: Policy, now: float) -> str:
    # Only numbers we computed are formatted into the statement (policy constants and a
    # float from our clock); the key is a bound parameter.
    t = TABLE
    expired = f"{t}.window_start <= {now - policy.window:.6f}"
    n = f"(CASE WHEN {expired} THEN 1 ELSE {t}.failures + 1 END)"
    ws = f"(CASE WHEN {expired} THEN {now:.6f} ELSE {t}.window_start END)"
    blocked = (
        f"(CASE WHEN {n} >= {policy.cap} THEN {ws} + {policy.window} "
        f"ELSE {now:.6f} + {_sql_delay(policy, n)} END)"
    )
    first_block = now + policy.delay(1)
    return (
        f"INSERT INTO {t} (key, failures, window_start, blocked_until) "  # noqa: S608
        f"VALUES (%s, 1, {now:.6f}, {first_block:.6f}) "
        f"ON CONFLICT (key) DO UPDATE SET failures = {n}, window_start = {ws}, "
        f"blocked_until = {blocked} "
        f"WHERE {t}.blocked_until <= {now:.6f} "
        f"RETURNING failures"
    )


def _reserve_one(lane: Lane, now: float) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(_reserve_sql(lane.policy, now), [lane.key])
        return cursor.fetchone() is not None


def _blocked_until(lane: Lane) -> float:
    row = Throttle.objects.filter(key=lane.key).values_list("blocked_until", flat=True).first()
    return row or 0.0


def reserve(lanes: list[Lane], *, at: datetime | None = None) -> Denied | None:
    """Count one attempt on every lane, pessimistically as a failure; None when it may go on.

    When a later lane refuses, the lanes already counted are released again, so a refused
    attempt costs nothing but the refusal.
    """
    now = (at or clock.now()).timestamp()
    taken: list[Lane] = []
    for lane in lanes:
        if not _reserve_one(lane, now):
            release(taken)
            return Denied(retry_after=max(1, math.ceil(_blocked_until(lane) - now)))
        taken.append(lane)
    return None


def release(lanes: list[Lane]) -> None:
    """Take back one counted attempt on lanes shared by many people (addresses).

    A success from an address shows a real patron there, so it also ends the address's
    wait; the account and device lanes keep their own limits.
    """
    keys = [lane.key for lane in lanes]
    if keys:
        Throttle.objects.filter(key__in=keys, failures__gt=0).update(
            failures=F("failures") - 1, blocked_until=0
        )


def succeed(lanes: list[Lane]) -> None:
    """A correct password: clear the account or device lane, release the address lane."""
    personal = [lane.key for lane in lanes if lane.policy is not ADDRESS]
    shared = [lane for lane in lanes if lane.policy is ADDRESS]
    if personal:
        Throttle.objects.filter(key__in=personal).update(failures=0, blocked_until=0)
    release(shared)


@dataclass(frozen=True)
class BlockInfo:
    failures: int  # failures within the current window
    blocked_until: datetime | None  # when the next attempt is allowed, if that is later


def account_block(username_key: str, *, at: datetime | None = None) -> BlockInfo:
    """What the account lane says about a username right now (for staff and operators)."""
    now = (at or clock.now()).timestamp()
    row = (
        Throttle.objects.filter(key=account_lane(username_key).key)
        .values("failures", "window_start", "blocked_until")
        .first()
    )
    if not row or row["window_start"] <= now - ACCOUNT.window:
        return BlockInfo(failures=0, blocked_until=None)
    until = None
    if row["blocked_until"] > now:
        until = datetime.fromtimestamp(row["blocked_until"], tz=UTC)
    return BlockInfo(failures=row["failures"], blocked_until=until)


def lift_account_block(username_key: str) -> bool:
    """End an account's slow-down and forget its failures; True when there was something."""
    return bool(
        Throttle.objects.filter(key=account_lane(username_key).key)
        .exclude(failures=0, blocked_until=0)
        .update(failures=0, blocked_until=0)
    )
