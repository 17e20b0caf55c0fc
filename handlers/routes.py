"""Every handler of the bot in one table, in the order python-telegram-bot tries them, and where free
text, deep links and main-menu buttons go — the whole bot, read top to bottom on one screen.

Groups run in order (-3, -2, -1, then 0); within group 0 the first handler that matches wins.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import (
    Application,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

import handlers.broadcast as broadcast  # staff broadcasts (/thongbao)
import handlers.settings as settings  # what a producer receives (/caidat)
from handlers import (
    basic,
    dedupe,
    desk,
    dossier_flow,
    eligibility,
    gate,
    inbox,
    knowledge,
    relay,
    staff_admin,
)
from handlers import events as events_flow
from handlers import review as review_desk
from handlers.context import Flow, Router

PRIVATE = filters.ChatType.PRIVATE


def handler_table(*, deduplicate: bool = False) -> list[tuple[int, BaseHandler[Update, object, None]]]:
    """(group, handler) pairs, registered in this order."""
    first = [(dedupe.GROUP, TypeHandler(Update, dedupe.skip_duplicate))] if deduplicate else []
    return [
        # Webhook mode with several instances: an update some instance already took stops here.
        *first,
        # The door: drop what the bot does not handle, flood control, who is talking.
        (-3, TypeHandler(Update, gate.screen_update)),
        (-2, TypeHandler(Update, gate.flood_guard)),
        (-1, TypeHandler(Update, basic.track_user)),
        # Everyone.
        (0, CommandHandler("start", basic.start)),
        (0, CommandHandler("menu", basic.show_menu)),
        (0, CommandHandler(["help", "trogiup"], basic.show_help)),
        (0, CommandHandler("huy", basic.cancel)),
        # Producers: the eligibility check, the dossier, a question for staff.
        (0, CommandHandler("dieukien", eligibility.start)),
        (0, CommandHandler("hoso", dossier_flow.start)),
        (0, CommandHandler("lienhe", relay.contact)),
        # Staff: the inbox of unanswered questions, reloading the knowledge base.
        (0, CommandHandler("cauhoi", inbox.show_inbox)),
        (0, CommandHandler("napkb", knowledge.reload_kb)),
        # Admins: who is staff over which communes, and the audit log.
        (0, CommandHandler("canbo", staff_admin.show_staff)),
        (0, CommandHandler("nhatky", staff_admin.show_audit)),
        # Staff desk: export, statistics, a dossier entered for a producer (handlers/desk.py).
        (0, CommandHandler("xuat", desk.export_command)),
        (0, CommandHandler("thongke", desk.stats_command)),
        (0, CommandHandler("nhaphoso", desk.assisted_command)),
        # Dossier status: producers' /trangthai, the officers' review desk /duyet (issue #11).
        (0, CommandHandler("trangthai", dossier_flow.status)),
        (0, CommandHandler("duyet", review_desk.show_queue)),
        # Staff broadcasts (/thongbao); what a producer receives (/caidat).
        (0, CommandHandler("thongbao", broadcast.show)),
        (0, CommandHandler("caidat", settings.show)),
        # Events: the producer's calendar (/lich) and staff's events (/sukien).
        (0, CommandHandler("lich", events_flow.show_calendar)),
        (0, CommandHandler("sukien", events_flow.staff_menu)),
        # Buttons, by the prefix of their data (common/callbacks.py parses the rest).
        (0, CallbackQueryHandler(basic.menu_button, pattern=r"^m:")),
        (0, CallbackQueryHandler(knowledge.on_callback, pattern=r"^kb:")),
        (0, CallbackQueryHandler(eligibility.on_button, pattern=r"^el:")),
        (0, CallbackQueryHandler(dossier_flow.on_button, pattern=r"^dos:")),
        (0, CallbackQueryHandler(review_desk.on_button, pattern=r"^rv:")),
        (0, CallbackQueryHandler(inbox.on_inbox_button, pattern=r"^sd:(ga|gl|gn|gle):")),
        (0, CallbackQueryHandler(inbox.on_declined_button, pattern=r"^sd:d[lr]\b")),
        (0, CallbackQueryHandler(relay.on_thread_button, pattern=r"^sd:")),
        (0, CallbackQueryHandler(staff_admin.on_button, pattern=r"^st:")),
        (0, CallbackQueryHandler(desk.on_button, pattern=r"^dsk:")),
        (0, CallbackQueryHandler(broadcast.on_button, pattern=r"^bc:")),
        (0, CallbackQueryHandler(settings.on_button, pattern=r"^set:")),
        (0, CallbackQueryHandler(events_flow.on_button, pattern=r"^ev:")),
        (0, CallbackQueryHandler(events_flow.on_staff_button, pattern=r"^evs:")),
        (0, CallbackQueryHandler(basic.stale_button)),
        # A staff member's Telegram reply to a question posted to them.
        (0, MessageHandler(filters.TEXT & ~filters.COMMAND & filters.REPLY, relay.on_reply_message)),
        # Private chats only from here: unknown commands, free text to its flow, files and the rest.
        (0, MessageHandler(PRIVATE & filters.COMMAND, basic.unknown_command)),
        (0, MessageHandler(PRIVATE & filters.TEXT & ~filters.COMMAND, basic.on_text)),
        (0, MessageHandler(PRIVATE & ~filters.TEXT & ~filters.StatusUpdate.ALL, basic.on_media)),
    ]


ROUTER = Router(
    # Which flow the user's free text (and files) belong to; "" is the default: a question.
    flows={
        "": Flow(on_text=knowledge.on_question),
        eligibility.FLOW: Flow(on_text=eligibility.on_text),
        dossier_flow.FLOW: Flow(on_text=dossier_flow.on_text, on_media=dossier_flow.on_media),
        relay.ASK_STAFF: Flow(on_text=relay.on_question_for_staff),
        relay.FOLLOW_UP: Flow(on_text=relay.on_follow_up),
        relay.STAFF_REPLY: Flow(on_text=relay.on_staff_reply_text),
        inbox.GROUP_ANSWER: Flow(on_text=inbox.on_group_answer_text),
        inbox.GROUP_LINK: Flow(on_text=inbox.on_group_link_text),
        staff_admin.ADD_FLOW: Flow(on_text=staff_admin.on_add_text),
        # An officer typing a note, a reason or a result at the review desk.
        **{name: Flow(on_text=review_desk.on_text) for name in review_desk.FLOWS},
        broadcast.CONTENT: Flow(on_text=broadcast.on_content, on_media=broadcast.on_content, any_length=True),
        broadcast.COMMUNES: Flow(on_text=broadcast.on_communes),
        broadcast.SCHEDULE: Flow(on_text=broadcast.on_schedule),
        settings.COMMUNE: Flow(on_text=settings.on_commune),
        events_flow.WIZARD: Flow(on_text=events_flow.on_wizard_text),
        events_flow.IMPORT: Flow(on_text=events_flow.on_import_text, on_media=events_flow.on_import_file),
    },
    # t.me/<bot>?start=<name>_<arg>
    deep_links={
        "hoso": lambda update, context, arg: dossier_flow.start(update, context),
        "dieukien": lambda update, context, arg: eligibility.start(update, context),
        "lienhe": lambda update, context, arg: relay.contact(update, context),
        # An officer's link handing over a dossier they entered (handlers/desk.py).
        "claim": desk.claim,
        "ev": events_flow.open_link,
    },
    # The main menu's buttons (m:<item>); "ask" is answered by basic.menu_button.
    menu_actions={
        "eligibility": eligibility.start,
        "register": dossier_flow.start,
        "mine": dossier_flow.mine,
        "contact": relay.contact,
        "events": events_flow.show_calendar,
    },
)


def register(app: Application, *, deduplicate: bool = False) -> None:  # type: ignore[type-arg]
    """Add every handler of the table and the error handler; publish the router."""
    app.bot_data["router"] = ROUTER
    for group, handler in handler_table(deduplicate=deduplicate):
        app.add_handler(handler, group=group)
    app.add_error_handler(basic.on_error)
