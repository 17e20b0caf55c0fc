"""The command names the bot publishes: producers' (everyone's menu) and staff's (staff chats only)."""

from __future__ import annotations

PRODUCER_COMMANDS = ("start", "menu", "hoso", "dieukien", "lienhe", "trogiup", "huy")
STAFF_COMMANDS = ("cauhoi", "napkb")
# Dossier status (issue #11): producers' /trangthai, officers' /duyet.
PRODUCER_COMMANDS += ("trangthai",)
STAFF_COMMANDS += ("duyet",)
HELP_ALIASES = ("help",)
