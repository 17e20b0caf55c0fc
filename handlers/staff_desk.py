"""The staff desk in the chat: "Hỏi cán bộ" / /lienhe passes a question to the staff chat with a reply
button; a staff reply reaches the user and the user's follow-up reaches the staff; /cauhoi shows the
unanswered questions grouped, to answer, link to an entry, or mark for a new entry."""

from __future__ import annotations

import logging

from telegram import Message, Update
from telegram.error import BadRequest, Forbidden

from common.callbacks import BadCallback, parse
from common.reply import Button, Reply
from handlers import basic
from handlers.context import AppContext, Context, app_ctx
from handlers.knowledge import service
from handlers.send import answer, send
from knowledge.service import DECLINED_WINDOW, THREAD_OPEN, Recipient, ThreadView
from knowledge.text import clip
from storage.models import User

log = logging.getLogger(__name__)

ASK_STAFF = "ask_staff"
FOLLOW_UP = "staff_followup"
STAFF_REPLY = "staff_reply"
GROUP_ANSWER = "staff_group_answer"
GROUP_LINK = "staff_group_link"
INBOX_SIZE = 8
QUOTE_LIMIT = 300  # UTF-16 units of a user's own question quoted back to them
STAFF_TEXT_LIMIT = 3500  # UTF-16 units of a staff answer passed on to a user
QUESTION_LIMIT = 3000  # UTF-16 units of a user's question passed to staff
NAME_LIMIT = 128  # UTF-16 units of a user's name shown to staff


# ---- producer side ------------------------------------------------------------------------------
async def contact(update: Update, context: Context) -> None:
    """/lienhe and the menu's "Liên hệ cán bộ": the contacts, and a button to write to staff."""
    ctx = app_ctx(context)
    kb = service(ctx)
    entry = next((kb.entry_view(e.id) for e in kb.kb.entries.values() if e.dynamic == "contacts"), None)
    rows = [[Button(ctx.renderer.label("kb.write_to_staff"), "sd:write")]]
    await answer(update, context, Reply(ctx.renderer.render("kb/contact", entry=entry), rows))


async def start_writing(update: Update, context: Context, prompt: str = "kb/write_to_staff") -> None:
    ctx = app_ctx(context)
    assert update.effective_user is not None
    await ctx.users.set_flow(update.effective_user.id, ASK_STAFF)
    await answer(update, context, Reply(ctx.renderer.render(prompt)))


async def on_question_for_staff(update: Update, context: Context, user: User) -> None:
    """The text typed after "Gửi câu hỏi cho cán bộ": open a thread and post it to the staff."""
    ctx = app_ctx(context)
    msg = update.effective_message
    assert msg is not None and msg.text is not None
    thread = await service(ctx).open_thread(user.id, msg.chat_id, msg.text)
    await ctx.users.set_flow(user.id, None)
    await post_to_staff(ctx, context, thread, user, msg.text, follow_up=False)
    await answer(update, context, Reply(ctx.renderer.render("kb/sent_to_staff", question=msg.text)))


async def on_follow_up(update: Update, context: Context, user: User) -> None:
    ctx = app_ctx(context)
    msg = update.effective_message
    assert msg is not None and msg.text is not None
    thread_id = int(user.flow_data.get("thread", 0))
    thread = await service(ctx).thread(thread_id)
    await ctx.users.set_flow(user.id, None)
    if thread is None or thread.user_id != user.id or thread.status != THREAD_OPEN:
        thread = await service(ctx).open_thread(user.id, msg.chat_id, msg.text)
    await post_to_staff(ctx, context, thread, user, msg.text, follow_up=True)
    await answer(update, context, Reply(ctx.renderer.render("kb/sent_to_staff", question=msg.text)))


async def post_to_staff(
    ctx: AppContext, context: Context, thread: ThreadView, user: User, text: str, *, follow_up: bool
) -> None:
    """Post to the staff member who took the thread, else the staff chat, else every staff member."""
    html = ctx.renderer.render(
        "kb/staff_question",
        name=clip(user.full_name, NAME_LIMIT),
        username=user.username,
        user_id=user.id,
        question=clip(text, QUESTION_LIMIT),
        follow_up=follow_up,
    )
    reply = Reply(html, [[Button(ctx.renderer.label("desk.reply"), f"sd:rp:{thread.id}")]])
    targets: list[int] = []
    if follow_up and thread.staff_user_id is not None:
        targets = [thread.staff_user_id]
    elif ctx.settings.staff_chat_id is not None:
        targets = [ctx.settings.staff_chat_id]
    else:
        targets = sorted(ctx.settings.staff_set)
    for chat_id in targets:
        try:
            sent = await send(context, chat_id, reply)
        except (Forbidden, BadRequest) as exc:
            log.warning("Could not post thread %s to %s: %s", thread.id, chat_id, exc)
            continue
        await service(ctx).add_thread_message(thread.id, chat_id, sent.message_id)


async def on_thread_button(update: Update, context: Context) -> None:
    """sd:new:<question> · sd:write · sd:fu|done:<thread> (producer) · sd:rp:<thread> (staff)."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    ctx = app_ctx(context)
    cb = parse(query.data)
    action = cb.action
    user_id = update.effective_user.id
    if action == "write":
        cb.expect(0)
        await query.answer()
        await start_writing(update, context)
        return
    if action not in {"new", "fu", "done", "rp"}:
        raise BadCallback(f"unknown desk button {action!r}")
    ref = cb.expect(1).id(0)
    kb = service(ctx)
    if action == "rp" and not ctx.users.is_staff(user_id):
        await basic.staff_only(update, context)
        return
    if action == "new":
        question = await kb.question_text(ref, user_id)
        if question is None:
            await basic.stale_button(update, context)
            return
        await query.answer()
        db_user = await ctx.users.get(user_id)
        assert db_user is not None
        thread = await kb.open_thread(
            user_id, query.message.chat.id if query.message else user_id, question, question_id=ref
        )
        await post_to_staff(ctx, context, thread, db_user, question, follow_up=False)
        await answer(update, context, Reply(ctx.renderer.render("kb/sent_to_staff", question=question)))
        return
    thread = await kb.thread(ref)
    if thread is None:
        await basic.stale_button(update, context)
        return
    if action in {"fu", "done"}:
        if thread.user_id != user_id:
            await basic.stale_button(update, context)
            return
        if action == "done":
            await kb.close_thread(thread.id)
            await query.answer()
            await answer(update, context, Reply(ctx.renderer.render("kb/thread_closed")))
            return
        await query.answer()
        await ctx.users.set_flow(user_id, FOLLOW_UP, {"thread": thread.id})
        await answer(update, context, Reply(ctx.renderer.render("kb/follow_up_prompt")))
        return
    if action == "rp":  # the only action left
        if thread.status != THREAD_OPEN:
            await query.answer(ctx.renderer.label("desk.not_open"), show_alert=True)
            return
        asker = await ctx.users.get(thread.user_id)
        html = ctx.renderer.render(
            "kb/staff_write_reply",
            name=clip(asker.full_name, NAME_LIMIT) if asker else thread.user_id,
            question=clip(thread.question, QUOTE_LIMIT),
        )
        try:
            await send(context, user_id, Reply(html))
        except (Forbidden, BadRequest):
            await query.answer(ctx.renderer.label("desk.reply_in_private"), show_alert=True)
            return
        await ctx.users.set_flow(user_id, STAFF_REPLY, {"thread": thread.id})
        await query.answer()


# ---- staff side ---------------------------------------------------------------------------------
async def deliver_staff_reply(update: Update, context: Context, thread: ThreadView, text: str) -> None:
    ctx = app_ctx(context)
    staff = update.effective_user
    assert staff is not None
    await service(ctx).record_staff_reply(thread.id, staff.id)
    rows = [
        [
            Button(ctx.renderer.label("desk.ask_more"), f"sd:fu:{thread.id}"),
            Button(ctx.renderer.label("desk.done"), f"sd:done:{thread.id}"),
        ]
    ]
    html = ctx.renderer.render(
        "kb/staff_reply_to_user",
        question=clip(thread.question, QUOTE_LIMIT),
        reply=clip(text, STAFF_TEXT_LIMIT),
    )
    asker = await ctx.users.get(thread.user_id)
    try:
        await send(context, thread.user_chat_id, Reply(html, rows))
    except Forbidden:
        await ctx.users.mark_blocked(thread.user_id)
        raise
    name = clip(asker.full_name, NAME_LIMIT) if asker else str(thread.user_id)
    await answer(update, context, Reply(ctx.renderer.render("kb/staff_reply_sent", name=name)))


async def on_staff_reply_text(update: Update, context: Context, user: User) -> None:
    """The staff member's text after pressing "Trả lời": it goes to the asker."""
    ctx = app_ctx(context)
    msg = update.effective_message
    assert msg is not None and msg.text is not None
    thread = await service(ctx).thread(int(user.flow_data.get("thread", 0)))
    await ctx.users.set_flow(user.id, None)
    if thread is None or not ctx.users.is_staff(user.id):
        await basic.stale_button(update, context)
        return
    await deliver_staff_reply(update, context, thread, msg.text)


async def on_reply_message(update: Update, context: Context) -> None:
    """A text that replies to one of the bot's messages: a staff reply to a thread goes to the user;
    anything else in a private chat is ordinary text; in a group it is ignored."""
    ctx = app_ctx(context)
    msg = update.effective_message
    user = update.effective_user
    assert msg is not None and user is not None
    original = msg.reply_to_message
    if isinstance(original, Message) and ctx.users.is_staff(user.id) and msg.text:
        thread = await service(ctx).thread_for_staff_message(msg.chat_id, original.message_id)
        if thread is not None:
            await deliver_staff_reply(update, context, thread, msg.text)
            return
    if msg.chat.type == "private":
        await basic.on_text(update, context)


@basic.staff_required
async def inbox(update: Update, context: Context) -> None:
    """/cauhoi (staff): the open questions, grouped by similarity, with an action per group."""
    ctx = app_ctx(context)
    groups = await service(ctx).unanswered_groups(limit=200)
    shown = groups[:INBOX_SIZE]
    r = ctx.renderer
    rows = [
        [
            Button(r.label("desk.group_answer", n=n), f"sd:ga:{g.ids[0]}"),
            Button(r.label("desk.group_link", n=n), f"sd:gl:{g.ids[0]}"),
            Button(r.label("desk.group_new", n=n), f"sd:gn:{g.ids[0]}"),
        ]
        for n, g in enumerate(shown, start=1)
    ]
    declined = await service(ctx).declined_count()
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
    ctx = app_ctx(context)
    r = ctx.renderer
    cb = parse(query.data)
    kb = service(ctx)
    if cb.action == "dl":
        cb.expect(0)
        await query.answer()
        count = await kb.declined_count()
        questions = await kb.declined_questions(limit=INBOX_SIZE)
        rows = [
            [Button(r.label("desk.reopen", n=n), f"sd:dr:{q.id}")] for n, q in enumerate(questions, start=1)
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
    ctx = app_ctx(context)
    staff_id = update.effective_user.id
    cb = parse(query.data)
    action, ref = cb.action, cb.id(0)
    kb = service(ctx)
    if action == "gle":
        entry_id = cb.expect(2).token(1)
        user = await ctx.users.get(staff_id)
        ids = [int(i) for i in (user.flow_data.get("ids", []) if user else [])]
        if not ids or ids[0] != ref or kb.entry_view(entry_id) is None:
            await basic.stale_button(update, context)
            return
        await query.answer()
        await ctx.users.set_flow(staff_id, None)
        await link(update, context, ids, entry_id)
        return
    if action not in {"ga", "gl", "gn"}:
        raise BadCallback(f"unknown inbox button {action!r}")
    cb.expect(1)
    group = next((g for g in await kb.unanswered_groups(limit=10_000) if ref in g.ids), None)
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
            "kb/group_answer_prompt", question=group.representative, count=group.count, askers=group.askers
        )
        await answer(update, context, Reply(html))
    elif action == "gl":
        await ctx.users.set_flow(staff_id, GROUP_LINK, data)
        await answer(update, context, Reply(r.render("kb/group_link_prompt", question=group.representative)))
    else:
        count = await kb.mark_new_entry(group.ids, staff_id)
        await answer(update, context, Reply(r.render("kb/group_done", action="new_entry", count=count)))


async def on_group_answer_text(update: Update, context: Context, user: User) -> None:
    ctx = app_ctx(context)
    msg = update.effective_message
    assert msg is not None and msg.text is not None
    ids = [int(i) for i in user.flow_data.get("ids", [])]
    await ctx.users.set_flow(user.id, None)
    if not ctx.users.is_staff(user.id):
        await basic.staff_only(update, context)
        return
    askers = await service(ctx).answer_group(ids, user.id, msg.text)
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
    ctx = app_ctx(context)
    msg = update.effective_message
    assert msg is not None and msg.text is not None
    ids = [int(i) for i in user.flow_data.get("ids", [])]
    kb = service(ctx)
    if not ids or not ctx.users.is_staff(user.id):
        await ctx.users.set_flow(user.id, None)
        await basic.stale_button(update, context)
        return
    typed = msg.text.strip()
    if kb.entry_view(typed) is not None:
        await ctx.users.set_flow(user.id, None)
        await link(update, context, ids, typed)
        return
    found = [
        (e, t) for e, t in kb.search_entries(typed, limit=5) if len(f"sd:gle:{ids[0]}:{e}".encode()) <= 64
    ]
    rows = [
        [Button(ctx.renderer.label("desk.pick_entry", title=t[:60]), f"sd:gle:{ids[0]}:{e}")]
        for e, t in found
    ]
    await answer(update, context, Reply(ctx.renderer.render("kb/group_link_choose", entries=found), rows))


async def link(update: Update, context: Context, ids: list[int], entry_id: str) -> None:
    """Link the group to the entry and send each asker the entry under their own question."""
    ctx = app_ctx(context)
    assert update.effective_user is not None
    kb = service(ctx)
    askers = await kb.link_group(ids, entry_id, update.effective_user.id)
    entry = kb.entry_view(entry_id)
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
    ctx = app_ctx(context)
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
