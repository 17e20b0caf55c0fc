"""Turning core `Reply` objects into Telegram messages, edits and callback answers."""

from __future__ import annotations

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest

from common.reply import Button, Reply
from common.text import visible_text
from handlers.context import Context

plain_text = visible_text  # what a user sees of Telegram-HTML


def markup(rows: list[list[Button]]) -> InlineKeyboardMarkup | None:
    if not rows:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.data, url=b.url) for b in row] for row in rows]
    )


async def send(context: Context, chat_id: int, reply: Reply) -> Message:
    return await context.bot.send_message(
        chat_id,
        reply.html,
        parse_mode=ParseMode.HTML,
        reply_markup=markup(reply.buttons),
        disable_web_page_preview=True,
    )


async def answer(update: Update, context: Context, reply: Reply) -> Message:
    """Reply in the chat the update came from."""
    chat = update.effective_chat
    assert chat is not None
    return await send(context, chat.id, reply)


async def replace(query: CallbackQuery, context: Context, reply: Reply) -> None:
    """Show `reply` in place of the message whose button was pressed (a new message if it can't)."""
    msg = query.message
    if isinstance(msg, Message) and msg.text is not None:
        if msg.text == plain_text(reply.html) and msg.reply_markup == markup(reply.buttons):
            return  # Telegram refuses an edit that changes nothing
        try:
            await msg.edit_text(
                reply.html,
                parse_mode=ParseMode.HTML,
                reply_markup=markup(reply.buttons),
                disable_web_page_preview=True,
            )
            return
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return
            if "not found" not in str(exc).lower() and "can't be edited" not in str(exc).lower():
                raise
    if msg is not None:
        await send(context, msg.chat.id, reply)


async def drop_buttons(query: CallbackQuery) -> None:
    """Remove the inline keyboard of the pressed message (so old choices can't be pressed twice)."""
    msg = query.message
    if isinstance(msg, Message) and msg.reply_markup and msg.reply_markup.inline_keyboard:
        try:
            await msg.edit_reply_markup(reply_markup=None)
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                raise
