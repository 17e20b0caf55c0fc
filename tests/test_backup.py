"""`db backup` / `db restore`: a backup taken while the bot's engine is open restores with its data."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

import bot
from storage import backup
from storage.db import Database, async_url
from storage.models import User
from tests.conftest import PG_URL

WHEN = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


async def add_user(db: Database, user_id: int, name: str) -> None:
    async with db.session() as s:
        s.add(User(id=user_id, full_name=name, first_seen=WHEN, last_seen=WHEN))


async def user_names(url: str) -> list[str]:
    db = Database(url)
    try:
        async with db.session() as s:
            return sorted((await s.scalars(select(User.full_name))).all())
    finally:
        await db.dispose()


async def sqlite_with_users(path: Path, *names: str) -> Database:
    db = Database(f"sqlite:///{path}")
    await db.upgrade()
    for n, name in enumerate(names, start=1):
        await add_user(db, n, name)
    return db


async def test_online_backup_restores_into_a_new_database_with_the_data(tmp_path: Path) -> None:
    db = await sqlite_with_users(tmp_path / "live.db", "Lan", "Minh")
    try:  # the engine stays open (WAL mode) while the backup is taken
        dest = backup.backup_sqlite(tmp_path / "live.db", tmp_path / "backups" / "b.db")
        await add_user(db, 3, "after the backup")
    finally:
        await db.dispose()
    backup.restore_sqlite(dest, tmp_path / "restored" / "new.db")
    assert await user_names(f"sqlite:///{tmp_path / 'restored' / 'new.db'}") == ["Lan", "Minh"]
    again = Database(f"sqlite:///{tmp_path / 'restored' / 'new.db'}")
    try:
        await again.upgrade()  # a restored database is at a known revision and migrates on
    finally:
        await again.dispose()


async def test_restore_refuses_to_overwrite_data_without_force(tmp_path: Path) -> None:
    await (await sqlite_with_users(tmp_path / "old.db", "Lan")).dispose()
    await (await sqlite_with_users(tmp_path / "current.db", "Hoa")).dispose()
    dest = backup.backup_sqlite(tmp_path / "old.db", tmp_path / "old-backup.db")
    with pytest.raises(backup.BackupError, match="--force"):
        backup.restore_sqlite(dest, tmp_path / "current.db")
    assert await user_names(f"sqlite:///{tmp_path / 'current.db'}") == ["Hoa"]
    backup.restore_sqlite(dest, tmp_path / "current.db", force=True)
    assert await user_names(f"sqlite:///{tmp_path / 'current.db'}") == ["Lan"]


def test_restore_refuses_a_file_that_is_not_a_backup(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(backup.BackupError, match="not a backup"):
        backup.restore_sqlite(junk, tmp_path / "new.db")
    with pytest.raises(backup.BackupError, match="no backup file"):
        backup.restore_sqlite(tmp_path / "missing.db", tmp_path / "new.db")


def test_backup_never_overwrites_a_file(tmp_path: Path) -> None:
    (tmp_path / "live.db").write_bytes(b"")
    (tmp_path / "taken.db").write_bytes(b"keep me")
    with pytest.raises(backup.BackupError, match="exists already"):
        backup.backup_sqlite(tmp_path / "live.db", tmp_path / "taken.db")
    assert (tmp_path / "taken.db").read_bytes() == b"keep me"


def test_default_backup_names_are_stamped_in_utc() -> None:
    assert backup.default_backup_path("sqlite:///ocop.db", WHEN) == Path("backups/ocop-20260302-0200.db")
    assert backup.default_backup_path("postgresql://u@h/db", WHEN) == Path("backups/ocop-20260302-0200.dump")


def test_pg_commands_keep_the_password_out_of_argv_and_out_of_print() -> None:
    dump = backup.pg_dump_command("postgresql://ocop:p%40ss@db.local:5433/ocop", Path("b.dump"))
    assert dump.argv == [
        "pg_dump",
        "--format=custom",
        "--no-owner",
        "--file=b.dump",
        "--host=db.local",
        "--port=5433",
        "--username=ocop",
        "ocop",
    ]
    assert dump.env == {"PGPASSWORD": "p@ss"}
    assert "p@ss" not in dump.shown() and dump.shown().startswith("PGPASSWORD=... pg_dump ")


async def test_command_line_backup_and_restore(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    await (await sqlite_with_users(tmp_path / "live.db", "Lan")).dispose()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'live.db'}")
    assert bot.main(["db", "backup"]) == 0
    [made] = list((tmp_path / "backups").iterdir())
    assert made.name.startswith("ocop-") and made.suffix == ".db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'restored.db'}")
    assert bot.main(["db", "restore", str(made)]) == 0
    assert bot.main(["db", "restore", str(made)]) == 2  # now it holds data: --force needed
    assert bot.main(["db", "restore", str(made), "--force"]) == 0
    assert await user_names(f"sqlite:///{tmp_path / 'restored.db'}") == ["Lan"]


@pytest.fixture
async def two_pg_databases() -> AsyncIterator[tuple[str, str]]:
    if not PG_URL or shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("needs TEST_DATABASE_URL and the PostgreSQL client tools")
    names = [f"ocop_backup_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    admin = create_async_engine(async_url(PG_URL), isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        for name in names:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        urls = [make_url(PG_URL).set(database=n).render_as_string(hide_password=False) for n in names]
        yield urls[0], urls[1]
    finally:
        async with admin.connect() as conn:
            for name in names:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def test_pg_dump_restores_into_another_database(
    two_pg_databases: tuple[str, str], tmp_path: Path
) -> None:
    source, target = two_pg_databases
    db = Database(source)
    try:
        await db.upgrade()
        await add_user(db, 1, "Lan")
    finally:
        await db.dispose()
    dump = tmp_path / "b.dump"
    backup.pg_dump_command(source, dump).run()
    assert dump.read_bytes().startswith(b"PGDMP")
    backup.pg_restore_command(target, dump).run()
    assert await user_names(target) == ["Lan"]
