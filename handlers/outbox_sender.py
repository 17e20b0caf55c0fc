"""The outbox's sending port on the Telegram side: one Bot API call per message, its answer mapped
onto `scheduler.port.Outcome`.

The worker gets its own Bot (`outbox_bot`, built in `handlers.app`) with no retrying rate limiter:
pacing, 429 pauses and retries are the worker's, in the database, not inline in a call.
"""

from __future__ import annotations

import warnings
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import ExtBot
from telegram.warnings import PTBDeprecationWarning

from scheduler.port import Buttons, Outcome, SendResult

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
