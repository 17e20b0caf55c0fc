"""Updates of different users run concurrently; one user's updates stay in the order they came.

python-telegram-bot hands every update to the Application's `BaseUpdateProcessor`. PTB's default
processes one update at a time, so one producer's PDF render or slow query stalls everyone. This
processor keys each update by its user (or chat, for updates without a user): updates with the same
key wait for each other in arrival order, updates with different keys run at once, at most
`max_running` at a time. The outer bound (`max_pending`, PTB's own semaphore) limits how many updates
may be in flight — running or waiting for their user's turn — so a flood cannot grow memory without
bound.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

DEFAULT_MAX_RUNNING = 32
DEFAULT_MAX_PENDING = 1024


def update_key(update: object) -> int | None:
    """The user (else the chat) whose updates must stay in order; None for updates of neither."""
    if not isinstance(update, Update):
        return None
    if update.effective_user is not None:
        return update.effective_user.id
    if update.effective_chat is not None:
        return update.effective_chat.id
    return None


class _KeyLock:
    __slots__ = ("lock", "waiters")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()  # asyncio.Lock wakes its waiters first come, first served
        self.waiters = 0


class PerUserUpdateProcessor(BaseUpdateProcessor):
    """Concurrent across users, sequential within one user, bounded overall."""

    def __init__(
        self, max_running: int = DEFAULT_MAX_RUNNING, max_pending: int = DEFAULT_MAX_PENDING
    ) -> None:
        super().__init__(max_concurrent_updates=max(max_pending, max_running))
        self._running = asyncio.BoundedSemaphore(max_running)
        self._keys: dict[int, _KeyLock] = {}

    @property
    def waiting_keys(self) -> int:
        """How many users have an update running or waiting (for tests and monitoring)."""
        return len(self._keys)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = update_key(update)
        if key is None:
            async with self._running:
                await coroutine
            return
        entry = self._keys.get(key)
        if entry is None:
            entry = self._keys[key] = _KeyLock()
        entry.waiters += 1
        try:
            async with entry.lock, self._running:
                await coroutine
        finally:
            entry.waiters -= 1
            if entry.waiters == 0:
                del self._keys[key]

    async def initialize(self) -> None:
        """Nothing to allocate."""

    async def shutdown(self) -> None:
        """Nothing to free: PTB waits for running updates before it shuts down."""
