"""`python -m bench reminders`: the cost of one run of the reminder job (scheduler/reminders.py).

The data: 50,000 users (and, to compare, 5,000), 5,000 dossiers (drafts, returned, submitted,
certified with a valid-until date) and 200 events (rounds, deadlines, trainings with 40 registrants,
fairs, general events, half of them for one commune) spread from 8 days ago to 41 days ahead, so that
every kind of reminder is due at the measured moment.

1. Busy tick: one `Reminders.tick()` with reminders due; it queues at most REMINDER_BATCH (2,000).
   The ledger and the outbox are emptied between ticks (untimed), so every busy tick does the same work.
2. Idle tick: one tick after everything due at that moment was queued (the every-minute case); on
   PostgreSQL the statistics are refreshed (ANALYZE) every 5 ticks of that draining, as autovacuum would.

For each: the median wall time of several ticks and the SQL statements one tick runs (counted with a
`before_cursor_execute` listener on the engine; an executemany counts once). Target: under 1 s a tick,
and statements per tick that do not grow with the number of users (5,000 vs 50,000 side by side).
The baseline in the same run, same database: a full read of the users' ids (`SELECT id FROM users`),
what any job that looked at every user would pay at least. A fresh SQLite file and a fresh PostgreSQL
database (created on the `--db` server and dropped after) per size; figures only, no assertions on time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, event, insert, select, text

from bench.pgdb import create_database, drop_database
from common.clock import FakeClock
from common.config import Settings
from compose import compose
from dossier.models import Dossier
from scheduler.event_models import Event, EventRegistration, ReminderDelivery
from storage.db import Database
from storage.models import User
from storage.outbox_models import OutboxMessage

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 09:00 in Hà Nội: outside the quiet hours
COMMUNES = ["Chương Mỹ", "Phú Nghĩa", "Trần Phú", "Xuân Mai", "Hòa Phú", "Quảng Bị"]
N_DOSSIERS = 5000
N_EVENTS = 200
REGISTRANTS = 40
CHUNK = 1000  # rows a multi-row INSERT (13 columns: under both databases' parameter limits)


async def _insert(db: Database, table: Any, rows: list[dict[str, Any]]) -> None:
    async with db.session() as s:
        for i in range(0, len(rows), CHUNK):
            await s.execute(insert(table).values(rows[i : i + CHUNK]))


async def load(db: Database, n_users: int) -> None:
    """Users, dossiers, events and registrations, in multi-row INSERTs of CHUNK rows."""
    now = NOW
    await _insert(db, User.__table__, [
        {"id": i, "full_name": f"Người dùng {i}", "username": None, "language": "vi",
         "commune": COMMUNES[i % 6], "role": "producer", "muted_topics": [] if i % 10 else ["rounds"],
         "blocked": i % 50 == 0, "start_payload": None, "flow": None, "flow_data": {},
         "first_seen": now, "last_seen": now}
        for i in range(1, n_users + 1)
    ])
    await _insert(db, Dossier.__table__, [
        {"owner_id": 1 + (i * 7) % n_users, "status": ["draft", "returned", "submitted", "rated"][i % 4],
         "product_name": f"Sản phẩm {i}", "commune": COMMUNES[i % 6], "product_set": "tea_leaf",
         "assisted": False, "answers": {}, "flow_state": {}, "review_mode": False, "version": 1,
         "corrections": [], "created_at": now - timedelta(days=i % 30),
         "updated_at": now - timedelta(days=i % 30),
         "valid_until": date(2026, 4, 1) + timedelta(days=i % 120) if i % 4 == 3 else None}
        for i in range(N_DOSSIERS)
    ])
    kinds = ["round", "deadline", "training", "fair", "general"]
    await _insert(db, Event.__table__, [
        {"kind": kinds[i % 5], "title": f"Sự kiện {i}", "description": "", "place": "Nhà văn hoá",
         "starts_at": now + timedelta(hours=6 * i - 200), "ends_at": None,
         "capacity": 50 if kinds[i % 5] == "training" else None,
         "communes": [COMMUNES[i % 6]] if i % 2 else [], "product_sets": [], "status": "active",
         "created_at": now, "updated_at": now}
        for i in range(N_EVENTS)
    ])
    async with db.session() as s:
        trainings = (await s.scalars(select(Event.id).where(Event.kind == "training"))).all()
    await _insert(db, EventRegistration.__table__, [
        {"event_id": e, "user_id": 1 + (e * 31 + k * 97) % n_users, "status": "registered",
         "queued_at": now, "updated_at": now}
        for e in trainings for k in range(REGISTRANTS)
    ])
    if not db.is_sqlite:
        await _analyze(db)


async def _analyze(db: Database) -> None:
    """PostgreSQL: fresh planner statistics, as autovacuum would keep them (the test server may run
    without it, and a ledger grown from empty under stale statistics gets a plan 100× slower)."""
    async with db.engine.connect() as conn:
        await conn.execute(text("ANALYZE"))


async def _empty(db: Database) -> None:
    async with db.session() as s:
        await s.execute(delete(ReminderDelivery))
        await s.execute(delete(OutboxMessage))


async def run_db(url: str, n_users: int, ticks: int) -> dict[str, Any]:
    db = Database(url)
    await db.upgrade()
    try:
        start = time.perf_counter()
        await load(db, n_users)
        load_s = time.perf_counter() - start
        clock = FakeClock(NOW)
        ctx = compose(Settings(_env_file=None, database_url=url), clock=clock, db=db)
        statements = [0]

        def count(*_: Any) -> None:
            statements[0] += 1

        event.listen(db.engine.sync_engine, "before_cursor_execute", count)

        async def one() -> tuple[float, int, int]:
            statements[0] = 0
            t = time.perf_counter()
            r = await ctx.reminders.tick()
            return time.perf_counter() - t, statements[0], r.queued

        busy = []
        for _ in range(ticks):
            await _empty(db)
            busy.append(await one())
        drained = 0
        while (await ctx.reminders.tick()).queued:  # queue everything due now: what is left is idle
            drained += 1
            if not db.is_sqlite and drained % 5 == 0:
                await _analyze(db)
        if not db.is_sqlite:
            await _analyze(db)
        idle = [await one() for _ in range(ticks)]
        scans = []
        for _ in range(ticks):
            t = time.perf_counter()
            async with db.session() as s:
                ids = (await s.scalars(select(User.id))).all()
            scans.append(time.perf_counter() - t)
        assert len(ids) == n_users
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
        return {
            "users": n_users,
            "load_s": round(load_s, 2),
            "busy_tick_s": round(statistics.median(b[0] for b in busy), 3),
            "busy_statements": max(b[1] for b in busy),
            "busy_queued": busy[0][2],
            "idle_tick_s": round(statistics.median(i[0] for i in idle), 3),
            "idle_statements": max(i[1] for i in idle),
            "baseline_read_all_users_s": round(statistics.median(scans), 3),
        }
    finally:
        await db.dispose()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    sizes = [5000] if args.quick else [5000, 50_000]
    ticks = 3 if args.quick else 5
    figures: dict[str, Any] = {"quick": args.quick, "ticks": ticks, "sqlite": [], "postgresql": []}
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="ocop-bench-reminders-") as tmp:
            figures["sqlite"].append(await run_db(f"sqlite:///{Path(tmp) / 'bench.db'}", n, ticks))
    if args.db == "none":
        figures["postgresql"] = "skipped: --db none"
        return figures
    for n in sizes:
        try:
            name, url = await create_database(args.db, "ocop_bench_reminders")
        except Exception as exc:  # no server: say so, keep the SQLite figures
            figures["postgresql"] = f"skipped: {exc.__class__.__name__}: {exc}"[:200]
            break
        try:
            figures["postgresql"].append(await run_db(url, n, ticks))
        finally:
            await drop_database(args.db, name)
    return figures


def _print(figures: dict[str, Any]) -> None:
    print(
        f"reminder job benchmark: one tick over N users, {N_DOSSIERS:,} dossiers, {N_EVENTS} events "
        f"(median of {figures['ticks']} ticks; target under 1 s, statements not growing with users)"
    )
    if figures["quick"]:
        print("--quick: 5,000 users only, 3 ticks (the full run: 5,000 and 50,000 users, 5 ticks)")
    for name in ("sqlite", "postgresql"):
        runs = figures[name]
        if isinstance(runs, str):
            print(f"{name}: {runs}")
            continue
        for f in runs:
            print(
                f"{name}, {f['users']:>6,} users: busy tick {f['busy_tick_s']:.3f} s, "
                f"{f['busy_statements']} statements, {f['busy_queued']} queued | "
                f"idle tick {f['idle_tick_s']:.3f} s, {f['idle_statements']} statements | "
                f"baseline: read all users' ids {f['baseline_read_all_users_s']:.3f} s | "
                f"load {f['load_s']:.1f} s"
            )


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench reminders", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="5,000 users only, 3 ticks")
    p.add_argument(
        "--json", action="store_true", help="print the figures as one JSON object on the last line"
    )
    p.add_argument("--db", default=DEFAULT_PG, help="PostgreSQL server URL for a temporary database, or none")
    args = p.parse_args(argv)
    figures = asyncio.run(run(args))
    _print(figures)
    if args.json:
        print(json.dumps(figures))
    return 0
