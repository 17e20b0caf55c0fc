"""The Bot every message leaves through: texts and captions fitted to Telegram's limits.

python-telegram-bot's `ExtBot`, with the methods that carry a text or a caption overridden so that
what they send is measured as Telegram measures it (UTF-16 units of the visible text) and shortened,
HTML kept balanced, when it would be refused. Handlers, the error handler and `Message.reply_*`
shortcuts all call these methods, so no template or handler can exceed a limit.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from telegram.ext import ExtBot

from common.text import CAPTION_LIMIT, MESSAGE_LIMIT, clip, fit_html


def _fit(value: Any, parse_mode: Any, limit: int) -> Any:
    if not isinstance(value, str):
        return value
    if parse_mode is None:  # plain text
        return clip(value, limit)
    if str(parse_mode).upper() == "HTML":
        return fit_html(value, limit)
    return value


ANSWERED_MEMORY = 4096  # recent callback queries remembered as answered


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
