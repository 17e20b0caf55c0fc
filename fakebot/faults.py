"""Faults the fake Bot API injects on demand: 5xx answers, timeouts and 429 with retry_after.

    fake.faults.fail_next("sendMessage", "502", times=2)   # the next two sendMessage calls
    fake.faults.rate = 0.05                                 # 5% of all calls, seeded, reproducible

A `timeout` fault can happen before or after Telegram performed the call (`after=True`), as on a
real network: the bot cannot tell the two apart.
"""

from __future__ import annotations

import random
from collections import Counter, deque
from dataclasses import dataclass, field

KINDS = ("500", "502", "timeout", "timeout_after", "429")
NEVER_FAULTED = frozenset({"getMe", "getUpdates", "setMyCommands", "deleteWebhook", "setWebhook"})


@dataclass
class Faults:
    """Which calls fail and how; `injected` counts what was injected, by kind."""

    rate: float = 0.0
    kinds: tuple[str, ...] = ("502",)
    retry_after: int = 1
    seed: int = 1
    injected: Counter[str] = field(default_factory=Counter)
    _script: deque[tuple[str | None, str]] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def fail_next(self, method: str | None, kind: str, *, times: int = 1) -> None:
        """The next `times` calls of `method` (any method when None) fail with `kind`."""
        if kind not in KINDS:
            raise ValueError(f"unknown fault {kind!r}; one of {KINDS}")
        self._script.extend([(method, kind)] * times)

    def draw(self, method: str) -> str | None:
        """The fault for this call, if any."""
        if method in NEVER_FAULTED:
            return None
        for i, (wanted, kind) in enumerate(self._script):
            if wanted is None or wanted.lower() == method.lower():
                del self._script[i]
                self.injected[kind] += 1
                return kind
        if self.rate and self._rng.random() < self.rate:
            kind = self._rng.choice(self.kinds)
            self.injected[kind] += 1
            return kind
        return None
