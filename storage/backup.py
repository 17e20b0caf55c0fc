"""Backups: SQLite through its online backup API (safe while the bot runs); PostgreSQL through pg_dump.

`python bot.py db backup [--output FILE]` and `python bot.py db restore FILE [--force]` call these.
A PostgreSQL dump is pg_dump's custom format, restored with pg_restore (the commands are printed
when the tools are not installed here, so they can be run where they are).
"""

from __future__ import annotations

import os
import shlex
import shutil
import sqlite3
import subprocess
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import make_url

BACKUP_DIR = Path("backups")


class BackupError(Exception):
    """A backup or restore that cannot be done, explained in one line."""


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_file(url: str) -> Path:
    """The database file of a sqlite:///path URL."""
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError(f"{url} is not a SQLite file")
    return Path(database)


def default_backup_path(url: str, now: datetime) -> Path:
    """backups/ocop-YYYYmmdd-HHMM.db (SQLite) or .dump (PostgreSQL), stamped in UTC."""
    suffix = ".db" if is_sqlite(url) else ".dump"
    return BACKUP_DIR / f"ocop-{now:%Y%m%d-%H%M}{suffix}"


def backup_sqlite(database: Path, dest: Path) -> Path:
    """Copy `database` to the new file `dest` with SQLite's online backup API (a consistent snapshot,
    even while the bot is writing)."""
    if not database.is_file():
        raise BackupError(f"no database file at {database}")
    if dest.exists():
        raise BackupError(f"{dest} exists already; choose another --output")
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with closing(_read_only(database)) as src, closing(sqlite3.connect(dest)) as dst:
            src.backup(dst)
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    return dest


def restore_sqlite(backup: Path, database: Path, *, force: bool = False) -> None:
    """Replace `database` with the content of `backup`; a database that holds tables is only
    overwritten with `force` (stop the bot first)."""
    if not backup.is_file():
        raise BackupError(f"no backup file at {backup}")
    _check_backup(backup)
    database.parent.mkdir(parents=True, exist_ok=True)
    with closing(_read_only(backup)) as src, closing(sqlite3.connect(database)) as dst:
        if _has_tables(dst) and not force:
            raise BackupError(f"{database} already holds data; stop the bot and add --force to replace it")
        src.backup(dst)


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def _has_tables(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0] > 0


def _check_backup(backup: Path) -> None:
    """A readable, undamaged SQLite file with this bot's migrations in it, or BackupError."""
    try:
        with closing(_read_only(backup)) as conn:
            ok = conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            version = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{backup} is not a backup of this bot's SQLite database ({exc})") from None
    if not ok or version is None:
        raise BackupError(f"{backup} is damaged or not a backup of this bot's database")


@dataclass(frozen=True)
class Command:
    """A PostgreSQL client command: its argv, the environment it needs, and how to show it."""

    argv: list[str]
    env: dict[str, str]

    def shown(self) -> str:
        """The command line to print (the password as a placeholder, never the real one)."""
        prefix = "PGPASSWORD=... " if "PGPASSWORD" in self.env else ""
        return prefix + shlex.join(self.argv)

    def run(self) -> None:
        if shutil.which(self.argv[0]) is None:
            raise BackupError(f"{self.argv[0]} is not installed here; run: {self.shown()}")
        result = subprocess.run(
            self.argv, env={**os.environ, **self.env}, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            detail = (result.stderr.strip().splitlines() or ["failed"])[-1]
            raise BackupError(f"{self.argv[0]}: {detail}")


def _pg_connection(url: str) -> tuple[list[str], dict[str, str]]:
    u = make_url(url)
    args = [f"--host={u.host or '127.0.0.1'}", f"--port={u.port or 5432}"]
    if u.username:
        args.append(f"--username={u.username}")
    env = {"PGPASSWORD": str(u.password)} if u.password else {}
    return args, env


def pg_dump_command(url: str, dest: Path) -> Command:
    """pg_dump in custom format (compressed, restorable table by table with pg_restore)."""
    args, env = _pg_connection(url)
    database = make_url(url).database or "postgres"
    return Command(["pg_dump", "--format=custom", "--no-owner", f"--file={dest}", *args, database], env)


def pg_restore_command(url: str, backup: Path) -> Command:
    """pg_restore into the database of `url`, replacing the objects the dump holds."""
    args, env = _pg_connection(url)
    database = make_url(url).database or "postgres"
    argv = ["pg_restore", "--clean", "--if-exists", "--no-owner", f"--dbname={database}", *args, str(backup)]
    return Command(argv, env)
