"""The injected clock: production reads the system time, tests move a fake one."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Protocol

# How people type a moment: "dd/mm/yyyy HH:MM" (or "8h00").
LOCAL_DATETIME_RE = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})\s+(\d{1,2})[:h](\d{2})\s*$")


def parse_local_datetime(text: str, tz: tzinfo) -> datetime | None:
    """'dd/mm/yyyy HH:MM' typed in local time `tz` → an aware UTC datetime; None when it is not a real
    date and time."""
    m = LOCAL_DATETIME_RE.match(text or "")
    if not m:
        return None
    day, month, year, hour, minute = (int(g) for g in m.groups())
    try:
        return datetime(year, month, day, hour, minute, tzinfo=tz).astimezone(UTC)
    except ValueError:
        return None


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock that only moves when told to (tests)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 3, 2, 2, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, **kwargs: float) -> None:
        self._now += timedelta(**kwargs)

    def set(self, when: datetime) -> None:
        self._now = when.astimezone(UTC)
