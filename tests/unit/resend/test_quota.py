"""The quota arithmetic (connector/resend/quota.py): what rate to run at, given what Resend said."""

from __future__ import annotations

import pytest

from connector.resend.quota import (
    FAST_SECONDS,
    MEMORY_SECONDS,
    SAFE_START_PER_SECOND,
    headroom,
    other_traffic,
    rate_in_force,
)


def test_nothing_announced_means_the_safe_start_or_the_cap() -> None:
    assert rate_in_force(None, 0.8, None, 0.0) == SAFE_START_PER_SECOND
    assert SAFE_START_PER_SECOND <= 0.8 * 2  # below the share of the lowest limit Resend has announced
    assert rate_in_force(None, 0.8, 50.0, 3.0) == 50.0  # an operator's cap is trusted before an announcement


@pytest.mark.parametrize(("announced", "share", "rate"), [(5.0, 0.8, 4.0), (2.0, 0.8, 1.6), (100.0, 0.5, 50.0)])
def test_the_share_of_the_announced_limit_when_nobody_else_sends(announced: float, share: float, rate: float) -> None:
    assert rate_in_force(announced, share, None, 0.0) == pytest.approx(rate)


def test_a_share_of_one_takes_the_whole_limit_only_while_nobody_else_sends() -> None:
    assert rate_in_force(5.0, 1.0, None, 0.0) == 5.0
    assert rate_in_force(5.0, 1.0, None, 0.2) == pytest.approx(5.0 - 0.2 - headroom(5.0))


def test_others_within_the_rest_change_nothing_and_beyond_it_the_connector_backs_off() -> None:
    assert rate_in_force(5.0, 0.8, None, 0.4) == pytest.approx(4.0)  # 0.4 + 0.5 headroom fit in the 1.0 left
    assert rate_in_force(5.0, 0.8, None, 1.0) == pytest.approx(3.5)  # the other caller's 1/s plus headroom
    assert rate_in_force(5.0, 0.8, None, 3.0) == pytest.approx(1.5)
    assert rate_in_force(20.0, 0.8, None, 5.0) == pytest.approx(13.0)  # headroom grows with the limit: 2/s


def test_never_below_a_tenth_of_the_limit_and_the_cap_applies_last() -> None:
    assert rate_in_force(5.0, 0.8, None, 10.0) == pytest.approx(0.5)
    assert rate_in_force(5.0, 0.8, 2.0, 0.0) == 2.0
    assert rate_in_force(5.0, 0.8, 9.0, 0.0) == pytest.approx(4.0)  # a cap above the share changes nothing


def test_other_traffic_is_the_mean_of_recent_windows() -> None:
    now = 1000.0
    windows = [(now - age, 1) for age in range(10)]
    assert other_traffic(windows, now) == pytest.approx(1.0)
    assert other_traffic([], now) == 0.0
    assert other_traffic([(now - MEMORY_SECONDS - 1, 5)], now) == 0.0  # forgotten
    assert other_traffic([(now, 4), (now - 0.5, 2)], now, window_seconds=2.0) == pytest.approx(1.5)  # per second


def test_an_answer_counted_in_the_wrong_window_cancels_out() -> None:
    now = 1000.0
    assert other_traffic([(now - 1, 1), (now, -1)], now) == 0.0
    assert other_traffic([(now - 1, -1)], now) == 0.0  # never below nothing


def test_other_traffic_rises_fast_and_falls_slowly() -> None:
    now = 1000.0
    quiet_then_busy = [(now - age, 3 if age < FAST_SECONDS else 0) for age in range(10)]
    assert other_traffic(quiet_then_busy, now) == pytest.approx(3.0)  # the last seconds decide at once
    busy_then_quiet = [(now - age, 0 if age < FAST_SECONDS else 3) for age in range(10)]
    assert other_traffic(busy_then_quiet, now) == pytest.approx(2.1)  # still remembered: 21 over 10 windows
    assert other_traffic(busy_then_quiet, now + MEMORY_SECONDS) == 0.0


def test_a_steady_other_caller_is_left_its_rate_and_the_connector_takes_the_rest_but_headroom() -> None:
    # 1 request per second from another caller of a team limited to 5: seen in most windows, not all
    # (its request after the connector's last answer of a window is not seen).
    now = 1000.0
    windows = [(now - age, 0 if age % 5 == 0 else 1) for age in range(10)]
    other = other_traffic(windows, now)
    rate = rate_in_force(5.0, 0.8, None, other)
    assert 0.5 < other < 1.0
    assert rate + other + headroom(5.0) <= 5.0 + 1e-9
    assert rate < 4.0
