"""Times: epoch seconds (UTC by definition) inside, ISO 8601 UTC in files, local time for people."""

from __future__ import annotations

import time

from aws_mfa_run.warm import format_utc as format_utc
from aws_mfa_run.warm import parse_utc as parse_utc


def quantity(number: float, unit: str) -> str:
    """`1 minute`, `2 minutes`, `0 minutes`, `1.5 seconds`: a count of `unit` as a sentence says
    it (numbers in the `g` format: no trailing `.0`)."""
    return f"{number:g} {unit}" if number == 1 else f"{number:g} {unit}s"


def describe_left(seconds: float) -> str:
    minutes = max(0, int(seconds) // 60)
    if minutes >= 60:
        return f"{minutes // 60}h {minutes % 60:02d}m"
    return f"{minutes}m"


def describe_local(epoch: float) -> str:
    """`2026-11-26 01:04 CET`: the one form in which times are shown to people."""
    return time.strftime("%Y-%m-%d %H:%M %Z", time.localtime(epoch))


def describe_until(epoch: float, now: float) -> str:
    """`until 2026-11-26 01:04 CET (11h 59m left)`, or `expired at ...` when it has passed."""
    if epoch <= now:
        return f"expired at {describe_local(epoch)} ({describe_left(now - epoch)} ago)"
    return f"until {describe_local(epoch)} ({describe_left(epoch - now)} left)"
