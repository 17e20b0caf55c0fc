"""Question answering in the chat: free text → the knowledge service → an answer with its source,
"Có phải anh/chị muốn hỏi…" suggestions, or an honest "I don't know" with the way to staff; 👍/👎
feedback; related entries; /napkb for staff."""

from __future__ import annotations

from telegram import Update

from common.callbacks import BadCallback, encode, parse
from common.reply import Button, Reply
from common.text import clip
from handlers import basic
from handlers.context import AppContext, Context
from handlers.send import answer, replace
from knowledge.communes import CommuneMatch
from knowledge.kb import ERROR
from knowledge.models import Outcome
from knowledge.products import ProductMatch
from knowledge.service import AskResult, EntryView
from storage.models import User

MAX_DATA = 64


def _fits(data: str) -> bool:
    return 1 <= len(data.encode()) <= MAX_DATA


def entry_reply(
    ctx: AppContext,
    entry: EntryView,
    question_id: int,
    place: CommuneMatch | None = None,
    product: ProductMatch | None = None,
) -> Reply:
    r = ctx.renderer
    rows = [
        [
            Button(r.label("kb.helpful"), encode("kb", "up", question_id)),
            Button(r.label("kb.not_right"), encode("kb", "dn", question_id)),
        ],
        [Button(r.label("kb.ask_staff"), encode("sd", "new", question_id))],
    ]
    for entry_id, title in entry.related[:2]:
        data = f"kb:e:{question_id}:{entry_id}"
        if _fits(data):
            rows.append([Button(r.label("kb.related", title=clip(title, 48)), data)])
    return Reply(r.render("kb/answer", entry=entry, place=place, product=product), rows)


def result_reply(ctx: AppContext, result: AskResult) -> Reply:
    r = ctx.renderer
    if result.entry is not None:
        return entry_reply(ctx, result.entry, result.question_id, result.place, result.product)
    qid = result.question_id
    if result.outcome == Outcome.SMALL_TALK:
        return Reply(r.render("kb/small_talk"))
    choices = [s for s in result.suggestions[:3] if _fits(f"kb:p:{qid}:{s.entry_id}")]
    if result.outcome == Outcome.SUGGESTED and choices:
        rows = [
            [Button(r.label("kb.suggestion", n=n, title=clip(s.title, 48)), f"kb:p:{qid}:{s.entry_id}")]
            for n, s in enumerate(choices, start=1)
        ]
        rows.append([Button(r.label("kb.not_these"), encode("sd", "new", qid))])
        return Reply(r.render("kb/suggest", suggestions=choices), rows)
    rows = [[Button(r.label("kb.send_to_staff"), encode("sd", "new", qid))]]
    if result.out_of_scope is not None:
        return Reply(r.render("kb/out_of_scope", topic=result.out_of_scope), rows)
    rows += [
        [Button(r.label("kb.related", title=clip(s.title, 48)), f"kb:p:{qid}:{s.entry_id}")]
        for s in choices[:2]
    ]
    return Reply(r.render("kb/unknown", suggestions=choices[:2]), rows)


async def on_question(update: Update, context: Context, user: User) -> None:
    """Free text outside any flow: answer it from the knowledge base (the question is stored first)."""
    ctx = context.app_ctx
    msg = update.effective_message
    assert msg is not None and msg.text is not None
    result = await ctx.knowledge.ask(user.id, msg.chat_id, msg.text)
    await answer(update, context, result_reply(ctx, result))


async def on_callback(update: Update, context: Context) -> None:
    """kb:up|dn:<question> feedback · kb:p:<question>:<entry> suggestion · kb:e:<question>:<entry> related."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    ctx = context.app_ctx
    cb = parse(query.data)
    question_id = cb.id(0)
    if cb.action in {"up", "dn"}:
        cb.expect(1)
    elif cb.action in {"p", "e"}:
        cb.expect(2)
    else:
        raise BadCallback(f"unknown knowledge button {cb.action!r}")
    user_id = update.effective_user.id
    kb = ctx.knowledge
    if not await kb.owns_question(question_id, user_id):
        await basic.stale_button(update, context)
        return
    if cb.action in {"up", "dn"}:
        changed = await kb.record_feedback(question_id, user_id, "up" if cb.action == "up" else "down")
        key = "kb.already" if not changed else ("kb.thanks_up" if cb.action == "up" else "kb.thanks_down")
        await query.answer(ctx.renderer.label(key))
        if changed and cb.action == "dn":
            rows = [[Button(ctx.renderer.label("kb.ask_staff"), encode("sd", "new", question_id))]]
            await answer(update, context, Reply(ctx.renderer.render("kb/feedback_down"), rows))
        return
    entry_id = cb.token(1)
    if cb.action == "p":
        entry = await kb.pick_suggestion(question_id, entry_id)
    else:
        entry = await kb.entry_view(entry_id)
    if entry is None:
        await basic.stale_button(update, context)
        return
    await query.answer()
    if cb.action == "p":  # the entry the question was about: the commune or product it names counts
        place, product = await kb.cards_for(question_id, entry)
        await replace(query, context, entry_reply(ctx, entry, question_id, place, product))
    else:
        await answer(update, context, entry_reply(ctx, entry, question_id))


@basic.staff_required
async def reload_kb(update: Update, context: Context) -> None:
    """/napkb (staff): re-read the knowledge files; keep the old ones if the new ones have errors."""
    ctx = context.app_ctx
    outcome = await ctx.knowledge.reload_checked()
    errors = [p for p in outcome.problems if p.level == ERROR]
    html = ctx.renderer.render(
        "kb/reloaded",
        ok=outcome.loaded,
        entries=outcome.entries,
        warnings=len(outcome.problems) - len(errors),
        errors=len(errors),
        problems=[str(p)[:200] for p in errors[:5]],
    )
    await answer(update, context, Reply(html))
