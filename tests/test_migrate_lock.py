"""Several instances starting on one fresh PostgreSQL database migrate it once, taking turns."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from storage.db import Database, async_url
from storage.migrate import MIGRATION_LOCK_KEY, alembic_config
from tests.conftest import PG_URL

pytestmark = pytest.mark.skipif(not PG_URL, reason="advisory locks are PostgreSQL's (TEST_DATABASE_URL)")

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


@pytest.fixture
async def fresh_db_url() -> AsyncIterator[str]:
    """A new, empty PostgreSQL database for this test, dropped afterwards."""
    name = f"ocop_migrate_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(async_url(PG_URL), isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def version(url: str) -> str | None:
    db = Database(url)
    try:
        async with db.engine.connect() as conn:
            return (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
    finally:
        await db.dispose()


async def test_two_concurrent_upgrades_of_a_fresh_database_both_succeed(fresh_db_url: str) -> None:
    instances = [Database(fresh_db_url) for _ in range(3)]
    try:
        await asyncio.wait_for(asyncio.gather(*(db.upgrade() for db in instances)), timeout=60)
    finally:
        for db in instances:
            await db.dispose()
    assert await version(fresh_db_url) == HEAD


async def test_an_upgrade_waits_for_the_instance_holding_the_migration_lock(fresh_db_url: str) -> None:
    holder = Database(fresh_db_url)
    waiter = Database(fresh_db_url)
    try:
        async with holder.engine.connect() as conn:
            await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
            task = asyncio.create_task(waiter.upgrade())
            deadline = time.monotonic() + 30
            while True:  # bounded wait until the upgrade is queued on the lock
                waiting = (
                    await conn.execute(
                        text(
                            "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                            "WHERE l.locktype = 'advisory' AND NOT l.granted "
                            "AND d.datname = current_database()"
                        )
                    )
                ).scalar_one()
                if waiting:
                    break
                assert not task.done(), task.exception() if task.done() else None
                assert time.monotonic() < deadline, "the upgrade never asked for the migration lock"
                await asyncio.sleep(0.05)
            exists = await conn.execute(text("SELECT to_regclass('alembic_version')"))
            assert exists.scalar_one() is None  # nothing migrated while the lock is held elsewhere
            await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK_KEY})
            await conn.commit()
        await asyncio.wait_for(task, timeout=60)
    finally:
        await holder.dispose()
        await waiter.dispose()
    assert await version(fresh_db_url) == HEAD
