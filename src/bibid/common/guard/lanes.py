"""Guessing protection: a progressive slow-down per account, per device and per address.

Shared by every sign-in of the system (patrons at the identity service, staff at the
library service); each service keeps its own counters in its own database.

Why not django-axes: it checks "is this locked?" and records the failure afterwards, so N
parallel requests all pass the check before any of them is counted. Here an attempt is
*counted before the password is checked*, for all its lanes in one atomic
INSERT .. ON CONFLICT DO UPDATE .. WHERE .. RETURNING: the database decides, row by row,
whether the attempt may go on, and concurrent attempts (from any number of web processes)
queue on the rows. A successful sign-in then takes its own count back.

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

from bibid.common import clock, metrics
from bibid.common.db import quick_commit

from .models import Throttle

TABLE = Throttle._meta.db_table
WINDOW = 3600  # seconds: failures are counted per hour


@dataclass(frozen=True)
class Policy:
    name: str
    free: int  # failures in a window before any delay
    max_delay: int  # seconds, the longest wait between two failures
    cap: int = 100  # failures per window, a hard limit

    @property
    def shift(self) -> int:
        """The doubling step from which the delay is flat: 2 ** shift >= max_delay."""
        return math.ceil(math.log2(self.max_delay))

    def delay(self, failures: int) -> int:
        """Seconds to wait after `failures` failures (mirrors the SQL below)."""
        if failures >= self.cap:
            return WINDOW
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


def lane(policy: Policy, value: str) -> Lane:
    """The lane of `policy` for `value` (a name, an address prefix): for limits of other
    features (mails per name, sign-ups per network) on the same mechanism."""
    return Lane(policy, _hkey(policy, value))


def network_lane(policy: Policy, ip: str) -> Lane:
    """The lane of `policy` for the network an address belongs to (IPv6: its /64)."""
    return lane(policy, address_prefix(ip))


def account_lane(username_key: str) -> Lane:
    return Lane(ACCOUNT, _hkey(ACCOUNT, username_key))


def device_lane(device_id: str, username_key: str) -> Lane:
    return Lane(DEVICE, _hkey(DEVICE, f"{device_id}:{username_key}"))


def address_lane(ip: str) -> Lane:
    return Lane(ADDRESS, _hkey(ADDRESS, address_prefix(ip)))


def _reserve_sql(rows: int, now: float) -> str:
    """One statement that counts an attempt on `rows` lanes and returns the keys it may use.

    Each row carries its policy (free, cap, max_delay, shift), so one statement serves lanes
    of different policies; the update reads them from `excluded`, the row being proposed.
    Only numbers we computed are formatted into the text; keys and policies are parameters.
    """
    t, x = TABLE, "excluded"
    now_s = f"{now:.6f}"
    expired = f"{t}.window_start <= {now - WINDOW:.6f}"
    n = f"(CASE WHEN {expired} THEN 1 ELSE {t}.failures + 1 END)"
    ws = f"(CASE WHEN {expired} THEN {now_s} ELSE {t}.window_start END)"
    delay = (
        f"(CASE WHEN {n} - {x}.free + 1 >= {x}.shift THEN {x}.max_delay "
        f"ELSE (1 << ({n} - {x}.free + 1)) END)"
    )
    blocked = (
        f"(CASE WHEN {n} >= {x}.cap THEN {ws} + {WINDOW} WHEN {n} < {x}.free THEN 0 "
        f"ELSE {now_s} + {delay} END)"
    )
    values = ", ".join(["(%s, 1, " + now_s + ", %s, %s, %s, %s, %s)"] * rows)
    return (
        f"INSERT INTO {t} (key, failures, window_start, blocked_until, free, cap, max_delay, "  # noqa: S608
        f"shift) VALUES {values} "
        f"ON CONFLICT (key) DO UPDATE SET failures = {n}, window_start = {ws}, "
        f"blocked_until = {blocked}, free = {x}.free, cap = {x}.cap, "
        f"max_delay = {x}.max_delay, shift = {x}.shift "
        f"WHERE {t}.blocked_until <= {now_s} "
        f"RETURNING key"
    )


def reserve(lanes: list[Lane], *, at: datetime | None = None) -> Denied | None:
    """Count one attempt on every lane, pessimistically as a failure; None when it may go on.

    When some lane refuses, the lanes that were counted are given their count back, so a
    refused attempt costs nothing but the refusal.
    """
    now = (at or clock.now()).timestamp()
    params: list = []
    for lane in lanes:
        p = lane.policy
        first_block = 0.0 if p.free > 1 else now + p.delay(1)
        params += [lane.key, first_block, p.free, p.cap, p.max_delay, p.shift]
    with quick_commit(), connection.cursor() as cursor:
        cursor.execute(_reserve_sql(len(lanes), now), params)
        allowed = {row[0] for row in cursor.fetchall()}
        if len(allowed) == len(lanes):
            return None
        refused = [lane.key for lane in lanes if lane.key not in allowed]
        for lane in lanes:
            if lane.key not in allowed:
                metrics.GUARD_REFUSALS.labels(lane.policy.name).inc()
        release([lane for lane in lanes if lane.key in allowed])
        waits = Throttle.objects.filter(key__in=refused).values_list("blocked_until", flat=True)
        until = max(waits)
    return Denied(retry_after=max(1, math.ceil(until - now)))


def _take_back(lanes: list[Lane], *, clear: tuple[str, ...]) -> None:
    """Undo one counted attempt: lanes in `clear` start afresh, the others count one less.

    Either way the lane's wait ends: the attempt that caused it did not fail.
    """
    keys = [lane.key for lane in lanes]
    if not keys:
        return
    marks = ", ".join(["%s"] * len(keys))
    reset = f"WHEN key IN ({', '.join(['%s'] * len(clear))}) THEN 0 " if clear else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {TABLE} SET failures = CASE {reset}"  # noqa: S608 - placeholders only
            f"WHEN failures > 0 THEN failures - 1 ELSE 0 END, blocked_until = 0 "
            f"WHERE key IN ({marks})",
            [*clear, *keys],
        )


def release(lanes: list[Lane]) -> None:
    """Give back the count of an attempt that was refused before its password was checked."""
    _take_back(lanes, clear=())


def succeed(lanes: list[Lane]) -> None:
    """A correct password: the account or device lane starts afresh; a shared address lane
    only takes back this attempt (a real patron there, but others may be guessing)."""
    _take_back(lanes, clear=tuple(lane.key for lane in lanes if lane.policy is not ADDRESS))


@dataclass(frozen=True)
class BlockInfo:
    failures: int  # failures within the current window
    blocked_until: datetime | None  # when the next attempt is allowed, if that is later


def account_block(username_key: str, *, at: datetime | None = None) -> BlockInfo:
    """What the account lane says about a username right now (for staff and operators)."""
    return lane_block(account_lane(username_key), at=at)


def lane_block(lane: Lane, *, at: datetime | None = None) -> BlockInfo:
    """What any lane says right now: its failures this hour and the wait, if any."""
    now = (at or clock.now()).timestamp()
    row = (
        Throttle.objects.filter(key=lane.key)
        .values("failures", "window_start", "blocked_until")
        .first()
    )
    if not row or row["window_start"] <= now - WINDOW:
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


def lift_account_delay(username_key: str, *, at: datetime | None = None) -> bool:
    """End the current wait of an account's lane, keeping its failures and its hourly cap.

    For staff who help a patron at the desk: the next attempt may go at once, but the count
    stands, so the attempt after a wrong one waits again (longer), and a lane at the cap
    stays closed until its hour is over. Unlike lift_account_block, an unblock loop gives a
    guesser nothing. True when there was a wait to lift.
    """
    return lift_delay(account_lane(username_key), at=at)


def lift_delay(lane: Lane, *, at: datetime | None = None) -> bool:
    """End the current wait of any lane, keeping its failures and its hourly cap (see
    lift_account_delay for why the count stays). True when there was a wait to lift."""
    now = (at or clock.now()).timestamp()
    return bool(
        Throttle.objects.filter(key=lane.key, blocked_until__gt=now, failures__lt=F("cap")).update(
            blocked_until=0
        )
    )


def carry_account_lane(old_username_key: str, new_username_key: str) -> None:
    """A renamed account keeps its guessing counters (a rename must not lift a block)."""
    old, new = account_lane(old_username_key).key, account_lane(new_username_key).key
    if not Throttle.objects.filter(key=new).exists():
        Throttle.objects.filter(key=old).update(key=new)
