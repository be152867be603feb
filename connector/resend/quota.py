"""What rate the connector may send at, from what Resend told it: pure arithmetic, no I/O (issue #25).

Resend's rate limit belongs to the team, and the team's own sending (password resets, receipts)
spends it too. So the connector runs at the limit Resend announces (``ratelimit-limit`` per
``ratelimit-policy`` window) times ``resend.quota_share``, and lower when other callers of the team
use more than the rest: it keeps :func:`headroom` free beside the traffic it sees from them, so they
see (almost) no 429s. ``resend.max_requests_per_second``, when set, caps the result.

Other traffic is read from the team's one-second windows (connector/resend/quota_observe.lua keeps
them in Redis for every replica): in each window, the team's requests counted by Resend
(``ratelimit-limit`` minus ``ratelimit-remaining``) at the connector's last answer, minus the
connector's own requests in it. A 429 the connector did not cause shows as a full window with fewer
of its own requests in it, so it counts as other traffic too. The estimate rises fast and falls
slowly (:func:`other_traffic`): backing off late costs the other caller 429s, recovering late costs
only a few seconds of the connector's share.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "FAST_SECONDS",
    "MEMORY_SECONDS",
    "SAFE_START_PER_SECOND",
    "Window",
    "headroom",
    "other_traffic",
    "rate_in_force",
]

# Before Resend has announced anything: below 0.8 x 2 per second, the lowest limit Resend has ever
# documented or answered with (resend-api.md, Rate limits). The first answer announces the limit.
SAFE_START_PER_SECOND = 1.0
# Other traffic is averaged over this long to recover, and over FAST_SECONDS to back off.
MEMORY_SECONDS = 10.0
FAST_SECONDS = 3.0
# Never below this fraction of the announced limit: the connector keeps moving when others take
# everything (their 429s then start the shared cool-down anyway).
_FLOOR_SHARE = 0.1

# One closed window: (server time in seconds when its first answer came, requests of others in it).
Window = tuple[float, int]


def headroom(announced_per_second: float) -> float:
    """Requests per second left free beside the others' traffic once there is any: a fixed one-second
    window counts a request sent a few milliseconds late in the next window, so two callers whose
    rates add up to exactly the limit meet 429s in some windows."""
    return max(0.5, 0.1 * announced_per_second)


def other_traffic(windows: Sequence[Window], now: float, window_seconds: float = 1.0) -> float:
    """Requests per second the team's other callers send: the mean over the windows of the last
    MEMORY_SECONDS, or of the last FAST_SECONDS when that is higher (windows the connector sent
    nothing in are not seen and not counted). 0 when no window is recent enough."""

    def mean(seconds: float) -> float:
        recent = [others for started, others in windows if now - started < seconds]
        return sum(recent) / len(recent) / window_seconds if recent else 0.0

    # A window may count -1: an answer overtaken across a window's end is counted in the later one
    # (quota_observe.lua), so the earlier one shows +1 and this one -1; the mean cancels them.
    return max(0.0, mean(MEMORY_SECONDS), mean(FAST_SECONDS))


def rate_in_force(
    announced_per_second: float | None, share: float, cap: float | None, other_per_second: float
) -> float:
    """Requests per second for every process of the team together.

    Nothing announced: the cap when one is set (an operator who set it knows), else the safe start.
    Announced: ``share`` of it, lowered to what the others leave minus :func:`headroom` when they
    take more than the rest, never below a tenth of it; the cap, when set, applies last.
    """
    if announced_per_second is None or announced_per_second <= 0:
        return cap if cap is not None else SAFE_START_PER_SECOND
    rate = announced_per_second * share
    if other_per_second > 0:
        rate = min(rate, announced_per_second - other_per_second - headroom(announced_per_second))
    rate = max(rate, announced_per_second * _FLOOR_SHARE)
    return min(rate, cap) if cap is not None else rate
