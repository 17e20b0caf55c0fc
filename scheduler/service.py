"""The outbox as one service of the composition root: enqueue with the service's clock, and the
process's worker (started with the bot, stopped before the database closes)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from common.clock import Clock
from scheduler.outbox import OutboxStore, Pacing, enqueue
from scheduler.port import Sender
from scheduler.worker import OutboxWorker, RetryPolicy, Sleep
from storage.db import Database
from storage.outbox_models import Priority


class Outbox:
    """`enqueue(session, ...)` in the caller's transaction; `start(sender)` / `stop()` the worker."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        pacing: Pacing | None = None,
        retry: RetryPolicy | None = None,
        run_worker: bool = True,
    ) -> None:
        self.db = db
        self.clock = clock
        self.pacing = pacing or Pacing()
        self.retry = retry or RetryPolicy()
        self.run_worker = run_worker
        self.store = OutboxStore(db)
        self.running: OutboxWorker | None = None

    async def enqueue(
        self,
        session: AsyncSession,
        *,
        chat_id: int,
        text: str,
        kind: str,
        buttons: Sequence[Sequence[dict[str, Any]]] | None = None,
        priority: int = Priority.NOTICE,
        key: str | None = None,
        not_before: datetime | None = None,
    ) -> int | None:
        """Queue a rendered HTML message in the caller's transaction (see `scheduler.outbox.enqueue`)."""
        return await enqueue(
            session, chat_id=chat_id, text=text, kind=kind, now=self.clock.now(), buttons=buttons,
            priority=priority, key=key, not_before=not_before,
        )

    def worker(
        self, sender: Sender, *, clock: Clock | None = None, sleep: Sleep = asyncio.sleep,
        name: str | None = None, pacing: Pacing | None = None,
    ) -> OutboxWorker:
        """A worker on this outbox (tests and benchmarks drive their own)."""
        return OutboxWorker(
            self.store, sender, clock or self.clock, sleep=sleep, pacing=pacing or self.pacing,
            retry=self.retry, name=name,
        )

    def start(self, sender: Sender) -> None:
        """Start this process's worker (once; nothing when OUTBOX_WORKER is off)."""
        if self.run_worker and self.running is None:
            self.running = self.worker(sender)
            self.running.start()

    async def stop(self) -> None:
        worker, self.running = self.running, None
        if worker is not None:
            await worker.stop()
