"""An in-process bot session: the production Application on the fake Bot API (console, `ask`, bench)."""

from __future__ import annotations

import asyncio

from telegram.ext import BaseUpdateProcessor

from common.clock import Clock
from common.config import Settings
from compose import compose
from fakebot.core import FakeTelegram
from fakebot.driver import Harness
from fakebot.request import FAKE_BASE_URL, FAKE_FILE_URL, FakeRequest
from handlers.app import build_application
from handlers.context import AppContext
from storage.db import Database


async def _no_wait(seconds: float) -> None:
    """Retries in an in-process session go on at once: the fake's faults need no real waiting."""
    await asyncio.sleep(0)


async def start_session(
    settings: Settings,
    *,
    clock: Clock | None = None,
    db: Database | None = None,
    update_processor: BaseUpdateProcessor | None = None,
) -> tuple[Harness, AppContext]:
    """Build the real Application (same factory as production) talking to an in-memory Bot API."""
    fake = FakeTelegram()
    ctx = compose(settings, clock=clock, db=db, flood_now=fake.time.now)
    app = build_application(
        ctx,
        request=FakeRequest(fake),
        rate_limit=False,
        base_url=FAKE_BASE_URL,
        base_file_url=FAKE_FILE_URL,
        update_processor=update_processor,
        sleep=_no_wait,
    )
    harness = await Harness.start(app, fake)
    return harness, ctx
