"""Shared fixtures: a fresh database per test (SQLite file, or a PostgreSQL schema when
TEST_DATABASE_URL points at one), a fake clock, settings, and the bot behind the fake Bot API."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from common.clock import FakeClock
from common.config import Settings
from fakebot.driver import Harness
from fakebot.session import start_session
from knowledge.index import KnowledgeIndex, build_index
from storage.db import Database, async_url

STAFF_ID = 500
ADMIN_ID = 501
STAFF_CHAT_ID = -1001234567890
PG_URL = os.environ.get("TEST_DATABASE_URL", "")


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated, empty database of its own for each test."""
    if PG_URL:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        admin = create_async_engine(async_url(PG_URL))
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        db = Database(PG_URL, schema=schema)
        try:
            await db.upgrade()
            yield db
        finally:
            await db.dispose()
            async with admin.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            await admin.dispose()
    else:
        db = Database(f"sqlite:///{tmp_path / 'test.db'}")
        await db.upgrade()
        try:
            yield db
        finally:
            await db.dispose()


@pytest.fixture(scope="session")
def real_index() -> KnowledgeIndex:
    """The index of the real knowledge base, built once for the whole run (every bot the tests start
    shares the same build through `knowledge.index`)."""
    return build_index(None, {}, 0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(tmp_path: Path, database: Database) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram_bot_token="123456:TEST",
        database_url=database.url,
        staff_ids=[STAFF_ID],
        admin_ids=[ADMIN_ID],
        staff_chat_id=STAFF_CHAT_ID,
        storage_dir=tmp_path / "files",
    )


BotFactory = Callable[[], Awaitable[Harness]]


@pytest.fixture
async def make_bot(settings: Settings, database: Database, clock: FakeClock) -> AsyncIterator[BotFactory]:
    """Build the production Application on the fake Bot API; call again to simulate a restart
    (a new Application, same database)."""
    harnesses: list[Harness] = []

    async def factory() -> Harness:
        harness, _ctx = await start_session(settings, clock=clock, db=database)
        harnesses.append(harness)
        return harness

    yield factory
    for h in harnesses:
        h.app.bot_data["ctx"].db = database  # shutdown disposes the engine; the fixture owns it
        await h.app.shutdown()


@pytest.fixture
async def bot(make_bot: BotFactory) -> Harness:
    return await make_bot()
