"""An update delivered twice — to one instance or to two sharing the database — is answered once."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from telegram import Update

from common.clock import FakeClock
from common.config import Settings
from fakebot.driver import Harness
from fakebot.session import start_session
from storage.db import Database
from storage.models import ProcessedUpdate
from storage.processed import ProcessedUpdates


def text_update(update_id: int, user_id: int, text: str) -> dict[str, Any]:
    message: dict[str, Any] = {
        "message_id": 1,
        "date": int(time.time()),
        "text": text,
        "chat": {"id": user_id, "type": "private", "first_name": "Lan"},
        "from": {"id": user_id, "is_bot": False, "first_name": "Lan"},
    }
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"update_id": update_id, "message": message}


async def deliver(harness: Harness, update: dict[str, Any]) -> None:
    """The production path an update takes after PTB's webhook server parsed it."""
    parsed = Update.de_json(update, harness.app.bot)
    await harness.app.update_processor.process_update(parsed, harness.app.process_update(parsed))


async def instances(
    settings: Settings, database: Database, clock: FakeClock, n: int, *, dedupe: bool
) -> list[Harness]:
    settings = settings.model_copy(update={"deduplicate_updates": dedupe})
    return [(await start_session(settings, clock=clock, db=database))[0] for _ in range(n)]


async def close(harnesses: list[Harness]) -> None:
    for h in harnesses:
        await h.app.shutdown()  # the database belongs to the fixture


def replies(harnesses: list[Harness], chat_id: int) -> int:
    return sum(len(h.fake.bot_messages(chat_id)) for h in harnesses)


async def test_claim_is_true_once_and_old_claims_are_pruned(database: Database, clock: FakeClock) -> None:
    processed = ProcessedUpdates(database, clock, keep=timedelta(days=2), prune_every=timedelta(minutes=10))
    assert await processed.claim(7) is True
    assert await processed.claim(7) is False
    assert await processed.claim(8) is True
    clock.advance(days=2, minutes=5)
    assert await processed.claim(9) is True  # prune due: 7 and 8 are older than two days
    async with database.session() as s:
        ids = sorted((await s.scalars(select(ProcessedUpdate.update_id))).all())
    assert ids == [9]
    assert await processed.claim(7) is True  # a pruned id is forgotten


async def test_pruning_runs_at_most_every_interval(database: Database, clock: FakeClock) -> None:
    processed = ProcessedUpdates(
        database, clock, keep=timedelta(minutes=1), prune_every=timedelta(minutes=10)
    )
    await processed.claim(1)
    clock.advance(minutes=5)
    await processed.claim(2)  # 1 is stale, but the last prune was 5 minutes ago
    async with database.session() as s:
        assert await s.scalar(select(func.count()).select_from(ProcessedUpdate)) == 2
    clock.advance(minutes=5)
    await processed.claim(3)
    async with database.session() as s:
        assert sorted((await s.scalars(select(ProcessedUpdate.update_id))).all()) == [3]


async def test_same_update_twice_to_one_instance_is_answered_once(
    settings: Settings, database: Database, clock: FakeClock
) -> None:
    [bot] = await instances(settings, database, clock, 1, dedupe=True)
    try:
        await deliver(bot, text_update(1000, 42, "/start"))
        await deliver(bot, text_update(1000, 42, "/start"))
        assert replies([bot], 42) == 1
        await deliver(bot, text_update(1001, 42, "/start"))  # a new update is answered as ever
        assert replies([bot], 42) == 2
        assert not bot.errors
    finally:
        await close([bot])


async def test_same_update_at_two_instances_at_once_is_answered_once(
    settings: Settings, database: Database, clock: FakeClock
) -> None:
    bots = await instances(settings, database, clock, 2, dedupe=True)
    try:
        for n in range(5):
            update_id, user = 2000 + n, 60 + n
            await asyncio.gather(
                deliver(bots[0], text_update(update_id, user, "sản phẩm ocop là gì")),
                deliver(bots[1], text_update(update_id, user, "sản phẩm ocop là gì")),
            )
            assert replies(bots, user) == 1, f"update {update_id}"
        assert not bots[0].errors and not bots[1].errors
    finally:
        await close(bots)


async def test_without_deduplication_a_redelivery_is_answered_again(
    settings: Settings, database: Database, clock: FakeClock
) -> None:
    """Polling's default (getUpdates' offset delivers once): the filter is off and adds no work."""
    [bot] = await instances(settings, database, clock, 1, dedupe=False)
    try:
        await deliver(bot, text_update(3000, 43, "/start"))
        await deliver(bot, text_update(3000, 43, "/start"))
        assert replies([bot], 43) == 2
        async with database.session() as s:
            assert await s.scalar(select(func.count()).select_from(ProcessedUpdate)) == 0
    finally:
        await close([bot])
