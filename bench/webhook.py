"""`python -m bench webhook`: updates per second through webhook mode on PostgreSQL, with one
`python bot.py webhook` process and with two sharing the database, in the same run.

Real processes: two `python bot.py webhook` instances on one fresh PostgreSQL database (created for
the run, dropped after), talking to the fake Bot API on a loopback port (in this process). Each round,
N users each send /start and then a question, POSTed with the secret header the way Telegram does.
"one" sends every user to instance A; "two" spreads users over A and B as a load balancer with
per-user affinity would (a user's updates stay on one instance, hence in order). The rate is the
updates of a round over the time from its first POST to the last reply seen at the fake. Rounds
alternate one/two so noise falls on both; figures are medians. Pacing (AIORateLimiter's 30 messages/s
per process, meant for Telegram) is off: it would measure the limiter, not the bot.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.pgdb import create_database, drop_database
from fakebot.server import FakeServer
from storage.db import Database

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "cho em hỏi sản phẩm ocop là gì ạ"
SECRET = "bench_secret-token"
DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _update(update_id: int, user_id: int, text_: str) -> dict[str, Any]:
    message: dict[str, Any] = {
        "message_id": update_id,
        "date": int(time.time()),
        "text": text_,
        "chat": {"id": user_id, "type": "private", "first_name": "Lan"},
        "from": {"id": user_id, "is_bot": False, "first_name": "Lan", "language_code": "vi"},
    }
    if text_.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text_.split()[0])}]
    return {"update_id": update_id, "message": message}


class Instance:
    """One `python bot.py webhook` process, its port and its log file."""

    def __init__(self, name: str, db_url: str, fake: FakeServer, logdir: Path) -> None:
        self.name = name
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/telegram"
        self.log_path = logdir / f"{name}.log"
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("TELEGRAM_", "DATABASE_", "WEBHOOK_", "STAFF_", "DEDUPLICATE_"))
        }
        env.update(
            TELEGRAM_BOT_TOKEN="1:bench",
            TELEGRAM_API_BASE_URL=fake.base_url,
            TELEGRAM_API_FILE_URL=fake.file_url,
            DATABASE_URL=db_url,
            WEBHOOK_PORT=str(self.port),
            WEBHOOK_URL=self.url,
            WEBHOOK_SECRET=SECRET,
            BOT_API_PACING="false",
            LOG_LEVEL="WARNING",
            STORAGE_DIR=str(logdir / "files"),
        )
        self.log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "bot.py", "webhook"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    async def wait_healthy(self, client: httpx.AsyncClient, within: float) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited; see {self.log_path}:\n{self.log_path.read_text()[-2000:]}"
                )
            try:
                if (await client.get(f"http://127.0.0.1:{self.port}/healthz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.name} not healthy after {within:.0f} s; see {self.log_path}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


class Run:
    """Drives rounds against the instances and counts replies at the fake."""

    def __init__(self, fake: FakeServer, instances: list[Instance], timeout: float) -> None:
        self.fake = fake
        self.instances = instances
        self.timeout = timeout
        self.next_update_id = 1
        self.next_user = 100_000

    def _replies(self, users: set[int], mark: int) -> int:
        with self.fake.fake.lock:
            return sum(1 for m in self.fake.fake.log[mark:] if m.chat_id in users)

    async def _post(self, client: httpx.AsyncClient, instance: Instance, user: int, text_: str) -> None:
        update_id = self.next_update_id
        self.next_update_id += 1
        response = await client.post(
            instance.url,
            json=_update(update_id, user, text_),
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
        )
        response.raise_for_status()

    async def round(self, client: httpx.AsyncClient, processes: int, users: int) -> float:
        """Updates per second for `users` users (/start + question each) over `processes` instances."""
        people = list(range(self.next_user, self.next_user + users))
        self.next_user += users
        targets = self.instances[:processes]
        gate = asyncio.Semaphore(64)  # POSTs in flight, like Telegram's max_connections

        async def conversation(n: int, user: int) -> None:
            instance = targets[n % len(targets)]  # per-user affinity
            async with gate:
                await self._post(client, instance, user, "/start")
                await self._post(client, instance, user, QUESTION)

        with self.fake.fake.lock:
            mark = len(self.fake.fake.log)
        expected = 2 * users
        chats = set(people)
        start = time.perf_counter()
        await asyncio.gather(*(conversation(n, u) for n, u in enumerate(people)))
        deadline = time.monotonic() + self.timeout
        while (seen := self._replies(chats, mark)) < expected:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{seen} of {expected} replies after {self.timeout:.0f} s")
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - start
        if self.fake.fake.refusals:
            raise RuntimeError(f"the fake refused: {self.fake.fake.refusals[:3]}")
        return expected / elapsed


async def _create_database(server_url: str) -> tuple[str, str]:
    name, url = await create_database(server_url, "ocop_bench_webhook")
    db = Database(url)  # migrate once up front, so no round pays for it
    try:
        await db.upgrade()
    finally:
        await db.dispose()
    return name, url


async def measure(server_url: str, users: int, rounds: int, round_limit: float) -> dict[str, Any]:
    name, db_url = await _create_database(server_url)
    fake = FakeServer().start()
    logdir = Path(tempfile.mkdtemp(prefix="ocop-bench-webhook-"))
    instances: list[Instance] = []
    try:
        instances = [Instance(n, db_url, fake, logdir) for n in ("A", "B")]
        limits = httpx.Limits(max_connections=128, max_keepalive_connections=128)
        async with httpx.AsyncClient(timeout=30, limits=limits) as client:
            for instance in instances:
                await instance.wait_healthy(client, within=180)
            run = Run(fake, instances, round_limit)
            for processes in (1, 2):  # warm-up: first connections, templates, classifier caches
                await run.round(client, processes, 10)
            one: list[float] = []
            two: list[float] = []
            for _ in range(rounds):
                one.append(await run.round(client, 1, users))
                two.append(await run.round(client, 2, users))
    finally:
        for instance in instances:
            instance.stop()
        fake.stop()
        await drop_database(server_url, name)
    failures = [i.name for i in instances if "Update failed" in i.log_path.read_text()]
    if failures:
        raise RuntimeError(f"handler errors in {failures}; logs in {logdir}")
    shutil.rmtree(logdir, ignore_errors=True)  # kept above when something went wrong
    return {"one": one, "two": two}


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench webhook", description=__doc__)
    p.add_argument("--quick", action="store_true", help="fewer users and rounds (about a minute)")
    p.add_argument(
        "--json", action="store_true", help="print the figures as one JSON object on the last line"
    )
    p.add_argument("--users", type=int, default=None, help="users per round (each: /start + a question)")
    p.add_argument("--rounds", type=int, default=None, help="rounds per variant (the median is reported)")
    p.add_argument("--timeout", type=float, default=120.0, help="longest wait for one round's replies (s)")
    p.add_argument(
        "--db",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB),
        help=f"PostgreSQL server; a database is made there for the run, then dropped (default {DEFAULT_DB})",
    )
    args = p.parse_args(argv)
    if not args.db.startswith("postgres"):
        print(
            "bench webhook needs PostgreSQL (several processes share it): --db postgresql://...",
            file=sys.stderr,
        )
        return 2
    users = args.users or (100 if args.quick else 300)
    rounds = args.rounds or (3 if args.quick else 5)
    rates = asyncio.run(measure(args.db, users, rounds, args.timeout))
    one, two = statistics.median(rates["one"]), statistics.median(rates["two"])
    figures = {
        "benchmark": "webhook",
        "users": users,
        "rounds": rounds,
        "database": "postgresql",
        "one_process_updates_per_s_median": round(one, 1),
        "two_processes_updates_per_s_median": round(two, 1),
        "two_vs_one_ratio": round(two / one, 3),
        "one_process_rates": [round(x, 1) for x in rates["one"]],
        "two_processes_rates": [round(x, 1) for x in rates["two"]],
        "cpus": os.cpu_count(),
    }
    print(
        f"users={users} rounds={rounds} database=postgresql cpus={os.cpu_count()} "
        "(each user: /start + a question)"
    )
    print(f"  one process (python bot.py webhook): {round(one, 1):>7} updates/s median")
    print(f"  two processes (same database):       {round(two, 1):>7} updates/s median")
    print(f"  ratio two/one: {figures['two_vs_one_ratio']}")
    if args.json:
        print(json.dumps(figures))
    return 0
