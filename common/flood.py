"""Flood control: how many updates one user may send in a sliding window before the extra ones are
dropped without work.

`FloodGuard.check(user_id)` answers ALLOW, WARN (the first update over the limit: the caller says
"please slow down" once) or DROP (every further update while the user stays over the limit). The time
source is injected (`time.monotonic` in production; the fake Bot API's simulated time in tests, where
a person takes a moment for each message). Counts live in this process: with several instances behind
a load balancer each sees its share, which still stops a flood.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from enum import Enum

DEFAULT_MAX_UPDATES = 20
DEFAULT_WINDOW_SECONDS = 10.0
SWEEP_EVERY = 1000  # checks between two sweeps of idle users (bounded memory)


class Verdict(Enum):
    ALLOW = "allow"
    WARN = "warn"
    DROP = "drop"


class FloodGuard:
    """A sliding-window counter per user."""

    def __init__(
        self,
        max_updates: int = DEFAULT_MAX_UPDATES,
        window: float = DEFAULT_WINDOW_SECONDS,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_updates = max_updates
        self.window = window
        self.now = now
        self._seen: dict[int, deque[float]] = {}
        self._warned: dict[int, float] = {}
        self._checks = 0

    def check(self, user_id: int) -> Verdict:
        now = self.now()
        self._checks += 1
        if self._checks % SWEEP_EVERY == 0:
            self._sweep(now)
        stamps = self._seen.setdefault(user_id, deque())
        while stamps and now - stamps[0] >= self.window:
            stamps.popleft()
        if len(stamps) < self.max_updates:
            stamps.append(now)
            self._warned.pop(user_id, None)
            return Verdict.ALLOW
        # Over the limit: dropped updates do not extend the window, so a user who stops is served
        # again as soon as their earlier updates age out.
        if user_id in self._warned:
            return Verdict.DROP
        self._warned[user_id] = now
        return Verdict.WARN

    @property
    def tracked_users(self) -> int:
        return len(self._seen)

    def _sweep(self, now: float) -> None:
        idle = [uid for uid, stamps in self._seen.items() if not stamps or now - stamps[-1] >= self.window]
        for uid in idle:
            del self._seen[uid]
            self._warned.pop(uid, None)
