"""Registers each feature's handlers (knowledge base, staff desk, eligibility, dossier) and services."""

from __future__ import annotations

from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from handlers import dossier_flow, eligibility, inbox, knowledge, relay
from handlers.context import AppContext, Flow
from knowledge.eligibility import EligibilityCheck
from knowledge.inbox import Inbox
from knowledge.relay import Relay
from knowledge.service import KnowledgeService


def register(app: Application, ctx: AppContext) -> None:
    """Feature modules add their commands, callback patterns, flows, deep links and menu actions."""
    knowledge_service = KnowledgeService(ctx.db, ctx.clock, contacts_file=ctx.settings.contacts_file)
    ctx.services["knowledge"] = knowledge_service
    ctx.services["inbox"] = Inbox(ctx.db, ctx.clock, knowledge_service)
    ctx.services["relay"] = Relay(ctx.db, ctx.clock)
    ctx.services["eligibility"] = EligibilityCheck.load()

    # Knowledge base: free text is a question; feedback, suggestions, related entries; staff reload.
    ctx.flows[""] = Flow(on_text=knowledge.on_question)
    app.add_handler(CommandHandler("napkb", knowledge.reload_kb))
    app.add_handler(CallbackQueryHandler(knowledge.on_callback, pattern=r"^kb:"))

    # Staff relay: questions to staff and back.
    ctx.flows[relay.ASK_STAFF] = Flow(on_text=relay.on_question_for_staff)
    ctx.flows[relay.FOLLOW_UP] = Flow(on_text=relay.on_follow_up)
    ctx.flows[relay.STAFF_REPLY] = Flow(on_text=relay.on_staff_reply_text)
    ctx.menu_actions["contact"] = relay.contact
    ctx.deep_links["lienhe"] = lambda update, context, arg: relay.contact(update, context)
    app.add_handler(CommandHandler("lienhe", relay.contact))

    # Staff inbox: the unanswered questions, grouped; the declined ones.
    ctx.flows[inbox.GROUP_ANSWER] = Flow(on_text=inbox.on_group_answer_text)
    ctx.flows[inbox.GROUP_LINK] = Flow(on_text=inbox.on_group_link_text)
    app.add_handler(CommandHandler("cauhoi", inbox.show_inbox))
    app.add_handler(CallbackQueryHandler(inbox.on_inbox_button, pattern=r"^sd:(ga|gl|gn|gle):"))
    app.add_handler(CallbackQueryHandler(inbox.on_declined_button, pattern=r"^sd:d[lr]\b"))
    app.add_handler(CallbackQueryHandler(relay.on_thread_button, pattern=r"^sd:"))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND & filters.REPLY, relay.on_reply_message))
    _start_with_application(app, knowledge_service)

    # Eligibility check.
    ctx.flows[eligibility.FLOW] = Flow(on_text=eligibility.on_text)
    ctx.menu_actions["eligibility"] = eligibility.start
    ctx.deep_links["dieukien"] = lambda update, context, arg: eligibility.start(update, context)
    app.add_handler(CommandHandler("dieukien", eligibility.start))
    app.add_handler(CallbackQueryHandler(eligibility.on_button, pattern=r"^el:"))

    # Registration dossier.
    dossier_flow.register(app, ctx)


def _start_with_application(app: Application, knowledge_service: KnowledgeService) -> None:
    """Build the knowledge index once at start, after the database is migrated (the Application's own
    start hook runs first)."""
    previous = app.post_init

    async def start(application: Application) -> None:
        if previous is not None:
            await previous(application)
        await knowledge_service.start()

    app.post_init = start
