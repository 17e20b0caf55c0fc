"""Button callback data, parsed into typed and bounded values in one place.

Every inline button carries `<namespace>:<action>[:<arg>…]` (1–64 bytes, ASCII). A press is parsed
with `parse()`; a handler then reads its arguments with `CallbackData.id()` (a positive database id
that fits an INTEGER column), `CallbackData.number()` (a small bounded index) or
`CallbackData.token()` (a short slug). Anything else — forged, truncated, from an old release, a
number too big for the database — raises `BadCallback`, which the error handler turns into the
"this button has expired" answer without touching the database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_DATA_BYTES = 64
MAX_ID = 2**31 - 1  # the largest value of an INTEGER primary key (PostgreSQL's int4)
_PART_RE = re.compile(r"^[A-Za-z0-9_.\-]{0,64}$")
MAX_USER_ID = 2**52  # Telegram: user ids fit in 52 bits
_LONG_INT_RE = re.compile(r"^[1-9][0-9]{0,15}$")
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_INT_RE = re.compile(r"^(0|[1-9][0-9]{0,9})$")


class BadCallback(ValueError):
    """Callback data that no current button could have sent."""


@dataclass(frozen=True)
class CallbackData:
    """One parsed button press: namespace, action and the raw arguments."""

    namespace: str
    action: str
    args: tuple[str, ...]

    def arg(self, index: int) -> str:
        if not 0 <= index < len(self.args):
            raise BadCallback(f"missing argument {index}")
        return self.args[index]

    def id(self, index: int) -> int:
        """Argument `index` as a database id: 1 … MAX_ID."""
        value = self._int(index)
        if not 1 <= value <= MAX_ID:
            raise BadCallback(f"id out of range: {value}")
        return value

    def user_id(self, index: int) -> int:
        """Argument `index` as a Telegram user id: 1 … 2**52."""
        value = self._int(index, digits=16)
        if not 1 <= value <= MAX_USER_ID:
            raise BadCallback(f"user id out of range: {value}")
        return value

    def number(self, index: int, upper: int = 10_000) -> int:
        """Argument `index` as a small index: 0 … upper."""
        value = self._int(index)
        if value > upper:
            raise BadCallback(f"number out of range: {value}")
        return value

    def token(self, index: int) -> str:
        """Argument `index` as a short slug (letters, digits, `_.-`)."""
        value = self.arg(index)
        if not _TOKEN_RE.match(value):
            raise BadCallback(f"bad token: {value!r}")
        return value

    def expect(self, count: int) -> CallbackData:
        """Insist on exactly `count` arguments."""
        if len(self.args) != count:
            raise BadCallback(f"{len(self.args)} arguments, {count} expected")
        return self

    def _int(self, index: int, digits: int = 10) -> int:
        raw = self.arg(index)
        if not _INT_RE.match(raw) and not (digits > 10 and _LONG_INT_RE.match(raw)):
            raise BadCallback(f"not a number: {raw!r}")
        return int(raw)


def parse(data: str | None) -> CallbackData:
    """Split callback data into namespace, action and arguments; refuse anything malformed."""
    if not data or len(data.encode("utf-8", "surrogatepass")) > MAX_DATA_BYTES:
        raise BadCallback("empty or too long")
    parts = data.split(":")
    if len(parts) < 2 or not all(_PART_RE.match(p) for p in parts) or not parts[0]:
        raise BadCallback(f"malformed: {data!r}")
    return CallbackData(parts[0], parts[1], tuple(parts[2:]))


def encode(namespace: str, action: str, *args: object) -> str:
    """The callback data for a button; raises ValueError when it would not fit Telegram's 64 bytes."""
    data = ":".join([namespace, action, *(str(a) for a in args)])
    if len(data.encode()) > MAX_DATA_BYTES:
        raise ValueError(f"callback data over {MAX_DATA_BYTES} bytes: {data!r}")
    return data
