"""Runs Alembic migrations on a live connection, so the bot, the CLI and the tests share one path.

On PostgreSQL the upgrade holds a transaction-level advisory lock: several instances starting at once
on one database take turns, the first migrates and the others find the schema at head. (SQLite has
one writer and one process per file; nothing to coordinate there.)
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# pg_advisory_xact_lock key shared by every instance of the bot: "OCOPMIG" as a number.
MIGRATION_LOCK_KEY = int.from_bytes(b"OCOPMIG", "big")


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade_connection(connection: Connection) -> None:
    """Upgrade the database behind `connection` to the newest revision (one instance at a time)."""
    if connection.dialect.name == "postgresql":
        # Released when the caller's transaction ends, i.e. after the migrations commit.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    command.upgrade(alembic_config(connection), "head")
