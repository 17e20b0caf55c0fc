"""`python -m bench outbox`: what the outbox itself sustains, and how closely it keeps Telegram's pace.

1. Pacing lifted (rate 0, no per-chat spacing): messages a second the outbox itself sustains
   (claim, hand to the sending port, record the answer) with a port that answers at once, on SQLite
   and on PostgreSQL. Target: at least 20 × OUTBOX_RATE (500/s at 25/s), so that Telegram, not the
   outbox, is always the bottleneck. The same through python-telegram-bot and the in-process fake
   Bot API ("end to end"), whose ceiling is the baseline below.
2. Pacing on (25/s, 1/s per chat): wall time to send N messages (2,000; `--quick`: 250) against the
   ideal N ÷ rate. Target: within 3 %. Also the busiest one-second window of the fake's timestamps.

The baseline of (1) is the same fake and Bot with no outbox at all: bare `send_message` calls in a
loop. A fresh SQLite file and a fresh PostgreSQL database (created on the `--db` server and dropped
after) per run; real clock and real sleeps; figures only, no assertions on time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from telegram.constants import ParseMode
from telegram.ext import Defaults

from bench.pgdb import create_database, drop_database
from common.clock import SystemClock
from fakebot.core import FakeTelegram
from fakebot.request import FAKE_BASE_URL, FAKE_FILE_URL, FakeRequest
from handlers.outbox_sender import TelegramSender
from handlers.telegram_bot import OcopBot
from scheduler.outbox import Pacing
from scheduler.port import Buttons, SendResult
from scheduler.service import Outbox
from storage.db import Database

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
TEXT = "<b>Hồ sơ OCOP</b> của bạn đã được tiếp nhận. Số {n}."


class NullSender:
    """A sending port that answers "sent" at once: what remains is the outbox's own work."""

    def __init__(self) -> None:
        self.sent = 0

    async def send(self, chat_id: int, html: str, buttons: Buttons | None) -> SendResult:
        self.sent += 1
        return SendResult.sent(self.sent)


async def _bot(fake: FakeTelegram) -> OcopBot:
    bot = OcopBot(
        "1:bench", base_url=FAKE_BASE_URL, base_file_url=FAKE_FILE_URL, request=FakeRequest(fake),
        get_updates_request=FakeRequest(fake), defaults=Defaults(parse_mode=ParseMode.HTML),
    )
    await bot.initialize()
    return bot


async def _fill(outbox: Outbox, n: int, offset: int) -> float:
    start = time.perf_counter()
    async with outbox.db.session() as s:
        for i in range(n):
            await outbox.enqueue(s, chat_id=offset + i, text=TEXT.format(n=i), kind="bench")
    return time.perf_counter() - start


def _busiest_second(times: list[float]) -> int:
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        j = max(j, i)
        while j < len(times) and times[j] < t + 1.0:
            j += 1
        best = max(best, j - i)
    return best


async def run_db(url: str, n_fast: int, n_paced: int, rate: float) -> dict[str, Any]:
    db = Database(url)
    await db.upgrade()
    try:
        fake = FakeTelegram(now=time.monotonic)
        bot = await _bot(fake)
        clock = SystemClock()
        fast = Outbox(db, clock, pacing=Pacing(rate=0, per_chat=0, batch=200))
        enqueue_s = await _fill(fast, n_fast, 1_000_000)
        null = NullSender()
        start = time.perf_counter()
        await fast.worker(null).run_until_drained()
        own_s = time.perf_counter() - start
        assert null.sent == n_fast, f"{null.sent} sent of {n_fast}"

        await _fill(fast, n_fast, 1_500_000)
        worker = fast.worker(TelegramSender(bot))
        start = time.perf_counter()
        await worker.run_until_drained()
        fast_s = time.perf_counter() - start
        assert len(fake.log) == n_fast, f"{len(fake.log)} sent of {n_fast}"

        fake.log.clear()
        paced = Outbox(db, clock, pacing=Pacing(rate=rate, per_chat=1.0))
        await _fill(paced, n_paced, 2_000_000)
        worker = paced.worker(TelegramSender(bot))
        start = time.perf_counter()
        await worker.run_until_drained()
        paced_s = time.perf_counter() - start
        assert len(fake.log) == n_paced, f"{len(fake.log)} sent of {n_paced}"
        await bot.shutdown()
        ideal = n_paced / rate
        return {
            "unpaced_messages": n_fast,
            "enqueue_per_s": round(n_fast / enqueue_s),
            "outbox_alone_per_s": round(n_fast / own_s),
            "end_to_end_per_s": round(n_fast / fast_s),
            "paced_messages": n_paced,
            "paced_wall_s": round(paced_s, 2),
            "paced_ideal_s": round(ideal, 2),
            "paced_vs_ideal_pct": round(100 * (paced_s - ideal) / ideal, 2),
            "busiest_second": _busiest_second([m.at for m in fake.log]),
        }
    finally:
        await db.dispose()


async def baseline(n: int) -> float:
    """Bare send_message calls on the same fake and Bot: the ceiling without any outbox."""
    fake = FakeTelegram()
    bot = await _bot(fake)
    start = time.perf_counter()
    for i in range(n):
        await bot.send_message(3_000_000 + i, TEXT.format(n=i))
    elapsed = time.perf_counter() - start
    await bot.shutdown()
    return n / elapsed


async def run(args: argparse.Namespace) -> dict[str, Any]:
    n_fast = 2000 if args.quick else 5000
    n_paced = 250 if args.quick else 2000
    figures: dict[str, Any] = {
        "rate": args.rate,
        "quick": args.quick,
        "baseline_bare_send_per_s": round(await baseline(n_fast)),
    }
    with tempfile.TemporaryDirectory(prefix="ocop-bench-outbox-") as tmp:
        figures["sqlite"] = await run_db(f"sqlite:///{Path(tmp) / 'bench.db'}", n_fast, n_paced, args.rate)
    if args.db != "none":
        try:
            name, url = await create_database(args.db, "ocop_bench_outbox")
        except Exception as exc:  # no server: say so, keep the SQLite figures
            figures["postgresql"] = f"skipped: {exc.__class__.__name__}: {exc}"[:200]
        else:
            try:
                figures["postgresql"] = await run_db(url, n_fast, n_paced, args.rate)
            finally:
                await drop_database(args.db, name)
    return figures


def _print(figures: dict[str, Any]) -> None:
    rate = figures["rate"]
    print(f"outbox benchmark (in-process fake Bot API; target unpaced ≥ {20 * rate:.0f}/s, paced within 3 %)")
    if figures["quick"]:
        print("--quick: 2,000 unpaced and 250 paced messages (the full run: 5,000 and 2,000)")
    print(f"baseline: bare send_message on the same fake, no outbox: {figures['baseline_bare_send_per_s']}/s")
    for name in ("sqlite", "postgresql"):
        f = figures.get(name)
        if f is None:
            continue
        if isinstance(f, str):
            print(f"{name}: {f}")
            continue
        print(
            f"{name}: unpaced, {f['unpaced_messages']} messages: the outbox alone "
            f"{f['outbox_alone_per_s']}/s ({f['outbox_alone_per_s'] / rate:.0f}× the rate), "
            f"end to end through the fake {f['end_to_end_per_s']}/s, "
            f"enqueue {f['enqueue_per_s']}/s (one transaction)\n"
            f"{name}: paced at {rate:g}/s, {f['paced_messages']} messages in {f['paced_wall_s']} s "
            f"vs ideal {f['paced_ideal_s']} s ({f['paced_vs_ideal_pct']:+.2f} %), "
            f"busiest one-second window {f['busiest_second']}"
        )


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench outbox", description=__doc__)
    p.add_argument("--quick", action="store_true", help="fewer messages (under a minute)")
    p.add_argument(
        "--json", action="store_true", help="print the figures as one JSON object on the last line"
    )
    p.add_argument("--db", default=DEFAULT_PG, help="PostgreSQL server URL for a temporary database, or none")
    p.add_argument("--rate", type=float, default=25.0, help="OUTBOX_RATE for the paced run")
    args = p.parse_args(argv)
    figures = asyncio.run(run(args))
    _print(figures)
    if args.json:
        print(json.dumps(figures))
    return 0
