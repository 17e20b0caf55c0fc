"""Trợ lý OCOP — a Telegram bot that guides Vietnamese producers through the OCOP programme.

Composition root and command line:

    python bot.py                  # same as `run`: long polling with TELEGRAM_BOT_TOKEN
    python bot.py webhook          # webhook mode (WEBHOOK_URL, WEBHOOK_SECRET); instances may share a DB
    python bot.py console          # chat with the full bot in the terminal (no Telegram, no token)
    python bot.py ask "câu hỏi"    # print the reply a new user would get; --json reads stdin
    python bot.py db upgrade       # apply database migrations (also done at every start)
    python bot.py db backup        # SQLite: online backup to backups/; PostgreSQL: pg_dump
    python bot.py db restore FILE  # SQLite: restore a backup into DATABASE_URL
    python bot.py kb check         # validate the knowledge base
    python bot.py form check       # validate the dossier form definition
    python bot.py reminders preview --at "dd/mm/yyyy HH:MM"   # what the reminder job would send then

Configuration comes from environment variables or a .env file (see .env.example).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import tempfile
from pathlib import Path

from common.config import ConfigError, Settings, load_settings

log = logging.getLogger("ocop")

NO_TOKEN = (
    "TELEGRAM_BOT_TOKEN is not set. Create a bot with @BotFather in Telegram (/newbot), put its token "
    "in .env as TELEGRAM_BOT_TOKEN=..., or try the bot without Telegram: python bot.py console"
)


def setup_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


# ---- run ----------------------------------------------------------------------------------------
def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    """Long polling against TELEGRAM_API_BASE_URL; SIGINT/SIGTERM stop it cleanly."""
    if not settings.telegram_bot_token:
        print(NO_TOKEN, file=sys.stderr)
        return 2
    from telegram import Update

    from compose import compose
    from handlers.app import build_application

    app = build_application(compose(settings))
    log.info("Starting long polling at %s", settings.telegram_api_base_url)
    app.run_polling(
        allowed_updates=Update.ALL_TYPES,
        stop_signals=(signal.SIGINT, signal.SIGTERM),
        drop_pending_updates=False,
        close_loop=False,
    )
    return 0


# ---- webhook ------------------------------------------------------------------------------------
NO_WEBHOOK_SECRET = (
    "WEBHOOK_SECRET is not set. Webhook mode needs a secret Telegram sends back with every update: "
    "1-256 characters of A-Z a-z 0-9 _ - "
    "(make one: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
)
NO_WEBHOOK_URL = (
    "WEBHOOK_URL is not set. Webhook mode needs the public https address Telegram calls, "
    "for example WEBHOOK_URL=https://ocop.example.vn/telegram"
)


def webhook_problem(settings: Settings) -> str | None:
    """The one line that says why webhook mode cannot start, or None."""
    if not settings.telegram_bot_token:
        return NO_TOKEN
    if not settings.webhook_secret:
        return NO_WEBHOOK_SECRET
    if not settings.webhook_url:
        return NO_WEBHOOK_URL
    return None


async def _webhook(settings: Settings) -> None:
    from compose import compose
    from handlers.app import build_application
    from handlers.webhook import serve_webhook

    app = build_application(compose(settings), rate_limit=settings.bot_api_pacing)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await serve_webhook(app, settings, stop)


def cmd_webhook(settings: Settings, args: argparse.Namespace) -> int:
    """PTB's webhook server on WEBHOOK_LISTEN:WEBHOOK_PORT; SIGINT/SIGTERM stop it cleanly."""
    problem = webhook_problem(settings)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    if settings.deduplicate_updates is None:  # several instances may get the same update
        settings = settings.model_copy(update={"deduplicate_updates": True})
    asyncio.run(_webhook(settings))
    return 0


# ---- console ------------------------------------------------------------------------------------
async def _console(settings: Settings, args: argparse.Namespace) -> int:
    from fakebot.console import Console

    console = await Console.start(settings, user_id=args.user_id, name=args.name, staff=args.staff)
    try:
        await console.loop()
    finally:
        await console.stop()
    return 0


def cmd_console(settings: Settings, args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_console(settings, args))
    except (KeyboardInterrupt, EOFError):
        print()
        return 0


# ---- ask ----------------------------------------------------------------------------------------
async def _ask(settings: Settings, questions: list[str], as_json: bool) -> int:
    from fakebot.ask import Asker

    asker = await Asker.start(settings)
    try:
        for n, question in enumerate(questions):
            result = await asker.ask(question, user_id=900_000_000 + n)
            if as_json:
                print(json.dumps(result, ensure_ascii=False), flush=True)
            else:
                print(result["text"])
    finally:
        await asker.stop()
    return 0


def cmd_ask(settings: Settings, args: argparse.Namespace) -> int:
    if args.json:
        questions = [line.strip() for line in sys.stdin if line.strip()]
    elif args.question:
        questions = [" ".join(args.question)]
    else:
        print(
            'Give a question: python bot.py ask "sản phẩm OCOP là gì" (or --json with questions on stdin)',
            file=sys.stderr,
        )
        return 2
    if not args.use_database:
        # A new user on a fresh database: nothing this command does lands in the real one.
        tmp = tempfile.mkdtemp(prefix="ocop-ask-")
        settings = settings.model_copy(update={"database_url": f"sqlite:///{Path(tmp) / 'ask.db'}"})
    return asyncio.run(_ask(settings, questions, args.json))


# ---- db / kb / form -----------------------------------------------------------------------------
def cmd_db(settings: Settings, args: argparse.Namespace) -> int:
    if args.action == "backup":
        return db_backup(settings, args)
    if args.action == "restore":
        return db_restore(settings, args)
    from storage.db import Database

    async def upgrade() -> None:
        db = Database(settings.database_url)
        try:
            await db.upgrade()
        finally:
            await db.dispose()

    asyncio.run(upgrade())
    print(f"Database is up to date: {settings.database_url}")
    return 0


def db_backup(settings: Settings, args: argparse.Namespace) -> int:
    """SQLite: online backup to a new file. PostgreSQL: pg_dump (custom format), or print its command."""
    import shutil

    from common.clock import SystemClock
    from storage import backup

    url = settings.database_url
    dest = Path(args.output) if args.output else backup.default_backup_path(url, SystemClock().now())
    try:
        if backup.is_sqlite(url):
            backup.backup_sqlite(backup.sqlite_file(url), dest)
        else:
            command = backup.pg_dump_command(url, dest)
            if shutil.which("pg_dump") is None:
                print(f"pg_dump is not installed here. Run it where it is:\n  {command.shown()}")
                return 2
            dest.parent.mkdir(parents=True, exist_ok=True)
            command.run()
    except backup.BackupError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"Backup written: {dest}")
    return 0


def db_restore(settings: Settings, args: argparse.Namespace) -> int:
    """Put a backup into DATABASE_URL: SQLite's backup API, or pg_restore; --force to replace data."""
    from storage import backup

    if not args.file:
        print("Give the backup file: python bot.py db restore backups/ocop-YYYYmmdd-HHMM.db", file=sys.stderr)
        return 2
    url = settings.database_url
    try:
        if backup.is_sqlite(url):
            backup.restore_sqlite(Path(args.file), backup.sqlite_file(url), force=args.force)
        else:
            command = backup.pg_restore_command(url, Path(args.file))
            if not args.force:
                print(
                    "This replaces the bot's data in PostgreSQL. Stop every instance, then run "
                    f"python bot.py db restore {args.file} --force, or:\n  {command.shown()}",
                    file=sys.stderr,
                )
                return 2
            command.run()
    except backup.BackupError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"Restored {args.file} into {url}")
    return 0


def cmd_kb(settings: Settings, args: argparse.Namespace) -> int:
    from knowledge.check import main

    return main(args.rest)


def cmd_form(settings: Settings, args: argparse.Namespace) -> int:
    from dossier.form import form_check_main

    return form_check_main(args.rest)


def cmd_reminders(settings: Settings, args: argparse.Namespace) -> int:
    from scheduler.reminders import preview_main

    return preview_main([args.action, "--at", args.at])


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bot.py", description="Trợ lý OCOP — Telegram bot for OCOP producers.")
    sub = p.add_subparsers(dest="command")
    sub.add_parser(
        "run",
        help="long polling with TELEGRAM_BOT_TOKEN (the default)",
        description="Long-poll the Bot API at TELEGRAM_API_BASE_URL with TELEGRAM_BOT_TOKEN.",
    )
    sub.add_parser(
        "webhook",
        help="webhook mode: PTB's webhook server, for one or several instances",
        description="Receive updates on WEBHOOK_LISTEN:WEBHOOK_PORT (path WEBHOOK_PATH, else the path of "
        "WEBHOOK_URL) from Telegram, which calls WEBHOOK_URL with WEBHOOK_SECRET in the "
        "X-Telegram-Bot-Api-Secret-Token header; requests without it are refused (403). setWebhook is "
        "called at start. GET WEBHOOK_HEALTH_PATH (/healthz) answers 200 while the bot can take updates.",
    )
    c = sub.add_parser(
        "console",
        help="chat with the bot in the terminal, no Telegram needed",
        description="Chat with the full bot in this terminal. Buttons are numbered: type the "
        "number to press one. /file PATH sends a photo or document. Ctrl-D quits.",
    )
    c.add_argument(
        "--user-id",
        type=int,
        default=int(os.environ.get("CONSOLE_USER_ID", "1001")),
        help="your Telegram user id in the console (default 1001)",
    )
    c.add_argument("--name", default="Khách", help="your first name in the console")
    c.add_argument("--staff", action="store_true", help="act as a staff member")
    a = sub.add_parser(
        "ask",
        help="print the reply a new user would get to a question",
        description="Print the bot's reply to a question as a new user. With --json, read one "
        "question per line from stdin and print one JSON object per line.",
    )
    a.add_argument("question", nargs="*")
    a.add_argument("--json", action="store_true", help="questions from stdin, JSON lines out")
    a.add_argument(
        "--use-database", action="store_true", help="use DATABASE_URL instead of a throw-away database"
    )
    d = sub.add_parser("db", help="database commands", description="Database commands.")
    d.add_argument(
        "action",
        choices=["upgrade", "backup", "restore"],
        help="upgrade: apply pending migrations; backup: SQLite online backup or pg_dump; "
        "restore FILE: put a backup back (SQLite, or pg_restore for PostgreSQL)",
    )
    d.add_argument("file", nargs="?", help="restore: the backup file")
    d.add_argument("--output", help="backup: where to write (default backups/ocop-YYYYmmdd-HHMM.db|.dump)")
    d.add_argument("--force", action="store_true", help="restore: replace a database that holds data")
    k = sub.add_parser("kb", help="knowledge base commands", description="Knowledge base commands.")
    k.add_argument("action", choices=["check"], help="check: validate the knowledge base data")
    k.add_argument("rest", nargs=argparse.REMAINDER)
    f = sub.add_parser("form", help="dossier form commands", description="Dossier form commands.")
    f.add_argument("action", choices=["check"], help="check: validate the dossier form definition")
    f.add_argument("rest", nargs=argparse.REMAINDER)
    r = sub.add_parser(
        "reminders",
        help="reminder commands",
        description="Reminder commands. preview: print, from DATABASE_URL, what the reminder job would "
        "queue at --at and to whom (nothing is written or sent).",
    )
    r.add_argument("action", choices=["preview"], help="preview: what would be sent at --at, to whom")
    r.add_argument("--at", required=True, help='local time "dd/mm/yyyy HH:MM" (Asia/Ho_Chi_Minh)')
    return p


COMMANDS = {
    "run": cmd_run,
    "webhook": cmd_webhook,
    "console": cmd_console,
    "ask": cmd_ask,
    "db": cmd_db,
    "kb": cmd_kb,
    "form": cmd_form,
    "reminders": cmd_reminders,
}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    command = args.command or "run"
    if command == "run" and args.command is None:
        args = argparse.Namespace(command="run")
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    setup_logging(settings.log_level if command in {"run", "webhook"} else "WARNING")
    return COMMANDS[command](settings, args)


if __name__ == "__main__":
    sys.exit(main())
