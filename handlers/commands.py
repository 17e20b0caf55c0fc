"""The command names the bot publishes: producers' (everyone's menu) and staff's (staff chats only)."""

from __future__ import annotations

PRODUCER_COMMANDS = ("start", "menu", "hoso", "dieukien", "lienhe", "trogiup", "huy")
PRODUCER_COMMANDS += ("lich",)  # events (#13)
STAFF_COMMANDS = ("cauhoi", "napkb")
STAFF_COMMANDS += ("sukien",)  # events (#13)
HELP_ALIASES = ("help",)
