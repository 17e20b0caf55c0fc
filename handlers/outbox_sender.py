"""The outbox's sending port on the Telegram side: one Bot API call per message, its answer mapped
onto `scheduler.port.Outcome` (text, photo/document by file_id, a copy of a message; and for the
broadcast runner, edits of its progress message and the failures file).

The worker gets its own Bot (`outbox_bot`, built in `handlers.app`) with no retrying rate limiter:
pacing, 429 pauses and retries are the worker's, in the database, not inline in a call.
"""

from __future__ import annotations

import warnings
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import ExtBot
from telegram.warnings import PTBDeprecationWarning

from scheduler.port import Buttons, Media, Outcome, SendResult

UNREACHABLE = ("blocked by the user", "chat not found", "user is deactivated", "bot was kicked",
               "not enough rights to send", "have no rights to send", "peer_id_invalid")


def _markup(buttons: Buttons | None) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(**b) for b in row] for row in buttons])


def _retry_after(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value: Any = exc.retry_after
    total = getattr(value, "total_seconds", None)
    return float(total()) if callable(total) else float(value)


def classify(exc: TelegramError) -> SendResult:
    """The outcome a Bot API error means for an outbox message."""
    text = str(exc)
    if isinstance(exc, RetryAfter):
        return SendResult(Outcome.RETRY_AFTER, retry_after=_retry_after(exc), error=text)
    if isinstance(exc, Forbidden):
        return SendResult(Outcome.UNREACHABLE, error=text)
    if isinstance(exc, BadRequest):
        if any(marker in text.lower() for marker in UNREACHABLE):
            return SendResult(Outcome.UNREACHABLE, error=text)
        return SendResult(Outcome.REFUSED, error=text)
    if isinstance(exc, NetworkError):  # 5xx, timeouts, connection errors
        return SendResult(Outcome.TRANSIENT, error=f"{type(exc).__name__}: {text}")
    return SendResult(Outcome.REFUSED, error=f"{type(exc).__name__}: {text}")


class TelegramSender:
    """`scheduler.port.Sender` through a python-telegram-bot Bot."""

    def __init__(self, bot: ExtBot[None]) -> None:
        self.bot = bot

    async def send(self, chat_id: int, html: str, buttons: Buttons | None) -> SendResult:
        try:
            message = await self.bot.send_message(
                chat_id, html, parse_mode=ParseMode.HTML, reply_markup=_markup(buttons)
            )
        except TelegramError as exc:
            return classify(exc)
        return SendResult.sent(message.message_id)

    async def send_media(
        self, chat_id: int, media: Media, caption: str, buttons: Buttons | None
    ) -> SendResult:
        kind = media.get("type")
        markup = _markup(buttons)
        try:
            if kind == "photo":
                message = await self.bot.send_photo(
                    chat_id, media["file_id"], caption=caption or None, parse_mode=ParseMode.HTML,
                    reply_markup=markup,
                )
            elif kind == "document":
                message = await self.bot.send_document(
                    chat_id, media["file_id"], caption=caption or None, parse_mode=ParseMode.HTML,
                    reply_markup=markup,
                )
            elif kind == "copy":
                copied = await self.bot.copy_message(
                    chat_id, media["from_chat_id"], media["message_id"], caption=caption or None,
                    parse_mode=ParseMode.HTML if caption else None, reply_markup=markup,
                )
                return SendResult.sent(copied.message_id)
            else:
                return SendResult(Outcome.REFUSED, error=f"unknown media type {kind!r}")
        except TelegramError as exc:
            return classify(exc)
        return SendResult.sent(message.message_id)

    async def edit(self, chat_id: int, message_id: int, html: str, buttons: Buttons | None) -> SendResult:
        try:
            await self.bot.edit_message_text(
                html, chat_id=chat_id, message_id=message_id, parse_mode=ParseMode.HTML,
                reply_markup=_markup(buttons),
            )
        except TelegramError as exc:
            return classify(exc)
        return SendResult.sent(message_id)

    async def send_file(self, chat_id: int, file_name: str, data: bytes, caption: str) -> SendResult:
        try:
            message = await self.bot.send_document(
                chat_id, InputFile(data, filename=file_name), caption=caption, parse_mode=ParseMode.HTML
            )
        except TelegramError as exc:
            return classify(exc)
        return SendResult.sent(message.message_id)
