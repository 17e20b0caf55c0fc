"""Jinja2 rendering of every user-visible text: HTML messages (autoescaped) and button labels."""

from __future__ import annotations

from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from common.text import clip

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"


class Renderer:
    """Renders `templates/<name>.html` for messages and `templates/labels/*.yaml` entries for buttons.

    Message templates are autoescaped for Telegram's HTML parse mode: anything a user typed is data,
    never markup. Labels are plain text (Telegram shows button text verbatim) and are rendered
    without escaping.
    """

    def __init__(self, timezone: str = "Asia/Ho_Chi_Minh", templates_dir: Path = TEMPLATES_DIR) -> None:
        self.tz = ZoneInfo(timezone)
        self.templates_dir = templates_dir
        self.env = Environment(
            loader=FileSystemLoader(str(templates_dir)),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self.env.filters["vntime"] = self.format_datetime
        self.env.filters["vndate"] = self.format_date
        self.env.filters["number"] = format_number
        # Telegram counts UTF-16 units: `truncate` measures as it does (an emoji is two).
        self.env.filters["truncate"] = truncate_utf16
        self._plain = Environment(undefined=StrictUndefined, autoescape=False)

    def render(self, template: str, /, **context: Any) -> str:
        """Render the HTML message template `templates/<name>.html`; surrounding blank lines stripped."""
        return self.env.get_template(f"{template}.html").render(**context).strip()

    @cached_property
    def _labels(self) -> dict[str, str]:
        labels: dict[str, str] = {}
        for path in sorted((self.templates_dir / "labels").glob("*.yaml")):
            with open(path, encoding="utf-8") as fh:
                data = yaml.safe_load(fh) or {}
            for key, value in _flatten(data, path.stem + ".").items():
                if key in labels:
                    raise ValueError(f"label {key!r} defined twice")
                labels[key] = value
        return labels

    def label(self, key: str, /, **context: Any) -> str:
        """A plain-text button label from templates/labels/<file>.yaml, keyed '<file>.<key>'."""
        try:
            source = self._labels[key]
        except KeyError:
            raise KeyError(f"no label {key!r} in templates/labels/") from None
        if "{" not in source:
            return source
        return self._plain.from_string(source).render(**context)

    def format_datetime(self, value: datetime | None) -> str:
        if value is None:
            return ""
        return value.astimezone(self.tz).strftime("%d/%m/%Y %H:%M")

    def format_date(self, value: date | datetime | None) -> str:
        if value is None:
            return ""
        if isinstance(value, datetime):
            value = value.astimezone(self.tz).date()
        return value.strftime("%d/%m/%Y")


def truncate_utf16(value: object, length: int = 255) -> str:
    """Jinja's `truncate`, measured in UTF-16 units as Telegram measures, ending in an ellipsis."""
    return clip(str(value), length)


def format_number(value: float | int) -> str:
    """Vietnamese number style: 1.234.567 and 2,5."""
    if isinstance(value, float) and not value.is_integer():
        whole, frac = f"{value:,.2f}".rstrip("0").split(".")
        return whole.replace(",", ".") + "," + frac
    return f"{int(value):,}".replace(",", ".")


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in data.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, full + "."))
        else:
            out[full] = str(value)
    return out
