"""Times: epoch seconds (UTC by definition) inside, ISO 8601 UTC in files, local time for people."""

from __future__ import annotations

import time


def format_utc(epoch: float) -> str:
    """`2026-11-25T13:04:05Z`: the form we store and the credential_process Version 1 wants."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(epoch)))


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def parse_utc(text: str) -> float | None:
    """Epoch seconds of an ISO 8601 time with Z or a numeric offset; None when unreadable."""
    value = text.strip()
    # The form we write ourselves, parsed without importing datetime: this is on the warm path.
    if len(value) == 20 and value[10] == "T" and value[19] == "Z" and value[4] == value[7] == "-":
        try:
            year, month, day = int(value[0:4]), int(value[5:7]), int(value[8:10])
            hour, minute, second = int(value[11:13]), int(value[14:16]), int(value[17:19])
        except ValueError:
            return None
        if 1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 61:
            days = _days_from_civil(year, month, day)
            return float(days * 86400 + hour * 3600 + minute * 60 + second)
        return None
    if len(value) < 10:
        return None  # too short for a date, let alone a time (and no datetime import for it)
    import datetime

    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None  # a time without a zone could be anything; treat it as no expiration
    return parsed.timestamp()


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
