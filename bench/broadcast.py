"""`python -m bench broadcast`: a broadcast end to end, and what it costs in memory.

1. Paced: N recipients (2,000) with the limits on (OUTBOX_RATE 25/s, 1/s per chat), through the real
   service, runner (rows in batches, progress edits) and outbox worker, on the in-process fake Bot API
   with the real clock. Wall time from the officer's confirmation to the last copy accepted, against the
   ideal N ÷ rate. Target: within 3 %. Also the busiest one-second window of the fake's timestamps and
   how many times the progress message was edited. `--quick` raises the rate to 200/s (and says so).
2. Memory: M recipients (100,000; `--quick` 20,000) counted and their outbox rows created in batches,
   then the progress read and the failures file written; peak Python memory (tracemalloc) of that
   part, against the size of the rows created — flat because recipients are streamed, never loaded.

A fresh SQLite file and a fresh PostgreSQL database (created on the `--database-url` server and dropped
after) per run; figures only, no assertions on time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from bench.outbox import DEFAULT_PG, _bot, _busiest_second
from bench.pgdb import create_database, drop_database
from common.clock import SystemClock
from common.render import Renderer
from fakebot.core import FakeTelegram
from handlers.outbox_sender import TelegramSender
from scheduler.broadcast import BroadcastService, Content
from scheduler.outbox import Pacing
from scheduler.service import Outbox
from storage.db import Database
from storage.models import Role, User
from storage.outbox_models import Broadcast, OutboxMessage
from storage.staff import StaffAccess

OFFICER = 42
ADMIN = StaffAccess(OFFICER, Role.ADMIN)
BODY = "<b>Thông báo</b>: hội chợ OCOP khai mạc lúc 8 giờ sáng thứ Bảy tại nhà văn hóa xã."


async def _users(db: Database, n: int, offset: int) -> None:
    now = datetime.now(UTC)
    chunk = 5000
    async with db.session() as s:
        for start in range(0, n, chunk):
            rows = [
                {
                    "id": offset + i,
                    "full_name": f"Người dùng {i}",
                    "role": "producer",
                    "muted_topics": [],
                    "blocked": False,
                    "flow_data": {},
                    "first_seen": now,
                    "last_seen": now,
                }
                for i in range(start, min(n, start + chunk))
            ]
            await s.execute(insert(User), rows)


async def paced(url: str, n: int, rate: float) -> dict[str, Any]:
    db = Database(url)
    await db.upgrade()
    try:
        await _users(db, n, 1_000_000)
        fake = FakeTelegram(now=time.monotonic)
        bot = await _bot(fake)
        clock = SystemClock()
        port = TelegramSender(bot)
        outbox = Outbox(db, clock, pacing=Pacing(rate=rate, per_chat=1.0))
        service = BroadcastService(db, clock, Renderer(), rate=rate, edit_every=5.0)
        first = await port.send(OFFICER, "…", None)
        b = await service.create(ADMIN, Content("text", BODY), "Cán bộ xã")
        start = time.perf_counter()
        started = time.monotonic()
        await service.confirm(ADMIN, b.id, chat_id=OFFICER, message_id=first.message_id)
        worker = outbox.worker(port)
        runner = service.runner(port)
        worker.start()
        runner.start()
        while True:
            await asyncio.sleep(0.05)
            async with db.session() as s:
                row = await s.get(Broadcast, b.id)
                assert row is not None
                if row.reported_at is not None:
                    break
        await worker.stop()
        await runner.stop()
        sends = [m for m in fake.log if m.chat_id != OFFICER]
        last = max(m.at for m in sends)
        wall = last - started
        total = time.perf_counter() - start
        edits = fake.bot_messages(OFFICER)[0].edits
        await bot.shutdown()
        ideal = n / rate
        return {
            "recipients": n,
            "delivered": len({m.chat_id for m in sends}),
            "copies": len(sends),
            "wall_s": round(wall, 2),
            "ideal_s": round(ideal, 2),
            "vs_ideal_pct": round(100 * (wall - ideal) / ideal, 2),
            "until_report_s": round(total, 2),
            "busiest_second": _busiest_second([m.at for m in sends]),
            "progress_edits": edits,
        }
    finally:
        await db.dispose()


async def memory(url: str, n: int) -> dict[str, Any]:
    db = Database(url)
    await db.upgrade()
    try:
        await _users(db, n, 5_000_000)
        clock = SystemClock()
        service = BroadcastService(db, clock, Renderer(), rate=25.0, batch=500)
        runner = service.runner(port=None)  # type: ignore[arg-type]  # rows only: nothing is sent here
        b = await service.create(ADMIN, Content("text", BODY), "Cán bộ xã")
        tracemalloc.start()
        start = time.perf_counter()
        await service.confirm(ADMIN, b.id, chat_id=OFFICER, message_id=None)
        while await runner.queue_batch(b.id):
            pass
        queued_s = time.perf_counter() - start
        progress = await service.progress(b.id)
        service.view(progress)
        _data, _count = await service.failures_csv(ADMIN, b.id)
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        async with db.session() as s:
            rows = (
                await s.execute(select(func.count()).where(OutboxMessage.broadcast_id == b.id))
            ).scalar_one()
            text_bytes = (
                await s.execute(
                    select(func.sum(func.length(OutboxMessage.text))).where(
                        OutboxMessage.broadcast_id == b.id
                    )
                )
            ).scalar_one()
        return {
            "recipients": n,
            "rows": int(rows),
            "rows_text_mb": round(int(text_bytes or 0) / 1e6, 1),
            "queue_s": round(queued_s, 1),
            "rows_per_s": round(n / queued_s),
            "peak_mb": round(peak / 1e6, 2),
            "waiting_in_progress": progress.waiting,
        }
    finally:
        await db.dispose()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    figures: dict[str, Any] = {"rate": args.rate, "quick": args.quick}
    with tempfile.TemporaryDirectory(prefix="ocop-bench-broadcast-") as tmp:
        sqlite: dict[str, Any] = {
            "paced": await paced(f"sqlite:///{Path(tmp) / 'paced.db'}", args.recipients, args.rate)
        }
        if not args.skip_memory:
            sqlite["memory"] = await memory(f"sqlite:///{Path(tmp) / 'memory.db'}", args.memory_recipients)
        figures["sqlite"] = sqlite
    if args.database_url != "none":
        pg: dict[str, Any] = {}
        for part in ("paced", "memory"):
            if part == "memory" and args.skip_memory:
                continue
            try:
                name, url = await create_database(args.database_url, "ocop_bench_broadcast")
            except Exception as exc:  # no server: say so, keep the SQLite figures
                figures["postgresql"] = f"skipped: {exc.__class__.__name__}: {exc}"[:200]
                break
            try:
                if part == "paced":
                    pg[part] = await paced(url, args.recipients, args.rate)
                else:
                    pg[part] = await memory(url, args.memory_recipients)
            finally:
                await drop_database(args.database_url, name)
        else:
            figures["postgresql"] = pg
    return figures


def _print(figures: dict[str, Any]) -> None:
    rate = figures["rate"]
    print("broadcast benchmark (in-process fake Bot API, real clock; target: within 3 % of the ideal)")
    if figures["quick"]:
        print(
            f"--quick: the rate is raised to {rate:g}/s (the real limit is 25/s); 20,000 for memory"
        )
    for name in ("sqlite", "postgresql"):
        f = figures.get(name)
        if f is None:
            continue
        if isinstance(f, str):
            print(f"{name}: {f}")
            continue
        p = f["paced"]
        print(
            f"{name}: {p['recipients']} recipients at {rate:g}/s: last copy {p['wall_s']} s after the "
            f"confirmation vs ideal {p['ideal_s']} s ({p['vs_ideal_pct']:+.2f} %); report shown after "
            f"{p['until_report_s']} s; {p['copies']} copies to {p['delivered']} chats; busiest one-second "
            f"window {p['busiest_second']}; progress message edited {p['progress_edits']} times"
        )
        m = f.get("memory")
        if m:
            print(
                f"{name}: memory, {m['recipients']} recipients: {m['rows']} outbox rows "
                f"({m['rows_text_mb']} MB of text) made in {m['queue_s']} s ({m['rows_per_s']}/s); "
                f"peak Python memory {m['peak_mb']} MB (tracemalloc: count, batches, progress, CSV)"
            )


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench broadcast", description=__doc__)
    p.add_argument("--quick", action="store_true", help="rate 200/s and fewer recipients (under a minute)")
    p.add_argument(
        "--json", action="store_true", help="print the figures as one JSON object on the last line"
    )
    p.add_argument(
        "--database-url", default=DEFAULT_PG, help="PostgreSQL server URL for a temporary database, or none"
    )
    p.add_argument("--skip-memory", action="store_true", help="only the paced run")
    args = p.parse_args(argv)
    args.rate = 200.0 if args.quick else 25.0
    args.recipients = 2000
    args.memory_recipients = 20_000 if args.quick else 100_000
    figures = asyncio.run(run(args))
    _print(figures)
    if args.json:
        print(json.dumps(figures))
    return 0
