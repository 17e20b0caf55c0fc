"""The Bot every message leaves through: texts fitted to Telegram's limits, passing faults retried.

python-telegram-bot's `ExtBot`, with the methods that carry a text or a caption overridden so that
what they send is measured as Telegram measures it (UTF-16 units of the visible text) and shortened,
HTML kept balanced, when it would be refused. Handlers, the error handler and `Message.reply_*`
shortcuts all call these methods, so no template or handler can exceed a limit.

Every call also passes `RetryingLimiter`, PTB's rate-limiter hook: 429 waits Telegram's
`retry_after` (through PTB's `AIORateLimiter` when pacing is on), and 5xx answers, timeouts and
network errors are retried with a short backoff, so a user gets the answer late rather than never.
A timed-out call may have reached Telegram already: its retry can show a message twice, which is
the price of not losing it (Telegram has no idempotency key).
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from telegram.error import BadRequest, NetworkError, RetryAfter
from telegram.ext import AIORateLimiter, BaseRateLimiter, ExtBot
from telegram.warnings import PTBDeprecationWarning

from common.text import CAPTION_LIMIT, MESSAGE_LIMIT, clip, fit_html


def _fit(value: Any, parse_mode: Any, limit: int) -> Any:
    if not isinstance(value, str):
        return value
    if parse_mode is None:  # plain text
        return clip(value, limit)
    if str(parse_mode).upper() == "HTML":
        return fit_html(value, limit)
    return value


log = logging.getLogger(__name__)

ANSWERED_MEMORY = 4096
RETRY_DELAYS = (0.3, 1.0, 3.0)  # seconds before the 2nd, 3rd and 4th attempt
MAX_RETRY_AFTER = 60.0  # a 429 asking for longer than this is not waited out in a reply
Sleep = Callable[[float], Awaitable[None]]


def _retry_after_seconds(exc: RetryAfter) -> float:
    """`RetryAfter.retry_after` in seconds (an int or a timedelta, depending on PTB's setting)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    total = getattr(value, "total_seconds", None)
    return float(total()) if callable(total) else float(value)


class RetryingLimiter(BaseRateLimiter[dict[str, Any]]):
    """PTB's rate-limiter hook used for retries: 429 honoured, 5xx/timeouts/network errors retried.

    `pacing` is PTB's `AIORateLimiter` (Telegram's flood limits) or None; `sleep` is injected so
    tests move on without waiting.
    """

    def __init__(
        self,
        pacing: AIORateLimiter | None = None,
        *,
        delays: Sequence[float] = RETRY_DELAYS,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.pacing = pacing
        self.delays = tuple(delays)
        self.sleep = sleep
        self.retried = 0  # calls that needed more than one attempt (for tests and logs)

    async def initialize(self) -> None:
        if self.pacing is not None:
            await self.pacing.initialize()

    async def shutdown(self) -> None:
        if self.pacing is not None:
            await self.pacing.shutdown()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: dict[str, Any] | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        attempt = 0
        while True:
            try:
                if self.pacing is not None:
                    return await self.pacing.process_request(
                        callback, args, kwargs, endpoint, data, rate_limit_args
                    )
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                wait = _retry_after_seconds(exc)
                if attempt >= len(self.delays) or wait > MAX_RETRY_AFTER:
                    raise
                delay = wait
            except BadRequest:
                raise  # Telegram read the call and refused it: the same call would fail again
            except NetworkError as exc:  # 5xx, timeouts, connection errors
                if attempt >= len(self.delays):
                    raise
                delay = self.delays[attempt]
                log.warning("%s failed (%s); retry %d in %.1f s", endpoint, exc, attempt + 1, delay)
            attempt += 1
            self.retried += 1
            await self.sleep(delay)
  # recent callback queries remembered as answered


class OcopBot(ExtBot[None]):
    """ExtBot whose texts and captions always fit Telegram's limits, and which answers a callback
    query at most once (Telegram refuses a second answer; the error handler may answer late)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._answered: OrderedDict[str, None] = OrderedDict()

    async def answer_callback_query(self, callback_query_id: str, *args: Any, **kwargs: Any) -> bool:
        if callback_query_id in self._answered:
            return True
        result = await super().answer_callback_query(callback_query_id, *args, **kwargs)
        self._answered[callback_query_id] = None
        if len(self._answered) > ANSWERED_MEMORY:
            self._answered.popitem(last=False)
        return result

    def _parse_mode(self, kwargs: dict[str, Any]) -> Any:
        """The parse mode this call will use: its own, else the Application's default (HTML)."""
        if "parse_mode" in kwargs and isinstance(kwargs["parse_mode"], str | type(None)):
            return kwargs["parse_mode"]
        return self.defaults.parse_mode if self.defaults is not None else None

    async def send_message(self, chat_id: Any, text: str, *args: Any, **kwargs: Any) -> Any:
        text = _fit(text, self._parse_mode(kwargs), MESSAGE_LIMIT)
        return await super().send_message(chat_id, text, *args, **kwargs)

    async def edit_message_text(self, text: str, *args: Any, **kwargs: Any) -> Any:
        text = _fit(text, self._parse_mode(kwargs), MESSAGE_LIMIT)
        return await super().edit_message_text(text, *args, **kwargs)

    async def send_document(self, *args: Any, **kwargs: Any) -> Any:
        if "caption" in kwargs:
            kwargs["caption"] = _fit(kwargs["caption"], self._parse_mode(kwargs), CAPTION_LIMIT)
        return await super().send_document(*args, **kwargs)

    async def send_photo(self, *args: Any, **kwargs: Any) -> Any:
        if "caption" in kwargs:
            kwargs["caption"] = _fit(kwargs["caption"], self._parse_mode(kwargs), CAPTION_LIMIT)
        return await super().send_photo(*args, **kwargs)

    async def edit_message_caption(self, *args: Any, **kwargs: Any) -> Any:
        if "caption" in kwargs:
            kwargs["caption"] = _fit(kwargs["caption"], self._parse_mode(kwargs), CAPTION_LIMIT)
        return await super().edit_message_caption(*args, **kwargs)

    async def copy_message(self, *args: Any, **kwargs: Any) -> Any:
        if "caption" in kwargs:
            kwargs["caption"] = _fit(kwargs["caption"], self._parse_mode(kwargs), CAPTION_LIMIT)
        return await super().copy_message(*args, **kwargs)


def telegram_downloader(bot: ExtBot[None]) -> Callable[[str, Path], Awaitable[None]]:
    """The core's file-download port (dossier uploads) carried out through this Bot."""

    async def download(file_id: str, path: Path) -> None:
        telegram_file = await bot.get_file(file_id)
        await telegram_file.download_to_drive(path)

    return download
