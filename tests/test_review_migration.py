"""Migration 0008_review: dossiers and their history written with the old placeholder statuses are
mapped onto the review workflow's (and back on downgrade); the new columns start empty, the time of the
last status change is filled from the history."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Connection

from storage.db import Database, UTCDateTime
from storage.migrate import alembic_config

OLD = ["draft", "submitted", "under_review", "returned", "accepted", "rejected", "certified"]
NEW = ["draft", "submitted", "received", "returned", "forwarded", "not_rated", "rated"]


def _to(revision: str, down: bool = False):  # type: ignore[no-untyped-def]
    def run(conn: Connection) -> None:
        cfg = alembic_config(conn)
        (command.downgrade if down else command.upgrade)(cfg, revision)

    return run


async def _statuses(db: Database) -> tuple[list[str], list[tuple[str | None, str]]]:
    async with db.engine.begin() as conn:
        dossiers = (await conn.execute(text("SELECT status FROM dossiers ORDER BY id"))).scalars().all()
        history = (
            await conn.execute(text("SELECT from_status, to_status FROM dossier_status_history ORDER BY id"))
        ).all()
    return list(dossiers), [(a, b) for a, b in history]


USERS = sa.table(
    "users",
    *(sa.column(c) for c in ("id", "full_name", "role")),
    sa.column("muted_topics", sa.JSON()),
    sa.column("flow_data", sa.JSON()),
    sa.column("blocked", sa.Boolean()),
    sa.column("first_seen", UTCDateTime()),
    sa.column("last_seen", UTCDateTime()),
)
DOSSIERS = sa.table(
    "dossiers",
    *(sa.column(c) for c in ("id", "owner_id", "status", "version")),
    sa.column("answers", sa.JSON()),
    sa.column("flow_state", sa.JSON()),
    sa.column("review_mode", sa.Boolean()),
    sa.column("created_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
)
HISTORY = sa.table(
    "dossier_status_history",
    *(sa.column(c) for c in ("dossier_id", "from_status", "to_status", "note")),
    sa.column("at", UTCDateTime()),
)


async def test_old_statuses_are_mapped_and_back(database: Database) -> None:
    at = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    async with database.engine.begin() as conn:
        await conn.run_sync(_to("0007_staff", down=True))
        await conn.execute(
            USERS.insert().values(
                id=1,
                full_name="A",
                role="producer",
                muted_topics=[],
                flow_data={},
                blocked=False,
                first_seen=at,
                last_seen=at,
            )
        )
        for n, status in enumerate(OLD, start=1):
            await conn.execute(
                DOSSIERS.insert().values(
                    id=n,
                    owner_id=1,
                    status=status,
                    version=1,
                    answers={},
                    flow_state={},
                    review_mode=False,
                    created_at=at,
                    updated_at=at,
                )
            )
            await conn.execute(
                HISTORY.insert().values(
                    dossier_id=n, from_status="submitted", to_status=status, note="", at=at
                )
            )
        await conn.run_sync(_to("0008_review"))
    dossiers, history = await _statuses(database)
    assert dossiers == NEW
    assert [b for _, b in history] == NEW
    async with database.engine.begin() as conn:
        filled = (
            await conn.execute(text("SELECT COUNT(*) FROM dossiers WHERE status_at IS NOT NULL"))
        ).scalar()
        assert filled == len(OLD)
        await conn.run_sync(_to("0007_staff", down=True))
    dossiers, _ = await _statuses(database)
    assert dossiers == OLD
    async with database.engine.begin() as conn:
        await conn.run_sync(_to("head"))
