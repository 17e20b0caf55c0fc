"""The one factory that builds the bot's Application and wires every handler (production, console,
`ask`, tests and benchmarks all use it)."""

from __future__ import annotations

import asyncio
import logging

from telegram import BotCommand, BotCommandScopeChat, BotCommandScopeDefault, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden
from telegram.ext import (
    AIORateLimiter,
    Application,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    CommandHandler,
    Defaults,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import BaseRequest, HTTPXRequest

from common.clock import Clock, SystemClock
from common.config import Settings
from common.render import Renderer
from handlers import basic, dedupe
from handlers.context import AppContext
from handlers.telegram_bot import OcopBot, RetryingLimiter, Sleep
from handlers.update_processor import PerUserUpdateProcessor
from storage.db import Database
from storage.users import Users

log = logging.getLogger(__name__)

PRODUCER_COMMANDS = ("start", "menu", "hoso", "dieukien", "lienhe", "trogiup", "huy")
STAFF_COMMANDS = ("cauhoi", "napkb")


def make_context(settings: Settings, *, clock: Clock | None = None, db: Database | None = None) -> AppContext:
    """The shared services for `settings`; feature services are added by `features.register`."""
    clock = clock or SystemClock()
    db = db or Database(settings.database_url)
    users = Users(db, clock, frozenset(settings.staff_ids), frozenset(settings.admin_ids))
    return AppContext(
        settings=settings, db=db, clock=clock, renderer=Renderer(settings.timezone), users=users
    )


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
        .post_init(on_startup)
        .post_shutdown(on_shutdown)
    )
    app = builder.build()
    app.bot_data["ctx"] = ctx
    register(app, ctx)
    return app


def register(app: Application, ctx: AppContext) -> None:
    """Every handler, in the order PTB tries them; feature modules add theirs in between."""
    dedupe.register(app, ctx)  # earliest group: a redelivered update stops here (webhook mode)
    app.add_handler(TypeHandler(Update, basic.track_user), group=-1)
    app.add_handler(CommandHandler("start", basic.start))
    app.add_handler(CommandHandler("menu", basic.show_menu))
    app.add_handler(CommandHandler(["help", "trogiup"], basic.show_help))
    app.add_handler(CommandHandler("huy", basic.cancel))

    from handlers import features

    features.register(app, ctx)

    app.add_handler(CallbackQueryHandler(basic.menu_button, pattern=r"^m:"))
    app.add_handler(CallbackQueryHandler(basic.stale_button))
    # Fallbacks answer in private chats only: the staff group's own chatter is not for the bot.
    private = filters.ChatType.PRIVATE
    app.add_handler(MessageHandler(private & filters.COMMAND, basic.unknown_command))
    app.add_handler(MessageHandler(private & filters.TEXT & ~filters.COMMAND, basic.on_text))
    app.add_handler(MessageHandler(private & ~filters.TEXT & ~filters.StatusUpdate.ALL, basic.on_media))
    app.add_error_handler(basic.on_error)


def command_list(ctx: AppContext, names: tuple[str, ...]) -> list[BotCommand]:
    return [BotCommand(name, ctx.renderer.label(f"commands.{name}")) for name in names]


async def on_startup(app: Application) -> None:
    """Migrate the database, then publish the Vietnamese command lists (staff get theirs too)."""
    ctx: AppContext = app.bot_data["ctx"]
    await ctx.db.upgrade()
    producer = command_list(ctx, PRODUCER_COMMANDS)
    await app.bot.set_my_commands(producer, scope=BotCommandScopeDefault())
    staff = producer + command_list(ctx, STAFF_COMMANDS)
    for staff_id in sorted(ctx.settings.staff_set):
        try:
            await app.bot.set_my_commands(staff, scope=BotCommandScopeChat(staff_id))
        except (BadRequest, Forbidden) as exc:  # the staff member has not opened the bot yet
            log.warning("Could not set staff commands for %s: %s", staff_id, exc)
    if ctx.settings.staff_chat_id is not None:
        try:
            await app.bot.set_my_commands(staff, scope=BotCommandScopeChat(ctx.settings.staff_chat_id))
        except (BadRequest, Forbidden) as exc:
            log.warning("Could not set commands for the staff chat: %s", exc)


async def on_shutdown(app: Application) -> None:
    ctx: AppContext = app.bot_data["ctx"]
    await ctx.db.dispose()
