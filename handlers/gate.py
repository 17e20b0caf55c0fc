"""The door every update passes first: what the bot does not handle is dropped before any work,
group chats never see private data, and a flooding user is slowed down.

- Update kinds the bot has no use for (channel posts, inline queries, polls, member changes…) stop
  here. An edited message in a private chat gets one line saying edits are not read.
- In a group, the bot answers only commands addressed to it, with a button to talk in private; in the
  staff chat, staff commands, replies to the bot and its buttons go on as usual — except the staff
  commands that ask for typed answers or send producers' files (`STAFF_PRIVATE_COMMANDS`), which are
  answered with where to use them.
- Flood control (common/flood.py): over the limit the user is told once to slow down, and the rest
  of their updates are dropped without work (a pressed button is still answered, so its spinner stops).
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, MessageEntity, Update
from telegram.ext import ApplicationHandlerStop

from common.flood import Verdict
from common.links import bot_link
from common.reply import Reply
from handlers.commands import STAFF_COMMANDS, STAFF_PRIVATE_COMMANDS
from handlers.context import Context
from handlers.send import answer


async def screen_update(update: Update, context: Context) -> None:
    """Group -3: let through private messages, button presses and the staff chat's business."""
    ctx = context.app_ctx
    if update.edited_message is not None:
        if update.edited_message.chat.type == "private":
            await answer(update, context, Reply(ctx.renderer.render("common/edited_ignored")))
        raise ApplicationHandlerStop
    if update.callback_query is not None:
        return  # buttons check their own data and permissions
    msg = update.message
    if msg is None:
        raise ApplicationHandlerStop  # channel posts, inline queries, polls, member updates…
    if msg.chat.type == "private":
        return
    command, addressed = _command(update, context)
    is_staff_chat = ctx.settings.staff_chat_id is not None and msg.chat.id == ctx.settings.staff_chat_id
    if is_staff_chat and command in STAFF_PRIVATE_COMMANDS:
        await answer(update, context, Reply(ctx.renderer.render("common/staff_private_only")))
        raise ApplicationHandlerStop
    if is_staff_chat and (command in STAFF_COMMANDS or _replies_to_bot(update, context)):
        return
    if command is not None and addressed:
        await _invite_to_private(update, context)
    raise ApplicationHandlerStop


async def flood_guard(update: Update, context: Context) -> None:
    """Group -2: one polite "slow down" when a user goes over the limit, then drop without work."""
    user = update.effective_user
    if user is None:
        return
    ctx = context.app_ctx
    verdict = ctx.flood.check(user.id)
    if verdict is Verdict.ALLOW:
        return
    query = update.callback_query
    if verdict is Verdict.WARN:
        text = ctx.renderer.render("common/slow_down", seconds=round(ctx.flood.window))
        if query is not None:
            await query.answer(ctx.renderer.label("menu.slow_down"), show_alert=False)
        await answer(update, context, Reply(text))
    elif query is not None:
        await query.answer()
    raise ApplicationHandlerStop


def _command(update: Update, context: Context) -> tuple[str | None, bool]:
    """The command at the start of the message (without '@bot') and whether it names this bot."""
    msg = update.message
    if msg is None or not msg.text or not msg.entities:
        return None, False
    first = msg.entities[0]
    if first.type != MessageEntity.BOT_COMMAND or first.offset != 0:
        return None, False
    name, _, target = msg.text[1 : first.length].partition("@")
    username = (context.bot.username or "").lower()
    return name.lower(), (target.lower() == username) if target else True


def _replies_to_bot(update: Update, context: Context) -> bool:
    msg = update.message
    original = msg.reply_to_message if msg is not None else None
    return bool(original and original.from_user and original.from_user.id == context.bot.id)


async def _invite_to_private(update: Update, context: Context) -> None:
    ctx = context.app_ctx
    assert update.effective_chat is not None
    link = bot_link(context.bot.username)
    button = InlineKeyboardButton(ctx.renderer.label("menu.open_private"), url=link)
    await context.bot.send_message(
        update.effective_chat.id,
        ctx.renderer.render("common/private_only"),
        reply_markup=InlineKeyboardMarkup([[button]]),
    )
