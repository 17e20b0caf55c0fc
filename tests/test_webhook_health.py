"""The health endpoint on PTB's webhook server: 200 while the bot runs and its database answers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from common.clock import FakeClock
from common.config import Settings
from compose import compose
from fakebot.server import FakeServer
from handlers.app import build_application
from handlers.webhook import health, serve_webhook
from storage.db import Database
from tests.test_webhook_dedupe import text_update
from tests.test_webhook_process import SECRET, free_port


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    server = FakeServer().start()
    yield server
    server.stop()


async def test_health_follows_the_application_and_the_database(
    settings: Settings, database: Database, clock: FakeClock, fake_server: FakeServer
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = settings.model_copy(
        update={
            "webhook_port": port,
            "webhook_url": f"{base}/hook",
            "webhook_secret": SECRET,
            "deduplicate_updates": True,
        }
    )
    ctx = compose(settings, clock=clock, db=database)
    app = build_application(
        ctx, rate_limit=False, base_url=fake_server.base_url, base_file_url=fake_server.file_url
    )
    assert await health(app) == "not running"
    stop = asyncio.Event()
    serving = asyncio.create_task(serve_webhook(app, settings, stop))
    async with httpx.AsyncClient(timeout=10) as client:
        for _ in range(600):  # bounded: until the server is up (or the task failed)
            if serving.done():
                serving.result()
            try:
                if (await client.get(f"{base}/healthz")).status_code == 200:
                    break
            except httpx.ConnectError:
                pass
            await asyncio.sleep(0.05)
        answer = await client.get(f"{base}/healthz")
        assert (answer.status_code, answer.json()) == (200, {"status": "ok"})
        assert fake_server.webhook is not None and fake_server.webhook["url"] == f"{base}/hook"

        # The path comes from WEBHOOK_URL; the secret is checked by PTB's own handler.
        update = text_update(1, 42, "/start")
        assert (await client.post(f"{base}/hook", json=update)).status_code == 403
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        assert (await client.post(f"{base}/hook", json=update, headers=headers)).status_code == 200

        ctx.db = Database("postgresql://nobody@127.0.0.1:1/none")  # a database that does not answer
        answer = await client.get(f"{base}/healthz")
        assert (answer.status_code, answer.json()) == (503, {"status": "database unavailable"})
        await ctx.db.dispose()
        ctx.db = database

        stop.set()
        await asyncio.wait_for(serving, timeout=30)
        with pytest.raises(httpx.ConnectError):
            await client.get(f"{base}/healthz")
    assert fake_server.fake.bot_messages(42), "the update POSTed with the secret was answered"
