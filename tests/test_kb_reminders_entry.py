"""The "Bot có nhắc việc không?" answer (`nhac-viec`, `dynamic: reminders`) states the reminder schedule
the reminder job runs with (the settings), never fixed numbers from the knowledge base."""

from __future__ import annotations

import re

from common.clock import FakeClock
from common.config import Settings
from common.render import Renderer
from compose import compose
from fakebot.driver import Harness
from knowledge.kb import KnowledgeBase
from knowledge.schedule import ReminderSchedule
from knowledge.service import KnowledgeService
from storage.db import Database
from tests.conftest import BotFactory

QUESTION = "bot có nhắc hạn không"
ENTRY = "nhac-viec"


async def asked(bot: Harness, user_id: int) -> str:
    reply = (await bot.user(user_id, "Lan").send(QUESTION))[-1]
    assert "👍 Hữu ích" in reply.labels, reply.text  # answered, not a suggestion
    assert reply.text.startswith("Bot có nhắc việc"), reply.text
    return reply.text


async def test_the_answer_states_the_default_schedule(bot: Harness) -> None:
    text = await asked(bot, 701)
    assert "Lịch nhắc hiện nay:" in text
    assert "• 14, 3 và 1 ngày trước hạn nộp của xã/phường." in text
    assert "• 1 ngày và 2 giờ trước buổi tập huấn." in text
    assert "• 90 và 30 ngày trước ngày hết hạn giấy chứng nhận." in text
    assert "quá 7 ngày" in text and "quá 5 ngày" in text
    assert "Giờ nghỉ ban đêm: 21:00–7:00." in text
    # The schedule comes right after the short answer, the rest of the entry after it, unchanged.
    first, schedule, *_ = text.split("\n\n")[1:]
    assert first.startswith("Có. Bot tự nhắn") and schedule.startswith("Lịch nhắc hiện nay:")
    assert "36 tháng" in text and "30/6 và 30/12" in text and "huyện cũ" in text and "/caidat" in text


async def test_the_answer_follows_the_configured_schedule(settings: Settings, make_bot: BotFactory) -> None:
    settings.reminder_deadline_days = [10, 2]
    settings.reminder_training_hours = [48, 3]
    settings.reminder_certificate_days = [60]
    settings.reminder_draft_idle_days = 2.5
    settings.reminder_returned_idle_days = 10.0
    settings.quiet_hours_start = "22:00"
    settings.quiet_hours_end = "06:00"
    text = await asked(await make_bot(), 702)
    assert "• 10 và 2 ngày trước hạn nộp của xã/phường." in text
    assert "• 2 ngày và 3 giờ trước buổi tập huấn." in text
    assert "• 60 ngày trước ngày hết hạn giấy chứng nhận." in text
    assert "quá 2,5 ngày" in text and "quá 10 ngày" in text
    assert "Giờ nghỉ ban đêm: 22:00–6:00." in text
    # None of the defaults is promised anywhere in the answer.
    defaults = (r"\b14\b", r"\b1 ngày", r"\b2 giờ", r"\b90\b", r"\b30 ngày trước ngày", r"21:00", r"\b7:00")
    for default in defaults:
        assert not re.search(default, text), default
    assert "quá 7 ngày" not in text and "quá 5 ngày" not in text


async def test_the_reminders_the_job_does_not_send_are_not_promised(
    database: Database, clock: FakeClock
) -> None:
    schedule = ReminderSchedule(
        deadline_days=(),
        training_hours=(48, 36, 24, 2),  # largest first, as the settings keep them
        certificate_days=(),
        draft_idle_days=7.0,
        returned_idle_days=5.0,
        quiet_start="21:00",
        quiet_end="21:00",  # equal times: no quiet hours
    )
    knowledge = KnowledgeService(database, clock, reminders=schedule)
    entry = await knowledge.entry_view(ENTRY)
    assert entry is not None
    text = Renderer().render("kb/answer", entry=entry, place=None, product=None)
    assert "• Hạn nộp của xã/phường: hiện bot không nhắc." in text
    assert "• 2 ngày, 36 giờ, 1 ngày và 2 giờ trước buổi tập huấn." in text
    assert "• Giấy chứng nhận sắp hết hạn: hiện bot không nhắc." in text
    assert "• Không có giờ nghỉ ban đêm: tin nhắc gửi cả ban đêm." in text
    assert "quá 7 ngày" in text and "quá 5 ngày" in text


async def test_without_a_schedule_the_answer_reads_whole_and_names_no_configurable_number(
    database: Database, clock: FakeClock
) -> None:
    entry = await KnowledgeService(database, clock).entry_view(ENTRY)
    assert entry is not None and entry.reminders is None
    text = Renderer().render("kb/answer", entry=entry, place=None, product=None)
    assert "Lịch nhắc" not in text and "\n\n\n" not in text
    assert "Có. Bot tự nhắn cho anh/chị" in text and "/caidat" in text and "ban đêm" in text


def test_the_entry_text_states_no_setting_of_the_reminder_job() -> None:
    """The numbers the settings decide are only in the rendered schedule, never in the entry itself
    (what stays: the certificate's 36 months, the 30 days the issuing office gives, 30/6 and 30/12)."""
    entry = KnowledgeBase.load().entries[ENTRY]
    assert entry.dynamic == "reminders"
    numbers = set(re.findall(r"\d+(?:[:/]\d+)?", entry.answer + entry.detail))
    assert numbers <= {"36", "30", "3", "30/6", "30/12", "26/2026", "148/2023"}, numbers
    for setting in ("14", "90", "21:00", "7:00", "2 giờ", "7 ngày", "5 ngày"):
        assert setting not in entry.answer, setting


def test_the_schedule_is_what_the_settings_say() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram_bot_token="123456:TEST",
        reminder_deadline_days="1,14,3",
        reminder_training_hours="2,24",
        quiet_hours_start="21:30",
        quiet_hours_end="07:15",
    )
    schedule = ReminderSchedule.from_settings(settings)
    assert schedule.deadline_offsets == ((14, "day"), (3, "day"), (1, "day"))
    assert schedule.training_offsets == ((1, "day"), (2, "hour"))
    assert schedule.certificate_days == tuple(settings.reminder_certificate_days)
    assert schedule.draft_idle_days == settings.reminder_draft_idle_days
    assert schedule.quiet_hours
    assert (schedule.quiet_start_text, schedule.quiet_end_text) == ("21:30", "7:15")


def test_the_job_runs_the_schedule_the_answer_states(settings: Settings, database: Database) -> None:
    """One `ReminderSchedule`, read from the settings, both for the answer and for the reminder job."""
    settings.reminder_deadline_days = [10, 2]
    settings.reminder_training_hours = [48, 3]
    settings.quiet_hours_start = "22:00"
    settings.quiet_hours_end = "06:00"
    ctx = compose(settings, clock=FakeClock(), db=database)
    assert ctx.knowledge.reminders == ctx.reminders.schedule
    schedule = ctx.reminders.schedule
    assert schedule.deadline_days == (10, 2) and schedule.training_hours == (48, 3)
    assert (ctx.reminders.quiet_start.hour, ctx.reminders.quiet_end.hour) == (22, 6)
