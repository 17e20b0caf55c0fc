"""The database going away for a moment: the update fails cleanly, the user is asked to try again,
nothing is half-written, and the bot carries on by itself once the database is back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import create_async_engine

from fakebot.driver import Harness
from knowledge.models import Question

APOLOGY = "tôi vừa gặp lỗi"


class Outage:
    """Every statement fails (as a lost connection does) while `down`; `after` lets N through first."""

    def __init__(self) -> None:
        self.down = False
        self.after = 0
        self.failed = 0

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not self.down:
            return
        if self.after > 0:
            self.after -= 1
            return
        self.failed += 1
        raise OperationalError(statement, None, ConnectionError("database unavailable"))


@contextmanager
def outage(bot: Harness) -> Iterator[Outage]:
    engine = bot.app.bot_data["ctx"].db.engine.sync_engine
    injector = Outage()
    event.listen(engine, "before_cursor_execute", injector)
    try:
        yield injector
    finally:
        event.remove(engine, "before_cursor_execute", injector)


async def _questions(bot: Harness) -> int:
    async with bot.app.bot_data["ctx"].db.session() as s:
        return int((await s.execute(select(func.count()).select_from(Question))).scalar_one())


async def test_an_outage_gets_an_apology_and_the_bot_recovers(bot: Harness) -> None:
    lan = bot.user(701, "Lan")
    await lan.send("/start")
    with outage(bot) as db:
        db.down = True
        with bot.expect_error() as errors:
            replies = await lan.send("ocop là gì")
        assert errors and APOLOGY in replies[-1].text and "thử lại" in replies[-1].text
        db.down = False
        assert "OCOP" in (await lan.send("ocop là gì"))[-1].text  # back by itself, no restart
    assert db.failed >= 1


async def test_a_failure_in_the_middle_of_an_update_writes_nothing(bot: Harness) -> None:
    lan = bot.user(702, "Lan")
    await lan.send("/start")
    before = await _questions(bot)
    for after in range(1, 8):  # fail at each statement of the update in turn
        with outage(bot) as db:
            db.down, db.after = True, after
            with bot.expect_error():
                await lan.send(f"cho hỏi về ocop lần {after}")
            db.down = False
        count = await _questions(bot)
        assert count in (before, before + 1)  # the question is stored whole or not at all
        before = count
    assert "OCOP" in (await lan.send("ocop là gì"))[-1].text


async def test_connections_killed_by_the_server_are_replaced(bot: Harness) -> None:
    """PostgreSQL restarted under the bot: pooled connections die; the next update still works."""
    db = bot.app.bot_data["ctx"].db
    lan = bot.user(703, "Lan")
    await lan.send("/start")
    if db.is_sqlite:
        await db.engine.dispose()  # the file is closed and reopened: the nearest SQLite analogue
    else:
        async with db.engine.connect() as conn:  # the pooled connection the next update will reuse
            pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        killer = create_async_engine(db.url)
        async with killer.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        await killer.dispose()
    assert "OCOP" in (await lan.send("ocop là gì"))[-1].text
