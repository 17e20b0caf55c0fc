"""Handlers every user meets: /start (with deep links), /help, /menu, /huy, the main menu, free-text
routing to the running flow or the question answerer, unexpected media, unknown commands, stale
buttons, and the error handler."""

from __future__ import annotations

import functools
import logging
import re
import traceback
from collections.abc import Awaitable, Callable

from telegram import Message, Update
from telegram.error import Forbidden
from telegram.ext import ApplicationHandlerStop

from common.callbacks import BadCallback, parse
from common.reply import Button, Reply
from handlers.context import AppContext, Context
from handlers.send import answer, replace
from storage.models import Role
from storage.staff import StaffAccess

log = logging.getLogger(__name__)
Handler = Callable[[Update, Context], Awaitable[None]]

MAX_TEXT_CHARS = 4000
MENU_ITEMS = ("ask", "eligibility", "register", "mine", "events", "contact")
PAYLOAD_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def menu_reply(ctx: AppContext, template: str = "common/menu", **extra: object) -> Reply:
    r = ctx.renderer
    rows = [
        [Button(r.label("menu.ask"), "m:ask"), Button(r.label("menu.eligibility"), "m:eligibility")],
        [Button(r.label("menu.register"), "m:register"), Button(r.label("menu.mine"), "m:mine")],
        [Button(r.label("menu.events"), "m:events"), Button(r.label("menu.contact"), "m:contact")],
    ]
    return Reply(r.render(template, **extra), rows)


async def track_user(update: Update, context: Context) -> None:
    """Group -1, every update: register or refresh the user; keep it on the context for this update."""
    tg_user = update.effective_user
    if tg_user is None or tg_user.is_bot:
        return
    ctx = context.app_ctx
    try:
        seen = await ctx.users.seen(tg_user.id, tg_user.full_name, tg_user.username, tg_user.language_code)
    except Exception as exc:  # the database is away: apologise once, and do nothing else with this update
        await context.application.process_error(update, exc)
        raise ApplicationHandlerStop from exc
    context.db_user = seen.user
    context.is_new_user = seen.is_new


async def start(update: Update, context: Context) -> None:
    """/start [payload]: greet by name, show the menu; a deep-link payload routes to its feature."""
    ctx = context.app_ctx
    user = update.effective_user
    assert user is not None
    payload = context.args[0] if context.args else ""
    db_user = context.db_user
    if db_user is not None and db_user.flow:
        await ctx.users.set_flow(user.id, None)
    if payload and PAYLOAD_RE.match(payload):
        await ctx.users.set_start_payload(user.id, payload)
        name, _, arg = payload.partition("_")
        route = context.router.deep_links.get(name)
        if route is not None:
            await route(update, context, arg)
            return
    is_new = context.is_new_user
    await answer(update, context, menu_reply(ctx, "common/welcome", name=user.first_name, is_new=is_new))


async def show_menu(update: Update, context: Context) -> None:
    ctx = context.app_ctx
    await answer(update, context, menu_reply(ctx))


async def show_help(update: Update, context: Context) -> None:
    ctx = context.app_ctx
    is_admin = context.db_user is not None and context.db_user.role == Role.ADMIN
    html = ctx.renderer.render("common/help", is_staff=context.is_staff, is_admin=is_admin)
    await answer(update, context, Reply(html))


async def cancel(update: Update, context: Context) -> None:
    """/huy: leave whatever flow is running (its saved data stays)."""
    ctx = context.app_ctx
    user = update.effective_user
    assert user is not None
    db_user = context.db_user
    had_flow = bool(db_user and db_user.flow)
    await ctx.users.set_flow(user.id, None)
    await answer(update, context, Reply(ctx.renderer.render("common/cancelled", had_flow=had_flow)))


async def ask_intro(update: Update, context: Context) -> None:
    ctx = context.app_ctx
    await answer(update, context, Reply(ctx.renderer.render("common/ask_intro")))


async def menu_button(update: Update, context: Context) -> None:
    """A main-menu button (callback data `m:<item>`)."""
    query = update.callback_query
    assert query is not None
    ctx = context.app_ctx
    item = parse(query.data).expect(0).action
    await query.answer()
    db_user = context.db_user
    if db_user is not None and db_user.flow and item != "menu":
        await ctx.users.set_flow(db_user.id, None)
    if item == "menu":
        await replace(query, context, menu_reply(ctx))
        return
    action = context.router.menu_actions.get(item)
    if action is not None:
        await action(update, context)
    elif item == "ask":
        await ask_intro(update, context)
    elif item in MENU_ITEMS:
        feature = ctx.renderer.label(f"menu.{item}")
        await answer(update, context, Reply(ctx.renderer.render("common/not_built", feature=feature)))
    else:
        await stale_button(update, context)


async def on_text(update: Update, context: Context) -> None:
    """Free text: to the flow the user is in, else to the question answerer."""
    ctx = context.app_ctx
    msg = update.effective_message
    assert msg is not None and msg.text is not None
    db_user = context.db_user
    flow = context.router.flows.get(db_user.flow) if db_user is not None and db_user.flow else None
    if len(msg.text) > MAX_TEXT_CHARS and not (flow is not None and flow.any_length):
        reply = ctx.renderer.render("common/too_long", length=len(msg.text), limit=MAX_TEXT_CHARS)
        await answer(update, context, Reply(reply))
        return
    if flow is not None:
        await flow.on_text(update, context, db_user)
        return
    default = context.router.flows.get("")
    if default is not None and db_user is not None:
        await default.on_text(update, context, db_user)
    else:
        await ask_intro(update, context)


async def on_media(update: Update, context: Context) -> None:
    """Photos, documents, stickers, voice, locations, contacts…: to a flow that expects them, else a
    polite line saying what the bot can do."""
    ctx = context.app_ctx
    db_user = context.db_user
    flow = context.router.flows.get(db_user.flow) if db_user is not None and db_user.flow else None
    if flow is not None and flow.on_media is not None:
        await flow.on_media(update, context, db_user)
        return
    msg = update.effective_message
    assert msg is not None
    await answer(
        update, context, Reply(ctx.renderer.render("common/unexpected_media", what=media_kind(ctx, msg)))
    )


def media_kind(ctx: AppContext, msg: Message) -> str:
    for kind in (
        "sticker",
        "photo",
        "document",
        "voice",
        "audio",
        "video",
        "video_note",
        "animation",
        "location",
        "contact",
        "poll",
    ):
        if getattr(msg, kind, None):
            return ctx.renderer.label(f"media.{kind}")
    return ctx.renderer.label("media.other")


async def unknown_command(update: Update, context: Context) -> None:
    ctx = context.app_ctx
    msg = update.effective_message
    assert msg is not None and msg.text is not None
    command = msg.text.split()[0][:40]
    await answer(update, context, Reply(ctx.renderer.render("common/unknown_command", command=command)))


async def stale_button(update: Update, context: Context) -> None:
    """A button whose data nobody understands (old message, forged data): say so, change nothing."""
    ctx = context.app_ctx
    query = update.callback_query
    if query is not None:
        await query.answer()
    await answer(update, context, Reply(ctx.renderer.render("common/stale_button")))


def staff_required(handler: Handler) -> Handler:
    """Wrap a command or button handler so that only staff (STAFF_IDS / ADMIN_IDS) reach it."""

    @functools.wraps(handler)
    async def guarded(update: Update, context: Context) -> None:
        user = update.effective_user
        if user is None or not context.is_staff:
            await staff_only(update, context)
            return
        await handler(update, context)

    return guarded


async def staff_access(update: Update, context: Context) -> StaffAccess | None:
    """The member's role and commune scope, read again from the staff directory now, so a role removed a
    moment ago no longer acts (None: not staff, or an update without a user)."""
    user = update.effective_user
    return await context.app_ctx.staff.access(user.id) if user is not None else None


async def staff_only(update: Update, context: Context) -> None:
    """What a non-staff user gets for a staff command or button: exactly what an unknown command or an
    expired button gets, so staff tools are not revealed (and nothing at all in a group chat)."""
    if update.callback_query is not None:
        await stale_button(update, context)
        return
    chat = update.effective_chat
    msg = update.effective_message
    if chat is not None and chat.type == chat.PRIVATE and msg is not None and msg.text:
        await unknown_command(update, context)


async def on_error(update: object, context: Context) -> None:
    """Log the failure with the update, apologise to the user; never let an update kill the bot."""
    err = context.error
    if isinstance(err, BadCallback) and isinstance(update, Update) and update.callback_query is not None:
        log.info("Refused a button press: %s", err)
        await stale_button(update, context)
        return
    sink = context.application.bot_data.get("error_sink")
    if sink is not None and err is not None:
        sink.append(err)
    if isinstance(err, Forbidden) and isinstance(update, Update) and update.effective_user:
        await context.app_ctx.users.mark_blocked(update.effective_user.id)
        return
    tb = "".join(traceback.format_exception(None, err, err.__traceback__)) if err else ""
    summary = str(update.to_dict() if isinstance(update, Update) else update)[:2000]
    log.error("Update failed: %s\nupdate=%s\n%s", err, summary, tb)
    if isinstance(update, Update) and update.effective_chat is not None:
        try:
            ctx = context.app_ctx
            await context.bot.send_message(update.effective_chat.id, ctx.renderer.render("common/error"))
        except Exception:  # the apology itself failed: already logged above
            log.exception("Could not send the apology")
