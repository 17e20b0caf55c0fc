"""Is the database answering? One cheap round trip, bounded in time (the webhook health endpoint)."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from storage.db import Database


async def database_answers(db: Database, within: float = 2.0) -> bool:
    """True when `SELECT 1` comes back within `within` seconds."""

    async def ping() -> None:
        async with db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    try:
        async with asyncio.timeout(within):
            await ping()
    except Exception:
        return False
    return True
