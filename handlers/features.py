"""Registers each feature's handlers (knowledge base, staff desk, eligibility, dossier) and services."""

from __future__ import annotations

from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from handlers import dossier_flow, eligibility, knowledge, staff_desk
from handlers.context import AppContext, Flow
from knowledge.eligibility import EligibilityCheck
from knowledge.service import KnowledgeService


def register(app: Application, ctx: AppContext) -> None:
    """Feature modules add their commands, callback patterns, flows, deep links and menu actions."""
    ctx.services["knowledge"] = KnowledgeService(ctx.db, ctx.clock, contacts_file=ctx.settings.contacts_file)
    ctx.services["eligibility"] = EligibilityCheck.load()

    # Knowledge base: free text is a question; feedback, suggestions, related entries; staff reload.
    ctx.flows[""] = Flow(on_text=knowledge.on_question)
    app.add_handler(CommandHandler("napkb", knowledge.reload_kb))
    app.add_handler(CallbackQueryHandler(knowledge.on_callback, pattern=r"^kb:"))

    # Staff desk: questions to staff and back, the unanswered-questions inbox.
    ctx.flows[staff_desk.ASK_STAFF] = Flow(on_text=staff_desk.on_question_for_staff)
    ctx.flows[staff_desk.FOLLOW_UP] = Flow(on_text=staff_desk.on_follow_up)
    ctx.flows[staff_desk.STAFF_REPLY] = Flow(on_text=staff_desk.on_staff_reply_text)
    ctx.flows[staff_desk.GROUP_ANSWER] = Flow(on_text=staff_desk.on_group_answer_text)
    ctx.flows[staff_desk.GROUP_LINK] = Flow(on_text=staff_desk.on_group_link_text)
    ctx.menu_actions["contact"] = staff_desk.contact
    ctx.deep_links["lienhe"] = lambda update, context, arg: staff_desk.contact(update, context)
    app.add_handler(CommandHandler("lienhe", staff_desk.contact))
    app.add_handler(CommandHandler("cauhoi", staff_desk.inbox))
    app.add_handler(CallbackQueryHandler(staff_desk.on_inbox_button, pattern=r"^sd:(ga|gl|gn|gle):"))
    app.add_handler(CallbackQueryHandler(staff_desk.on_declined_button, pattern=r"^sd:d[lr]\b"))
    app.add_handler(CallbackQueryHandler(staff_desk.on_thread_button, pattern=r"^sd:"))
    app.add_handler(
        MessageHandler(filters.TEXT & ~filters.COMMAND & filters.REPLY, staff_desk.on_reply_message)
    )

    # Eligibility check.
    ctx.flows[eligibility.FLOW] = Flow(on_text=eligibility.on_text)
    ctx.menu_actions["eligibility"] = eligibility.start
    ctx.deep_links["dieukien"] = lambda update, context, arg: eligibility.start(update, context)
    app.add_handler(CommandHandler("dieukien", eligibility.start))
    app.add_handler(CallbackQueryHandler(eligibility.on_button, pattern=r"^el:"))

    # Registration dossier.
    dossier_flow.register(app, ctx)
