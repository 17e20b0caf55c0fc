"""The outbox: every reachable recipient gets exactly one copy, blocked ones are marked, no
one-second window exceeds the limits (the fake's timestamps on a virtual clock), a restart loses and
duplicates nothing, two workers on PostgreSQL never send the same row, a rolled-back notice never
leaves."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import CallbackContext, Defaults

from common.clock import FakeClock
from fakebot.core import FakeTelegram, SentMessage
from fakebot.driver import Harness
from fakebot.request import FAKE_BASE_URL, FAKE_FILE_URL, FakeRequest
from handlers.app import start_outbox
from handlers.outbox_sender import TelegramSender, classify
from handlers.telegram_bot import OcopBot
from scheduler.outbox import OutboxStore, Pacing
from scheduler.port import Buttons, Outcome, Sender, SendResult
from scheduler.service import Outbox
from scheduler.worker import OutboxWorker, RetryPolicy
from storage.db import Database
from storage.models import User
from storage.outbox_models import OutboxMessage, OutboxState, Priority
from tests.conftest import PG_URL


class VirtualTime:
    """Discrete-event time: a sleeper wakes exactly at its target, and the clock moves only when
    every participant (worker) is asleep, to the earliest target. Database I/O takes no time."""

    def __init__(self, clock: FakeClock, participants: int = 1) -> None:
        self.clock = clock
        self.participants = participants
        self._waiters: list[tuple[object, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def seconds(self) -> float:
        return self.clock.now().timestamp()

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (self.clock.now() + timedelta(seconds=seconds), next(self._seq), fut))
        self._advance()
        await fut

    def join(self) -> None:
        self.participants += 1

    def leave(self) -> None:
        self.participants -= 1
        self._advance()

    def _advance(self) -> None:
        self._waiters = [w for w in self._waiters if not w[2].done()]
        heapq.heapify(self._waiters)
        if not self._waiters or len(self._waiters) < self.participants:
            return
        target = self._waiters[0][0]
        if target > self.clock.now():  # type: ignore[operator]
            self.clock.set(target)  # type: ignore[arg-type]
        while self._waiters and self._waiters[0][0] <= self.clock.now():  # type: ignore[operator]
            heapq.heappop(self._waiters)[2].set_result(None)


async def fake_sender(fake: FakeTelegram) -> tuple[TelegramSender, OcopBot]:
    bot = OcopBot(
        "123456:TEST",
        base_url=FAKE_BASE_URL,
        base_file_url=FAKE_FILE_URL,
        request=FakeRequest(fake),
        get_updates_request=FakeRequest(fake),
        defaults=Defaults(parse_mode=ParseMode.HTML),
    )
    await bot.initialize()
    return TelegramSender(bot), bot


def micros(seconds: float) -> int:
    return round(seconds * 1_000_000)


def busiest_second(messages: list[SentMessage]) -> int:
    """The most messages in any half-open one-second window [t, t+1) of the fake's timestamps."""
    times = sorted(micros(m.at) for m in messages)
    best, j = 0, 0
    for i, t in enumerate(times):
        j = max(j, i)
        while j < len(times) and times[j] < t + 1_000_000:
            j += 1
        best = max(best, j - i)
    return best


def closest_pair_per_chat(messages: list[SentMessage]) -> float:
    """The shortest gap, in seconds, between two messages to the same chat (inf when none)."""
    by_chat: dict[int, list[int]] = {}
    for m in messages:
        by_chat.setdefault(m.chat_id, []).append(micros(m.at))
    gaps = [b - a for ts in by_chat.values() for a, b in itertools.pairwise(sorted(ts))]
    return min(gaps) / 1_000_000 if gaps else float("inf")


# ---- fixtures ---------------------------------------------------------------------------------------
RATE = 25.0


@pytest.fixture
async def world(database: Database, clock: FakeClock) -> AsyncIterator[World]:
    vt = VirtualTime(clock)
    fake = FakeTelegram(now=vt.seconds)
    sender, bot = await fake_sender(fake)
    outbox = Outbox(database, clock, pacing=Pacing(rate=RATE, per_chat=1.0), retry=RetryPolicy(4, 2.0, 60.0))
    yield World(database, clock, vt, fake, sender, outbox)
    await bot.shutdown()


class World:
    def __init__(
        self, db: Database, clock: FakeClock, vt: VirtualTime, fake: FakeTelegram,
        sender: TelegramSender, outbox: Outbox,
    ) -> None:
        self.db, self.clock, self.vt, self.fake = db, clock, vt, fake
        self.sender, self.outbox = sender, outbox

    def worker(self, sender: Sender | None = None, name: str | None = None) -> OutboxWorker:
        return self.outbox.worker(sender or self.sender, sleep=self.vt.sleep, name=name)

    async def users(self, ids: list[int]) -> None:
        async with self.db.session() as s:
            for uid in ids:
                s.add(User(id=uid, full_name=f"U{uid}", muted_topics=[], flow_data={}, blocked=False,
                           first_seen=self.clock.now(), last_seen=self.clock.now()))

    async def queue(self, items: list[tuple[int, str]], **kw: Any) -> None:
        async with self.db.session() as s:
            for chat_id, text in items:
                await self.outbox.enqueue(s, chat_id=chat_id, text=text, kind="notice", **kw)

    async def rows(self) -> list[OutboxMessage]:
        async with self.db.session() as s:
            return list((await s.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars())

    def sent_texts(self) -> Counter[tuple[int, str]]:
        return Counter((m.chat_id, m.html or m.text) for m in self.fake.log)


# ---- the contract -------------------------------------------------------------------------------------
async def test_every_reachable_recipient_gets_one_copy_blocked_ones_are_marked_and_limits_hold(
    world: World,
) -> None:
    chats = list(range(1000, 1080))
    blocked = {1003, 1040, 1077}
    await world.users(chats)
    world.fake.blocked_chats |= blocked
    # 80 chats, one notice each; ten chats get three, so per-chat pacing matters too.
    items = [(c, f"<b>Hồ sơ</b> {c}") for c in chats]
    items += [(c, f"Thêm {k} cho {c}") for c in chats[:10] for k in range(2)]
    await world.queue(items)
    world.fake.faults.retry_after = 3
    world.fake.faults.fail_next("sendMessage", "502", times=2)
    world.fake.faults.fail_next("sendMessage", "timeout", times=2)
    world.fake.faults.fail_next("sendMessage", "500")
    world.fake.faults.fail_next("sendMessage", "429")
    world.fake.faults.rate = 0.05
    world.fake.faults.kinds = ("500", "502", "timeout")
    await world.worker().run_until_drained()

    sent = world.sent_texts()
    expected = Counter((c, t) for c, t in items if c not in blocked)
    assert sent == expected  # every reachable recipient: each message exactly once, nothing else
    rows = await world.rows()
    assert {r.state for r in rows if r.chat_id in blocked} == {OutboxState.BLOCKED}
    reachable = [r for r in rows if r.chat_id not in blocked]
    assert all(r.state == OutboxState.SENT and r.telegram_message_id for r in reachable)
    async with world.db.session() as s:
        marked = set((await s.execute(select(User.id).where(User.blocked.is_(True)))).scalars())
    assert marked == blocked
    assert sum(world.fake.faults.injected.values()) >= 6
    assert busiest_second(world.fake.log) <= RATE
    assert closest_pair_per_chat(world.fake.log) >= 1.0
    # The 429 asked for 3 s: nothing left in between.
    times = sorted(m.at for m in world.fake.log)
    assert max(b - a for a, b in itertools.pairwise(times)) >= 3.0


async def test_a_full_queue_runs_at_the_rate_not_faster_not_much_slower(world: World) -> None:
    await world.queue([(2000 + i, f"tin {i}") for i in range(200)])
    start = world.vt.seconds()
    await world.worker().run_until_drained()
    assert len(world.fake.log) == 200
    assert busiest_second(world.fake.log) == RATE
    elapsed = max(m.at for m in world.fake.log) - start
    assert 199 / RATE - 0.01 <= elapsed <= 199 / RATE * 1.03


async def test_late_wakes_never_bunch_sends(world: World) -> None:
    """A loaded machine wakes sleepers late: the next sends are pushed back, not sent in a burst."""
    items = [(2500 + i % 40, f"tin {i}") for i in range(120)]  # three per chat
    await world.queue(items)
    calls = itertools.count()

    async def late_sleep(seconds: float) -> None:
        await world.vt.sleep(seconds + (0.2 if next(calls) % 4 == 0 else 0.0))

    worker = world.outbox.worker(world.sender, sleep=late_sleep)
    await worker.run_until_drained()
    assert world.sent_texts() == Counter(items)
    assert busiest_second(world.fake.log) <= RATE
    assert closest_pair_per_chat(world.fake.log) >= 1.0


async def test_transient_errors_back_off_then_fail_with_the_error(world: World) -> None:
    await world.queue([(3001, "một")])
    world.fake.faults.fail_next("sendMessage", "502", times=4)  # every attempt
    await world.worker().run_until_drained()
    # Backoff 2, 4, 8 s between the four attempts: the failure is recorded 14 s after the start.
    assert world.clock.now() - (await world.rows())[0].created_at >= timedelta(seconds=14)
    await world.queue([(3002, "hai")])
    await world.worker().run_until_drained()
    first, second = await world.rows()
    assert first.state == OutboxState.FAILED and first.attempts == 4 and not world.fake.bot_messages(3001)
    assert "Bad Gateway" in (first.last_error or "")
    assert second.state == OutboxState.SENT and world.sent_texts() == Counter({(3002, "hai"): 1})


async def test_a_refused_message_fails_at_once(world: World) -> None:
    await world.queue([(3101, "<b>không đóng thẻ"), (3102, "ổn")])
    await world.worker().run_until_drained()
    bad, good = await world.rows()
    assert bad.state == OutboxState.FAILED and bad.attempts == 1
    assert "parse entities" in (bad.last_error or "")
    assert good.state == OutboxState.SENT
    world.fake.refusals.clear()


async def test_notices_go_before_broadcasts(world: World) -> None:
    async with world.db.session() as s:
        for i in range(5):
            await world.outbox.enqueue(s, chat_id=4000 + i, text=f"bản tin {i}", kind="broadcast",
                                       priority=Priority.BROADCAST)
        await world.outbox.enqueue(s, chat_id=4100, text="hồ sơ đã được tiếp nhận", kind="status")
    await world.worker().run_until_drained()
    assert world.fake.log[0].chat_id == 4100 and len(world.fake.log) == 6


async def test_a_notice_queued_in_a_transaction_that_rolls_back_is_never_sent(world: World) -> None:
    with pytest.raises(RuntimeError):
        async with world.db.session() as s:
            await world.outbox.enqueue(s, chat_id=5001, text="trạng thái mới", kind="status")
            raise RuntimeError("the status change failed")
    await world.queue([(5002, "đã lưu")])
    await world.worker().run_until_drained()
    assert world.sent_texts() == Counter({(5002, "đã lưu"): 1})
    assert [r.chat_id for r in await world.rows()] == [5002]


async def test_an_idempotency_key_is_unique_per_kind(world: World) -> None:
    async with world.db.session() as s:
        first = await world.outbox.enqueue(s, chat_id=6001, text="a", kind="status", key="d1:received")
        again = await world.outbox.enqueue(s, chat_id=6001, text="a", kind="status", key="d1:received")
        other = await world.outbox.enqueue(s, chat_id=6001, text="b", kind="reminder", key="d1:received")
    assert first is not None and again is None and other is not None
    async with world.db.session() as s:  # and across transactions
        assert await world.outbox.enqueue(s, chat_id=6001, text="a", kind="status", key="d1:received") is None
    await world.worker().run_until_drained()
    assert len(world.fake.log) == 2


# ---- crashes ------------------------------------------------------------------------------------------
class Dies:
    """A sender that hangs forever on its n-th call, before or after Telegram performed it (a process
    that dies there)."""

    def __init__(self, inner: TelegramSender, n: int, *, after_telegram: bool) -> None:
        self.inner, self.n, self.after = inner, n, after_telegram
        self.calls = 0
        self.hung = asyncio.Event()

    async def send(self, chat_id: int, html: str, buttons: Buttons | None) -> SendResult:
        self.calls += 1
        if self.calls == self.n:
            if self.after:
                await self.inner.send(chat_id, html, buttons)
            self.hung.set()
            await asyncio.Event().wait()
        return await self.inner.send(chat_id, html, buttons)


async def _crash_then_restart(world: World, sender: Dies) -> None:
    old = world.worker(sender, name="old")
    task = asyncio.create_task(old.run_until_drained())
    await asyncio.wait_for(sender.hung.wait(), 30)
    task.cancel()  # the process is gone: its leases stay in the database
    with pytest.raises(asyncio.CancelledError):
        await task
    rows = await world.rows()
    assert any(r.claimed_by == "old" for r in rows)
    await world.worker(name="new").run_until_drained()  # a new process on the same database


async def test_a_restart_in_the_middle_loses_and_duplicates_nothing(world: World) -> None:
    items = [(7000 + i, f"thông báo {i}") for i in range(60)]
    await world.queue(items)
    await _crash_then_restart(world, Dies(world.sender, 30, after_telegram=False))
    assert world.sent_texts() == Counter(items)
    assert {r.state for r in await world.rows()} == {OutboxState.SENT}


async def test_dying_between_telegram_and_the_record_is_the_one_window_of_a_duplicate(world: World) -> None:
    items = [(7100 + i, f"thông báo {i}") for i in range(40)]
    await world.queue(items)
    await _crash_then_restart(world, Dies(world.sender, 12, after_telegram=True))
    sent = world.sent_texts()
    assert set(sent) == set(items)
    assert sorted(sent.values(), reverse=True)[:2] == [2, 1]  # exactly the one message in flight


async def test_a_stop_gives_back_the_batch_and_a_new_worker_sends_it(world: World) -> None:
    items = [(7200 + i, f"tin {i}") for i in range(50)]
    await world.queue(items)
    worker = world.worker(name="first")
    worker.start()
    for _ in range(10_000):  # real time here: the worker sleeps on the virtual clock
        if len(world.fake.log) >= 10:
            break
        await asyncio.sleep(0.001)
    await worker.stop()
    assert not any(r.claimed_by for r in await world.rows())  # nothing left leased
    await world.worker(name="second").run_until_drained()
    assert world.sent_texts() == Counter(items)


# ---- several processes ---------------------------------------------------------------------------------
@pytest.mark.skipif(not PG_URL, reason="row locks and SKIP LOCKED need PostgreSQL (TEST_DATABASE_URL)")
async def test_two_workers_on_postgresql_never_send_the_same_row_and_share_the_pacing(world: World) -> None:
    assert world.db.schema is not None
    other_db = Database(PG_URL, schema=world.db.schema)  # the second process's own connections
    try:
        items = [(8000 + i % 120, f"tin {i}") for i in range(240)]  # two per chat
        await world.queue(items)
        world.fake.faults.rate = 0.03
        world.fake.faults.kinds = ("502", "timeout")
        world.vt.participants = 2
        one = world.worker(name="one")
        two = OutboxWorker(OutboxStore(other_db), world.sender, world.clock, sleep=world.vt.sleep,
                           pacing=world.outbox.pacing, retry=world.outbox.retry, name="two")

        async def run(w: OutboxWorker) -> None:
            try:
                await w.run_until_drained()
            finally:
                world.vt.leave()

        await asyncio.gather(run(one), run(two))
        assert world.sent_texts() == Counter(items)
        assert one.sent > 20 and two.sent > 20  # both did part of the work
        assert busiest_second(world.fake.log) <= RATE
        assert closest_pair_per_chat(world.fake.log) >= 1.0
    finally:
        await other_db.dispose()


# ---- the Telegram side -------------------------------------------------------------------------------
def test_bot_api_answers_map_to_outcomes() -> None:
    assert classify(Forbidden("Forbidden: bot was blocked by the user")).outcome is Outcome.UNREACHABLE
    assert classify(Forbidden("Forbidden: user is deactivated")).outcome is Outcome.UNREACHABLE
    assert classify(BadRequest("Bad Request: chat not found")).outcome is Outcome.UNREACHABLE
    assert classify(BadRequest("Bad Request: message is too long")).outcome is Outcome.REFUSED
    assert classify(TimedOut()).outcome is Outcome.TRANSIENT
    assert classify(NetworkError("Bad Gateway")).outcome is Outcome.TRANSIENT
    later = classify(RetryAfter(7))
    assert later.outcome is Outcome.RETRY_AFTER and later.retry_after == 7


async def test_buttons_travel_as_json_and_arrive_as_inline_buttons(world: World) -> None:
    buttons = [[{"text": "Mở hồ sơ", "callback_data": "dossier:open:7"}]]
    async with world.db.session() as s:
        await world.outbox.enqueue(s, chat_id=9001, text="Hồ sơ mới", kind="alert", buttons=buttons)
    await world.worker().run_until_drained()
    assert world.fake.log[0].labels == ["Mở hồ sơ"]
    (row,) = await world.rows()
    assert row.telegram_message_id == world.fake.log[0].message_id


async def test_the_bot_starts_its_worker_with_the_application_and_stops_it(bot: Harness) -> None:
    ctx = bot.app.bot_data["ctx"]
    jobs = [job.name for job in bot.app.job_queue.jobs()] if bot.app.job_queue else []
    assert "outbox" in jobs  # scheduled by post_init; runs when the Application starts
    async with ctx.db.session() as s:
        await ctx.outbox.enqueue(s, chat_id=9101, text="Xin chào từ hàng đợi", kind="notice")
    await start_outbox(CallbackContext(bot.app))
    for _ in range(500):
        if bot.fake.bot_messages(9101):
            break
        await asyncio.sleep(0.01)
    assert ctx.broadcasts.running is not None  # the broadcast runner starts beside the worker
    await ctx.broadcasts.stop()
    await ctx.outbox.stop()
    assert [m.text for m in bot.fake.bot_messages(9101)] == ["Xin chào từ hàng đợi"]
    assert ctx.outbox.running is None and ctx.broadcasts.running is None


async def test_prune_deletes_old_settled_notices_and_keeps_pending_and_broadcast_rows(world: World) -> None:
    await world.users([2001, 2002, 2003])
    await world.queue([(2001, "cũ"), (2002, "cũ")])
    await world.worker().run_until_drained()
    await world.queue([(2003, "chờ")], not_before=world.clock.now() + timedelta(days=60))
    async with world.db.session() as s:
        s.add(
            OutboxMessage(chat_id=2003, kind="broadcast", priority=int(Priority.BROADCAST), text="bc",
                          state=OutboxState.SENT.value, attempts=1, broadcast_id=1,
                          next_attempt_at=world.clock.now(), created_at=world.clock.now())
        )
    store = world.outbox.store
    assert await store.prune(world.clock.now() + timedelta(days=29)) == 0
    assert await store.prune(world.clock.now() + timedelta(days=31)) == 2
    left = await world.rows()
    assert sorted((r.chat_id, r.state) for r in left) == [(2003, "pending"), (2003, "sent")]
