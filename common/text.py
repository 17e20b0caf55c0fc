"""Text measured as Telegram measures it: UTF-16 code units (an emoji or a rare CJK character is two).

`utf16_len` measures, `clip` shortens plain text, and `fit_html` shortens Telegram-HTML so that the
text a user sees stays within a limit while every tag stays balanced and no entity is cut in half.
Every outgoing message passes through `fit_html` (handlers/bot.py), and the templates' `truncate`
filter uses `clip`, so no template or handler can exceed Telegram's limits.
"""

from __future__ import annotations

import re
from html import unescape

MESSAGE_LIMIT = 4096  # Telegram: text of a message, after entity parsing
CAPTION_LIMIT = 1024  # Telegram: caption of a photo or document
ELLIPSIS = "…"

_TOKEN_RE = re.compile(r"(<[^<>]*>)|(&(?:#[0-9]{1,7}|#x[0-9a-fA-F]{1,6}|[A-Za-z]{2,8});)|([^<&]+|[<&])")
_TAG_NAME_RE = re.compile(r"^</?\s*([A-Za-z][A-Za-z0-9-]*)")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's limits and entity offsets."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def clip(text: str, limit: int, ellipsis: str = ELLIPSIS) -> str:
    """`text` shortened to at most `limit` UTF-16 units (the ellipsis included), at a word boundary
    when one is near; never splits a surrogate pair."""
    if utf16_len(text) <= limit:
        return text
    budget = max(0, limit - utf16_len(ellipsis))
    out: list[str] = []
    used = 0
    for ch in text:
        width = 2 if ord(ch) > 0xFFFF else 1
        if used + width > budget:
            break
        out.append(ch)
        used += width
    cut = "".join(out)
    space = cut.rfind(" ")
    if space >= len(cut) * 0.8:  # keep a whole last word when it costs little
        cut = cut[:space]
    return cut.rstrip() + ellipsis


def visible_text(html: str) -> str:
    """What a user sees of Telegram-HTML: tags dropped, entities resolved."""
    return unescape(re.sub(r"<[^>]+>", "", html))


def fit_html(html: str, limit: int) -> str:
    """`html` unchanged when its visible text fits `limit` UTF-16 units; otherwise cut so that the
    visible text (with a closing ellipsis) fits, the open tags are closed and no entity is split."""
    if utf16_len(visible_text(html)) <= limit:
        return html
    budget = max(0, limit - utf16_len(ELLIPSIS))
    out: list[str] = []
    open_tags: list[str] = []
    used = 0
    for tag, entity, text in _TOKEN_RE.findall(html):
        if tag:
            name_match = _TAG_NAME_RE.match(tag)
            name = name_match.group(1).lower() if name_match else ""
            if tag.startswith("</"):
                if name in open_tags:
                    while open_tags:
                        closing = open_tags.pop()
                        out.append(f"</{closing}>")
                        if closing == name:
                            break
            else:
                open_tags.append(name)
                out.append(tag)
            continue
        piece = entity or text
        shown = unescape(piece) if entity else piece
        width = utf16_len(shown)
        if used + width <= budget:
            out.append(piece)
            used += width
            continue
        if not entity:
            rest = clip(text, budget - used, ellipsis="")
            out.append(rest)
        break
    out.append(ELLIPSIS)
    out.extend(f"</{name}>" for name in reversed(open_tags))
    return "".join(out)
