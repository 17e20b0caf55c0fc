"""Links into the bot: t.me/<bot> and its deep links (t.me/<bot>?start=<payload>), built in one place."""

from __future__ import annotations

import re

# Telegram's start parameter: up to 64 characters of A–Z, a–z, 0–9, "_" and "-".
_PAYLOAD_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def bot_link(bot_username: str | None, payload: str | None = None) -> str:
    """https://t.me/<bot>, with ?start=<payload> when given; raises ValueError for a payload Telegram
    would not pass on (the link would open the bot without it)."""
    url = f"https://t.me/{bot_username or 'bot'}"
    if payload is None:
        return url
    if not _PAYLOAD_RE.match(payload):
        raise ValueError(f"not a start payload Telegram accepts: {payload!r}")
    return f"{url}?start={payload}"
