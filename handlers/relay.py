"""Questions passed to staff in the chat: "Hỏi cán bộ" / /lienhe posts the question to the staff chat
with a reply button; a staff reply (the button, or a Telegram reply to the posted message) reaches the
asker, and the asker's "Hỏi thêm" reaches the staff member who answered."""

from __future__ import annotations

import logging

from telegram import Message, Update
from telegram.error import BadRequest, Forbidden

from common.callbacks import BadCallback, encode, parse
from common.reply import Button, Reply
from common.text import clip
from handlers import basic
from handlers.context import AppContext, Context
from handlers.send import answer, send
from knowledge.relay import THREAD_OPEN, ThreadView
from storage.models import User

log = logging.getLogger(__name__)

ASK_STAFF = "ask_staff"
FOLLOW_UP = "staff_followup"
STAFF_REPLY = "staff_reply"
QUOTE_LIMIT = 300  # UTF-16 units of a question quoted in a message
STAFF_TEXT_LIMIT = 3500  # UTF-16 units of a staff answer passed on to a user
QUESTION_LIMIT = 3000  # UTF-16 units of a user's question passed to staff
NAME_LIMIT = 128  # UTF-16 units of a user's name shown to staff


# ---- producer side ------------------------------------------------------------------------------
async def contact(update: Update, context: Context) -> None:
    """/lienhe and the menu's "Liên hệ cán bộ": the contacts, and a button to write to staff."""
    ctx = context.app_ctx
    entry = await ctx.knowledge.contacts_view()
    rows = [[Button(ctx.renderer.label("kb.write_to_staff"), "sd:write")]]
    await answer(update, context, Reply(ctx.renderer.render("kb/contact", entry=entry), rows))


async def start_writing(update: Update, context: Context) -> None:
    """The "Gửi câu hỏi cho cán bộ" button: the next text the user sends goes to staff."""
    ctx = context.app_ctx
    assert update.effective_user is not None
    await ctx.users.set_flow(update.effective_user.id, ASK_STAFF)
    await answer(update, context, Reply(ctx.renderer.render("kb/write_to_staff")))


async def on_question_for_staff(update: Update, context: Context, user: User) -> None:
    """The text typed after "Gửi câu hỏi cho cán bộ": open a thread and post it to the staff."""
    ctx = context.app_ctx
    msg = update.effective_message
    assert msg is not None and msg.text is not None
    question_id = await ctx.knowledge.pass_to_staff(user.id, msg.chat_id, msg.text)
    thread = await ctx.relay.open_thread(user.id, msg.chat_id, msg.text, question_id=question_id)
    await ctx.users.set_flow(user.id, None)
    delivered = await post_to_staff(ctx, context, thread, user, msg.text, follow_up=False)
    await tell_asker(update, context, msg.text, delivered)


async def on_follow_up(update: Update, context: Context, user: User) -> None:
    """The text typed after "Hỏi thêm": it goes to the staff member who took the user's own thread
    (a new thread when that one is closed or not theirs)."""
    ctx = context.app_ctx
    msg = update.effective_message
    assert msg is not None and msg.text is not None
    thread_id = int(user.flow_data.get("thread", 0))
    thread = await ctx.relay.thread(thread_id)
    await ctx.users.set_flow(user.id, None)
    if thread is None or thread.user_id != user.id or thread.status != THREAD_OPEN:
        question_id = await ctx.knowledge.pass_to_staff(user.id, msg.chat_id, msg.text)
        thread = await ctx.relay.open_thread(user.id, msg.chat_id, msg.text, question_id=question_id)
    delivered = await post_to_staff(ctx, context, thread, user, msg.text, follow_up=True)
    await tell_asker(update, context, msg.text, delivered)


async def tell_asker(update: Update, context: Context, question: str, delivered: bool) -> None:
    """Say the question reached the staff only when it did; otherwise say so and give the contacts."""
    ctx = context.app_ctx
    quoted = clip(question, QUOTE_LIMIT)
    if delivered:
        await answer(update, context, Reply(ctx.renderer.render("kb/sent_to_staff", question=quoted)))
        return
    entry = await ctx.knowledge.contacts_view()
    staffed = bool(await ctx.staff.member_ids()) or ctx.settings.staff_chat_id is not None
    html = ctx.renderer.render("kb/not_sent_to_staff", question=quoted, entry=entry, staffed=staffed)
    await answer(update, context, Reply(html))


async def post_to_staff(
    ctx: AppContext, context: Context, thread: ThreadView, user: User, text: str, *, follow_up: bool
) -> bool:
    """Post to the staff member who took the thread, else the staff chat, else every staff member;
    True when at least one of them received it."""
    html = ctx.renderer.render(
        "kb/staff_question",
        name=clip(user.full_name, NAME_LIMIT),
        username=user.username,
        user_id=user.id,
        question=clip(text, QUESTION_LIMIT),
        follow_up=follow_up,
    )
    reply = Reply(html, [[Button(ctx.renderer.label("desk.reply"), encode("sd", "rp", thread.id))]])
    targets: list[int] = []
    if follow_up and thread.staff_user_id is not None:
        targets = [thread.staff_user_id]
    elif ctx.settings.staff_chat_id is not None:
        targets = [ctx.settings.staff_chat_id]
    else:
        targets = await ctx.staff.member_ids()
    delivered = False
    for chat_id in targets:
        try:
            sent = await send(context, chat_id, reply)
        except (Forbidden, BadRequest) as exc:
            log.warning("Could not post thread %s to %s: %s", thread.id, chat_id, exc)
            continue
        await ctx.relay.add_thread_message(thread.id, chat_id, sent.message_id)
        delivered = True
    if not targets:
        log.warning("Thread %s: no staff configured (STAFF_IDS, STAFF_CHAT_ID)", thread.id)
    return delivered


async def on_thread_button(update: Update, context: Context) -> None:
    """sd:new:<question> · sd:write · sd:fu|done:<thread> (producer) · sd:rp:<thread> (staff)."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    ctx = context.app_ctx
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
    threads = ctx.relay
    if action == "rp" and not context.is_staff:
        await basic.staff_only(update, context)
        return
    if action == "new":
        question = await ctx.knowledge.question_text(ref, user_id)
        if question is None:
            await basic.stale_button(update, context)
            return
        await query.answer()
        db_user = await ctx.users.get(user_id)
        assert db_user is not None
        chat_id = query.message.chat.id if query.message else user_id
        await ctx.knowledge.pass_to_staff(user_id, chat_id, question, question_id=ref)
        thread = await threads.open_thread(user_id, chat_id, question, question_id=ref)
        delivered = await post_to_staff(ctx, context, thread, db_user, question, follow_up=False)
        await tell_asker(update, context, question, delivered)
        return
    thread = await threads.thread(ref)
    if thread is None:
        await basic.stale_button(update, context)
        return
    if action in {"fu", "done"}:
        if thread.user_id != user_id:
            await basic.stale_button(update, context)
            return
        if action == "done":
            await threads.close_thread(thread.id)
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
    ctx = context.app_ctx
    staff = update.effective_user
    assert staff is not None
    rows = [
        [
            Button(ctx.renderer.label("desk.ask_more"), encode("sd", "fu", thread.id)),
            Button(ctx.renderer.label("desk.done"), encode("sd", "done", thread.id)),
        ]
    ]
    html = ctx.renderer.render(
        "kb/staff_reply_to_user",
        question=clip(thread.question, QUOTE_LIMIT),
        reply=clip(text, STAFF_TEXT_LIMIT),
    )
    asker = await ctx.users.get(thread.user_id)
    name = clip(asker.full_name, NAME_LIMIT) if asker else str(thread.user_id)
    try:
        await send(context, thread.user_chat_id, Reply(html, rows))
    except (Forbidden, BadRequest) as exc:  # not delivered: the staff member is told so, not "sent"
        blocked = isinstance(exc, Forbidden)
        if blocked:
            await ctx.users.mark_blocked(thread.user_id)
        log.warning("Staff reply to thread %s not delivered: %s", thread.id, exc)
        failed = ctx.renderer.render("kb/staff_reply_failed", name=name, blocked=blocked)
        await answer(update, context, Reply(failed))
        return
    await ctx.relay.record_staff_reply(thread.id, staff.id)
    await answer(update, context, Reply(ctx.renderer.render("kb/staff_reply_sent", name=name)))


async def on_staff_reply_text(update: Update, context: Context, user: User) -> None:
    """The staff member's text after pressing "Trả lời": it goes to the asker."""
    ctx = context.app_ctx
    msg = update.effective_message
    assert msg is not None and msg.text is not None
    thread = await ctx.relay.thread(int(user.flow_data.get("thread", 0)))
    await ctx.users.set_flow(user.id, None)
    if thread is None or not context.is_staff:
        await basic.stale_button(update, context)
        return
    await deliver_staff_reply(update, context, thread, msg.text)


async def on_reply_message(update: Update, context: Context) -> None:
    """A text that replies to one of the bot's messages: a staff reply to a thread goes to the user;
    anything else in a private chat is ordinary text; in a group it is ignored."""
    ctx = context.app_ctx
    msg = update.effective_message
    user = update.effective_user
    assert msg is not None and user is not None
    original = msg.reply_to_message
    if isinstance(original, Message) and context.is_staff and msg.text:
        thread = await ctx.relay.thread_for_staff_message(msg.chat_id, original.message_id)
        if thread is not None:
            await deliver_staff_reply(update, context, thread, msg.text)
            return
    if msg.chat.type == "private":
        await basic.on_text(update, context)
