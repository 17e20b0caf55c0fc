"""The reminder job with a fake clock (never sleeping): each kind fires at its moment to the right people
only, once (run twice, restart with a new composition on the same database), muted topics and quiet
hours are respected, a reminder missed while the bot was down is sent late only while still useful,
cancelled and moved events stop or re-time their reminders, and a reminder reaches the user's chat
through the outbox with its button."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from common.clock import FakeClock, parse_local_datetime
from common.config import Settings
from compose import AppContext, compose
from dossier.models import Dossier
from fakebot.driver import Harness
from scheduler.event_models import ReminderDelivery
from scheduler.events import EventDraft
from storage.db import Database
from storage.models import User
from storage.outbox_models import OutboxMessage
from tests.conftest import STAFF_ID

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def local(text: str) -> datetime:
    moment = parse_local_datetime(text, HCM)
    assert moment is not None, text
    return moment


async def users(ctx: AppContext, *specs: tuple[int, str | None, list[str]], role: str = "producer") -> None:
    now = ctx.clock.now()
    async with ctx.db.session() as s:
        for uid, commune, muted in specs:
            s.add(User(id=uid, full_name=f"U{uid}", commune=commune, muted_topics=muted, role=role,
                       flow_data={}, blocked=False, first_seen=now, last_seen=now))


async def dossier(ctx: AppContext, owner: int, status: str = "draft", *, commune: str | None = None,
                  name: str = "Mật ong rừng", valid_until: date | None = None,
                  updated: datetime | None = None) -> int:
    now = updated or ctx.clock.now()
    async with ctx.db.session() as s:
        d = Dossier(owner_id=owner, status=status, product_name=name, commune=commune,
                    answers={"product_name": name}, flow_state={}, created_at=now, updated_at=now,
                    valid_until=valid_until, stars=4 if valid_until else None)
        s.add(d)
        await s.flush()
        return d.id


async def event(ctx: AppContext, kind: str, starts: str, *, communes: list[str] | None = None,
                title: str = "Sự kiện", capacity: int | None = None, ends: str | None = None) -> int:
    draft = EventDraft(kind=kind, title=title, starts_at=local(starts), ends_at=local(ends) if ends else None,
                       communes=communes or [], capacity=capacity, place="Hội trường xã")
    return (await ctx.events.create(ctx.staff, STAFF_ID, draft)).id


async def queued(ctx: AppContext) -> list[tuple[int, str]]:
    """(chat, key) of every queued reminder, oldest first."""
    async with ctx.db.session() as s:
        rows = (await s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "reminder")
                                .order_by(OutboxMessage.id))).all()
    return [(r.chat_id, r.idempotency_key or "") for r in rows]


async def tick_at(ctx: AppContext, clock: FakeClock, when: str, kind: str | None = None) -> int:
    """Run the job at local time `when`; how many reminders (of `kind`) it queued."""
    clock.set(local(when))
    result = await ctx.reminders.tick()
    return len([d for d in result.due if kind is None or d.kind == kind])


async def test_training_reminders_fire_once_each_to_registrants_across_a_restart(
    settings: Settings, database: Database, clock: FakeClock
) -> None:
    ctx = compose(settings, clock=clock, db=database)
    await users(ctx, (1, None, []), (2, None, ["events"]), (3, None, []))
    ev = await event(ctx, "training", "10/03/2026 08:00", title="Tập huấn ghi nhãn", capacity=10)
    await ctx.events.register(1, ev)
    await ctx.events.register(2, ev)
    assert await tick_at(ctx, clock, "09/03/2026 07:59") == 0
    assert await tick_at(ctx, clock, "09/03/2026 08:01") == 1
    assert await ctx.reminders.tick() == type(await ctx.reminders.tick())(0, 0, [])  # run twice: nothing
    restarted = compose(settings, clock=clock, db=database)  # a new process on the same database
    assert (await restarted.reminders.tick()).queued == 0
    assert await tick_at(restarted, clock, "10/03/2026 06:01") == 1  # 2 h before, in quiet hours: urgent
    assert await tick_at(restarted, clock, "10/03/2026 08:01") == 0  # started: nothing more
    keys = await queued(ctx)
    assert [c for c, _ in keys] == [1, 1]
    assert keys[0][1].endswith("|24h|1") and keys[1][1].endswith("|2h|1")


async def test_deadline_reminders_go_only_to_unfinished_dossiers_of_the_commune_naming_what_lacks(
    settings: Settings, database: Database, clock: FakeClock
) -> None:
    ctx = compose(settings, clock=clock, db=database)
    await users(ctx, (11, None, []), (12, None, []), (13, None, []), (14, None, []), (15, None, ["rounds"]),
                (16, "Xuân Mai", []))
    a = await dossier(ctx, 11, "draft", commune="Xuân Mai", name="Mật ong rừng")
    b = await dossier(ctx, 12, "returned", commune="Xuân Mai", name="Chè búp")
    await dossier(ctx, 13, "submitted", commune="Xuân Mai")
    await dossier(ctx, 14, "draft", commune="Hòa Phú")
    await dossier(ctx, 15, "draft", commune="Xuân Mai")
    await event(ctx, "deadline", "20/03/2026 17:00", communes=["Xuân Mai"], title="Hạn nộp hồ sơ xã Xuân Mai")
    clock.set(local("06/03/2026 16:59"))
    early = await ctx.reminders.tick()
    assert early.queued == 0, [(d.kind, d.offset, d.user_id) for d in early.due]
    result_at = local("06/03/2026 17:01")
    clock.set(result_at)
    result = await ctx.reminders.tick()
    assert sorted(d.user_id for d in result.due) == [11, 12]
    first = next(d for d in result.due if d.user_id == 11)
    assert "Còn 14 ngày để nộp hồ sơ" in first.text and "Mật ong rừng" in first.text
    assert "còn thiếu:" in first.text
    assert first.buttons == [[{"text": "📝 Làm tiếp «Mật ong rừng»", "callback_data": f"dos:o:{a}"}]]
    assert next(d for d in result.due if d.user_id == 12).buttons[0][0]["callback_data"] == f"dos:o:{b}"
    assert await tick_at(ctx, clock, "10/03/2026 09:00", "deadline") == 0  # between offsets: nothing new
    assert await tick_at(ctx, clock, "17/03/2026 17:01", "deadline") == 2  # 3 days
    assert await tick_at(ctx, clock, "19/03/2026 17:01", "deadline") == 2  # 1 day
    assert await tick_at(ctx, clock, "20/03/2026 17:01", "deadline") == 0  # the deadline passed


async def test_certificate_expiry_reminders_with_the_rerate_button(
    settings: Settings, database: Database, clock: FakeClock
) -> None:
    ctx = compose(settings, clock=clock, db=database)
    await users(ctx, (21, None, []), (22, None, ["certificate"]))
    d = await dossier(ctx, 21, "rated", valid_until=date(2026, 6, 30), name="Gạo nếp cái hoa vàng")
    await dossier(ctx, 22, "rated", valid_until=date(2026, 6, 30))
    assert await tick_at(ctx, clock, "31/03/2026 23:59") == 0
    clock.set(local("01/04/2026 08:00"))
    result = await ctx.reminders.tick()
    (due,) = result.due
    assert due.user_id == 21 and "30/06/2026" in due.text and "còn 90 ngày" in due.text
    assert due.buttons == [[{"text": "🔁 Làm hồ sơ đánh giá lại", "callback_data": f"dos:rerate:{d}"}]]
    assert (await ctx.reminders.tick()).queued == 0
    assert await tick_at(ctx, clock, "31/05/2026 08:00") == 1  # 30 days
    assert await tick_at(ctx, clock, "15/06/2026 08:00") == 0


async def test_an_untouched_draft_and_returned_dossier_get_one_nudge_each(
    settings: Settings, database: Database, clock: FakeClock
) -> None:
    ctx = compose(settings, clock=clock, db=database)
    await users(ctx, (31, None, []), (32, None, []), (33, None, ["dossier"]))
    start = local("02/03/2026 09:00")
    clock.set(start)
    draft = await dossier(ctx, 31, "draft", updated=start)
    await dossier(ctx, 32, "returned", updated=start)
    await dossier(ctx, 33, "draft", updated=start)
    clock.set(start + timedelta(days=5, minutes=1))
    result = await ctx.reminders.tick()
    assert [(d.kind, d.user_id) for d in result.due] == [("returned_idle", 32)]
    clock.set(start + timedelta(days=7, minutes=1))
    result = await ctx.reminders.tick()
    assert [(d.kind, d.user_id) for d in result.due] == [("draft_idle", 31)]
    assert result.due[0].buttons[0][0]["callback_data"] == f"dos:o:{draft}"
    clock.set(start + timedelta(days=9))
    assert (await ctx.reminders.tick()).queued == 0  # one nudge, not one a day


async def test_a_round_opening_reaches_its_audience_except_muted_blocked_and_staff(
    settings: Settings, database: Database, clock: FakeClock
) -> None:
    ctx = compose(settings, clock=clock, db=database)
    await users(ctx, (41, "Xuân Mai", []), (42, "Hòa Phú", []), (43, "Xuân Mai", ["rounds"]), (44, None, []),
                (45, "Xuân Mai", []))
    await users(ctx, (46, "Xuân Mai", []), role="staff")
    await dossier(ctx, 44, "draft", commune="Xuân Mai")
    async with ctx.db.session() as s:
        (await s.get(User, 45)).blocked = True
    await event(ctx, "round", "05/03/2026 08:00", communes=["Xuân Mai"], title="Đợt đánh giá OCOP 2026",
                ends="30/06/2026 17:00")
    assert await tick_at(ctx, clock, "05/03/2026 07:59") == 0
    clock.set(local("05/03/2026 08:01"))
    result = await ctx.reminders.tick()
    assert sorted(d.user_id for d in result.due) == [41, 44]
    assert "Đợt đánh giá OCOP 2026" in result.due[0].text
    assert await tick_at(ctx, clock, "06/03/2026 08:00") == 0


async def test_quiet_hours_hold_a_non_urgent_reminder_until_morning(
    settings: Settings, database: Database, clock: FakeClock
) -> None:
    ctx = compose(settings, clock=clock, db=database)
    await users(ctx, (51, None, []))
    await dossier(ctx, 51, "draft", commune="Xuân Mai")
    await event(ctx, "deadline", "20/03/2026 22:00", communes=["Xuân Mai"])
    clock.set(local("17/03/2026 22:01"))  # 3 days before, but 22:01 local
    result = await ctx.reminders.tick()
    assert result.queued == 0 and result.held == 1
    assert await ctx.reminders.due(clock.now()) == []  # the preview says nothing goes now either
    assert await tick_at(ctx, clock, "18/03/2026 06:59") == 0
    assert await tick_at(ctx, clock, "18/03/2026 07:00") == 1
    assert (await queued(ctx))[0][1].endswith("|3d|51")


async def test_after_downtime_only_the_still_useful_reminder_is_sent(
    settings: Settings, database: Database, clock: FakeClock
) -> None:
    ctx = compose(settings, clock=clock, db=database)
    await users(ctx, (61, None, []))
    ev = await event(ctx, "training", "10/03/2026 16:00", capacity=5)
    await ctx.events.register(61, ev)
    assert await tick_at(ctx, clock, "09/03/2026 10:00") == 0  # 30 h before: nothing yet
    # The bot is down from then until 1 h 30 before the start: the 24-hour reminder's moment passed.
    assert await tick_at(ctx, clock, "10/03/2026 14:30") == 1
    stamp = int(local("10/03/2026 16:00").timestamp())
    assert [k for _, k in await queued(ctx)] == [f"training|ev:{ev}@{stamp}|2h|61"]
    async with ctx.db.session() as s:
        assert len((await s.scalars(select(ReminderDelivery))).all()) == 1


async def test_cancelled_events_are_silent_and_moved_ones_are_retimed(
    settings: Settings, database: Database, clock: FakeClock
) -> None:
    ctx = compose(settings, clock=clock, db=database)
    await users(ctx, (71, None, []))
    cancelled = await event(ctx, "training", "10/03/2026 08:00", title="Lớp bị huỷ")
    moved = await event(ctx, "training", "10/03/2026 14:00", title="Lớp dời lịch")
    await ctx.events.register(71, cancelled)
    await ctx.events.register(71, moved)
    await ctx.events.cancel(ctx.staff, STAFF_ID, cancelled)
    assert await tick_at(ctx, clock, "09/03/2026 14:01") == 1  # only the other one
    draft = await ctx.events.draft_of(moved)
    draft.starts_at = local("12/03/2026 14:00")
    await ctx.events.edit(ctx.staff, STAFF_ID, moved, draft)
    assert await tick_at(ctx, clock, "10/03/2026 12:30") == 0  # the old 2-hour mark: gone
    assert await tick_at(ctx, clock, "11/03/2026 14:01") == 1  # the new 24-hour mark
    async with ctx.db.session() as s:
        texts = (await s.scalars(select(OutboxMessage.text).order_by(OutboxMessage.id))).all()
    assert any("Huỷ sự kiện: Lớp bị huỷ" in t for t in texts)
    assert any("Thay đổi lịch: Lớp dời lịch" in t for t in texts)
    assert "12/03/2026 14:00" in texts[-1]


async def test_a_reminder_reaches_the_chat_through_the_outbox_and_the_job_is_scheduled(bot: Harness) -> None:
    ctx: AppContext = bot.app.bot_data["ctx"]
    clock: FakeClock = ctx.clock  # type: ignore[assignment]
    assert "reminders" in [job.name for job in bot.app.job_queue.jobs()]
    staff = bot.user(STAFF_ID, "Cán bộ")
    from tests.test_events_wizard import create_training

    await create_training(staff, when="10/03/2026 08:00")
    lan = bot.user(891, "Lan")
    await lan.send("/lich")
    await lan.press("1. Tập huấn làm hồ sơ OCOP")
    await lan.press("✅ Đăng ký tham gia")
    clock.set(local("09/03/2026 08:05"))
    from telegram.ext import CallbackContext

    from handlers.app import run_reminders

    await run_reminders(CallbackContext(bot.app))  # the JobQueue's callback, run by hand
    await run_reminders(CallbackContext(bot.app))
    await bot.deliver_outbox()
    assert len([m for m in lan.messages if "Nhắc lịch tập huấn" in m.text]) == 1
    assert "Nhắc lịch tập huấn" in lan.last.text and "10/03/2026 08:00" in lan.last.text
    assert lan.last.labels == ["📅 Xem sự kiện"]
    await lan.press("📅 Xem sự kiện")
    assert "Anh/chị đã đăng ký tham gia" in lan.last.text


async def test_the_preview_prints_what_would_go_and_sends_nothing(
    settings: Settings, database: Database, clock: FakeClock, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ctx = compose(settings, clock=clock, db=database)
    await users(ctx, (81, None, []))
    ev = await event(ctx, "training", "10/03/2026 08:00", title="Tập huấn bao bì", capacity=3)
    await ctx.events.register(81, ev)
    if database.schema:  # PostgreSQL: the preview opens its own engine on the test's schema
        pytest.skip("the preview reads DATABASE_URL; the schema-per-test database is not reachable by URL")
    monkeypatch.setenv("DATABASE_URL", database.url.replace("sqlite+aiosqlite:", "sqlite:"))
    from scheduler.reminders import preview_main

    code = await asyncio.to_thread(preview_main, ["preview", "--at", "09/03/2026 09:00"])
    out = capsys.readouterr().out
    assert code == 0 and "1 reminder(s) at 09/03/2026 09:00" in out and "81\ttraining\t24h" in out
    assert await queued(ctx) == []
    assert await asyncio.to_thread(preview_main, ["preview", "--at", "mai"]) == 2
    import bot  # the same through the command line: python bot.py reminders preview --at ...

    assert await asyncio.to_thread(bot.main, ["reminders", "preview", "--at", "09/03/2026 09:00"]) == 0
    assert "81\ttraining\t24h" in capsys.readouterr().out
    assert await queued(ctx) == []


async def test_two_processes_running_the_job_at_once_queue_each_reminder_once(
    settings: Settings, database: Database, clock: FakeClock
) -> None:
    ctx = compose(settings, clock=clock, db=database)
    other = compose(settings, clock=clock, db=database)
    await users(ctx, *[(900 + i, "Xuân Mai", []) for i in range(30)])
    await event(ctx, "round", "05/03/2026 08:00", communes=["Xuân Mai"], title="Đợt đánh giá")
    clock.set(local("05/03/2026 08:01"))
    first, second = await asyncio.gather(ctx.reminders.tick(), other.reminders.tick())
    assert first.queued + second.queued == 30
    assert sorted(c for c, _ in await queued(ctx)) == [900 + i for i in range(30)]


async def test_a_reminder_queued_just_before_a_cancel_or_a_move_does_not_go_out(
    settings: Settings, database: Database, clock: FakeClock
) -> None:
    ctx = compose(settings, clock=clock, db=database)
    await users(ctx, (72, None, []))
    first = await event(ctx, "training", "10/03/2026 08:00", title="Lớp sáng")
    second = await event(ctx, "training", "10/03/2026 15:00", title="Lớp chiều")
    await ctx.events.register(72, first)
    await ctx.events.register(72, second)
    assert await tick_at(ctx, clock, "09/03/2026 15:01") == 2  # both 24-hour reminders queued, not sent
    await ctx.events.cancel(ctx.staff, STAFF_ID, first)
    draft = await ctx.events.draft_of(second)
    draft.starts_at = local("11/03/2026 15:00")
    await ctx.events.edit(ctx.staff, STAFF_ID, second, draft)
    async with ctx.db.session() as s:
        rows = (await s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "reminder"))).all()
    assert sorted(r.state for r in rows) == ["cancelled", "cancelled"]
    assert await tick_at(ctx, clock, "10/03/2026 15:01") == 1  # the moved one is reminded at its new time
