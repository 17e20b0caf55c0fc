"""The sending port: what the outbox worker needs from a messenger, and the outcomes it understands.

The Telegram side (`handlers/outbox_sender.py`) implements `Sender` and maps Bot API answers onto
`Outcome`: sent (with Telegram's message id), retry after N seconds (429), transient (5xx, timeout,
network), unreachable (blocked, chat not found, deactivated) or refused (any other 400).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol


class Outcome(StrEnum):
    SENT = "sent"
    RETRY_AFTER = "retry_after"
    TRANSIENT = "transient"
    UNREACHABLE = "unreachable"
    REFUSED = "refused"


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    message_id: int | None = None
    retry_after: float = 0.0
    error: str = ""

    @classmethod
    def sent(cls, message_id: int) -> SendResult:
        return cls(Outcome.SENT, message_id=message_id)


Buttons = list[list[dict[str, Any]]]


class Sender(Protocol):
    async def send(self, chat_id: int, html: str, buttons: Buttons | None) -> SendResult:
        """Send one HTML message with optional inline buttons; never raises for a Bot API answer."""
        ...
