"""The officers' review desk in the chat: /duyet shows the queue (oldest first, counts, filters by status,
commune and product set); a dossier opens with every answer, its history and — after a resubmission —
old → new for each changed field; its files are re-sent by file_id and its printout on request; the
officer changes its status with a typed note, returns it for correction item by item (a reason for
each), records the rating result one question at a time, or proposes a 5-star product to the central
level.

Callback data `rv:<action>:<args>` (common.callbacks). Every press and every typed note re-checks the
officer's role and commune scope on the server (dossier.review.ReviewDesk); a non-staff user, or a
dossier outside the officer's scope, gets exactly the expired-button / unknown-command reply. What the
desk shows goes to the officer's private chat, also when the button was pressed in the staff group.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from telegram import InputFile, Update
from telegram.error import BadRequest, Forbidden

from common.callbacks import BadCallback, CallbackData, encode, parse
from common.reply import Button, Reply
from common.text import clip, utf16_len
from dossier.errors import DossierNotFound, TransitionNotAllowed
from dossier.review import (
    PAGE_SIZE,
    REASON_LIMIT,
    STARS,
    BadResult,
    DossierCard,
    NotStaff,
    Queue,
    check_result,
    parse_day,
    parse_score,
)
from dossier.workflow import OPEN_STATUSES
from handlers import basic
from handlers.context import AppContext, Context
from handlers.send import plain_text, send
from storage.models import User

FLOW_NOTE = "review_note"  # typing the note of a status change
FLOW_FLAGS = "review_flags"  # marking the items to return for correction
FLOW_REASON = "review_reason"  # typing why one item must be corrected
FLOW_RESULT = "review_result"  # typing the rating result, one question at a time
FLOWS = (FLOW_NOTE, FLOW_FLAGS, FLOW_REASON, FLOW_RESULT)
NOTE_TARGETS = ("received", "forwarded", "not_rated", "proposed")  # changes that take just a note
TEXT_LIMIT = 3900  # UTF-16 units of one message of an opened dossier
ANSWER_LIMITS = (300, 120, 60)
MAX_FILTER_BUTTONS = 40


class Unreachable(Exception):
    """The officer pressed in the staff group but has no private chat with the bot."""


def _len(html: str) -> int:
    return utf16_len(plain_text(html))


def _uid(update: Update) -> int:
    assert update.effective_user is not None
    return update.effective_user.id


async def _out(update: Update, context: Context, reply: Reply) -> None:
    """To the officer's private chat (the desk never shows a dossier in a group)."""
    try:
        await send(context, _uid(update), reply)
    except (Forbidden, BadRequest) as exc:
        chat = update.effective_chat
        if chat is not None and chat.type != chat.PRIVATE:
            raise Unreachable from exc
        raise


def _status_names(ctx: AppContext) -> dict[str, str]:
    names = (
        "draft",
        "submitted",
        "received",
        "returned",
        "resubmitted",
        "forwarded",
        "rated",
        "not_rated",
        "proposed",
    )
    return {s: ctx.renderer.label(f"review.status_{s}") for s in names}


# ---- the queue ------------------------------------------------------------------------------------
def _dash(value: object | None) -> str:
    return "-" if value is None else str(value)


def queue_reply(ctx: AppContext, q: Queue) -> Reply:
    r = ctx.renderer
    names = _status_names(ctx)
    ci, ps = _dash(q.commune_no), _dash(q.product_set)
    html = r.render(
        "review/queue", q=q, status_names=names, set_name=ctx.review.set_name
    )
    rows = [
        [
            Button(
                r.label(
                    "review.open_item",
                    n=q.page * PAGE_SIZE + n,
                    name=(d.reference or str(d.id))
                    + " · "
                    + clip(d.product_name or r.label("dossier.untitled"), 40),
                ),
                encode("rv", "o", d.id),
            )
        ]
        for n, d in enumerate(q.items, start=1)
    ]
    paging = []
    if q.page:
        paging.append(Button(r.label("review.first_page"), encode("rv", "q", q.status, ci, ps, 0)))
    if q.has_next:
        paging.append(Button(r.label("review.next_page"), encode("rv", "q", q.status, ci, ps, q.page + 1)))
    if paging:
        rows.append(paging)
    open_count = sum(n for st, n in q.counts.items() if st in OPEN_STATUSES)
    filters = [
        Button(r.label("review.filter_open", n=open_count), encode("rv", "q", "open", ci, ps, 0)),
        Button(r.label("review.filter_all", n=sum(q.counts.values())), encode("rv", "q", "all", ci, ps, 0)),
    ]
    filters += [
        Button(r.label("review.filter_status", name=names.get(st, st), n=n), encode("rv", "q", st, ci, ps, 0))
        for st, n in sorted(q.counts.items())
        if n
    ]
    rows += [filters[i : i + 2] for i in range(0, len(filters), 2)]
    if q.commune:
        label = r.label("review.filter_commune", name=clip(q.commune, 30))
        rows.append([Button(label, encode("rv", "fc", q.status, ps))])
    else:
        rows.append([Button(r.label("review.any_commune"), encode("rv", "fc", q.status, ps))])
    if q.product_set:
        name = clip(ctx.review.set_name(q.product_set), 30)
        rows.append([Button(r.label("review.filter_set", name=name), encode("rv", "fp", q.status, ci))])
    else:
        rows.append([Button(r.label("review.any_set"), encode("rv", "fp", q.status, ci))])
    return Reply(html, rows)


@basic.staff_required
async def show_queue(update: Update, context: Context) -> None:
    """/duyet: the dossiers waiting for an officer, in the officer's scope, oldest first."""
    try:
        q = await context.app_ctx.review.queue(_uid(update))
        await _out(update, context, queue_reply(context.app_ctx, q))
    except NotStaff:
        await basic.staff_only(update, context)
    except Unreachable:
        return  # a command typed in the group by an officer who never opened the bot: nothing to show


# ---- one dossier ----------------------------------------------------------------------------------
def card_replies(ctx: AppContext, c: DossierCard) -> list[Reply]:
    """The opened dossier as a few messages: the head, the answers (packed to fit), the actions."""
    r = ctx.renderer
    names = _status_names(ctx)
    set_name = ctx.review.set_name(c.item.product_set)
    head = ""
    for limit in (*ANSWER_LIMITS, 20):
        head = r.render("review/card", c=c, status_names=names, set_name=set_name, limit=limit)
        if _len(head) <= TEXT_LIMIT:
            break
    messages = [head]
    chunk: list[Any] = []
    for section in c.prompt.review:
        for limit in ANSWER_LIMITS:
            alone = r.render("review/card_section", sections=[section], limit=limit)
            if _len(alone) <= TEXT_LIMIT:
                break
        candidate = r.render("review/card_section", sections=[*chunk, section], limit=limit)
        if chunk and _len(candidate) > TEXT_LIMIT:
            messages.append(r.render("review/card_section", sections=chunk, limit=limit))
            chunk = []
        chunk.append(section)
    if chunk:
        messages.append(r.render("review/card_section", sections=chunk, limit=ANSWER_LIMITS[-1]))
    d = c.item.id
    rows: list[list[Button]] = []
    for target in c.targets:
        if target == "returned":
            rows.append([Button(r.label("review.to_returned"), encode("rv", "rt", d))])
        elif target == "rated":
            rows.append([Button(r.label("review.to_rated"), encode("rv", "st", d))])
        else:
            rows.append([Button(r.label(f"review.to_{target}"), encode("rv", "to", d, target))])
    docs = [Button(r.label("review.pdf"), encode("rv", "pdf", d))]
    if c.attachments:
        docs.insert(0, Button(r.label("review.files", n=c.attachments), encode("rv", "at", d)))
    rows.append(docs)
    rows.append([Button(r.label("review.queue"), "rv:q:open:-:-:0")])
    return [Reply(m) for m in messages] + [Reply(r.render("review/actions", c=c), rows)]


async def act_open(update: Update, context: Context, cb: CallbackData) -> None:
    ctx = context.app_ctx
    card = await ctx.review.card(_uid(update), cb.expect(1).id(0))
    for reply in card_replies(ctx, card):
        await _out(update, context, reply)


async def act_files(update: Update, context: Context, cb: CallbackData) -> None:
    """The dossier's files re-sent by their Telegram file_id (nothing is uploaded again)."""
    ctx = context.app_ctx
    dossier_id = cb.expect(1).id(0)
    item, _ = await ctx.review.brief(_uid(update), dossier_id)
    files = await ctx.review.attachments(_uid(update), dossier_id)
    if not files:
        await _out(update, context, Reply(ctx.renderer.render("review/no_files")))
        return
    for f in files:
        caption = ctx.renderer.render(
            "review/file_caption", reference=item.reference or item.id, label=f.step_label, name=f.file_name
        )
        if f.kind == "photo":
            await context.bot.send_photo(_uid(update), f.file_id, caption=caption)
        else:
            await context.bot.send_document(_uid(update), f.file_id, caption=caption)


async def act_pdf(update: Update, context: Context, cb: CallbackData) -> None:
    ctx = context.app_ctx
    content, name = await ctx.review.pdf(_uid(update), cb.expect(1).id(0))
    dossier_id = cb.id(0)
    item, _ = await ctx.review.brief(_uid(update), dossier_id)
    caption = ctx.renderer.render("dossier/pdf_caption", reference=item.reference)
    await context.bot.send_document(_uid(update), InputFile(content, filename=name), caption=caption)


async def act_queue(update: Update, context: Context, cb: CallbackData) -> None:
    """rv:q:<status>:<commune no | ->:<product set | ->:<page>"""
    cb.expect(4)
    status = cb.token(0)
    commune = None if cb.arg(1) == "-" else cb.number(1, 1000)
    product_set = None if cb.arg(2) == "-" else cb.token(2)
    q = await context.app_ctx.review.queue(
        _uid(update), status=status, commune_no=commune, product_set=product_set, page=cb.number(3, 1000)
    )
    await _out(update, context, queue_reply(context.app_ctx, q))


async def act_pick_filter(update: Update, context: Context, cb: CallbackData) -> None:
    """rv:fc:<status>:<product set | -> (a commune) · rv:fp:<status>:<commune no | -> (a product set)"""
    ctx = context.app_ctx
    r = ctx.renderer
    cb.expect(2)
    status = cb.token(0)
    keep = cb.token(1)
    q = await ctx.review.queue(_uid(update), status=status)
    if cb.action == "fc":
        rows = [[Button(r.label("review.any_commune"), encode("rv", "q", status, "-", keep, 0))]]
        rows += [
            [Button(r.label("review.pick", name=clip(name, 40)), encode("rv", "q", status, i, keep, 0))]
            for i, name in enumerate(q.communes[:MAX_FILTER_BUTTONS])
        ]
        what = "commune"
    else:
        rows = [[Button(r.label("review.any_set"), encode("rv", "q", status, keep, "-", 0))]]
        rows += [
            [
                Button(
                    r.label("review.pick", name=clip(ctx.review.set_name(ps), 40)),
                    encode("rv", "q", status, keep, ps, 0),
                )
            ]
            for ps in q.product_sets[:MAX_FILTER_BUTTONS]
        ]
        what = "set"
    await _out(update, context, Reply(r.render("review/pick_filter", what=what), rows))


# ---- a status change with a note ------------------------------------------------------------------
async def act_ask_note(update: Update, context: Context, cb: CallbackData) -> None:
    """rv:to:<dossier>:<target>: the officer types the note (a reason, for «không đạt»)."""
    ctx = context.app_ctx
    r = ctx.renderer
    dossier_id, target = cb.expect(2).id(0), cb.token(1)
    if target not in NOTE_TARGETS:
        raise BadCallback(f"not a note target: {target}")
    item, allowed = await ctx.review.brief(_uid(update), dossier_id)
    if target not in allowed:
        raise TransitionNotAllowed(item.status, target, "staff")
    await ctx.users.set_flow(_uid(update), FLOW_NOTE, {"dossier": dossier_id, "target": target})
    required = target == "not_rated"
    rows = []
    if not required:
        rows.append([Button(r.label("review.no_note"), encode("rv", "nn", dossier_id, target))])
    rows.append([Button(r.label("review.cancel"), encode("rv", "cx", dossier_id))])
    html = r.render(
        "review/ask_note",
        reference=item.reference or item.id,
        target_name=_status_names(ctx)[target],
        required=required,
    )
    await _out(update, context, Reply(html, rows))


async def act_no_note(update: Update, context: Context, cb: CallbackData) -> None:
    dossier_id, target = cb.expect(2).id(0), cb.token(1)
    if target not in NOTE_TARGETS or target == "not_rated":
        raise BadCallback(f"a note is needed for {target}")
    await _change(update, context, dossier_id, target, "")


async def _change(update: Update, context: Context, dossier_id: int, target: str, note: str) -> None:
    ctx = context.app_ctx
    outcome = await ctx.review.change(_uid(update), dossier_id, target, note)
    await ctx.users.set_flow(_uid(update), None)
    await _done(update, context, outcome.reference or str(outcome.dossier_id), outcome.status, outcome.told)


async def _done(update: Update, context: Context, reference: str, status: str, told: list[int]) -> None:
    ctx = context.app_ctx
    html = ctx.renderer.render(
        "review/done", reference=reference, status_name=_status_names(ctx)[status], told_owner=bool(told)
    )
    await _out(
        update, context, Reply(html, [[Button(ctx.renderer.label("review.queue"), "rv:q:open:-:-:0")]])
    )


async def act_cancel(update: Update, context: Context, cb: CallbackData) -> None:
    ctx = context.app_ctx
    cb.expect(1).id(0)
    db_user = context.db_user
    if db_user is not None and db_user.flow in FLOWS:
        await ctx.users.set_flow(_uid(update), None)
    await _out(update, context, Reply(ctx.renderer.render("review/cancelled")))


# ---- return for correction, item by item ----------------------------------------------------------
def _flags_of(context: Context, dossier_id: int) -> dict[str, str]:
    """The items marked so far for this dossier (kept in the officer's flow data)."""
    db_user = context.db_user
    if db_user is None or db_user.flow not in (FLOW_FLAGS, FLOW_REASON):
        return {}
    data = db_user.flow_data or {}
    flags = data.get("flags")
    if data.get("dossier") != dossier_id or not isinstance(flags, dict):
        return {}
    return {str(k): str(v) for k, v in flags.items()}


async def _flag_menu(
    update: Update, context: Context, dossier_id: int, flags: dict[str, str], section_no: int | None = None
) -> None:
    ctx = context.app_ctx
    r = ctx.renderer
    prompt = await ctx.review.flaggable(_uid(update), dossier_id)
    labels = {item.step_id: item.label for s in prompt.review for item in s.items}
    form = ctx.dossier.form
    shown = [(labels.get(k) or (form.step(k).label if form.has_step(k) else k), v) for k, v in flags.items()]
    rows: list[list[Button]] = []
    section = None
    if section_no is not None and 0 <= section_no < len(prompt.review):
        sec = prompt.review[section_no]
        section = sec.title
        rows = [
            [
                Button(
                    r.label(
                        "review.flag_item",
                        mark="✓ " if item.step_id in flags else "",
                        label=clip(item.label, 50),
                    ),
                    encode("rv", "rx" if item.step_id in flags else "rf", dossier_id, item.step_no),
                )
            ]
            for item in sec.items
        ]
        rows.append([Button(r.label("review.flag_more"), encode("rv", "rt", dossier_id))])
    else:
        rows = [
            [Button(r.label("review.section", title=clip(s.title, 50)), encode("rv", "rs", dossier_id, i))]
            for i, s in enumerate(prompt.review)
        ]
    if flags:
        rows.append([Button(r.label("review.send_return", n=len(flags)), encode("rv", "rok", dossier_id))])
    rows.append([Button(r.label("review.cancel"), encode("rv", "cx", dossier_id))])
    html = r.render(
        "review/flag_sections", reference=prompt.reference or dossier_id, flags=shown, section=section
    )
    await _out(update, context, Reply(html, rows))


async def act_return_start(update: Update, context: Context, cb: CallbackData) -> None:
    """rv:rt:<dossier>: the sections of the form, to mark the items that are wrong."""
    ctx = context.app_ctx
    dossier_id = cb.expect(1).id(0)
    item, allowed = await ctx.review.brief(_uid(update), dossier_id)
    if "returned" not in allowed:
        raise TransitionNotAllowed(item.status, "returned", "staff")
    flags = _flags_of(context, dossier_id)
    await ctx.users.set_flow(_uid(update), FLOW_FLAGS, {"dossier": dossier_id, "flags": flags})
    await _flag_menu(update, context, dossier_id, flags)


async def act_return_section(update: Update, context: Context, cb: CallbackData) -> None:
    dossier_id, section_no = cb.expect(2).id(0), cb.number(1, 100)
    await _flag_menu(update, context, dossier_id, _flags_of(context, dossier_id), section_no)


async def act_flag(update: Update, context: Context, cb: CallbackData) -> None:
    """rv:rf:<dossier>:<step no>: mark one item; the officer types why."""
    ctx = context.app_ctx
    dossier_id, step_no = cb.expect(2).id(0), cb.number(1)
    step = ctx.review.step_label(step_no)
    if step is None:
        raise BadCallback(f"no step {step_no}")
    await ctx.review.brief(_uid(update), dossier_id)  # access and scope
    flags = _flags_of(context, dossier_id)
    await ctx.users.set_flow(
        _uid(update), FLOW_REASON, {"dossier": dossier_id, "flags": flags, "step": step[0]}
    )
    rows = [[Button(ctx.renderer.label("review.cancel"), encode("rv", "cx", dossier_id))]]
    await _out(update, context, Reply(ctx.renderer.render("review/ask_reason", label=step[1]), rows))


async def act_unflag(update: Update, context: Context, cb: CallbackData) -> None:
    ctx = context.app_ctx
    dossier_id, step_no = cb.expect(2).id(0), cb.number(1)
    step = ctx.review.step_label(step_no)
    flags = _flags_of(context, dossier_id)
    if step is not None:
        flags.pop(step[0], None)
    await ctx.users.set_flow(_uid(update), FLOW_FLAGS, {"dossier": dossier_id, "flags": flags})
    await _flag_menu(update, context, dossier_id, flags)


async def act_return_send(update: Update, context: Context, cb: CallbackData) -> None:
    ctx = context.app_ctx
    dossier_id = cb.expect(1).id(0)
    flags = _flags_of(context, dossier_id)
    outcome = await ctx.review.return_for_correction(_uid(update), dossier_id, flags)
    await ctx.users.set_flow(_uid(update), None)
    await _done(update, context, outcome.reference or str(outcome.dossier_id), outcome.status, outcome.told)


# ---- the rating result ----------------------------------------------------------------------------
async def act_stars_ask(update: Update, context: Context, cb: CallbackData) -> None:
    ctx = context.app_ctx
    r = ctx.renderer
    dossier_id = cb.expect(1).id(0)
    item, allowed = await ctx.review.brief(_uid(update), dossier_id)
    if "rated" not in allowed:
        raise TransitionNotAllowed(item.status, "rated", "staff")
    rows = [[Button(r.label("review.stars", n=n), encode("rv", "sv", dossier_id, n)) for n in STARS]]
    rows.append([Button(r.label("review.cancel"), encode("rv", "cx", dossier_id))])
    await _out(
        update, context, Reply(r.render("review/ask_stars", reference=item.reference or item.id), rows)
    )


async def act_stars(update: Update, context: Context, cb: CallbackData) -> None:
    ctx = context.app_ctx
    dossier_id, stars = cb.expect(2).id(0), cb.number(1, 5)
    if stars not in STARS:
        raise BadCallback(f"stars {stars}")
    item, allowed = await ctx.review.brief(_uid(update), dossier_id)
    if "rated" not in allowed:
        raise TransitionNotAllowed(item.status, "rated", "staff")
    await ctx.users.set_flow(
        _uid(update), FLOW_RESULT, {"dossier": dossier_id, "stars": stars, "await": "score"}
    )
    rows = [[Button(ctx.renderer.label("review.cancel"), encode("rv", "cx", dossier_id))]]
    await _out(
        update, context, Reply(ctx.renderer.render("review/ask_result", field="score", stars=stars), rows)
    )


async def _result_text(update: Update, context: Context, user: User, text: str) -> None:
    ctx = context.app_ctx
    data = dict(user.flow_data or {})
    dossier_id = int(data.get("dossier", 0))
    rows = [[Button(ctx.renderer.label("review.cancel"), encode("rv", "cx", dossier_id))]]
    step = data.get("await")
    try:
        if step == "score":
            data["score"] = parse_score(text)
            data["await"] = "certificate"
        elif step == "certificate":
            cert = text.strip()
            if not 3 <= len(cert) <= 64:
                raise BadResult("certificate")
            data["certificate"] = cert
            data["await"] = "date"
        else:
            day = parse_day(text)
            result = check_result(
                int(data["stars"]), float(data["score"]), str(data["certificate"]), day, ctx.dossier.today()
            )
            outcome = await ctx.review.rate(user.id, dossier_id, result)
            await ctx.users.set_flow(user.id, None)
            await _done(
                update, context, outcome.reference or str(outcome.dossier_id), outcome.status, outcome.told
            )
            return
    except BadResult as exc:
        await _out(update, context, Reply(ctx.renderer.render("review/bad_result", field=exc.field), rows))
        return
    await ctx.users.set_flow(user.id, FLOW_RESULT, data)
    html = ctx.renderer.render("review/ask_result", field=data["await"], stars=data.get("stars"))
    await _out(update, context, Reply(html, rows))


# ---- typed text in the desk's flows ----------------------------------------------------------------
async def on_text(update: Update, context: Context, user: User) -> None:
    """A note, a reason or a result value typed by an officer in one of the desk's flows."""
    ctx = context.app_ctx
    msg = update.effective_message
    assert msg is not None and msg.text is not None
    if not context.is_staff:  # the role was removed meanwhile: the text is an ordinary message
        await ctx.users.set_flow(user.id, None)
        default = context.router.flows.get("")
        if default is not None:
            await default.on_text(update, context, user)
        return
    data = user.flow_data or {}
    dossier_id = data.get("dossier")
    if not isinstance(dossier_id, int):
        await ctx.users.set_flow(user.id, None)
        return
    try:
        if user.flow == FLOW_NOTE:
            await _change(update, context, dossier_id, str(data.get("target")), msg.text)
        elif user.flow == FLOW_REASON:
            flags = {str(k): str(v) for k, v in (data.get("flags") or {}).items()}
            flags[str(data.get("step"))] = clip(msg.text.strip(), REASON_LIMIT)
            await ctx.users.set_flow(user.id, FLOW_FLAGS, {"dossier": dossier_id, "flags": flags})
            await _flag_menu(update, context, dossier_id, flags)
        elif user.flow == FLOW_RESULT:
            await _result_text(update, context, user, msg.text)
        else:
            rows = [[Button(ctx.renderer.label("review.cancel"), encode("rv", "cx", dossier_id))]]
            await _out(update, context, Reply(ctx.renderer.render("review/use_buttons"), rows))
    except (NotStaff, DossierNotFound):
        await ctx.users.set_flow(user.id, None)
        await basic.stale_button(update, context)
    except TransitionNotAllowed as exc:
        await ctx.users.set_flow(user.id, None)
        await _not_allowed(update, context, exc)
    except BadResult as exc:
        await _out(update, context, Reply(ctx.renderer.render("review/bad_result", field=exc.field)))


async def _not_allowed(update: Update, context: Context, exc: TransitionNotAllowed) -> None:
    ctx = context.app_ctx
    name = _status_names(ctx).get(exc.source or "", exc.source or "")
    if not name:
        name = "?"
    await _out(update, context, Reply(ctx.renderer.render("review/not_allowed", status_name=name)))


# ---- buttons --------------------------------------------------------------------------------------
Action = Callable[[Update, Context, CallbackData], Awaitable[None]]
ACTIONS: dict[str, Action] = {
    "q": act_queue,
    "fc": act_pick_filter,
    "fp": act_pick_filter,
    "o": act_open,
    "at": act_files,
    "pdf": act_pdf,
    "to": act_ask_note,
    "nn": act_no_note,
    "cx": act_cancel,
    "rt": act_return_start,
    "rs": act_return_section,
    "rf": act_flag,
    "rx": act_unflag,
    "rok": act_return_send,
    "st": act_stars_ask,
    "sv": act_stars,
}


@basic.staff_required
async def on_button(update: Update, context: Context) -> None:
    """Every `rv:` press: parsed and bounded first (forged data → expired button), then the desk
    re-checks the officer's role and scope for the dossier named."""
    query = update.callback_query
    assert query is not None
    ctx = context.app_ctx
    cb = parse(query.data)
    action = ACTIONS.get(cb.action)
    if action is None:
        raise BadCallback(f"unknown review action {cb.action!r}")
    try:
        await action(update, context, cb)
    except (NotStaff, DossierNotFound):
        await basic.stale_button(update, context)
        return
    except TransitionNotAllowed as exc:
        await _not_allowed(update, context, exc)
    except BadResult as exc:
        await _out(update, context, Reply(ctx.renderer.render("review/bad_result", field=exc.field)))
    except Unreachable:
        await query.answer(ctx.renderer.label("review.open_private"), show_alert=True)
        return
    await query.answer()
