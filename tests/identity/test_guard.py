"""Guessing protection: progressive slow-down, hard limit, lanes, nothing permanent."""

import pytest

from bibid.common.guard import lanes as guard
from bibid.common.guard.models import Throttle

pytestmark = pytest.mark.django_db


def fail_as_fast_as_allowed(lanes, clock, *, seconds: int) -> list[float]:
    """An attacker who tries again the moment the guard allows; returns failure times."""
    times: list[float] = []
    end = clock.current.timestamp() + seconds
    while clock.current.timestamp() < end:
        denied = guard.reserve(lanes)
        if denied is None:
            times.append(clock.current.timestamp())  # counted, and the password was wrong
            clock.advance(seconds=0.5)
        else:
            clock.advance(seconds=denied.retry_after)
    return times


def test_policy_delays_grow_and_level_off():
    delays = [guard.ACCOUNT.delay(n) for n in range(1, 16)]
    assert delays == [0, 0, 0, 0, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]
    assert guard.ACCOUNT.delay(100) == 3600  # the hard cap ends the window


def test_five_failures_are_free_then_the_wait_doubles(clock):
    lane = [guard.account_lane("anna")]
    for _ in range(5):
        assert guard.reserve(lane) is None
    denied = guard.reserve(lane)
    assert denied is not None and denied.retry_after == 2
    clock.advance(seconds=2)
    assert guard.reserve(lane) is None  # sixth failure
    assert guard.reserve(lane).retry_after == 4


def test_the_sql_schedule_matches_the_policy(clock):
    lane = [guard.account_lane("schedule")]
    for n in range(1, 16):  # 15 failures take under an hour, the window's length
        assert guard.reserve(lane) is None
        row = Throttle.objects.get(key=lane[0].key)
        assert row.failures == n
        delay = guard.ACCOUNT.delay(n)
        assert row.blocked_until == (clock.current.timestamp() + delay if delay else 0)
        clock.advance(seconds=guard.ACCOUNT.delay(n))


def test_never_more_than_100_failures_in_any_hour(clock):
    times = fail_as_fast_as_allowed([guard.account_lane("target")], clock, seconds=4 * 3600)
    worst = max(sum(1 for t in times if start <= t < start + 3600) for start in times)
    assert 0 < worst <= 100
    assert len(times) >= 4 * 4  # slowed down, but never locked out for good


def test_hard_cap_of_100_per_window_without_the_delays(clock):
    no_delay = guard.Policy("test", free=10_000, max_delay=1)
    lane = [guard.Lane(no_delay, "test:cap")]
    allowed = sum(guard.reserve(lane) is None for _ in range(150))
    assert allowed == 100
    clock.advance(seconds=3600)
    assert guard.reserve(lane) is None  # a new window: nothing is permanent


def test_every_block_ends_by_itself(clock):
    lane = [guard.account_lane("patient")]
    failures = 0
    while failures < 14:
        denied = guard.reserve(lane)
        if denied:
            clock.advance(seconds=denied.retry_after)
        else:
            failures += 1
    denied = guard.reserve(lane)
    assert denied is not None and denied.retry_after == 900  # the longest wait
    clock.advance(seconds=900)
    assert guard.reserve(lane) is None


def test_success_clears_the_account_lane(clock):
    lanes = [guard.address_lane("192.0.2.1"), guard.account_lane("anna")]
    for _ in range(5):
        assert guard.reserve(lanes) is None
    guard.succeed(lanes)
    assert guard.account_block("anna").failures == 0
    assert guard.reserve(lanes) is None


def test_address_lane_is_generous_and_released_by_a_success(clock):
    lanes_for = lambda name: [guard.address_lane("192.0.2.7"), guard.account_lane(name)]  # noqa: E731
    for i in range(20):  # twenty patrons at one branch each mistype once
        assert guard.reserve(lanes_for(f"patron{i}")) is None
    denied = guard.reserve(lanes_for("patron-x"))
    assert denied is not None and denied.retry_after == 2
    clock.advance(seconds=2)
    lanes = lanes_for("patron-y")
    assert guard.reserve(lanes) is None
    guard.succeed(lanes)  # a real patron signed in from there
    assert guard.reserve(lanes_for("patron-z")) is None


def test_a_refused_attempt_is_not_counted_on_the_other_lanes(clock):
    account = guard.account_lane("locked")
    for _ in range(5):
        guard.reserve([account])
    address = guard.address_lane("198.51.100.9")
    assert guard.reserve([address, account]) is not None
    assert Throttle.objects.get(key=address.key).failures == 0


def test_a_known_device_has_its_own_lane(clock):
    attacker = [guard.address_lane("203.0.113.66"), guard.account_lane("anna")]
    for _ in range(12):
        denied = guard.reserve(attacker)
        if denied:
            clock.advance(seconds=denied.retry_after - 1)
    assert guard.reserve(attacker) is not None  # the account lane is slowed down
    assert guard.reserve([guard.device_lane("patrons-phone", "anna")]) is None


def test_ipv6_addresses_share_their_64():
    assert guard.address_prefix("2001:db8:1:2:aaaa::1") == guard.address_prefix("2001:db8:1:2::9")
    assert guard.address_prefix("2001:db8:1:3::1") != guard.address_prefix("2001:db8:1:2::1")
    assert guard.address_prefix("not an address") == "invalid"


def test_keys_do_not_hold_what_was_typed(clock):
    guard.reserve([guard.account_lane("Wachtwoord123"), guard.address_lane("192.0.2.1")])
    keys = list(Throttle.objects.values_list("key", flat=True))
    assert len(keys) == 2
    assert not any("Wachtwoord123" in key or "192.0.2.1" in key for key in keys)


def test_block_info_and_lifting(clock):
    lane = [guard.account_lane("anna")]
    for _ in range(6):
        guard.reserve(lane)  # the sixth is refused: it must wait 2 seconds
    info = guard.account_block("anna")
    assert info.failures == 5
    assert info.blocked_until is not None
    assert guard.lift_account_block("anna") is True
    assert guard.account_block("anna").blocked_until is None
    assert guard.reserve(lane) is None
    assert guard.lift_account_block("nobody") is False


def test_attempts_racing_with_slightly_different_clocks_are_not_refused(clock):
    # Two requests read the clock, then reach the row in the other order. Without a delay
    # due, the later one must not be refused because of the earlier one's timestamp.
    from datetime import timedelta

    lanes = [guard.address_lane("192.0.2.200"), guard.account_lane("racer")]
    t0 = clock.current
    assert guard.reserve(lanes, at=t0 + timedelta(milliseconds=1)) is None
    assert guard.reserve(lanes, at=t0) is None


def data_statements(queries) -> list[str]:
    """SQL that touches data: not transaction control (savepoints, SET LOCAL)."""
    skip = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT", "SET LOCAL")
    return [q["sql"] for q in queries if not q["sql"].upper().startswith(skip)]


def test_one_statement_counts_all_lanes(clock):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    lanes = [guard.address_lane("192.0.2.201"), guard.account_lane("counted")]
    with CaptureQueriesContext(connection) as reserving:
        assert guard.reserve(lanes) is None
    assert len(data_statements(reserving.captured_queries)) == 1
    with CaptureQueriesContext(connection) as succeeding:
        guard.succeed(lanes)
    assert len(data_statements(succeeding.captured_queries)) == 1
