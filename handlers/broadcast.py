"""/thongbao (staff): compose a broadcast, pick its audience, preview it exactly as producers will get it,
send it now or at a time, and pause/resume/cancel it from its live progress message; recent broadcasts
with their reports. The work is the core's (scheduler/broadcast.py); this module reads updates and replies.

Buttons (`bc:` namespace): new · m (audience menu) · a (all / commune / sets / statuses) · ps / st (toggle
a product set / a status) · pv (preview) · go (send now) · sch (schedule) · x (discard, unschedule,
cancel) · p / r (pause / resume) · csv (failures file) · v (a past broadcast's report).
"""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta

from telegram import Message, Update
from telegram.constants import ParseMode

from common.callbacks import BadCallback, encode, parse
from common.clock import parse_local_datetime
from common.reply import Button, Reply
from common.text import clip
from dossier.models import DossierStatus
from handlers import basic
from handlers.context import Context
from handlers.outbox_sender import TelegramSender
from handlers.send import answer, replace
from scheduler.audience import Audience, OutOfScope, product_sets
from scheduler.broadcast import BroadcastError, Content, describe
from scheduler.port import Buttons
from storage.models import User
from storage.staff import StaffAccess

CONTENT = "bc_content"
COMMUNES = "bc_communes"
SCHEDULE = "bc_schedule"
STATUSES = tuple(s.value for s in DossierStatus if s is not DossierStatus.DRAFT)
COPY_KINDS = ("video", "audio", "animation", "voice")


async def _typed_for_broadcast(
    update: Update, context: Context, db_user: User
) -> tuple[StaffAccess, int, str] | None:
    """(access, broadcast id, text) for a text typed in a broadcast flow; None — and the flow ended —
    when the member is no longer staff or the flow names no broadcast."""
    access = await basic.staff_access(update, context)
    msg = update.effective_message
    assert msg is not None and msg.text is not None
    broadcast_id = int((db_user.flow_data or {}).get("id", 0))
    if access is None or not broadcast_id:
        await context.app_ctx.users.set_flow(db_user.id, None)
        return None
    return access, broadcast_id, msg.text


def _rows(buttons: Buttons) -> list[list[Button]]:
    return [[Button(b["text"], b.get("callback_data"), b.get("url")) for b in row] for row in buttons]


async def _error(update: Update, context: Context, exc: BroadcastError) -> None:
    html = context.app_ctx.renderer.render("broadcast/error", reason=exc.reason, **exc.detail)
    await answer(update, context, Reply(html))


# ---- /thongbao --------------------------------------------------------------------------------------
@basic.staff_required
async def show(update: Update, context: Context) -> None:
    """/thongbao: recent broadcasts with their reports, and a button to write a new one."""
    access = await basic.staff_access(update, context)
    if access is None:
        await basic.staff_only(update, context)
        return
    r = context.app_ctx.renderer
    items = await context.app_ctx.broadcasts.recent(access)
    states = {p.broadcast.state: r.label(f"broadcast.state_{p.broadcast.state}") for p in items}
    rows = [[Button(r.label("broadcast.new"), "bc:new")]]
    views = [
        Button(r.label("broadcast.view", id=p.broadcast.id), encode("bc", "v", p.broadcast.id)) for p in items
    ]
    rows += [views[i : i + 3] for i in range(0, len(views), 3)]
    await answer(update, context, Reply(r.render("broadcast/menu", items=items, states=states), rows))


async def _ask_content(update: Update, context: Context) -> None:
    ctx = context.app_ctx
    user = update.effective_user
    assert user is not None
    await ctx.users.set_flow(user.id, CONTENT)
    await answer(update, context, Reply(ctx.renderer.render("broadcast/ask_content")))


def _content(msg: Message) -> Content | None:
    """What the officer sent (typed or forwarded) as broadcast content; None for kinds not supported."""
    if msg.text:
        return Content("text", msg.text_html)
    caption = msg.caption_html or "" if msg.caption else ""
    if msg.photo:
        return Content("photo", caption, file_id=msg.photo[-1].file_id)
    if msg.document:
        return Content("document", caption, file_id=msg.document.file_id)
    if any(getattr(msg, kind, None) for kind in COPY_KINDS):
        return Content("copy", caption, from_chat_id=msg.chat_id, message_id=msg.message_id)
    return None


async def on_content(update: Update, context: Context, db_user: User) -> None:
    """The content (text, photo, document, forwarded message): checked, kept as a draft."""
    ctx = context.app_ctx
    access = await basic.staff_access(update, context)
    if access is None:
        await ctx.users.set_flow(db_user.id, None)
        await basic.staff_only(update, context)
        return
    msg = update.effective_message
    assert msg is not None
    content = _content(msg)
    try:
        if content is None:
            raise BroadcastError("unsupported")
        b = await context.app_ctx.broadcasts.create(access, content, _sender_name(context, db_user, access))
    except BroadcastError as exc:
        await _error(update, context, exc)  # the flow stays: they can send another
        return
    await ctx.users.set_flow(db_user.id, None)
    await answer(update, context, await _audience_reply(context, access, b.id))


def _sender_name(context: Context, user: User, access: StaffAccess) -> str:
    communes = ", ".join(sorted(access.communes)) if access.scoped else ""
    return context.app_ctx.renderer.label(
        "broadcast.sender", name=user.full_name, communes=communes
    )


# ---- the audience -----------------------------------------------------------------------------------
async def _audience_reply(
    context: Context, access: StaffAccess, broadcast_id: int, prompt: str = ""
) -> Reply:
    service = context.app_ctx.broadcasts
    r = context.app_ctx.renderer
    b = await service.get(access, broadcast_id)
    audience = Audience.from_json(b.audience)
    count = await service.count(audience)
    html = r.render(
        "broadcast/audience",
        b=b,
        audience=describe(r, audience),
        count=count,
        scoped=access.scoped,
        prompt=prompt,
    )
    i = b.id
    if prompt == "sets":
        picks = [
            Button(
                r.label(
                    "broadcast.pick", on=ps.id in audience.product_sets, label=f"{ps.number}. {ps.label}"
                ),
                encode("bc", "ps", i, n),
            )
            for n, ps in enumerate(product_sets())
        ]
        rows = [picks[k : k + 2] for k in range(0, len(picks), 2)]
        rows.append([Button(r.label("broadcast.back"), encode("bc", "m", i))])
    elif prompt == "statuses":
        picks = [
            Button(
                r.label("broadcast.pick", on=st in audience.statuses, label=r.label(f"dossier.status_{st}")),
                encode("bc", "st", i, st),
            )
            for st in STATUSES
        ]
        rows = [picks[k : k + 2] for k in range(0, len(picks), 2)]
        rows.append([Button(r.label("broadcast.back"), encode("bc", "m", i))])
    elif prompt == "events":
        events = await context.app_ctx.events.upcoming_for_staff(access)
        rows = [
            [
                Button(
                    r.label("broadcast.pick", on=e.id == audience.event_id, label=clip(e.title, 40)),
                    encode("bc", "ev", i, e.id),
                )
            ]
            for e in events
        ]
        rows.append([Button(r.label("broadcast.back"), encode("bc", "m", i))])
    else:
        rows = [
            [
                Button(r.label("broadcast.everyone"), encode("bc", "a", i, "all")),
                Button(r.label("broadcast.by_commune"), encode("bc", "a", i, "com")),
            ],
            [
                Button(r.label("broadcast.by_set"), encode("bc", "a", i, "ps")),
                Button(r.label("broadcast.by_status"), encode("bc", "a", i, "st")),
            ],
            [Button(r.label("broadcast.by_event"), encode("bc", "a", i, "ev"))],
            [
                Button(r.label("broadcast.preview"), encode("bc", "pv", i)),
                Button(r.label("broadcast.discard"), encode("bc", "x", i)),
            ],
        ]
    return Reply(html, rows)


async def on_communes(update: Update, context: Context, db_user: User) -> None:
    """Commune names typed for the audience (old names understood)."""
    ctx = context.app_ctx
    typed = await _typed_for_broadcast(update, context, db_user)
    if typed is None:
        return
    access, broadcast_id, text = typed
    directory = ctx.communes
    names = [n.strip() for n in re.split(r"[,;\n]+", text) if n.strip()]
    found, unknown = directory.units_named(names[:30])
    if unknown or not found:
        await answer(
            update, context, Reply(ctx.renderer.render("broadcast/communes_unknown", names=unknown or names))
        )
        return
    service = context.app_ctx.broadcasts
    try:
        b = await service.get(access, broadcast_id)
        audience = dataclasses.replace(Audience.from_json(b.audience), communes=tuple(found))
        await service.set_audience(access, broadcast_id, audience)
    except OutOfScope as exc:
        html = ctx.renderer.render(
            "broadcast/out_of_scope", communes=exc.communes, scope=sorted(access.communes)
        )
        await answer(update, context, Reply(html))
        return
    except BroadcastError as exc:
        await ctx.users.set_flow(db_user.id, None)
        await _error(update, context, exc)
        return
    await ctx.users.set_flow(db_user.id, None)
    await answer(update, context, await _audience_reply(context, access, broadcast_id))


# ---- scheduling -------------------------------------------------------------------------------------
def _example(context: Context) -> str:
    ctx = context.app_ctx
    return ctx.renderer.format_datetime(ctx.clock.now() + timedelta(days=1)).rsplit(" ", 1)[0] + " 08:00"


async def on_schedule(update: Update, context: Context, db_user: User) -> None:
    """The date and time typed for a scheduled broadcast."""
    ctx = context.app_ctx
    typed = await _typed_for_broadcast(update, context, db_user)
    if typed is None:
        return
    access, broadcast_id, text = typed
    r = ctx.renderer
    at = parse_local_datetime(text, r.tz)
    now = ctx.clock.now()
    if at is None or at <= now:
        html = r.render("broadcast/bad_time", past=at is not None, now=now, example=_example(context))
        await answer(update, context, Reply(html))
        return
    chat = update.effective_chat
    assert chat is not None
    service = context.app_ctx.broadcasts
    try:
        b = await service.confirm(access, broadcast_id, chat_id=chat.id, message_id=None, at=at)
    except BroadcastError as exc:
        await ctx.users.set_flow(db_user.id, None)
        await _error(update, context, exc)
        return
    await ctx.users.set_flow(db_user.id, None)
    audience = describe(r, Audience.from_json(b.audience))
    _html, buttons = service.view(await service.progress(b.id))
    sent = await answer(
        update, context, Reply(r.render("broadcast/scheduled", b=b, audience=audience), _rows(buttons))
    )
    await service.shown(b.id, sent.text_html or "", sent.message_id)


# ---- buttons ----------------------------------------------------------------------------------------
@basic.staff_required
async def on_button(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    cb = parse(query.data)
    access = await basic.staff_access(update, context)
    if access is None:
        await basic.staff_only(update, context)
        return
    ctx = context.app_ctx
    r = ctx.renderer
    service = context.app_ctx.broadcasts
    if cb.action == "new":
        cb.expect(0)
        await query.answer()
        await _ask_content(update, context)
        return
    broadcast_id = cb.id(0)
    answered = False
    try:
        if cb.action in ("p", "r"):
            cb.expect(1)
            if cb.action == "p":
                await service.pause(access, broadcast_id)
            else:
                await service.resume(access, broadcast_id)
            # The runner edits the progress message (its pace keeps within Telegram's edit limits).
            await query.answer(r.label("broadcast.paused" if cb.action == "p" else "broadcast.resumed"))
            answered = True
            return
        if cb.action == "x":
            cb.expect(1)
            before = await service.get(access, broadcast_id)
            b = await service.cancel(access, broadcast_id)
            if before.state not in ("draft", "scheduled"):  # running: the runner turns it into the report
                await query.answer(r.label("broadcast.cancelled"))
                answered = True
                return
            await query.answer()
            answered = True
            html = r.render("broadcast/discarded", id=b.id, scheduled=before.state == "scheduled")
            await replace(query, context, Reply(html))
            if before.state == "scheduled":
                await service.shown(b.id, html)
            return
        await query.answer()
        answered = True
        if cb.action == "m":
            cb.expect(1)
            await replace(query, context, await _audience_reply(context, access, broadcast_id))
        elif cb.action == "a":
            await _audience_button(update, context, access, broadcast_id, cb.expect(2).token(1))
        elif cb.action in ("ps", "st"):
            cb.expect(2)
            b = await service.get(access, broadcast_id)
            audience = Audience.from_json(b.audience)
            if cb.action == "ps":
                sets = product_sets()
                audience = audience.toggled("product_sets", sets[cb.number(1, len(sets) - 1)].id)
            else:
                status = cb.token(1)
                if status not in STATUSES:
                    raise BadCallback(f"unknown status {status!r}")
                audience = audience.toggled("statuses", status)
            await service.set_audience(access, broadcast_id, audience)
            prompt = "sets" if cb.action == "ps" else "statuses"
            await replace(query, context, await _audience_reply(context, access, broadcast_id, prompt))
        elif cb.action == "ev":
            event_id = cb.expect(2).id(1)
            if event_id not in {e.id for e in await ctx.events.upcoming_for_staff(access)}:
                raise BadCallback(f"event {event_id} is not one of this member's")
            audience = Audience.from_json((await service.get(access, broadcast_id)).audience)
            chosen = None if audience.event_id == event_id else event_id
            await service.set_audience(access, broadcast_id, dataclasses.replace(audience, event_id=chosen))
            await replace(query, context, await _audience_reply(context, access, broadcast_id, "events"))
        elif cb.action == "pv":
            cb.expect(1)
            await _preview(update, context, access, broadcast_id)
        elif cb.action == "go":
            cb.expect(1)
            msg = query.message
            chat = update.effective_chat
            assert chat is not None
            message_id = msg.message_id if isinstance(msg, Message) else None
            b = await service.confirm(access, broadcast_id, chat_id=chat.id, message_id=message_id)
            html, buttons = service.view(await service.progress(b.id))
            await replace(query, context, Reply(html, _rows(buttons)))
            await service.shown(b.id, html)
        elif cb.action == "sch":
            cb.expect(1)
            b = await service.get(access, broadcast_id)
            if b.state != "draft":
                raise BroadcastError("not_draft")
            await ctx.users.set_flow(access.user_id, SCHEDULE, {"id": broadcast_id})
            await answer(update, context, Reply(r.render("broadcast/ask_time", example=_example(context))))
        elif cb.action == "csv":
            cb.expect(1)
            await _send_csv(update, context, access, broadcast_id)
        elif cb.action == "v":
            cb.expect(1)
            html, buttons = service.view(await service.progress((await service.get(access, broadcast_id)).id))
            await answer(update, context, Reply(html, _rows(buttons)))
        else:
            raise BadCallback(f"unknown broadcast button {cb.action!r}")
    except BroadcastError as exc:
        if not answered:
            await query.answer()
        await _error(update, context, exc)
    except OutOfScope as exc:
        if not answered:
            await query.answer()
        html = r.render("broadcast/out_of_scope", communes=exc.communes, scope=sorted(access.communes))
        await answer(update, context, Reply(html))


async def _audience_button(
    update: Update, context: Context, access: StaffAccess, broadcast_id: int, which: str
) -> None:
    ctx = context.app_ctx
    query = update.callback_query
    assert query is not None
    service = context.app_ctx.broadcasts
    if which == "all":
        await service.set_audience(access, broadcast_id, Audience())
        await replace(query, context, await _audience_reply(context, access, broadcast_id))
    elif which == "com":
        await service.get(access, broadcast_id)
        await ctx.users.set_flow(access.user_id, COMMUNES, {"id": broadcast_id})
        html = ctx.renderer.render(
            "broadcast/ask_communes", scope=sorted(access.communes) if access.scoped else []
        )
        await answer(update, context, Reply(html))
    elif which in ("ps", "st", "ev"):
        prompt = {"ps": "sets", "st": "statuses", "ev": "events"}[which]
        await replace(query, context, await _audience_reply(context, access, broadcast_id, prompt))
    else:
        raise BadCallback(f"unknown audience button {which!r}")


async def _preview(update: Update, context: Context, access: StaffAccess, broadcast_id: int) -> None:
    """The message exactly as producers will get it (same rendering, same sending code), then the count
    and the choice: send now, schedule, change the audience, discard."""
    ctx = context.app_ctx
    r = ctx.renderer
    service = context.app_ctx.broadcasts
    b = await service.get(access, broadcast_id)
    if b.state != "draft":
        raise BroadcastError("not_draft")
    chat = update.effective_chat
    assert chat is not None
    out = service.outgoing(b)
    sender = TelegramSender(context.bot)
    if out.media is None:
        result = await sender.send(chat.id, out.text, out.buttons)
    else:
        result = await sender.send_media(chat.id, out.media, out.text, out.buttons)
    if result.error:
        raise BroadcastError("unsupported")
    audience = Audience.from_json(b.audience)
    count = await service.count(audience)
    seconds = int(count.recipients / service.rate) if service.rate > 0 else 0
    html = r.render(
        "broadcast/summary",
        audience=describe(r, audience),
        count=count,
        minutes=seconds // 60,
        seconds=seconds % 60,
    )
    i = b.id
    rows = [
        [
            Button(r.label("broadcast.send_now"), encode("bc", "go", i)),
            Button(r.label("broadcast.schedule"), encode("bc", "sch", i)),
        ],
        [
            Button(r.label("broadcast.edit_audience"), encode("bc", "m", i)),
            Button(r.label("broadcast.discard"), encode("bc", "x", i)),
        ],
    ]
    await answer(update, context, Reply(html, rows))


async def _send_csv(update: Update, context: Context, access: StaffAccess, broadcast_id: int) -> None:
    service = context.app_ctx.broadcasts
    data, count = await service.failures_csv(access, broadcast_id)
    b = await service.get(access, broadcast_id)
    chat = update.effective_chat
    assert chat is not None
    caption = context.app_ctx.renderer.render("broadcast/csv_caption", b=b, count=count)
    await context.bot.send_document(
        chat.id, data, filename=f"thongbao-{broadcast_id}-loi.csv", caption=caption, parse_mode=ParseMode.HTML
    )
