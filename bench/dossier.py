"""`python -m bench dossier`: step-transition latency while N producers fill dossiers at once through
the real Application and the fake Bot API (every answer committed before the next question), and the
time to render the filled registration form as PDF.

For scale, in the same run: one producer filling alone (the cost of a step without queueing), and the
same number of users sending the same number of messages at once to a
bare python-telegram-bot handler that only replies — the floor a step cannot go below on this machine.
A step's latency is from the user's update entering `process_update` to the bot's reply being sent.
Figures are medians over rounds; p50/p99 are over every step of a round.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from telegram.ext import BaseUpdateProcessor, SimpleUpdateProcessor

from bench.updates import _bare_harness
from common.config import Settings
from fakebot.driver import FakeUser, Harness
from fakebot.session import start_session
from storage.db import async_url

PDF = b"%PDF-1.4\n% bench\n"
Step = Callable[[FakeUser], Awaitable[object]]


def _press(label: str) -> Step:
    return lambda u: u.press(label)


def _send(text_: str) -> Step:
    return lambda u: u.send(text_)


def _send_photo(u: FakeUser) -> Awaitable[object]:
    return u.send_photo()


def _first_choice(u: FakeUser) -> Awaitable[object]:
    return u.press(u.last.labels[0])


SCRIPT: list[Step] = [
    _send("/hoso"), _press("Phân hạng lần đầu"), _press("Hợp tác xã"), _send("HTX Mây tre đan Phú Vinh"),
    _send("Nguyễn Văn Tĩnh"), _press("⏭ Bỏ qua"), _send("0912 345 678"), _press("⏭ Bỏ qua"),
    _press("⏭ Bỏ qua"), _send("0101234567"), _send("01G8001234"), _send("15/03/2018"),
    _send("Thôn Phú Vinh"), _send("xa Dong Son"), _press("xã Phú Nghĩa"), _press("⏭ Bỏ qua"),
    _send("2012"), _send("300 chiếc/tháng"),
    _send("Giỏ mây đan tay"), _press("Hàng thủ công mỹ nghệ"), _first_choice,
    _send("Giỏ đan từ mây tự nhiên, làm thủ công."), _send("Mây, tre của thôn Phú Vinh"),
    _press("Tại địa phương (trong xã)"), _send("1.500 chiếc"), _send("Túi giấy, nhãn dán có mã QR"),
    _press("Trong xã"), _press("✅ Xong"),
    _press("Toàn bộ"), _send("12 người"), _send("10 người"), _press("Truyền thống địa phương"),
    _send("Nghề đan mây truyền thống của thôn."),
    _press("Chưa đăng ký"), _press("Không"), _press("Không"), _press("Không"), _press("Có"),
    _press("Chợ, cửa hàng"), _press("✅ Xong"), _press("⏭ Bỏ qua"),
    _press("Mang bản giấy đến xã"), _press("Mang bản giấy đến xã"),
    _send_photo, _press("✅ Xong"),
    lambda u: u.send_photo(), lambda u: u.send_document(PDF, "dkkd.pdf", "application/pdf"),
]  # fmt: skip
# The same dossier with 10 product photos (the form's maximum), for the PDF render figure.
_AT = SCRIPT.index(_send_photo)
SCRIPT_10_PHOTOS: list[Step] = SCRIPT[:_AT] + [_send_photo] * 10 + SCRIPT[_AT + 1 :]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _producer(user: FakeUser, latencies: list[float], script: list[Step] = SCRIPT) -> None:
    for step in script:
        start = time.perf_counter()
        await step(user)
        latencies.append(time.perf_counter() - start)
    assert "Xem lại hồ sơ" in user.last.text, user.last.text[:200]


async def _bare_user(user: FakeUser, latencies: list[float]) -> None:
    for n in range(len(SCRIPT)):
        start = time.perf_counter()
        await user.send(f"tin nhắn {n}")
        latencies.append(time.perf_counter() - start)


async def _fresh_pg_database(url: str) -> str:
    """A new database next to `url` for this run; returns its URL."""
    name = f"ocop_bench_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(async_url(url), isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return url.rsplit("/", 1)[0] + "/" + name


async def _drop_pg_database(admin_url: str, url: str) -> None:
    admin = create_async_engine(async_url(admin_url), isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}"'))
    await admin.dispose()


async def _round(producers: int, db_url: str | None, base_id: int) -> dict[str, list[float]]:
    if db_url and db_url.startswith("postgres"):
        url = await _fresh_pg_database(db_url)
        try:
            return await _measure(producers, url, base_id)
        finally:
            await _drop_pg_database(db_url, url)
    return await _measure(producers, None, base_id)


async def _measure(producers: int, url: str | None, base_id: int) -> dict[str, list[float]]:
    if url is None:
        url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='ocop-bench-')) / 'bench.db'}"
    settings = Settings(
        _env_file=None, database_url=url, storage_dir=Path(tempfile.mkdtemp()), download_files=False
    )  # type: ignore[call-arg]
    harness, ctx = await start_session(settings)
    steps: list[float] = []
    solo: list[float] = []
    await _producer(harness.user(base_id, "Warm"), [])
    await _producer(harness.user(base_id + producers + 1, "Solo"), solo)  # one producer alone
    users = [harness.user(base_id + 1 + i, f"User{i}") for i in range(producers)]
    await asyncio.gather(*(_producer(u, steps) for u in users))
    pdf_times: list[float] = []
    service = ctx.dossier
    summaries = await service.list_dossiers(base_id + 1)
    for _ in range(10):
        start = time.perf_counter()
        await service.render_pdf(base_id + 1, summaries[0].id)
        pdf_times.append(time.perf_counter() - start)
    ten = base_id + producers + 2
    await _producer(harness.user(ten, "Photos"), [], SCRIPT_10_PHOTOS)
    ten_id = (await service.list_dossiers(ten))[0].id
    assert len(await service.attachments(ten, ten_id)) == 12  # 10 photos, the label, the registration
    pdf10_times: list[float] = []
    for _ in range(10):
        start = time.perf_counter()
        await service.render_pdf(ten, ten_id)
        pdf10_times.append(time.perf_counter() - start)
    await harness.stop()

    bare: Harness = await _bare_harness()
    bare_steps: list[float] = []
    await asyncio.gather(*(_bare_user(bare.user(base_id + 1 + i, "U"), bare_steps) for i in range(producers)))
    await bare.stop()
    return {"steps": steps, "solo": solo, "pdf": pdf_times, "pdf10": pdf10_times, "bare": bare_steps}


async def _contention(answerers: int, renderers: int, processor: BaseUpdateProcessor | None) -> list[float]:
    """Step latencies of `answerers` filling dossiers while `renderers` keep asking for their PDF."""
    settings = Settings(
        _env_file=None,
        database_url=f"sqlite:///{Path(tempfile.mkdtemp(prefix='ocop-bench-')) / 'bench.db'}",
        storage_dir=Path(tempfile.mkdtemp()),
        download_files=False,
    )  # type: ignore[call-arg]
    harness, ctx = await start_session(settings, update_processor=processor)
    service = ctx.dossier
    owners = [harness.user(90_000 + i, f"Owner{i}") for i in range(renderers)]
    for owner in owners:  # each renderer has a filled dossier (not measured)
        await _producer(owner, [])
    pdf_data = [f"dos:pdf:{(await service.list_dossiers(o.id))[0].id}" for o in owners]
    steps: list[float] = []
    finished = asyncio.Event()

    async def keep_rendering(owner: FakeUser, data: str) -> None:
        while not finished.is_set():
            await owner.press_data(data)

    async def answer_all() -> None:
        users = [harness.user(80_000 + i, f"User{i}") for i in range(answerers)]
        await asyncio.gather(*(_producer(u, steps) for u in users))
        finished.set()

    await asyncio.gather(answer_all(), *(keep_rendering(o, d) for o, d in zip(owners, pdf_data, strict=True)))
    await harness.stop()
    return steps


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench dossier", description=__doc__)
    p.add_argument("--quick", action="store_true", help="fewer producers and rounds (under a minute)")
    p.add_argument(
        "--json", action="store_true", help="print the figures as one JSON object on the last line"
    )
    p.add_argument("--producers", type=int, default=None, help="producers filling at once (default 200)")
    p.add_argument("--rounds", type=int, default=None, help="rounds (medians are reported)")
    p.add_argument(
        "--db", default=None, help="postgresql://… to run on PostgreSQL (a fresh database per round)"
    )
    args = p.parse_args(argv)
    producers = args.producers or (50 if args.quick else 200)
    rounds = args.rounds or (2 if args.quick else 3)
    results = [asyncio.run(_round(producers, args.db, 50_000 + r * 10_000)) for r in range(rounds)]
    answerers, renderers = (10, 3) if args.quick else (30, 5)
    for r in results:  # the same work, one update at a time (PTB's default) and per user (ours)
        r["serial"] = asyncio.run(_contention(answerers, renderers, SimpleUpdateProcessor(1)))
        r["per_user"] = asyncio.run(_contention(answerers, renderers, None))

    def med(key: str, q: float) -> float:
        return round(statistics.median(_percentile(r[key], q) for r in results) * 1000, 2)

    figures: dict[str, Any] = {
        "benchmark": "dossier",
        "database": "postgresql" if args.db and args.db.startswith("postgres") else "sqlite",
        "producers": producers,
        "rounds": rounds,
        "steps_per_producer": len(SCRIPT),
        "step_p50_ms": med("steps", 0.5),
        "step_p99_ms": med("steps", 0.99),
        "solo_step_p50_ms": med("solo", 0.5),
        "solo_step_p99_ms": med("solo", 0.99),
        "bare_step_p50_ms": med("bare", 0.5),
        "bare_step_p99_ms": med("bare", 0.99),
        "pdf_p50_ms": med("pdf", 0.5),
        "pdf_p99_ms": med("pdf", 0.99),
        "pdf_10_photos_p50_ms": med("pdf10", 0.5),
        "pdf_10_photos_p99_ms": med("pdf10", 0.99),
        "contention": f"{answerers} producers answering while {renderers} others render their PDF",
        "serial_step_p50_ms": med("serial", 0.5),
        "serial_step_p99_ms": med("serial", 0.99),
        "per_user_step_p50_ms": med("per_user", 0.5),
        "per_user_step_p99_ms": med("per_user", 0.99),
    }
    figures["per_user_vs_serial_p99"] = round(
        figures["per_user_step_p99_ms"] / max(figures["serial_step_p99_ms"], 1e-6), 2
    )
    figures["concurrent_vs_solo_p50"] = round(
        figures["step_p50_ms"] / max(figures["solo_step_p50_ms"], 1e-6), 1
    )
    print(f"{producers} producers at once, {len(SCRIPT)} steps each, {rounds} rounds, {figures['database']}")
    print(f"  step latency      p50 {figures['step_p50_ms']:>8} ms   p99 {figures['step_p99_ms']:>8} ms")
    solo_p50, solo_p99 = figures["solo_step_p50_ms"], figures["solo_step_p99_ms"]
    print(f"  one producer alone p50 {solo_p50:>7} ms   p99 {solo_p99:>8} ms")
    bare_p50, bare_p99 = figures["bare_step_p50_ms"], figures["bare_step_p99_ms"]
    print(f"  bare PTB baseline p50 {bare_p50:>8} ms   p99 {bare_p99:>8} ms")
    print(f"  PDF render        p50 {figures['pdf_p50_ms']:>8} ms   p99 {figures['pdf_p99_ms']:>8} ms")
    ten_p50, ten_p99 = figures["pdf_10_photos_p50_ms"], figures["pdf_10_photos_p99_ms"]
    print(f"  PDF, 10 photos    p50 {ten_p50:>8} ms   p99 {ten_p99:>8} ms")
    print(f"  {figures['contention']}:")
    print(
        f"    one update at a time (PTB default) p50 {figures['serial_step_p50_ms']:>8} ms"
        f"   p99 {figures['serial_step_p99_ms']:>8} ms"
    )
    print(
        f"    per-user concurrent (ours)         p50 {figures['per_user_step_p50_ms']:>8} ms"
        f"   p99 {figures['per_user_step_p99_ms']:>8} ms   (p99 ratio {figures['per_user_vs_serial_p99']})"
    )
    if args.json:
        print(json.dumps(figures))
    return 0
