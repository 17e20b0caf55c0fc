"""The outbox worker: claims due rows, sends each at its slot through the sending port, records what
Telegram answered.

- Pacing: slots come from the database (`OutboxStore.claim`), so `rate` a second overall and one
  message per `per_chat` seconds to a chat hold across every process sharing the database. Within
  a process the limits are also enforced on the actual send times (a sliding one-second window: a
  late wake never bunches more than `rate` sends into a second, and a stall is caught up); a row
  woken more than `Pacing.tolerance` after its slot is given back and re-slotted, so across
  processes a stalled one can exceed the rate only by what fits in that tolerance.
- 429: the row waits `retry_after` (not counted as an attempt), the pause is written to the pacing
  row (no process takes a slot before it ends) and this worker gives back the rest of its batch.
  Another process may still send what it claimed before it saw the pause: at most `lookahead`
  seconds' worth.
- 5xx, timeouts, network errors: retried with exponential backoff (`retry_base` · 2ⁿ, at most
  `retry_max`) until `max_attempts`, then failed with the last error.
- Blocked, chat not found, deactivated: the row is blocked and the user marked unreachable; no retry.
- Any other refusal (400): failed at once.

Crash safety. A row is marked sent in the transaction that records Telegram's message id, started
as soon as the answer arrives (answers arriving while a commit runs share the next commit: group
commit, no waiting added). The one window in which a message can go out twice: the worker dies (or
loses the database) after Telegram accepted the message and before that commit; the lease then
expires and another worker sends it again. The window is at most one commit long (two under load).
(A timeout *after* Telegram performed the call looks like a transient failure and is retried: the
same kind of duplicate, which Telegram, having no idempotency key, lets nobody avoid.) A worker
never sends a row whose lease is within `safety` of running out, so no other worker can hold it
at the same time.

Time is injected: `clock` gives the time, `sleep` waits (tests move a virtual clock).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from common.clock import Clock
from scheduler.outbox import Claimed, OutboxStore, Pacing, Record
from scheduler.port import Outcome, Sender, SendResult
from storage.outbox_models import OutboxState

log = logging.getLogger(__name__)
PRUNE_EVERY = timedelta(hours=1)

Sleep = Callable[[float], Awaitable[None]]
CHAT_MEMORY = 10_000  # chats whose last send this process remembers (for the per-chat spacing)


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
        max_in_flight: int = 256,
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
        self.late = 0  # rows given back unsent (late wake, pause, stop)
        # This process's last `rate` send times (the sliding one-second window); none when unpaced.
        window = int(self.pacing.rate) if self.pacing.rate >= 1 else 0
        self._recent: deque[datetime] = deque(maxlen=window)
        self._prefetch: asyncio.Task[list[Claimed]] | None = None
        self._chat_last: dict[int, datetime] = {}
        self._pending: list[Record] = []  # answers not yet recorded
        self._recorder: asyncio.Task[None] | None = None
        self._room = asyncio.Semaphore(max_in_flight)
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
        await self._drop_prefetch()
        await self._flush()

    async def run(self) -> None:
        next_prune = self.clock.now()
        while not self._stopping:
            try:
                if self.clock.now() >= next_prune:  # housekeeping, once an hour per process
                    next_prune = self.clock.now() + PRUNE_EVERY
                    pruned = await self.store.prune(self.clock.now())
                    if pruned:
                        log.info("outbox: pruned %d settled notices", pruned)
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
            await self._drop_prefetch()
            return (self.paused_until - now).total_seconds()
        if self._prefetch is not None:
            batch, self._prefetch = await self._prefetch, None
        else:
            batch = await self.store.claim(self.name, now, self.pacing)
        if not batch:
            return self.idle if self.pacing.rate <= 0 else min(self.idle, self.pacing.lookahead / 2)
        late: list[Claimed] = []  # woke too long after their slot: given back, re-slotted
        tolerance = timedelta(seconds=self.pacing.tolerance)
        try:
            for i, claimed in enumerate(batch):
                if i == 0 and not self._stopping:
                    # The next batch is claimed while this one goes out, so no slot waits for a claim.
                    self._prefetch = asyncio.create_task(self.store.claim(self.name, now, self.pacing))
                if self._stopping:
                    late.extend(batch[i:])
                    break
                now = self.clock.now()
                at = self._earliest(claimed)
                if at > now:
                    try:
                        await self._sleep((at - now).total_seconds())
                    except asyncio.CancelledError:
                        late.extend(batch[i:])
                        raise
                    now = self.clock.now()
                if self.paused_until > now or now + self.safety >= claimed.lease_until:
                    late.extend(batch[i:])
                    break
                if self.pacing.rate > 0 and now > claimed.slot + tolerance:
                    late.append(claimed)  # its slot is long past: re-slotted by a later claim
                    continue
                self._recent.append(now)
                self._chat_last[claimed.chat_id] = now
                if claimed.media is None:
                    result = await self.sender.send(claimed.chat_id, claimed.text, claimed.buttons)
                else:
                    result = await self.sender.send_media(
                        claimed.chat_id, claimed.media, claimed.text, claimed.buttons
                    )
                if result.outcome is Outcome.RETRY_AFTER:
                    await self._retry_after(claimed, result)
                    late.extend(batch[i + 1 :])
                    break
                await self._enqueue_record(claimed, result)
        finally:
            if late or self._stopping:
                if late or self._prefetch is not None:
                    await asyncio.shield(self._give_back(late))
        return 0.0

    async def _give_back(self, late: list[Claimed]) -> None:
        """Release rows this worker will not send now, with the batch claimed ahead."""
        if self._prefetch is not None:
            prefetch, self._prefetch = self._prefetch, None
            try:
                late = late + await prefetch
            except Exception:
                log.exception("outbox: the claim ahead failed")
        self.late += len(late)
        await self.store.release(late, self.name)

    async def _drop_prefetch(self) -> None:
        if self._prefetch is not None:
            await self._give_back([])

    def _earliest(self, claimed: Claimed) -> datetime:
        """Its slot, and never sooner than one second after this process's `rate`-th previous send
        (a sliding window: at most `rate` sends in any second, exact however late the process wakes,
        and a stall is caught up within the window), nor `per_chat` after its previous send to the
        chat."""
        at = claimed.slot
        if self._recent.maxlen and len(self._recent) == self._recent.maxlen:
            at = max(at, self._recent[0] + timedelta(seconds=self.pacing.window))
        previous = self._chat_last.get(claimed.chat_id)
        if previous is not None:
            at = max(at, previous + self.pacing.chat_gap)
        if len(self._chat_last) > CHAT_MEMORY:
            horizon = self.clock.now() - self.pacing.chat_gap
            self._chat_last = {c: t for c, t in self._chat_last.items() if t > horizon}
        return at

    async def _retry_after(self, claimed: Claimed, result: SendResult) -> None:
        now = self.clock.now()
        until = now + timedelta(seconds=max(result.retry_after, 0.0))
        self.paused_until = until
        log.warning("outbox: Telegram asks to wait %.0f s", result.retry_after)
        await self.store.pause(until)
        record = Record(claimed, OutboxState.PENDING, until, error=result.error or "429", counts=False)
        await self.store.record(self.name, [record])

    def _decide(self, claimed: Claimed, result: SendResult) -> Record:
        now = self.clock.now()
        if result.outcome is Outcome.SENT:
            self.sent += 1
            return Record(claimed, OutboxState.SENT, now, message_id=result.message_id)
        if result.outcome is Outcome.UNREACHABLE:
            return Record(claimed, OutboxState.BLOCKED, now, error=result.error)
        if result.outcome is Outcome.REFUSED:
            log.error("outbox: message %d refused: %s", claimed.id, result.error)
            return Record(claimed, OutboxState.FAILED, now, error=result.error)
        attempts = claimed.attempts + 1
        if attempts >= self.retry.max_attempts:
            log.error("outbox: message %d failed %d times: %s", claimed.id, attempts, result.error)
            return Record(claimed, OutboxState.FAILED, now, error=result.error)
        at = now + timedelta(seconds=self.retry.delay(attempts))
        return Record(claimed, OutboxState.PENDING, at, error=result.error)

    async def _enqueue_record(self, claimed: Claimed, result: SendResult) -> None:
        """Hand Telegram's answer to the recorder at once (it commits while the next message goes)."""
        await self._room.acquire()
        self._pending.append(self._decide(claimed, result))
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.create_task(self._record_loop())

    async def _record_loop(self) -> None:
        while self._pending:
            records, self._pending = self._pending, []
            try:
                await self.store.record(self.name, records)
            except Exception:  # the leases run out and the rows are sent again: logged loudly
                log.exception("outbox: could not record %d outcomes", len(records))
            finally:
                for _ in records:
                    self._room.release()

    async def _flush(self) -> None:
        while self._recorder is not None and not self._recorder.done():
            await asyncio.shield(self._recorder)

    async def _sleep(self, seconds: float) -> None:
        self._sleeping = True
        try:
            await self.sleep(seconds)
        finally:
            self._sleeping = False
