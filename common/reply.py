"""What the core hands back to an adapter: rendered HTML text and button rows, no Telegram types."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Button:
    """One inline button: a label and either callback data (1-64 bytes) or a URL."""

    label: str
    data: str | None = None
    url: str | None = None

    def __post_init__(self) -> None:
        if (self.data is None) == (self.url is None):
            raise ValueError("a button has callback data or a URL, not both")
        if self.data is not None and not 1 <= len(self.data.encode()) <= 64:
            raise ValueError(f"callback data must be 1-64 bytes: {self.data!r}")


@dataclass
class Reply:
    """A message to show: HTML (already rendered and escaped) plus inline button rows."""

    html: str
    buttons: list[list[Button]] = field(default_factory=list)
