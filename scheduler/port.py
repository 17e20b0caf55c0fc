"""The sending port: what the outbox worker (and the broadcast runner) need from a messenger, and
the outcomes it understands.

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
# {"type": "photo"|"document", "file_id": ...} or {"type": "copy", "from_chat_id": ..., "message_id": ...}
Media = dict[str, Any]


class Sender(Protocol):
    async def send(self, chat_id: int, html: str, buttons: Buttons | None) -> SendResult:
        """Send one HTML message with optional inline buttons; never raises for a Bot API answer."""
        ...

    async def send_media(
        self, chat_id: int, media: Media, caption: str, buttons: Buttons | None
    ) -> SendResult:
        """Send a photo or document by file_id with an HTML caption, or copy a message (its caption
        replaced by `caption` when not empty); never raises for a Bot API answer."""
        ...


class ProgressPort(Sender, Protocol):
    """What the broadcast runner needs besides sending: edit its live progress message, and send the
    failures as a file."""

    async def edit(self, chat_id: int, message_id: int, html: str, buttons: Buttons | None) -> SendResult:
        """Replace the text and buttons of a message the bot sent."""
        ...

    async def send_file(self, chat_id: int, file_name: str, data: bytes, caption: str) -> SendResult:
        """Send `data` as a document named `file_name` with an HTML caption."""
        ...
