"""The first handler of every update in webhook mode: an update some instance already took stops here.

Registered in the earliest group when DEDUPLICATE_UPDATES is on (bot.py turns it on for webhook
mode), so a duplicate delivery is dropped before the user is tracked or anything is answered.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import Application, ApplicationHandlerStop, TypeHandler

from handlers.context import AppContext, Context, app_ctx
from storage.processed import ProcessedUpdates

log = logging.getLogger(__name__)

GROUP = -100  # before every other group (track_user is -1)
SERVICE = "processed_updates"


async def skip_duplicate(update: Update, context: Context) -> None:
    """Claim the update's id; a second delivery of the same id goes no further."""
    processed: ProcessedUpdates = app_ctx(context).services[SERVICE]
    if not await processed.claim(update.update_id):
        log.info("Dropped update %s: already processed", update.update_id)
        raise ApplicationHandlerStop


def register(app: Application, ctx: AppContext) -> None:
    """Add the duplicate filter when DEDUPLICATE_UPDATES is on (nothing otherwise)."""
    if not ctx.settings.deduplicate_updates:
        return
    ctx.services[SERVICE] = ProcessedUpdates(ctx.db, ctx.clock)
    app.add_handler(TypeHandler(Update, skip_duplicate), group=GROUP)
