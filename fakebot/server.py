"""The fake Bot API on a loopback HTTP port, for running `python bot.py` as a real process against it.

    python -m fakebot.server --port 8081
    TELEGRAM_BOT_TOKEN=123:ABC TELEGRAM_API_BASE_URL=http://127.0.0.1:8081/bot python bot.py

It speaks the Bot API's HTTP form (POST /bot<token>/<method> with form, JSON or multipart bodies;
GET /file/bot<token>/<path> for downloads). Tests and the smoke script push updates into it with
`FakeServer.push_text(...)`, or over HTTP with POST /_fake/update and read with GET /_fake/messages.
For webhook mode it answers setWebhook / getWebhookInfo / deleteWebhook and keeps what was set in
`FakeServer.webhook` (the test or benchmark POSTs updates to the bot itself).
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlparse

from fakebot.core import FakeTelegram


def _parse_body(content_type: str, body: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    params: dict[str, Any] = {}
    files: dict[str, Any] = {}
    if content_type.startswith("application/json"):
        params = json.loads(body or b"{}")
    elif content_type.startswith("multipart/form-data"):
        msg = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
        )
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            filename = part.get_filename()
            payload = part.get_payload(decode=True) or b""
            if filename is not None:
                files[name] = (filename, payload, part.get_content_type())
            else:
                params[name] = payload.decode()
    else:
        params = dict(parse_qsl(body.decode(), keep_blank_values=True))
    return params, files


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up mid long-poll (the bot stopping) is normal here, not an error."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


WEBHOOK_METHODS = {"setwebhook", "getwebhookinfo", "deletewebhook"}


class FakeServer:
    """A FakeTelegram behind ThreadingHTTPServer on 127.0.0.1 (port 0 picks a free one)."""

    def __init__(self, port: int = 0) -> None:
        self.fake = FakeTelegram()
        self.webhook: dict[str, Any] | None = None  # the last setWebhook's parameters
        self.webhook_calls: list[str] = []
        self.cond = threading.Condition(self.fake.lock)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def _send(self, code: int, body: bytes, ctype: str = "application/json") -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                path = urlparse(self.path).path
                if path.startswith("/file/"):
                    content = server.fake.download(path)
                    if content is None:
                        self._send(404, b"")
                    else:
                        self._send(200, content, "application/octet-stream")
                elif path == "/_fake/messages":
                    with server.fake.lock:
                        out = [
                            {
                                "chat_id": m.chat_id,
                                "message_id": m.message_id,
                                "text": m.text,
                                "buttons": m.buttons,
                            }
                            for m in server.fake.log
                        ]
                    self._send(200, json.dumps(out, ensure_ascii=False).encode())
                else:
                    self._handle_api(path, {}, {})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                path = urlparse(self.path).path
                if path == "/_fake/update":
                    server.push(json.loads(body))
                    self._send(200, b'{"ok":true}')
                    return
                params, files = _parse_body(self.headers.get("Content-Type", ""), body)
                self._handle_api(path, params, files)

            def _handle_api(self, path: str, params: dict[str, Any], files: dict[str, Any]) -> None:
                parts = path.strip("/").split("/")
                if len(parts) != 2 or not parts[0].startswith("bot"):
                    self._send(404, b'{"ok":false,"error_code":404,"description":"Not Found"}')
                    return
                method = parts[1]
                if method.lower() in WEBHOOK_METHODS:
                    answer = {"ok": True, "result": server.webhook_call(method.lower(), params)}
                    self._send(200, json.dumps(answer).encode())
                    return
                if method.lower() == "getupdates":
                    server.wait_for_updates(params)
                answer = server.fake.call(method, params, files)
                code = 200 if answer["ok"] else int(answer["error_code"])
                self._send(code, json.dumps(answer, ensure_ascii=False).encode())

        self.httpd = _QuietServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    def start(self) -> FakeServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def webhook_call(self, method: str, params: dict[str, Any]) -> Any:
        """setWebhook remembers its parameters, deleteWebhook forgets them, getWebhookInfo tells."""
        with self.fake.lock:
            self.webhook_calls.append(method)
            if method == "setwebhook":
                self.webhook = dict(params)
                return True
            if method == "deletewebhook":
                self.webhook = None
                return True
            hook = self.webhook or {}
            return {"url": hook.get("url", ""), "has_custom_certificate": False, "pending_update_count": 0}

    def wait_for_updates(self, params: dict[str, Any]) -> None:
        """Long polling: hold getUpdates until an update arrives or its timeout (capped at 2 s)."""
        offset = int(params.get("offset") or 0)
        timeout = min(float(params.get("timeout") or 0), 2.0)
        deadline = time.monotonic() + timeout
        with self.cond:
            while not any(u["update_id"] >= offset for u in self.fake.updates):
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self.cond.wait(left)

    def push(self, update: dict[str, Any]) -> None:
        with self.cond:
            self.fake.push_update(update)
            self.cond.notify_all()

    def push_text(self, user_id: int, text: str, first_name: str = "Lan") -> None:
        mid = self.fake.new_message_id(user_id)
        msg: dict[str, Any] = {
            "message_id": mid,
            "date": int(time.time()),
            "text": text,
            "chat": {"id": user_id, "type": "private", "first_name": first_name},
            "from": {"id": user_id, "is_bot": False, "first_name": first_name},
        }
        if text.startswith("/"):
            msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        self.fake.record_user_message(user_id, mid, text)
        self.push({"message": msg})

    def push_callback(self, user_id: int, message_id: int, data: str, first_name: str = "Lan") -> None:
        with self.fake.lock:
            m = self.fake.messages[user_id][message_id]
            message = self.fake._message_json(m)
        query = {
            "id": f"cq{time.monotonic_ns()}",
            "chat_instance": "ci",
            "data": data,
            "message": message,
            "from": {"id": user_id, "is_bot": False, "first_name": first_name},
        }
        self.push({"callback_query": query})


def main() -> None:
    p = argparse.ArgumentParser(
        description="A fake Telegram Bot API on 127.0.0.1 for trying the bot offline."
    )
    p.add_argument("--port", type=int, default=8081)
    args = p.parse_args()
    server = FakeServer(args.port).start()
    print(f"Fake Bot API at {server.base_url} (files at {server.file_url}); Ctrl-C stops it.", flush=True)
    try:
        server.thread.join()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
