"""Smoke test: `python bot.py` as a real process long-polling a loopback Bot API server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from fakebot.core import SentMessage
from fakebot.server import FakeServer

ROOT = Path(__file__).resolve().parent.parent


def run_bot(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python bot.py ARGS` to completion (at most a minute), output captured as text."""
    return subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def wait_for(predicate: Callable[[], object], timeout: float = 60.0) -> object:
    """The predicate's first truthy value, polled until `timeout` (generous: CI machines are busy)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting for the bot")


def bot_messages(server: FakeServer, chat_id: int) -> list[SentMessage]:
    return server.fake.bot_messages(chat_id)


def test_bot_process_long_polls_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    server = FakeServer().start()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_", "STAFF_"))}
    env.update(
        TELEGRAM_BOT_TOKEN="123:ABC",
        TELEGRAM_API_BASE_URL=server.base_url,
        TELEGRAM_API_FILE_URL=server.file_url,
        DATABASE_URL=f"sqlite:///{tmp_path / 'smoke.db'}",
        LOG_LEVEL="INFO",
    )
    proc = subprocess.Popen(
        [sys.executable, "bot.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        server.push_text(42, "/start")
        first = wait_for(lambda: [m for m in bot_messages(server, 42) if m.buttons])
        menu = first[0]  # type: ignore[index]
        assert "Xin chào Lan" in menu.text
        data = [b["callback_data"] for row in menu.buttons for b in row]
        assert len(data) == 6
        for n, d in enumerate(data, start=1):
            server.push_callback(42, menu.message_id, d)
            wait_for(lambda n=n: len(server.fake.callback_answers) >= n)
        server.push_callback(42, menu.message_id, "junk:\u0000:data")
        wait_for(lambda: len(server.fake.callback_answers) >= 7)
        # The expired-button reply follows the answer: wait for it before counting the next reply.
        wait_for(lambda: "Nút này đã cũ" in bot_messages(server, 42)[-1].text)
        count = len(bot_messages(server, 42))
        server.push_text(42, "x" * 5000)
        wait_for(lambda: len(bot_messages(server, 42)) > count)
        assert "dài quá" in bot_messages(server, 42)[-1].text
        assert not server.fake.refusals, server.fake.refusals
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=15)
        assert code == 0
        assert time.monotonic() - started < 10
    finally:
        if proc.poll() is None:
            proc.kill()
        output = proc.stdout.read() if proc.stdout else ""
        server.stop()
    assert "Traceback" not in output, output


def test_missing_token_exits_with_one_clear_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_"))}
    result = run_bot(env=env, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "@BotFather" in lines[0] and "console" in lines[0]


def test_bad_configuration_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_"))}
    env.update(STAFF_IDS="12,abc", TELEGRAM_BOT_TOKEN="1:x")
    result = run_bot(env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "Bad configuration: STAFF_IDS: 'abc' is not a Telegram user id (a whole number)"
    ]
    assert "Traceback" not in result.stderr
