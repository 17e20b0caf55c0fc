"""python-telegram-bot's HTTP layer replaced by direct calls into an in-memory FakeTelegram."""

from __future__ import annotations

import json
from typing import Any

from telegram.error import TimedOut
from telegram.request import BaseRequest, RequestData

from fakebot.core import FakeTelegram

FAKE_BASE_URL = "https://fake.telegram.invalid/bot"
FAKE_FILE_URL = "https://fake.telegram.invalid/file/bot"


class FakeRequest(BaseRequest):
    """A `BaseRequest` that answers every Bot API call from a FakeTelegram, with no network."""

    def __init__(self, fake: FakeTelegram) -> None:
        self.fake = fake

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    @property
    def read_timeout(self) -> float | None:
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        if "/file/bot" in url:
            content = self.fake.download(url)
            return (200, content) if content is not None else (404, b"")
        api_method = url.rsplit("/", 1)[-1]
        params: dict[str, Any] = request_data.parameters if request_data else {}
        files = request_data.multipart_data if request_data and request_data.contains_files else {}
        fault = self.fake.faults.draw(api_method)
        if fault == "timeout":
            raise TimedOut("fake: timed out before the call reached Telegram")
        if fault in ("500", "502"):
            return int(fault), b"<html>Bad Gateway</html>" if fault == "502" else b'{"ok":false}'
        if fault == "429":
            answer: dict[str, Any] = {
                "ok": False,
                "error_code": 429,
                "description": f"Too Many Requests: retry after {self.fake.faults.retry_after}",
                "parameters": {"retry_after": self.fake.faults.retry_after},
            }
            return 429, json.dumps(answer).encode()
        answer = self.fake.call(api_method, params, files)
        if fault == "timeout_after":
            raise TimedOut("fake: timed out after Telegram performed the call")
        status = 200 if answer["ok"] else int(answer["error_code"])
        return status, json.dumps(answer).encode()
