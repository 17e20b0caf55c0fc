"""The outbox worker: claims due rows, sends each at its slot through the sending port, records what
Telegram answered.

- Pacing: slots come from the database (`OutboxStore.claim`), so `rate` a second overall and one
  message per `per_chat` seconds to a chat hold across every process sharing the database.
- 429: the row waits `retry_after` (not counted as an attempt), the pause is written to the pacing
  row (no process takes a slot before it ends) and this worker gives back the rest of its batch.
  Another process may still send what it claimed before it saw the pause: at most `lookahead`
  seconds' worth.
- 5xx, timeouts, network errors: retried with exponential backoff (`retry_base` · 2ⁿ, at most
  `retry_max`) until `max_attempts`, then failed with the last error.
- Blocked, chat not found, deactivated: the row is blocked and the user marked unreachable; no retry.
- Any other refusal (400): failed at once.

Crash safety. A row is marked sent in the transaction that records Telegram's message id, right
after the answer. The one window in which a message can go out twice: the worker dies (or loses the
database) after Telegram accepted the message and before that record commits; the lease then
expires and another worker sends it again. The window is one round trip to the database: recording
is not batched, nothing else happens between the answer and the record. (A timeout *after* Telegram
performed the call looks like a transient failure and is retried: the same kind of duplicate,
which Telegram, having no idempotency key, lets nobody avoid.) A worker never sends a row whose
lease is within `safety` of running out, so no other worker can hold it at the same time.

Time is injected: `clock` gives the time, `sleep` waits (tests move a virtual clock).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from common.clock import Clock
from scheduler.outbox import Claimed, OutboxStore, Pacing
from scheduler.port import Outcome, Sender, SendResult

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    retry_base: float = 2.0
    retry_max: float = 300.0

    def delay(self, attempts: int) -> float:
        """Seconds before the next try after `attempts` failed ones."""
        return min(self.retry_max, self.retry_base * 2 ** max(0, attempts - 1))


def worker_name() -> str:
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class OutboxWorker:
    """Sends the outbox. `start()`/`stop()` run it as a task; `run_until_drained()` (tests, bench)
    returns once nothing is pending."""

    def __init__(
        self,
        store: OutboxStore,
        sender: Sender,
        clock: Clock,
        *,
        sleep: Sleep = asyncio.sleep,
        pacing: Pacing | None = None,
        retry: RetryPolicy | None = None,
        idle: float = 1.0,
        safety: float = 30.0,
        max_in_flight: int = 16,
        name: str | None = None,
    ) -> None:
        self.store = store
        self.sender = sender
        self.clock = clock
        self.sleep = sleep
        self.pacing = pacing or Pacing()
        self.retry = retry or RetryPolicy()
        self.idle = idle
        self.safety = timedelta(seconds=min(safety, self.pacing.lease / 2))
        self.name = name or worker_name()
        self.paused_until = clock.now()
        self.sent = 0
        self._records: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(max_in_flight)
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._sleeping = False

    # ---- running ---------------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self.run(), name=f"outbox-{self.name}")

    async def stop(self) -> None:
        """Finish the message being sent, give back the rest of the batch, wait for the records."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        if self._sleeping:
            task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        await self._flush()

    async def run(self) -> None:
        while not self._stopping:
            try:
                wait = await self.step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox: a step failed; trying again in %.0f s", self.idle)
                wait = self.idle
            if wait > 0 and not self._stopping:
                await self._sleep(wait)

    async def run_until_drained(self) -> None:
        """Send until nothing is pending (sleeping through backoffs and pauses)."""
        while True:
            wait = await self.step()
            if wait <= 0:
                continue
            await self._flush()
            due = await self.store.next_due()
            if due is None:
                return
            until_due = (due - self.clock.now()).total_seconds()
            await self._sleep(min(wait, until_due) if until_due > 0 else wait)

    # ---- one batch -------------------------------------------------------------------------------
    async def step(self) -> float:
        """Claim and send one batch; the seconds to wait before the next step (0: go on at once)."""
        now = self.clock.now()
        if self.paused_until > now:
            return (self.paused_until - now).total_seconds()
        batch = await self.store.claim(self.name, now, self.pacing)
        if not batch:
            return self.idle if self.pacing.rate <= 0 else min(self.idle, self.pacing.lookahead / 2)
        for i, claimed in enumerate(batch):
            if self._stopping:
                await self.store.release(batch[i:], self.name)
                break
            now = self.clock.now()
            if claimed.slot > now:
                try:
                    await self._sleep((claimed.slot - now).total_seconds())
                except asyncio.CancelledError:
                    await asyncio.shield(self.store.release(batch[i:], self.name))
                    raise
                now = self.clock.now()
            if self.paused_until > now or now + self.safety >= claimed.lease_until:
                await self.store.release(batch[i:], self.name)
                break
            result = await self.sender.send(claimed.chat_id, claimed.text, claimed.buttons)
            if result.outcome is Outcome.RETRY_AFTER:
                await self._retry_after(claimed, result)
                await self.store.release(batch[i + 1 :], self.name)
                break
            await self._slots.acquire()
            task = asyncio.create_task(self._record(claimed, result))
            self._records.add(task)
            task.add_done_callback(self._records.discard)
        return 0.0

    async def _retry_after(self, claimed: Claimed, result: SendResult) -> None:
        now = self.clock.now()
        until = now + timedelta(seconds=max(result.retry_after, 0.0))
        self.paused_until = until
        log.warning("outbox: Telegram asks to wait %.0f s", result.retry_after)
        await self.store.pause(until)
        await self.store.record_retry(claimed, self.name, result.error or "429", until, counts=False)

    async def _record(self, claimed: Claimed, result: SendResult) -> None:
        """Write Telegram's answer for one row, in its own transaction, at once."""
        try:
            now = self.clock.now()
            if result.outcome is Outcome.SENT:
                self.sent += 1
                await self.store.record_sent(claimed, self.name, result.message_id, now)
            elif result.outcome is Outcome.UNREACHABLE:
                await self.store.record_blocked(claimed, self.name, result.error)
            elif result.outcome is Outcome.REFUSED:
                log.error("outbox: message %d refused: %s", claimed.id, result.error)
                await self.store.record_failed(claimed, self.name, result.error)
            else:
                attempts = claimed.attempts + 1
                if attempts >= self.retry.max_attempts:
                    log.error("outbox: message %d failed %d times: %s", claimed.id, attempts, result.error)
                    await self.store.record_failed(claimed, self.name, result.error)
                else:
                    at = now + timedelta(seconds=self.retry.delay(attempts))
                    await self.store.record_retry(claimed, self.name, result.error, at)
        except Exception:
            log.exception("outbox: could not record the outcome of message %d", claimed.id)
        finally:
            self._slots.release()

    async def _flush(self) -> None:
        while self._records:
            await asyncio.gather(*list(self._records), return_exceptions=True)

    async def _sleep(self, seconds: float) -> None:
        self._sleeping = True
        try:
            await self.sleep(seconds)
        finally:
            self._sleeping = False
