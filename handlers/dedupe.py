"""The first handler of every update in webhook mode: an update some instance already took stops here.

Registered in the earliest group (handlers/routes.py) when DEDUPLICATE_UPDATES is on (bot.py turns
it on for webhook mode), so a duplicate delivery is dropped before the user is tracked or
anything is answered.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from handlers.context import Context

log = logging.getLogger(__name__)

GROUP = -100  # before every other group (the gate is -3, track_user -1)


async def skip_duplicate(update: Update, context: Context) -> None:
    """Claim the update's id; a second delivery of the same id goes no further."""
    processed = context.app_ctx.processed
    if processed is not None and not await processed.claim(update.update_id):
        log.info("Dropped update %s: already processed", update.update_id)
        raise ApplicationHandlerStop
