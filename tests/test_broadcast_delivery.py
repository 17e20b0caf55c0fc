"""Broadcast delivery through the outbox and the fake Bot API, on simulated time: every reachable recipient
gets exactly one copy (with 429s, 5xx, timeouts and blocked users injected), the blocked ones are marked
and counted, the report and the failures file are right, no one-second window exceeds the limits, the
progress message is edited (never re-sent, never unchanged, never too often), a restart in the middle
loses and duplicates nothing, a scheduled broadcast fires once at its time, pause and cancel work
mid-way, and notices overtake a running broadcast."""

from __future__ import annotations

import asyncio
import csv
import io
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from common.clock import FakeClock
from common.render import Renderer
from dossier.models import Dossier
from fakebot.core import FakeTelegram
from handlers.outbox_sender import TelegramSender
from scheduler.audience import Audience
from scheduler.broadcast import BroadcastRunner, BroadcastService, Content
from scheduler.outbox import OutboxStore, Pacing
from scheduler.port import Buttons, Media, SendResult
from scheduler.service import Outbox
from scheduler.worker import OutboxWorker, RetryPolicy
from storage.db import Database
from storage.models import AuditLog, Role, User
from storage.outbox_models import Broadcast, OutboxMessage, OutboxState
from storage.staff import StaffAccess
from tests.conftest import PG_URL
from tests.test_outbox import RATE, VirtualTime, busiest_second, closest_pair_per_chat, fake_sender

OFFICER = 500
ADMIN = StaffAccess(OFFICER, Role.ADMIN)


class Recording:
    """The runner's port, remembering when each progress edit was made (simulated seconds)."""

    def __init__(self, inner: TelegramSender, vt: VirtualTime) -> None:
        self.inner, self.vt = inner, vt
        self.edits: list[float] = []
        self.files: list[tuple[str, bytes]] = []

    async def send(self, chat_id: int, html: str, buttons: Buttons | None) -> SendResult:
        return await self.inner.send(chat_id, html, buttons)

    async def send_media(
        self, chat_id: int, media: Media, caption: str, buttons: Buttons | None
    ) -> SendResult:
        return await self.inner.send_media(chat_id, media, caption, buttons)

    async def edit(self, chat_id: int, message_id: int, html: str, buttons: Buttons | None) -> SendResult:
        self.edits.append(self.vt.seconds())
        return await self.inner.edit(chat_id, message_id, html, buttons)

    async def send_file(self, chat_id: int, file_name: str, data: bytes, caption: str) -> SendResult:
        result = await self.inner.send_file(chat_id, file_name, data, caption)
        if result.message_id:
            self.files.append((file_name, data))
        return result


class World:
    def __init__(
        self, db: Database, clock: FakeClock, vt: VirtualTime, fake: FakeTelegram, sender: TelegramSender
    ) -> None:
        self.db, self.clock, self.vt, self.fake, self.sender = db, clock, vt, fake, sender
        self.outbox = Outbox(
            db, clock, pacing=Pacing(rate=RATE, per_chat=1.0), retry=RetryPolicy(4, 2.0, 60.0)
        )
        self.service = BroadcastService(db, clock, Renderer(), rate=RATE, edit_every=2.0, batch=40)
        self.port = Recording(sender, vt)

    async def users(self, ids: list[int], **fields: Any) -> None:
        async with self.db.session() as s:
            for uid in ids:
                values: dict[str, Any] = {"muted_topics": [], "blocked": False, "commune": None}
                values.update(fields)
                s.add(
                    User(
                        id=uid,
                        full_name=f"U{uid}",
                        flow_data={},
                        first_seen=self.clock.now(),
                        last_seen=self.clock.now(),
                        role=Role.PRODUCER.value,
                        **values,
                    )
                )

    async def dossier(
        self,
        owner: int,
        *,
        commune: str | None = None,
        product_set: str | None = None,
        status: str = "submitted",
        age_minutes: int = 0,
    ) -> None:
        at = self.clock.now() - timedelta(minutes=age_minutes)
        async with self.db.session() as s:
            s.add(
                Dossier(
                    owner_id=owner,
                    status=status,
                    commune=commune,
                    product_set=product_set,
                    answers={},
                    flow_state={},
                    created_at=at,
                    updated_at=at,
                )
            )

    async def broadcast(
        self,
        audience: Audience | None = None,
        *,
        access: StaffAccess = ADMIN,
        at: Any = None,
        content: Content | None = None,
    ) -> int:
        b = await self.service.create(access, content or Content("text", "<b>Họp</b> lúc 8 giờ"), "Cán bộ A")
        await self.service.set_audience(access, b.id, audience or Audience())
        first = await self.sender.send(OFFICER, "…", None)  # the summary message, becoming the progress one
        await self.service.confirm(access, b.id, chat_id=OFFICER, message_id=first.message_id, at=at)
        return b.id

    async def get(self, broadcast_id: int) -> Broadcast:
        async with self.db.session() as s:
            b = await s.get(Broadcast, broadcast_id)
            assert b is not None
            return b

    async def rows(self, broadcast_id: int) -> list[OutboxMessage]:
        async with self.db.session() as s:
            q = select(OutboxMessage).where(OutboxMessage.broadcast_id == broadcast_id)
            return list((await s.execute(q)).scalars())

    def received(self) -> Counter[int]:
        """Copies of the broadcast each producer got (the officer's chat left out)."""
        return Counter(m.chat_id for m in self.fake.log if m.chat_id != OFFICER and "Họp" in m.text)

    def producer_log(self) -> list[Any]:
        return [m for m in self.fake.log if m.chat_id != OFFICER]

    async def drive(
        self,
        until: Callable[[], Awaitable[bool]],
        *,
        worker: OutboxWorker | None = None,
        runner: BroadcastRunner | None = None,
        crash: bool = False,
    ) -> None:
        """Run a worker and a runner on simulated time until `until()` (a real-time bound, never on
        the result). `crash`: cancel them like a killed process instead of stopping them."""
        worker = worker or self.outbox.worker(self.sender, sleep=self.vt.sleep)
        runner = runner or self.service.runner(self.port, sleep=self.vt.sleep)
        worker.start()
        runner.start()
        try:
            for _ in range(30_000):
                if await until():
                    break
                await asyncio.sleep(0.002)
            else:
                raise AssertionError("the broadcast did not get there")
        finally:
            if crash:  # the process hangs and is gone: its leases and half-made batches stay
                tasks = [t for t in (worker._task, runner._task) if t]
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                # Outcomes Telegram had already answered get recorded (the one window of a duplicate,
                # dying between Telegram's answer and that commit, is tests/test_outbox.py's).
                await worker._flush()
            else:
                await worker.stop()  # first, while the runner still keeps simulated time going
                await runner.stop()

    async def finished(self, broadcast_id: int, *, files: int = 0) -> bool:
        """Reported, and (when there were failures) the failures file sent `files` times in all."""
        b = await self.get(broadcast_id)
        return b.reported_at is not None and b.csv_sent_at is not None and len(self.port.files) >= files


@pytest.fixture
async def world(database: Database, clock: FakeClock) -> AsyncIterator[World]:
    vt = VirtualTime(clock, participants=2)
    fake = FakeTelegram(now=vt.seconds)
    sender, bot = await fake_sender(fake)
    yield World(database, clock, vt, fake, sender)
    await bot.shutdown()


def progress_message(world: World) -> Any:
    (message,) = [m for m in world.fake.bot_messages(OFFICER) if m.text.startswith(("✅", "⏹", "📤", "⏸"))]
    return message


# ---- the contract ---------------------------------------------------------------------------------------
async def test_every_reachable_recipient_gets_one_copy_blocked_are_counted_and_the_report_is_right(
    world: World,
) -> None:
    reachable = list(range(10_000, 10_120))
    known_blocked = [10_200, 10_201]  # blocked the bot earlier: left out and counted
    muted = [10_300, 10_301, 10_302]  # turned general announcements off
    newly_blocked = {10_007, 10_050, 10_111}  # block the bot before their copy leaves
    await world.users(reachable)
    await world.users(known_blocked, blocked=True)
    await world.users(muted, muted_topics=["general"])
    bid = await world.broadcast()
    world.fake.blocked_chats |= newly_blocked
    world.fake.faults.retry_after = 2
    world.fake.faults.fail_next("sendMessage", "429")
    world.fake.faults.fail_next("sendMessage", "502", times=2)
    world.fake.faults.fail_next("sendMessage", "timeout", times=2)
    world.fake.faults.fail_next("sendMessage", "500")
    world.fake.faults.rate = 0.04
    world.fake.faults.kinds = ("500", "502", "timeout")
    await world.drive(lambda: world.finished(bid, files=1))

    got = world.received()
    assert set(got) == set(reachable) - newly_blocked and set(got.values()) == {1}
    assert sum(world.fake.faults.injected.values()) >= 6
    rows = await world.rows(bid)
    assert len(rows) == len(reachable)  # one row per recipient; the left-out ones have none
    assert {r.chat_id for r in rows if r.state == OutboxState.BLOCKED} == newly_blocked
    async with world.db.session() as s:
        marked = set((await s.execute(select(User.id).where(User.blocked.is_(True)))).scalars())
    assert marked == newly_blocked | set(known_blocked)
    log = world.producer_log()
    assert busiest_second(log) <= RATE and closest_pair_per_chat(log) >= 1.0

    b = await world.get(bid)
    assert b.state == "done" and b.expected == len(reachable) and b.unreachable == 2 and b.muted == 3
    report = progress_message(world)
    assert report.text.startswith("✅ Đã gửi xong thông báo")
    assert "Đã nhận: 117" in report.text and "Không liên lạc được: 5" in report.text
    assert "Đã tắt loại tin này: 3" in report.text and report.edits >= 2
    assert report.labels == ["📄 Danh sách chưa nhận (CSV)"]
    # One live message: edited, never re-sent; never more often than every min_gap seconds.
    gaps = [b - a for a, b in zip(world.port.edits, world.port.edits[1:], strict=False)]
    assert gaps and min(gaps) >= 1.5
    ((_name, data),) = world.port.files
    failures = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert {int(f["user_id"]) for f in failures} == newly_blocked
    assert {f["state"] for f in failures} == {"blocked"}
    async with world.db.session() as s:
        actions = list((await s.execute(select(AuditLog.action))).scalars())
    assert {"broadcast.draft", "broadcast.audience", "broadcast.send", "broadcast.done"} <= set(actions)


async def test_a_broadcast_paces_at_the_rate_and_the_message_says_who_it_is_from(world: World) -> None:
    await world.users(list(range(11_000, 11_100)))
    start = world.vt.seconds()
    bid = await world.broadcast()
    await world.drive(lambda: world.finished(bid))
    log = world.producer_log()
    assert len(log) == 100 and busiest_second(log) == RATE
    assert max(m.at for m in log) - start <= 99 / RATE * 1.03 + 1.0  # the first batch waits one round
    first = log[0]
    assert first.html is not None and first.html.startswith("📢 <b>Thông báo từ Cán bộ A</b>")
    assert "<b>Họp</b>" in first.html and first.labels == ["🔕 Không nhận loại tin này"]
    assert first.buttons[0][0]["callback_data"] == "set:mute:general"


async def test_notices_overtake_a_running_broadcast(world: World) -> None:
    await world.users(list(range(12_000, 12_100)))
    bid = await world.broadcast()
    enqueued_at: list[float] = []
    sent_then: list[int] = []

    async def notice_after_ten() -> bool:
        if not enqueued_at and len(world.producer_log()) >= 10:
            async with world.db.session() as s:
                await world.outbox.enqueue(s, chat_id=12_500, text="Hồ sơ đã được tiếp nhận", kind="status")
            enqueued_at.append(world.vt.seconds())
            # The broadcast goes on in simulated time while this poll runs (a PostgreSQL round trip can
            # let dozens more out): what the notice must overtake is what was left when it was queued.
            sent_then.append(len(world.producer_log()))
        return await world.finished(bid)

    await world.drive(notice_after_ten)
    (notice,) = world.fake.bot_messages(12_500)
    later = [m for m in world.producer_log() if m.at > notice.at]
    left = 100 - sent_then[0]
    # It did not wait for the broadcast: out within 2.5 s, with at least half of what was left still to go.
    assert notice.at - enqueued_at[0] <= 2.5 and len(later) >= left // 2, (left, len(later))


async def test_photo_and_document_go_by_file_id_with_the_caption(world: World) -> None:
    await world.users([13_001, 13_002])
    photo = world.fake.store_file(b"\xff\xd8jpeg", None, "image/jpeg")
    bid = await world.broadcast(content=Content("photo", "Ảnh <i>hội chợ</i>", file_id=photo.file_id))
    await world.drive(lambda: world.finished(bid))
    sent = [m for m in world.producer_log()]
    assert len(sent) == 2 and all(m.photo and m.photo["file_id"] == photo.file_id for m in sent)
    assert all(m.html and "Ảnh <i>hội chợ</i>" in m.html and m.labels for m in sent)


async def test_a_copy_of_a_forwarded_message_goes_through_copy_message(world: World) -> None:
    await world.users([13_101, 13_102])
    world.fake.record_user_message(OFFICER, 999, "", media="video")  # a forwarded video, no caption
    content = Content("copy", "Xem video <b>hướng dẫn</b>", from_chat_id=OFFICER, message_id=999)
    bid = await world.broadcast(content=content)
    await world.drive(lambda: world.finished(bid))
    copies = [p for method, p in world.fake.calls if method == "copyMessage"]
    assert sorted(int(p["chat_id"]) for p in copies) == [13_101, 13_102]
    assert all("Thông báo từ Cán bộ A" in str(p["caption"]) for p in copies)
    # What producers see: the video, with the header and the officer's caption.
    received = world.producer_log()
    assert len(received) == 2 and all(m.media == "video" for m in received)
    assert all("Thông báo từ Cán bộ A" in m.text and "Xem video hướng dẫn" in m.text for m in received)


# ---- crashes and control ------------------------------------------------------------------------------
class HangsOnce:
    """A worker's sender that hangs forever on its n-th call, before Telegram gets it (a process killed
    there)."""

    def __init__(self, inner: TelegramSender, n: int) -> None:
        self.inner, self.n, self.calls = inner, n, 0

    async def send(self, chat_id: int, html: str, buttons: Buttons | None) -> SendResult:
        self.calls += 1
        if self.calls == self.n:
            await asyncio.Event().wait()
        return await self.inner.send(chat_id, html, buttons)

    async def send_media(
        self, chat_id: int, media: Media, caption: str, buttons: Buttons | None
    ) -> SendResult:
        return await self.inner.send_media(chat_id, media, caption, buttons)


async def test_a_restart_in_the_middle_loses_and_duplicates_nothing(world: World) -> None:
    ids = list(range(14_000, 14_200))
    await world.users(ids)
    bid = await world.broadcast()
    hangs = HangsOnce(world.sender, 30)
    old = world.outbox.worker(hangs, sleep=world.vt.sleep, name="old")

    async def hung() -> bool:
        return hangs.calls >= 30

    await world.drive(hung, worker=old, crash=True)  # killed: leases and a half-made queue stay
    b = await world.get(bid)
    assert not b.queue_done and b.reported_at is None
    # The new process: a fresh worker and runner on the same database.
    world.clock.advance(seconds=61)  # the dead worker's leases run out
    await world.drive(lambda: world.finished(bid))
    got = world.received()
    assert set(got) == set(ids) and set(got.values()) == {1}
    assert "Đã nhận: 200" in progress_message(world).text


async def test_pause_holds_the_rest_and_resume_finishes_it(world: World) -> None:
    ids = list(range(15_000, 15_150))
    await world.users(ids)
    bid = await world.broadcast()

    async def twenty() -> bool:
        return len(world.producer_log()) >= 20

    await world.drive(twenty)
    await world.service.pause(ADMIN, bid)
    paused_at = len(world.producer_log())
    stop_at = world.vt.seconds() + 30

    async def thirty_seconds() -> bool:
        return world.vt.seconds() >= stop_at

    await world.drive(thirty_seconds)
    assert len(world.producer_log()) == paused_at  # nothing left while paused (the worker had stopped)
    shown = progress_message(world)
    assert shown.text.startswith("⏸") and shown.labels == ["▶️ Tiếp tục", "⏹ Hủy"]
    await world.service.resume(ADMIN, bid)
    await world.drive(lambda: world.finished(bid))
    got = world.received()
    assert set(got) == set(ids) and set(got.values()) == {1}


async def test_pause_while_sending_stops_within_the_lookahead(world: World) -> None:
    await world.users(list(range(15_500, 15_600)))
    bid = await world.broadcast()
    paused: list[int] = []

    async def pause_at_fifteen() -> bool:
        n = len(world.producer_log())
        if not paused and n >= 15:
            await world.service.pause(ADMIN, bid)
            paused.append(n)
        return bool(paused) and world.vt.seconds() > 20

    await world.drive(pause_at_fifteen)
    # What the worker had claimed ahead (about lookahead × rate) still leaves; nothing after.
    assert len(world.producer_log()) - paused[0] <= 2 * RATE
    rows = await world.rows(bid)
    assert {r.state for r in rows} <= {OutboxState.SENT, OutboxState.HELD}


async def test_cancel_mid_way_sends_nothing_more_and_reports(world: World) -> None:
    ids = list(range(16_000, 16_200))
    await world.users(ids)
    bid = await world.broadcast()

    async def thirty() -> bool:
        return len(world.producer_log()) >= 30

    await world.drive(thirty)
    await world.service.cancel(ADMIN, bid)
    at_cancel = len(world.producer_log())
    await world.drive(lambda: world.finished(bid, files=1))
    sent = len(world.producer_log())
    assert sent - at_cancel <= 2 * RATE and sent < len(ids)
    assert set(world.received().values()) == {1}
    b = await world.get(bid)
    report = progress_message(world)
    assert b.state == "cancelled" and report.text.startswith("⏹ Đã hủy thông báo")
    ((_, data),) = world.port.files
    failures = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    rows = await world.rows(bid)
    assert len([f for f in failures if f["state"] == "cancelled"]) == sum(
        r.state == "cancelled" for r in rows
    )
    assert sum(r.state == "sent" for r in rows) == sent


# ---- scheduling ----------------------------------------------------------------------------------------
async def test_a_scheduled_broadcast_fires_once_at_its_time(world: World) -> None:
    ids = list(range(17_000, 17_030))
    await world.users(ids)
    at = world.clock.now() + timedelta(hours=2)
    bid = await world.broadcast(at=at)
    # Two processes' runners (or one restarted): both look at the same table.
    one = world.service.runner(world.port, sleep=world.vt.sleep)
    two = BroadcastService(world.db, world.clock, Renderer(), rate=RATE, batch=40).runner(world.port)
    world.clock.advance(hours=1, minutes=59)
    await one.tick()
    await two.tick()
    assert await world.rows(bid) == [] and (await world.get(bid)).state == "scheduled"
    world.clock.set(at)
    await one.tick()
    await two.tick()
    await one.tick()
    b = await world.get(bid)
    assert b.state == "running" and b.started_at == at
    async with world.db.session() as s:
        starts = (
            (await s.execute(select(AuditLog).where(AuditLog.action == "broadcast.start"))).scalars().all()
        )
    assert len(starts) == 1
    await world.drive(lambda: world.finished(bid))
    got = world.received()
    assert set(got) == set(ids) and set(got.values()) == {1}
    assert min(m.at for m in world.producer_log()) >= at.timestamp()


async def test_a_scheduled_broadcast_can_be_cancelled_until_it_starts(world: World) -> None:
    await world.users([17_500])
    bid = await world.broadcast(at=world.clock.now() + timedelta(minutes=30))
    await world.service.cancel(ADMIN, bid)
    world.clock.advance(hours=1)
    await world.service.runner(world.port).tick()
    assert await world.rows(bid) == [] and (await world.get(bid)).state == "cancelled"


# ---- several processes ---------------------------------------------------------------------------------
@pytest.mark.skipif(not PG_URL, reason="row locks and SKIP LOCKED need PostgreSQL (TEST_DATABASE_URL)")
async def test_two_processes_on_postgresql_share_a_broadcast_without_duplicates(world: World) -> None:
    assert world.db.schema is not None
    other_db = Database(PG_URL, schema=world.db.schema)  # the second process's own connections
    try:
        ids = list(range(18_000, 18_150))
        await world.users(ids)
        bid = await world.broadcast()
        world.vt.participants = 4
        other = BroadcastService(other_db, world.clock, Renderer(), rate=RATE, edit_every=2.0, batch=40)
        workers = [
            world.outbox.worker(world.sender, sleep=world.vt.sleep, name="one"),
            OutboxWorker(
                OutboxStore(other_db),
                world.sender,
                world.clock,
                sleep=world.vt.sleep,
                pacing=world.outbox.pacing,
                retry=world.outbox.retry,
                name="two",
            ),
        ]
        runners = [
            world.service.runner(world.port, sleep=world.vt.sleep),
            other.runner(world.port, sleep=world.vt.sleep),
        ]
        for w in workers:
            w.start()
        for r in runners:
            r.start()
        for _ in range(30_000):
            if await world.finished(bid):
                break
            await asyncio.sleep(0.002)
        for w in workers:
            await w.stop()
            world.vt.leave()
        for r in runners:
            await r.stop()
            world.vt.leave()
        got = world.received()
        assert set(got) == set(ids) and set(got.values()) == {1}
        assert workers[0].sent > 10 and workers[1].sent > 10
        log = world.producer_log()
        assert busiest_second(log) <= RATE and closest_pair_per_chat(log) >= 1.0
        assert "Đã nhận: 150" in progress_message(world).text
    finally:
        await other_db.dispose()
