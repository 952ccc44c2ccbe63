"""A wait as said to people (``bot.transport.retry_after.whole_seconds``): what a failed request's reason and the audit
thread show of Descope's ``Retry-After`` or of a turn's wait at the gate."""

from __future__ import annotations

import pytest

from bot.transport.retry_after import whole_seconds


@pytest.mark.parametrize(("seconds", "said"), [
    (600.0, "600"),
    (599.9987, "600"),  # a turn booked a moment after the 429: Descope's 600 s, not 599.999
    (600.0000000000005, "600"),  # a float's noise is not a second more
    (12.3, "13"),  # rounded up: never sooner than asked
    (0.2, "1"),
    (0.0, "0"),
    (1e300, "1e+300"),  # an absurd header, as it came, not 301 digits
])
def test_a_wait_is_said_in_whole_seconds_rounded_up(seconds: float, said: str) -> None:
    assert whole_seconds(seconds) == said
