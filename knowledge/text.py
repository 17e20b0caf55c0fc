"""Measuring and shortening user text the way Telegram counts it: UTF-16 code units (an emoji is two).

A local stand-in until the shared measure lands in handlers/send.py and common/render.py.
"""

from __future__ import annotations

ELLIPSIS = "…"


def utf16_len(text: str) -> int:
    """Length of `text` in UTF-16 code units, Telegram's unit for message limits."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def clip(text: str, limit: int) -> str:
    """`text` shortened to at most `limit` UTF-16 units (an ellipsis included), never splitting a
    character; unchanged when it fits."""
    if utf16_len(text) <= limit:
        return text
    budget = max(0, limit - utf16_len(ELLIPSIS))
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > budget:
            return text[:index].rstrip() + ELLIPSIS
    return text
