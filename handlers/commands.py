"""The command names the bot publishes: producers' (everyone's menu) and staff's (staff chats only)."""

from __future__ import annotations

PRODUCER_COMMANDS = ("start", "menu", "hoso", "dieukien", "lienhe", "trogiup", "huy")
STAFF_COMMANDS = ("cauhoi", "napkb")
PRODUCER_COMMANDS += ("caidat",)  # what a producer receives (handlers/settings.py)
STAFF_COMMANDS += ("thongbao",)  # staff broadcasts (handlers/broadcast.py)
HELP_ALIASES = ("help",)
