"""The one factory that builds the bot's Application around the services `compose()` built: the Bot
(limits, retries), the per-user update processor, the typed context and the handler table
(production, console, `ask`, tests and benchmarks all use it)."""

from __future__ import annotations

import asyncio
import logging

from telegram import BotCommandScopeChat, BotCommandScopeDefault
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden
from telegram.ext import (
    AIORateLimiter,
    Application,
    BaseUpdateProcessor,
    CallbackContext,
    Defaults,
)
from telegram.request import BaseRequest, HTTPXRequest

from handlers import routes
from handlers.commands import PRODUCER_COMMANDS, command_list, staff_command_list
from handlers.context import CONTEXT_TYPES, AppContext
from handlers.outbox_sender import TelegramSender
from handlers.telegram_bot import OcopBot, RetryingLimiter, Sleep, telegram_downloader
from handlers.update_processor import PerUserUpdateProcessor

log = logging.getLogger(__name__)

OUTBOX_BOT = "outbox_bot"

def build_application(
    ctx: AppContext,
    *,
    request: BaseRequest | None = None,
    rate_limit: bool = True,
    base_url: str | None = None,
    base_file_url: str | None = None,
    update_processor: BaseUpdateProcessor | None = None,
    sleep: Sleep = asyncio.sleep,
) -> Application:
    """Build the Application for `ctx`. `request` replaces the HTTP layer (the fake Bot API);
    `update_processor` replaces the per-user concurrent one (a benchmark's baseline); `sleep` is
    how retries wait (tests pass one that does not)."""
    settings = ctx.settings
    bot = OcopBot(
        settings.telegram_bot_token or "0:console",
        base_url=base_url or settings.telegram_api_base_url,
        base_file_url=base_file_url or settings.telegram_api_file_url,
        request=request or HTTPXRequest(connection_pool_size=256),
        get_updates_request=request or HTTPXRequest(connection_pool_size=1),
        defaults=Defaults(parse_mode=ParseMode.HTML, disable_notification=False),
        rate_limiter=RetryingLimiter(AIORateLimiter(max_retries=0) if rate_limit else None, sleep=sleep),
    )
    processor = update_processor or PerUserUpdateProcessor(settings.max_concurrent_updates)
    builder = (
        Application.builder()
        .bot(bot)
        .concurrent_updates(processor)
        .context_types(CONTEXT_TYPES)
        .post_init(on_startup)
        .post_shutdown(on_shutdown)
    )
    app = builder.build()
    app.bot_data["ctx"] = ctx
    # The outbox worker's own Bot: no inline retries or waits (the worker paces and retries itself).
    app.bot_data[OUTBOX_BOT] = OcopBot(
        settings.telegram_bot_token or "0:console",
        base_url=base_url or settings.telegram_api_base_url,
        base_file_url=base_file_url or settings.telegram_api_file_url,
        request=request or HTTPXRequest(connection_pool_size=4),
        defaults=Defaults(parse_mode=ParseMode.HTML, disable_notification=False),
    )
    ctx.dossier.downloader = telegram_downloader(bot)  # the core's download port, through this Bot
    routes.register(app, deduplicate=ctx.processed is not None)
    return app


async def on_startup(app: Application) -> None:
    """Migrate the database and build the knowledge index, then publish the Vietnamese command
    lists (staff get theirs too)."""
    ctx: AppContext = app.bot_data["ctx"]
    await ctx.start()
    producer = command_list(ctx, PRODUCER_COMMANDS)
    await app.bot.set_my_commands(producer, scope=BotCommandScopeDefault())
    staff = staff_command_list(ctx)
    for staff_id in await ctx.staff.member_ids():
        try:
            await app.bot.set_my_commands(staff, scope=BotCommandScopeChat(staff_id))
        except (BadRequest, Forbidden) as exc:  # the staff member has not opened the bot yet
            log.warning("Could not set staff commands for %s: %s", staff_id, exc)
    if ctx.settings.staff_chat_id is not None:
        try:
            await app.bot.set_my_commands(staff, scope=BotCommandScopeChat(ctx.settings.staff_chat_id))
        except (BadRequest, Forbidden) as exc:
            log.warning("Could not set commands for the staff chat: %s", exc)
    ctx.events.bot_username = app.bot.username or ""  # deep links t.me/<bot>?start=ev_<id>
    if app.job_queue is not None:  # runs once the Application starts (polling, webhook), not in tests
        app.job_queue.run_once(start_outbox, when=0, name="outbox")
        app.job_queue.run_repeating(
            run_reminders, interval=ctx.settings.reminder_interval_seconds, first=5, name="reminders"
        )


async def start_outbox(context: CallbackContext) -> None:  # type: ignore[type-arg]
    """Start this process's outbox worker on its own Bot (a JobQueue job, once the bot runs)."""
    app = context.application
    outbox_bot: OcopBot = app.bot_data[OUTBOX_BOT]
    await outbox_bot.initialize()
    ctx: AppContext = app.bot_data["ctx"]
    ctx.outbox.start(TelegramSender(outbox_bot))
    ctx.broadcasts.start(TelegramSender(outbox_bot))  # scheduled starts, rows in batches, progress


async def run_reminders(context: CallbackContext) -> None:  # type: ignore[type-arg]
    """The reminder job (every minute): queue what is due through the outbox (scheduler/reminders.py)."""
    ctx: AppContext = context.application.bot_data["ctx"]
    try:
        await ctx.reminders.tick()
    except Exception:  # the next run tries again; nothing was claimed in a failed run
        log.exception("The reminder job failed")


async def on_shutdown(app: Application) -> None:
    ctx: AppContext = app.bot_data["ctx"]
    await ctx.stop()  # the outbox worker first, then the database
    await app.bot_data[OUTBOX_BOT].shutdown()
