"""`python -m bench updates`: end-to-end updates per second through the real Application and the fake
Bot API (N users sending /start and a question concurrently, the database doing its real work),
compared in the same run with a bare python-telegram-bot handler that only replies (the ceiling).
Each variant runs in a child process so its peak RSS is its own. Figures are medians of several runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from telegram import Update
from telegram.ext import Application, MessageHandler, filters

from common.config import Settings
from fakebot.core import FakeTelegram
from fakebot.driver import FakeUser, Harness
from fakebot.request import FAKE_BASE_URL, FAKE_FILE_URL, FakeRequest

QUESTION = "cho em hỏi sản phẩm ocop là gì ạ"


async def _bare_harness() -> Harness:
    fake = FakeTelegram()
    app = (
        Application.builder()
        .token("1:bench")
        .request(FakeRequest(fake))
        .get_updates_request(FakeRequest(fake))
    )
    app = app.base_url(FAKE_BASE_URL).base_file_url(FAKE_FILE_URL).build()

    async def reply(update: Update, context: Any) -> None:
        assert update.effective_chat is not None
        await context.bot.send_message(update.effective_chat.id, "ok")

    app.add_handler(MessageHandler(filters.ALL, reply))
    return await Harness.start(app, fake)


async def _bot_harness(db_url: str) -> Harness:
    from fakebot.session import start_session  # here, so the bare child's memory stays bare

    settings = Settings(_env_file=None, telegram_bot_token="1:bench", database_url=db_url)  # type: ignore[call-arg]
    harness, _ctx = await start_session(settings)
    return harness


async def _conversation(user: FakeUser) -> None:
    await user.send("/start")
    await user.send(QUESTION)


async def run_variant(variant: str, users: int, rounds: int, db_url: str | None) -> dict[str, Any]:
    rates: list[float] = []
    for r in range(rounds):
        if variant == "bare":
            harness = await _bare_harness()
        else:
            url = db_url or f"sqlite:///{Path(tempfile.mkdtemp(prefix='ocop-bench-')) / 'bench.db'}"
            harness = await _bot_harness(url)
        people = [harness.user(10_000 + r * users + i, f"User{i}") for i in range(users)]
        await _conversation(people[0])  # warm-up: caches, templates, first connection
        start = time.perf_counter()
        await asyncio.gather(*(_conversation(p) for p in people[1:]))
        elapsed = time.perf_counter() - start
        rates.append(2 * (users - 1) / elapsed)
        replies = sum(len(harness.fake.bot_messages(p.id)) for p in people)
        assert replies >= 2 * users, f"{variant}: {replies} replies for {2 * users} updates"
        await harness.stop()
    return {"rates": rates, "median": statistics.median(rates), "peak_rss_mb": _peak_rss_mb()}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(variant: str, users: int, rounds: int, db_url: str | None) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench", "updates", "--child", variant, "--users", str(users)]
    cmd += ["--rounds", str(rounds)] + (["--db", db_url] if db_url else [])
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=Path(__file__).parent.parent)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench updates", description=__doc__)
    p.add_argument("--quick", action="store_true", help="fewer users and rounds (under a minute)")
    p.add_argument(
        "--json", action="store_true", help="print the figures as one JSON object on the last line"
    )
    p.add_argument("--users", type=int, default=None, help="simulated users per round")
    p.add_argument("--rounds", type=int, default=None, help="rounds per variant (the median is reported)")
    p.add_argument(
        "--db", default=os.environ.get("BENCH_DATABASE_URL"), help="database URL (default: temp SQLite)"
    )
    p.add_argument("--child", choices=["bot", "bare"], help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    users = args.users or (100 if args.quick else 300)
    rounds = args.rounds or (3 if args.quick else 5)
    if args.child:
        print(json.dumps(asyncio.run(run_variant(args.child, users, rounds, args.db))))
        return 0
    bare = _child("bare", users, rounds, None)
    bot = _child("bot", users, rounds, args.db)
    figures = {
        "benchmark": "updates",
        "users": users,
        "rounds": rounds,
        "database": "postgresql" if args.db and args.db.startswith("postgres") else "sqlite",
        "bot_updates_per_s_median": round(bot["median"], 1),
        "bare_updates_per_s_median": round(bare["median"], 1),
        "bot_vs_bare_ratio": round(bot["median"] / bare["median"], 3),
        "bot_peak_rss_mb": round(bot["peak_rss_mb"], 1),
        "bare_peak_rss_mb": round(bare["peak_rss_mb"], 1),
        "bot_rates": [round(x, 1) for x in bot["rates"]],
        "bare_rates": [round(x, 1) for x in bare["rates"]],
    }
    print(f"users={users} rounds={rounds} database={figures['database']} (each user: /start + a question)")
    print(
        f"  bot  (real Application + DB): {figures['bot_updates_per_s_median']:>8} updates/s median, "
        f"peak RSS {figures['bot_peak_rss_mb']} MB"
    )
    print(
        f"  bare (PTB handler, reply only): {figures['bare_updates_per_s_median']:>6} updates/s median, "
        f"peak RSS {figures['bare_peak_rss_mb']} MB"
    )
    print(f"  ratio bot/bare: {figures['bot_vs_bare_ratio']}")
    if args.json:
        print(json.dumps(figures))
    return 0
