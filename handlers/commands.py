"""The command names the bot publishes: producers' (everyone's menu) and staff's (staff chats only)."""

from __future__ import annotations

PRODUCER_COMMANDS = ("start", "menu", "hoso", "dieukien", "lienhe", "trogiup", "huy")
STAFF_COMMANDS = ("cauhoi", "napkb")
# The desk: export, statistics, a dossier entered for a producer who is not on Telegram
STAFF_COMMANDS += ("xuat", "thongke", "nhaphoso")
HELP_ALIASES = ("help",)
