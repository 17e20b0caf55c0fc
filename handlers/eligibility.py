"""The eligibility check in the chat (/dieukien, menu "Kiểm tra điều kiện"): one question at a time
with buttons; the answers live in users.flow_data; it ends with a verdict citing its rules."""

from __future__ import annotations

from telegram import Update

from common.callbacks import encode, parse
from common.reply import Button, Reply
from handlers import basic
from handlers.context import AppContext, Context
from handlers.send import answer, drop_buttons
from knowledge.eligibility import EligibilityCheck, EligibilityQuestion, Verdict
from storage.models import User

FLOW = "eligibility"


def question_reply(ctx: AppContext, question: EligibilityQuestion, state: dict[str, object]) -> Reply:
    r = ctx.renderer
    answered = len(state.get("answers") or {})  # type: ignore[arg-type]
    rows = [[Button(c.label, encode("el", question.id, c.id))] for c in question.choices]
    if answered:
        rows.append([Button(r.label("elig.back"), "el:back")])
    return Reply(r.render("eligibility/question", question=question, number=answered + 1), rows)


def verdict_reply(ctx: AppContext, verdict: Verdict) -> Reply:
    r = ctx.renderer
    rows = []
    if verdict.kind != "not_eligible":
        rows.append([Button(r.label("elig.start_dossier"), "m:register")])
    rows.append(
        [Button(r.label("elig.restart"), "el:restart"), Button(r.label("menu.back_to_menu"), "m:menu")]
    )
    return Reply(r.render("eligibility/verdict", verdict=verdict), rows)


async def start(update: Update, context: Context) -> None:
    """/dieukien or the menu button: begin a fresh check."""
    ctx = context.app_ctx
    assert update.effective_user is not None
    state = EligibilityCheck.new_state()
    await ctx.users.set_flow(update.effective_user.id, FLOW, state)
    await answer(update, context, question_reply(ctx, ctx.eligibility.first_question(), state))


async def on_button(update: Update, context: Context) -> None:
    """el:<question>:<choice> · el:back · el:restart — the state is read from the database."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    ctx = context.app_ctx
    cb = parse(query.data)
    if cb.action == "restart":
        await query.answer()
        await drop_buttons(query)
        await start(update, context)
        return
    user = await ctx.users.get(update.effective_user.id)
    if user is None or user.flow != FLOW:
        await basic.stale_button(update, context)
        return
    state = dict(user.flow_data or {})
    engine = ctx.eligibility
    if cb.action == "back":
        step = engine.back(state)
    else:
        question_id, choice_id = cb.action, cb.expect(1).token(0)
        current = engine.next_question(state)
        if current is None or question_id != current.id:
            await basic.stale_button(update, context)
            return
        try:
            step = engine.answer(state, question_id, choice_id)
        except ValueError:
            await basic.stale_button(update, context)
            return
    await query.answer()
    await drop_buttons(query)
    if step.verdict is not None:
        await ctx.users.set_flow(user.id, None)
        await answer(update, context, verdict_reply(ctx, step.verdict))
        return
    await ctx.users.set_flow(user.id, FLOW, step.state)
    assert step.question is not None
    await answer(update, context, question_reply(ctx, step.question, step.state))


async def on_text(update: Update, context: Context, user: User) -> None:
    """Typed text during the check: ask for a button and show the current question again."""
    ctx = context.app_ctx
    state = dict(user.flow_data or {})
    question = ctx.eligibility.next_question(state) or ctx.eligibility.first_question()
    await answer(update, context, Reply(ctx.renderer.render("eligibility/use_buttons")))
    await answer(update, context, question_reply(ctx, question, state))
