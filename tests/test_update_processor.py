"""The per-user update processor: other users are not held up, one user's updates keep their order,
and the number running at once is bounded."""

from __future__ import annotations

import asyncio

from telegram import Update

from handlers.update_processor import PerUserUpdateProcessor, update_key


def _update(update_id: int, user_id: int) -> Update:
    return Update.de_json(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": 0,
                "chat": {"id": user_id, "type": "private"},
                "from": {"id": user_id, "is_bot": False, "first_name": "U"},
                "text": "x",
            },
        },
        None,
    )


async def test_another_user_is_not_held_up_and_one_user_stays_in_order() -> None:
    processor = PerUserUpdateProcessor(max_running=4)
    release = asyncio.Event()
    done: list[str] = []

    async def slow(name: str) -> None:
        await release.wait()
        done.append(name)

    async def quick(name: str) -> None:
        done.append(name)

    tasks = [
        asyncio.create_task(processor.process_update(_update(1, 10), slow("a1"))),
        asyncio.create_task(processor.process_update(_update(2, 10), quick("a2"))),
        asyncio.create_task(processor.process_update(_update(3, 20), quick("b1"))),
    ]
    for _ in range(20):
        await asyncio.sleep(0)
    assert done == ["b1"]  # user 20 was served while user 10's first update was still running
    assert processor.waiting_keys == 1
    release.set()
    await asyncio.gather(*tasks)
    assert done == ["b1", "a1", "a2"]  # user 10's updates in arrival order
    assert processor.waiting_keys == 0


async def test_running_updates_are_bounded() -> None:
    processor = PerUserUpdateProcessor(max_running=3)
    release = asyncio.Event()
    running = 0
    peak = 0

    async def work() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await release.wait()
        running -= 1

    tasks = [asyncio.create_task(processor.process_update(_update(i, 100 + i), work())) for i in range(10)]
    for _ in range(20):
        await asyncio.sleep(0)
    assert peak == 3
    release.set()
    await asyncio.gather(*tasks)
    assert peak == 3 and running == 0


def test_update_key_is_the_user_else_the_chat() -> None:
    assert update_key(_update(1, 42)) == 42
    channel_post = Update.de_json(
        {
            "update_id": 5,
            "channel_post": {"message_id": 1, "date": 0, "chat": {"id": -100, "type": "channel"}},
        },
        None,
    )
    assert update_key(channel_post) == -100
    assert update_key(object()) is None
