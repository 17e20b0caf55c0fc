"""The command names the bot publishes: producers' (everyone's menu) and staff's (staff chats only)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from telegram import BotCommand

if TYPE_CHECKING:
    from compose import AppContext

PRODUCER_COMMANDS = ("start", "menu", "hoso", "dieukien", "lienhe", "trogiup", "huy")
STAFF_COMMANDS = ("cauhoi", "napkb", "canbo", "nhatky")
# The desk: export, statistics, a dossier entered for a producer who is not on Telegram
STAFF_COMMANDS += ("xuat", "thongke", "nhaphoso")
# Dossier status (issue #11): producers' /trangthai, officers' /duyet.
PRODUCER_COMMANDS += ("trangthai",)
STAFF_COMMANDS += ("duyet",)
PRODUCER_COMMANDS += ("caidat",)  # what a producer receives (handlers/settings.py)
STAFF_COMMANDS += ("thongbao",)  # staff broadcasts (handlers/broadcast.py)
PRODUCER_COMMANDS += ("lich",)  # events (#13)
STAFF_COMMANDS += ("sukien",)  # events (#13)
# Staff commands that ask for typed answers (a broadcast, the events wizard, a role) or send producers'
# files: in the staff chat they are refused (a typed answer only reaches a flow from a private chat).
STAFF_PRIVATE_COMMANDS = ("canbo", "xuat", "nhaphoso", "thongbao", "sukien")
HELP_ALIASES = ("help",)


def command_list(ctx: AppContext, names: tuple[str, ...]) -> list[BotCommand]:
    """BotCommands with their Vietnamese descriptions (templates/labels/commands.yaml)."""
    return [BotCommand(name, ctx.renderer.label(f"commands.{name}")) for name in names]


def staff_command_list(ctx: AppContext) -> list[BotCommand]:
    """What a staff member's command menu shows: everyone's commands, then the staff ones."""
    return command_list(ctx, PRODUCER_COMMANDS) + command_list(ctx, STAFF_COMMANDS)
