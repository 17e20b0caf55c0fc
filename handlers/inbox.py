"""The staff inbox in the chat: /cauhoi shows the open questions grouped, to answer (each asker gets the
answer under their own question), link to an entry, or mark for a new entry; and the questions declined
as out of scope, to put a misjudged one back."""

from __future__ import annotations

import logging
from dataclasses import replace

from telegram import Update
from telegram.error import BadRequest, Forbidden

from common.callbacks import BadCallback, encode, parse
from common.reply import Button, Reply
from common.text import clip
from handlers import basic
from handlers.context import Context
from handlers.send import answer, send
from knowledge.inbox import DECLINED_WINDOW, Recipient
from storage.models import User

log = logging.getLogger(__name__)

GROUP_ANSWER = "staff_group_answer"
GROUP_LINK = "staff_group_link"
INBOX_SIZE = 8
QUOTE_LIMIT = 300  # UTF-16 units of a question quoted in a message
LIST_LIMIT = 160  # UTF-16 units of each question in a list
STAFF_TEXT_LIMIT = 3500  # UTF-16 units of a staff answer passed on to a user


@basic.staff_required
async def show_inbox(update: Update, context: Context) -> None:
    """/cauhoi (staff): the open questions, grouped by similarity, with an action per group."""
    ctx = context.app_ctx
    groups = await ctx.inbox.groups(limit=200)
    shown = [replace(g, representative=clip(g.representative, LIST_LIMIT)) for g in groups[:INBOX_SIZE]]
    r = ctx.renderer
    rows = [
        [
            Button(r.label("desk.group_answer", n=n), encode("sd", "ga", g.ids[0])),
            Button(r.label("desk.group_link", n=n), encode("sd", "gl", g.ids[0])),
            Button(r.label("desk.group_new", n=n), encode("sd", "gn", g.ids[0])),
        ]
        for n, g in enumerate(shown, start=1)
    ]
    declined = await ctx.inbox.declined_count()
    if declined:
        rows.append([Button(r.label("desk.declined", n=declined), "sd:dl")])
    html = r.render("kb/inbox", groups=shown, total=len(groups), declined=declined, days=DECLINED_WINDOW.days)
    await answer(update, context, Reply(html, rows))


@basic.staff_required
async def on_declined_button(update: Update, context: Context) -> None:
    """sd:dl lists the latest questions declined as out of scope; sd:dr:<question> puts one of them
    into the inbox (the bot misjudged it: it is about OCOP)."""
    query = update.callback_query
    assert query is not None
    ctx = context.app_ctx
    r = ctx.renderer
    cb = parse(query.data)
    kb = ctx.inbox
    if cb.action == "dl":
        cb.expect(0)
        await query.answer()
        count = await kb.declined_count()
        questions = [
            replace(q, text=clip(q.text, LIST_LIMIT)) for q in await kb.declined_questions(INBOX_SIZE)
        ]
        rows = [
            [Button(r.label("desk.reopen", n=n), encode("sd", "dr", q.id))]
            for n, q in enumerate(questions, start=1)
        ]
        html = r.render("kb/declined", questions=questions, count=count, days=DECLINED_WINDOW.days)
        await answer(update, context, Reply(html, rows))
        return
    if cb.action != "dr":
        raise BadCallback(f"unknown declined button {cb.action!r}")
    question_id = cb.expect(1).id(0)
    await query.answer()
    reopened = await kb.reopen_declined(question_id)
    await answer(update, context, Reply(r.render("kb/reopened", reopened=reopened)))


@basic.staff_required
async def on_inbox_button(update: Update, context: Context) -> None:
    """sd:ga|gl|gn:<question> (answer / link / new entry) and sd:gle:<question>:<entry> (link to it)."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    ctx = context.app_ctx
    staff_id = update.effective_user.id
    cb = parse(query.data)
    action, ref = cb.action, cb.id(0)
    kb = ctx.inbox
    if action == "gle":
        entry_id = cb.expect(2).token(1)
        user = await ctx.users.get(staff_id)
        ids = [int(i) for i in (user.flow_data.get("ids", []) if user else [])]
        if not ids or ids[0] != ref or await ctx.knowledge.entry_view(entry_id) is None:
            await basic.stale_button(update, context)
            return
        await query.answer()
        await ctx.users.set_flow(staff_id, None)
        await link(update, context, ids, entry_id)
        return
    if action not in {"ga", "gl", "gn"}:
        raise BadCallback(f"unknown inbox button {action!r}")
    cb.expect(1)
    group = await kb.group_of(ref)
    if group is None:
        await query.answer()
        await answer(update, context, Reply(ctx.renderer.render("kb/group_done", action="gone")))
        return
    await query.answer()
    r = ctx.renderer
    data = {"ids": group.ids}
    if action == "ga":
        await ctx.users.set_flow(staff_id, GROUP_ANSWER, data)
        html = r.render(
            "kb/group_answer_prompt",
            question=clip(group.representative, QUOTE_LIMIT),
            count=group.count,
            askers=group.askers,
        )
        await answer(update, context, Reply(html))
    elif action == "gl":
        await ctx.users.set_flow(staff_id, GROUP_LINK, data)
        question = clip(group.representative, QUOTE_LIMIT)
        await answer(update, context, Reply(r.render("kb/group_link_prompt", question=question)))
    else:
        count = await kb.mark_new_entry(group.ids, staff_id)
        await answer(update, context, Reply(r.render("kb/group_done", action="new_entry", count=count)))


async def on_group_answer_text(update: Update, context: Context, user: User) -> None:
    ctx = context.app_ctx
    msg = update.effective_message
    assert msg is not None and msg.text is not None
    ids = [int(i) for i in user.flow_data.get("ids", [])]
    await ctx.users.set_flow(user.id, None)
    if not context.is_staff:
        await basic.staff_only(update, context)
        return
    askers = await ctx.inbox.answer_group(ids, user.id, msg.text)
    text = clip(msg.text, STAFF_TEXT_LIMIT)
    render = ctx.renderer.render
    replies = {
        a.user_id: Reply(
            render("kb/group_answer_to_user", question=clip(a.question, QUOTE_LIMIT), reply=text)
        )
        for a in askers
    }
    notified = await notify_many(context, askers, replies)
    done = "answered" if askers else "gone"
    await answer(update, context, Reply(ctx.renderer.render("kb/group_done", action=done, notified=notified)))


async def on_group_link_text(update: Update, context: Context, user: User) -> None:
    """The staff member typed words (or an id) for the entry to link the group to."""
    ctx = context.app_ctx
    msg = update.effective_message
    assert msg is not None and msg.text is not None
    ids = [int(i) for i in user.flow_data.get("ids", [])]
    kb = ctx.knowledge
    if not ids or not context.is_staff:
        await ctx.users.set_flow(user.id, None)
        await basic.stale_button(update, context)
        return
    typed = msg.text.strip()
    if await kb.entry_view(typed) is not None:
        await ctx.users.set_flow(user.id, None)
        await link(update, context, ids, typed)
        return
    found = [
        (e, t)
        for e, t in await kb.search_entries(typed, limit=5)
        if len(f"sd:gle:{ids[0]}:{e}".encode()) <= 64
    ]
    rows = [
        [Button(ctx.renderer.label("desk.pick_entry", title=clip(t, 60)), f"sd:gle:{ids[0]}:{e}")]
        for e, t in found
    ]
    await answer(update, context, Reply(ctx.renderer.render("kb/group_link_choose", entries=found), rows))


async def link(update: Update, context: Context, ids: list[int], entry_id: str) -> None:
    """Link the group to the entry and send each asker the entry under their own question."""
    ctx = context.app_ctx
    assert update.effective_user is not None
    askers = await ctx.inbox.link_group(ids, entry_id, update.effective_user.id)
    entry = await ctx.knowledge.entry_view(entry_id)
    assert entry is not None
    replies = {
        a.user_id: Reply(
            ctx.renderer.render("kb/linked_to_user", question=clip(a.question, QUOTE_LIMIT), entry=entry)
        )
        for a in askers
    }
    notified = await notify_many(context, askers, replies)
    action = "linked" if askers else "gone"
    reply = ctx.renderer.render("kb/group_done", action=action, title=entry.title, notified=notified)
    await answer(update, context, Reply(reply))


async def notify_many(context: Context, recipients: list[Recipient], replies: dict[int, Reply]) -> int:
    """Send each recipient their own reply (keyed by user id); count the deliveries, mark users who
    blocked the bot."""
    ctx = context.app_ctx
    delivered = 0
    for recipient in recipients:
        user_id, chat_id = recipient.user_id, recipient.chat_id
        try:
            await send(context, chat_id, replies[user_id])
            delivered += 1
        except Forbidden:
            await ctx.users.mark_blocked(user_id)
        except BadRequest as exc:
            log.warning("Could not notify %s: %s", user_id, exc)
    return delivered
