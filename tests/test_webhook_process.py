"""`python bot.py webhook` as a real process: PTB's webhook server behind the secret header, the health
endpoint, replies through a loopback fake Bot API, a redelivered update answered once, clean SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from fakebot.server import FakeServer
from tests.test_smoke_process import run_bot, wait_for
from tests.test_webhook_dedupe import text_update

ROOT = Path(__file__).resolve().parent.parent
SECRET = "s3cret_Token-42"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> int:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0  # not listening (yet, or any more)


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "DATABASE_", "STAFF_", "WEBHOOK_", "DEDUPLICATE_"))
    }
    env.update(extra)
    return env


def test_webhook_process_checks_the_secret_answers_once_and_stops_on_sigterm(tmp_path: Path) -> None:
    server = FakeServer().start()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = clean_env(
        TELEGRAM_BOT_TOKEN="123:ABC",
        TELEGRAM_API_BASE_URL=server.base_url,
        TELEGRAM_API_FILE_URL=server.file_url,
        DATABASE_URL=f"sqlite:///{tmp_path / 'webhook.db'}",
        WEBHOOK_PORT=str(port),
        WEBHOOK_URL=f"{base}/telegram",
        WEBHOOK_SECRET=SECRET,
        LOG_LEVEL="INFO",
    )
    proc = subprocess.Popen(
        [sys.executable, "bot.py", "webhook"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(lambda: proc.poll() is not None or http("GET", f"{base}/healthz") == 200, timeout=90)
        assert proc.poll() is None, "the bot exited at start"
        assert server.webhook is not None
        assert server.webhook["url"] == f"{base}/telegram"
        assert server.webhook["secret_token"] == SECRET

        json_type = {"Content-Type": "application/json"}
        with_secret = {**json_type, "X-Telegram-Bot-Api-Secret-Token": SECRET}
        wrong_secret = {**json_type, "X-Telegram-Bot-Api-Secret-Token": "guess"}
        assert http("POST", f"{base}/telegram", text_update(1, 43, "/start"), json_type) == 403
        assert http("POST", f"{base}/telegram", text_update(2, 44, "/start"), wrong_secret) == 403
        assert http("GET", f"{base}/telegram") in {403, 405}  # only Telegram's POSTs are taken

        assert http("POST", f"{base}/telegram", text_update(3, 42, "/start"), with_secret) == 200
        menu = wait_for(lambda: server.fake.bot_messages(42))
        assert "Xin chào Lan" in menu[0].text  # type: ignore[index]
        # Delivered again (a retry through the load balancer): dropped. The next update of the same
        # user is handled after it (one user's updates stay in order), so its reply closes the check.
        assert http("POST", f"{base}/telegram", text_update(3, 42, "/start"), with_secret) == 200
        assert http("POST", f"{base}/telegram", text_update(4, 42, "/trogiup"), with_secret) == 200
        wait_for(lambda: len(server.fake.bot_messages(42)) >= 2)
        assert len(server.fake.bot_messages(42)) == 2
        assert not server.fake.bot_messages(43) and not server.fake.bot_messages(44)
        assert not server.fake.refusals, server.fake.refusals

        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert time.monotonic() - started < 15
        assert http("GET", f"{base}/healthz") == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        output = proc.stdout.read() if proc.stdout else ""
        server.stop()
    assert "Traceback" not in output, output
    assert "Dropped update 3: already processed" in output, output


def test_webhook_without_a_secret_refuses_to_start_with_one_line(tmp_path: Path) -> None:
    env = clean_env(TELEGRAM_BOT_TOKEN="1:x", WEBHOOK_URL="https://ocop.example.vn/telegram")
    result = run_bot("webhook", env=env, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("WEBHOOK_SECRET is not set"), lines


def test_webhook_secret_outside_telegrams_alphabet_is_one_line(tmp_path: Path) -> None:
    env = clean_env(TELEGRAM_BOT_TOKEN="1:x", WEBHOOK_SECRET="has spaces!")
    result = run_bot("webhook", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "Bad configuration: WEBHOOK_SECRET: must be 1-256 characters of A-Z, a-z, 0-9, _ and - "
        "(Telegram's rule)"
    ]
