"""Shared fixtures: a fresh database per test (a copy of a migrated SQLite file, or an emptied
PostgreSQL schema when TEST_DATABASE_URL points at one), a fake clock, settings, and the bot behind
the fake Bot API."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from common.clock import FakeClock
from common.config import Settings
from common.render import Renderer
from fakebot.driver import Harness
from fakebot.session import start_session
from knowledge.classifier import MODEL_CACHE_ENV
from knowledge.index import KnowledgeIndex, build_index
from storage.db import Database, async_url

STAFF_ID = 500
ADMIN_ID = 501
# What an expired, forged or someone else's button gets (and a non-staff member pressing a staff one).
STALE = Renderer().render("common/stale_button")
STAFF_CHAT_ID = -1001234567890
PG_URL = os.environ.get("TEST_DATABASE_URL", "")
# The test run's processes (xdist workers, the bot processes some tests start) share one model cache of
# their own: the real classifier is trained once per run, never read from or written to the user's cache.
os.environ.setdefault(
    MODEL_CACHE_ENV, str(Path(tempfile.gettempdir()) / f"tro-ly-ocop-test-models-{os.getuid()}")
)


@dataclass
class _PgSchema:
    """A migrated PostgreSQL schema one test worker reuses: emptied and re-seeded after each test."""

    name: str
    tables: list[str]
    seeds: dict[str, list[dict[str, Any]]]


async def _migrate_sqlite(path: Path) -> None:
    db = Database(f"sqlite:///{path}")
    try:
        await db.upgrade()
    finally:
        await db.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database migrated once per run; each test gets a copy (a migration per test cost ~0.13 s)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    asyncio.run(_migrate_sqlite(path))
    return path


async def _pg_schema_setup(schema: str) -> _PgSchema:
    admin = create_async_engine(async_url(PG_URL))
    try:
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        db = Database(PG_URL, schema=schema)
        try:
            await db.upgrade()
        finally:
            await db.dispose()
        async with admin.begin() as conn:
            names = (
                (
                    await conn.execute(
                        text("SELECT tablename FROM pg_tables WHERE schemaname = :s ORDER BY tablename"),
                        {"s": schema},
                    )
                )
                .scalars()
                .all()
            )
            tables = [n for n in names if n != "alembic_version"]
            seeds = {}
            for name in tables:
                rows = (await conn.execute(text(f'SELECT * FROM "{schema}"."{name}"'))).mappings().all()
                if rows:
                    seeds[name] = [dict(r) for r in rows]
    finally:
        await admin.dispose()
    return _PgSchema(schema, tables, seeds)


async def _pg_schema_reset(pg: _PgSchema) -> None:
    """Drop the tables a test created, empty every other table and put the migrations' own rows back."""
    admin = create_async_engine(async_url(PG_URL))
    try:
        async with admin.begin() as conn:
            await conn.execute(text("SET LOCAL lock_timeout = '20s'"))
            listed_now = text("SELECT tablename FROM pg_tables WHERE schemaname = :s")
            names = (await conn.execute(listed_now, {"s": pg.name})).scalars().all()
            for extra in set(names) - set(pg.tables) - {"alembic_version"}:
                await conn.execute(text(f'DROP TABLE "{pg.name}"."{extra}" CASCADE'))
            listed = ", ".join(f'"{pg.name}"."{t}"' for t in pg.tables)
            await conn.execute(text(f"TRUNCATE {listed} RESTART IDENTITY CASCADE"))
            for name, rows in pg.seeds.items():
                for row in rows:
                    cols = ", ".join(f'"{c}"' for c in row)
                    params = ", ".join(f":{c}" for c in row)
                    insert = f'INSERT INTO "{pg.name}"."{name}" ({cols}) VALUES ({params})'
                    await conn.execute(text(insert), row)
    finally:
        await admin.dispose()


async def _pg_schema_drop(schema: str) -> None:
    admin = create_async_engine(async_url(PG_URL))
    try:
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        await admin.dispose()


@pytest.fixture(scope="session")
def pg_schema() -> Iterator[_PgSchema | None]:
    """With TEST_DATABASE_URL: one migrated schema for this test process (each xdist worker has its own)."""
    if not PG_URL:
        yield None
        return
    pg = asyncio.run(_pg_schema_setup(f"t_{uuid.uuid4().hex[:12]}"))
    yield pg
    asyncio.run(_pg_schema_drop(pg.name))


@pytest.fixture
async def database(
    tmp_path: Path, sqlite_template: Path, pg_schema: _PgSchema | None
) -> AsyncIterator[Database]:
    """A migrated, empty database of its own for each test: a copy of the migrated SQLite file, or the
    worker's PostgreSQL schema, emptied and re-seeded after the test."""
    if pg_schema is not None:
        db = Database(PG_URL, schema=pg_schema.name)
        try:
            yield db
        finally:
            await db.dispose()
            await _pg_schema_reset(pg_schema)
    else:
        path = tmp_path / "test.db"
        shutil.copyfile(sqlite_template, path)
        db = Database(f"sqlite:///{path}")
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
