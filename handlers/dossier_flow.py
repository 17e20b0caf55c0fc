"""The registration dossier in the chat: /hoso and the menu start or resume a dossier; one question at a
time with buttons, back, skip and save-and-exit; photos and documents; the review with edit buttons and
the checklist; submission with a reference code and the filled form as a PDF; "Hồ sơ của tôi".

Callback data `dos:<action>:<dossier>[:<step>[:<value>]]`, parsed by common.callbacks (forged or
out-of-range data is refused before the database is touched); every call goes through DossierService,
which scopes it to the pressing user, so another user's id is simply "not found".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from telegram import InputFile, Message, Update

from common.callbacks import BadCallback, CallbackData, encode, parse
from common.reply import Button, Reply
from common.text import clip, utf16_len
from dossier.review import StatusLine
from dossier.service import (
    DossierIncomplete,
    DossierLocked,
    DossierNotFound,
    DossierPrompt,
    DossierSummary,
    Upload,
    Verdict,
)
from handlers import basic, knowledge
from handlers.context import AppContext, Context
from handlers.send import answer, drop_buttons, plain_text
from storage.models import User

FLOW = "dossier"
TEXT_LIMIT = 4000
REVIEW_LIMITS = (200, 80, 40, 20)
EDIT_PAGE = 8  # items of one section per «Sửa một mục» screen: with the navigation, a phone's screenful


def _name(ctx: AppContext, summary: DossierSummary, limit: int = 40) -> str:
    name = summary.product_name or ctx.renderer.label("dossier.untitled")
    return clip(name, limit)


# ---- rendering ----------------------------------------------------------------------------------
def prompt_reply(ctx: AppContext, p: DossierPrompt) -> Reply:
    """The current question (with its buttons) or the review."""
    if p.kind in ("review", "locked"):
        return review_reply(ctx, p)
    r = ctx.renderer
    d = p.dossier_id
    rows = [[Button(b.label, encode("dos", "a", d, p.step_no, b.value))] for b in p.buttons]
    nav = []
    if p.can_back:
        nav.append(Button(r.label("dossier.back"), encode("dos", "b", d)))
    if p.can_skip:
        nav.append(Button(r.label("dossier.skip"), encode("dos", "s", d)))
    if nav:
        rows.append(nav)
    rows.append(
        [
            Button(r.label("dossier.save_exit"), encode("dos", "x", d)),
            Button(r.label("dossier.review"), encode("dos", "r", d)),
        ]
    )
    return Reply(r.render("dossier/question", p=p), rows)


def review_reply(ctx: AppContext, p: DossierPrompt) -> Reply:
    r = ctx.renderer
    d = p.dossier_id
    html = ""
    for limit in REVIEW_LIMITS:  # long answers are shortened until the review fits one message
        html = r.render("dossier/review", p=p, limit=limit)
        if utf16_len(plain_text(html)) <= TEXT_LIMIT:
            break
    rows: list[list[Button]] = []
    if p.kind == "locked":
        rows.append([Button(r.label("dossier.pdf"), encode("dos", "pdf", d))])
        return Reply(html, rows)
    if p.missing:
        rows.append([Button(r.label("dossier.continue"), encode("dos", "c", d))])
    rows += fix_rows(ctx, p)
    if p.can_submit:
        rows.append([Button(r.label("dossier.submit"), encode("dos", "sub", d))])
    rows.append(
        [
            Button(r.label("dossier.edit"), encode("dos", "e", d)),
            Button(r.label("dossier.save_exit"), encode("dos", "x", d)),
        ]
    )
    return Reply(html, rows)


def fix_rows(ctx: AppContext, p: DossierPrompt) -> list[list[Button]]:
    """Returned for correction: a button for each item the officer flagged (the only ones open)."""
    label = ctx.renderer.label
    return [
        [Button(label("review.fix_item", label=clip(name, 50)), encode("dos", "j", p.dossier_id, no))]
        for _, no, name, _ in p.corrections
    ]


def edit_menu(ctx: AppContext, p: DossierPrompt, section_no: int | None = None, page: int = 0) -> Reply:
    """«Sửa một mục» in a phone's screenful: first the sections, then the items of the one chosen,
    EDIT_PAGE at a time."""
    r = ctx.renderer
    d = p.dossier_id
    if p.corrections:  # returned for correction: only the flagged items can be edited
        rows = fix_rows(ctx, p)
        rows.append([Button(r.label("dossier.review"), encode("dos", "r", d))])
        return Reply(r.render("dossier/edit_menu", section=None), rows)
    if section_no is None or not 0 <= section_no < len(p.review):
        rows = [
            [
                Button(
                    r.label("dossier.edit_section", title=s.title, n=len(s.items)),
                    encode("dos", "es", d, i, 0),
                )
            ]
            for i, s in enumerate(p.review)
        ]
        rows.append([Button(r.label("dossier.review"), encode("dos", "r", d))])
        return Reply(r.render("dossier/edit_menu", section=None), rows)
    section = p.review[section_no]
    pages = max(1, -(-len(section.items) // EDIT_PAGE))
    page = min(max(page, 0), pages - 1)
    shown = section.items[page * EDIT_PAGE : (page + 1) * EDIT_PAGE]
    rows = [
        [
            Button(
                r.label("dossier.edit_item", label=clip(item.label, 60)), encode("dos", "j", d, item.step_no)
            )
        ]
        for item in shown
    ]
    turn = []
    if page > 0:
        turn.append(Button(r.label("dossier.edit_previous"), encode("dos", "es", d, section_no, page - 1)))
    if page + 1 < pages:
        turn.append(Button(r.label("dossier.edit_next"), encode("dos", "es", d, section_no, page + 1)))
    if turn:
        rows.append(turn)
    rows.append(
        [
            Button(r.label("dossier.edit_sections"), encode("dos", "e", d)),
            Button(r.label("dossier.review"), encode("dos", "r", d)),
        ]
    )
    html = r.render("dossier/edit_menu", section=section.title, page=page + 1, pages=pages)
    return Reply(html, rows)


def confirm_reply(ctx: AppContext, name: str, yes: str, no: str, **context: object) -> Reply:
    """A yes/no question before something that can't be undone (template and label share `name`)."""
    r = ctx.renderer
    rows = [[Button(r.label(f"dossier.{name}"), yes), Button(r.label("dossier.cancel"), no)]]
    return Reply(r.render(f"dossier/{name}", **context), rows)


STATUS_TIMELINES = (5, 2, 0)  # timeline entries per dossier, fewer until the list fits one message
MAX_LISTED = 10


def list_reply(ctx: AppContext, lines: list[StatusLine]) -> Reply:
    """«Hồ sơ của tôi» / /trangthai: each dossier's status, last change, next step and timeline."""
    r = ctx.renderer
    names = {s: r.label(f"review.status_{s}") for s in {d.status for d in lines} | {
        h.to_status for d in lines for h in d.history}}
    shown = lines[:MAX_LISTED]
    html = ""
    for steps in STATUS_TIMELINES:
        html = r.render("review/status_list", lines=shown, status_names=names, steps=steps,
                        more=len(lines) - len(shown))
        if utf16_len(plain_text(html)) <= TEXT_LIMIT:
            break
    rows: list[list[Button]] = []
    for d in shown:
        name = d.product_name or r.label("dossier.untitled")
        short = clip(name, 40)
        if d.editable:
            rows.append([Button(r.label("dossier.open", name=short), encode("dos", "o", d.id))])
        else:
            rows.append(
                [Button(f"{r.label('dossier.pdf')} · {d.reference or d.id}", encode("dos", "pdf", d.id))]
            )
        if d.certified:
            rows.append(
                [Button(r.label("review.rerate", name=clip(short, 30)), encode("dos", "rerate", d.id))]
            )
    rows.append([Button(r.label("dossier.new"), "dos:n")])
    return Reply(html, rows)


# ---- entry points -------------------------------------------------------------------------------
async def start(update: Update, context: Context) -> None:
    """/hoso, "Đăng ký hồ sơ": a new dossier, or a choice among the drafts. /start hoso (a link
    someone followed) opens the same menu but never creates a draft by itself."""
    ctx = context.app_ctx
    assert update.effective_user is not None
    user_id = update.effective_user.id
    drafts = [d for d in await ctx.dossier.list_dossiers(user_id) if d.editable]
    r = ctx.renderer
    if not drafts and _is_link(update):
        await answer(
            update, context, Reply(r.render("dossier/intro"), [[Button(r.label("dossier.new"), "dos:n")]])
        )
        return
    if not drafts:
        await new_dossier(update, context)
        return
    rows = [
        [
            Button(r.label("dossier.open", name=_name(ctx, d, 30)), encode("dos", "o", d.id)),
            Button(r.label("dossier.delete_one", name=_name(ctx, d, 20)), encode("dos", "del", d.id)),
        ]
        for d in drafts
    ]
    rows.append([Button(r.label("dossier.new"), "dos:n")])
    await answer(update, context, Reply(r.render("dossier/choose_draft", drafts=drafts), rows))


def _is_link(update: Update) -> bool:
    """Whether the update is a /start deep link (not /hoso or the menu button)."""
    text = update.effective_message.text if update.effective_message else None
    return bool(text) and text.split(maxsplit=1)[0].split("@")[0] == "/start"


async def mine(update: Update, context: Context) -> None:
    """ "Hồ sơ của tôi": every dossier with its status, the next step and its timeline; drafts to
    continue, submitted ones' PDF, a re-rating for rated ones."""
    ctx = context.app_ctx
    assert update.effective_user is not None
    lines = await ctx.review.status_lines(update.effective_user.id)
    await answer(update, context, list_reply(ctx, lines))


async def status(update: Update, context: Context) -> None:
    """/trangthai [mã hồ sơ]: the same list, or one of the user's own dossiers with its whole
    timeline (another user's code is simply not found)."""
    ctx = context.app_ctx
    assert update.effective_user is not None
    user_id = update.effective_user.id
    ref = " ".join(context.args or [])[:40]
    if not ref:
        await mine(update, context)
        return
    dossier_id = await ctx.review.find_own(user_id, ref)
    if dossier_id is None:
        await answer(update, context, Reply(ctx.renderer.render("review/not_yours", ref=ref)))
        return
    await answer(update, context, list_reply(ctx, await ctx.review.status_lines(user_id, dossier_id)))


async def new_dossier(update: Update, context: Context) -> None:
    ctx = context.app_ctx
    assert update.effective_user is not None
    user_id = update.effective_user.id
    prompt = await ctx.dossier.create(user_id)
    await ctx.users.set_flow(user_id, FLOW, {"dossier": prompt.dossier_id})
    await answer(update, context, Reply(ctx.renderer.render("dossier/started")))
    await answer(update, context, prompt_reply(ctx, prompt))


# ---- buttons ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Press:
    """A dossier button's arguments, parsed and bounded before anything else happens."""

    dossier_id: int
    step_no: int = 0
    value: str = ""


def _dossier_only(cb: CallbackData) -> Press:
    return Press(cb.expect(1).id(0))


def _with_step(cb: CallbackData) -> Press:
    return Press(cb.expect(2).id(0), cb.number(1))


def _with_value(cb: CallbackData) -> Press:
    return Press(cb.expect(3).id(0), cb.number(1), cb.token(2))


Action = Callable[[Update, Context, Press], Awaitable[None]]


async def on_button(update: Update, context: Context) -> None:
    """Every `dos:` press. Data no current button could send raises BadCallback (the error handler
    answers it with "this button has expired"); everything else is answered here first."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    ctx = context.app_ctx
    cb = parse(query.data)
    if cb.action == "n":
        cb.expect(0)
        await query.answer()
        await drop_buttons(query)
        await new_dossier(update, context)
        return
    if cb.action not in ACTIONS:
        raise BadCallback(f"unknown dossier action {cb.action!r}")
    read, action = ACTIONS[cb.action]
    press = read(cb)
    await query.answer()
    try:
        await action(update, context, press)
    except DossierNotFound:
        await answer(update, context, Reply(ctx.renderer.render("dossier/not_found")))
    except DossierLocked as exc:
        name = ctx.renderer.label(f"dossier.status_{exc.status}")
        await answer(update, context, Reply(ctx.renderer.render("dossier/locked", status_name=name)))
    except DossierIncomplete as exc:
        rows = [[Button(ctx.renderer.label("dossier.continue"), encode("dos", "c", press.dossier_id))]]
        await answer(
            update, context, Reply(ctx.renderer.render("dossier/incomplete", missing=exc.missing), rows)
        )


async def _show(update: Update, context: Context, prompt: DossierPrompt, *, drop: bool = True) -> None:
    """Show the next prompt as a new message; the pressed message loses its buttons."""
    ctx = context.app_ctx
    assert update.effective_user is not None
    flow = None if prompt.kind == "locked" else FLOW
    data = {"dossier": prompt.dossier_id} if flow else {}
    db_user = context.db_user
    if db_user is None or db_user.flow != flow or (db_user.flow_data or {}) != data:
        await ctx.users.set_flow(update.effective_user.id, flow, data)
    await answer(update, context, prompt_reply(ctx, prompt))
    if update.callback_query is not None and drop and prompt.ok:
        await drop_buttons(update.callback_query)  # after the next question is out: it reaches the user first


def _uid(update: Update) -> int:
    assert update.effective_user is not None
    return update.effective_user.id


async def act_choose(update: Update, context: Context, press: Press) -> None:
    prompt = await context.app_ctx.dossier.choose(_uid(update), press.dossier_id, press.step_no, press.value)
    await _show(update, context, prompt)


def _op(method: str) -> Action:
    async def act(update: Update, context: Context, press: Press) -> None:
        prompt = await getattr(context.app_ctx.dossier, method)(_uid(update), press.dossier_id)
        await _show(update, context, prompt)

    return act


async def act_open(update: Update, context: Context, press: Press) -> None:
    """Continue a draft where it was left, and say so."""
    ctx = context.app_ctx
    svc = ctx.dossier
    summary = await svc.get(_uid(update), press.dossier_id)
    prompt = await svc.current(_uid(update), press.dossier_id)
    if prompt.kind not in ("review", "locked"):
        await answer(update, context, Reply(ctx.renderer.render("dossier/resume", p=prompt, summary=summary)))
    await _show(update, context, prompt)


async def act_save_exit(update: Update, context: Context, press: Press) -> None:
    ctx = context.app_ctx
    summary = await ctx.dossier.save_and_exit(_uid(update), press.dossier_id)
    await ctx.users.set_flow(_uid(update), None)
    if update.callback_query is not None:
        await drop_buttons(update.callback_query)
    await answer(update, context, Reply(ctx.renderer.render("dossier/saved", summary=summary)))


async def act_edit_menu(update: Update, context: Context, press: Press) -> None:
    """«Sửa một mục»: the sections of the form."""
    await _edit_menu(update, context, press.dossier_id, None)


async def act_edit_section(update: Update, context: Context, press: Press) -> None:
    """A section chosen in «Sửa một mục»: its items (step_no carries the section's position, value
    the page)."""
    page = int(press.value) if press.value.isdigit() and len(press.value) <= 3 else 0
    await _edit_menu(update, context, press.dossier_id, press.step_no, page)


async def _edit_menu(
    update: Update, context: Context, dossier_id: int, section_no: int | None, page: int = 0
) -> None:
    ctx = context.app_ctx
    prompt = await ctx.dossier.review(_uid(update), dossier_id)
    if prompt.kind == "locked":
        await _show(update, context, prompt)
        return
    await answer(update, context, edit_menu(ctx, prompt, section_no, page))


async def act_jump(update: Update, context: Context, press: Press) -> None:
    prompt = await context.app_ctx.dossier.jump(_uid(update), press.dossier_id, press.step_no)
    await _show(update, context, prompt)


async def act_submit_ask(update: Update, context: Context, press: Press) -> None:
    ctx = context.app_ctx
    prompt = await ctx.dossier.review(_uid(update), press.dossier_id)
    if prompt.kind == "locked":
        await _show(update, context, prompt)
        return
    if not prompt.can_submit:
        raise DossierIncomplete(list(prompt.missing))
    reply = confirm_reply(
        ctx,
        "confirm_submit",
        encode("dos", "ok", press.dossier_id),
        encode("dos", "r", press.dossier_id),
        p=prompt,
    )
    await answer(update, context, reply)


async def act_submit(update: Update, context: Context, press: Press) -> None:
    """Submit (committed first), then tell the producer the reference and send the filled form."""
    ctx = context.app_ctx
    result = await ctx.dossier.submit(_uid(update), press.dossier_id)
    await ctx.users.set_flow(_uid(update), None)
    if update.callback_query is not None:
        await drop_buttons(update.callback_query)
    await answer(update, context, Reply(ctx.renderer.render("dossier/submitted", result=result)))
    await send_pdf(update, context, press.dossier_id)


async def act_pdf(update: Update, context: Context, press: Press) -> None:
    await send_pdf(update, context, press.dossier_id)


async def send_pdf(update: Update, context: Context, dossier_id: int) -> Message:
    ctx = context.app_ctx
    svc = ctx.dossier
    summary = await svc.get(_uid(update), dossier_id)
    content = await svc.render_pdf(_uid(update), dossier_id)
    assert update.effective_chat is not None
    caption = ctx.renderer.render("dossier/pdf_caption", reference=summary.reference)
    return await context.bot.send_document(
        update.effective_chat.id, InputFile(content, filename=svc.pdf_file_name(summary)), caption=caption
    )


async def act_delete_ask(update: Update, context: Context, press: Press) -> None:
    ctx = context.app_ctx
    summary = await ctx.dossier.draft_to_delete(_uid(update), press.dossier_id)
    reply = confirm_reply(
        ctx,
        "confirm_delete",
        encode("dos", "delok", press.dossier_id),
        encode("dos", "o", press.dossier_id),
        summary=summary,
    )
    await answer(update, context, reply)


async def act_delete(update: Update, context: Context, press: Press) -> None:
    ctx = context.app_ctx
    await ctx.dossier.delete_draft(_uid(update), press.dossier_id)
    db_user = context.db_user
    if db_user is not None and db_user.flow == FLOW and db_user.flow_data.get("dossier") == press.dossier_id:
        await ctx.users.set_flow(_uid(update), None)
    if update.callback_query is not None:
        await drop_buttons(update.callback_query)
    await answer(update, context, Reply(ctx.renderer.render("dossier/deleted")))


def _typed(context: Context, dossier_id: int) -> str | None:
    """The text kept while the producer says whether it was an answer or a question."""
    db_user = context.db_user
    data = (db_user.flow_data or {}) if db_user is not None and db_user.flow == FLOW else {}
    typed = data.get("typed") if data.get("dossier") == dossier_id else None
    return typed if isinstance(typed, str) else None


async def act_typed_answer(update: Update, context: Context, press: Press) -> None:
    """«Đây là câu trả lời»: the kept text answers the current step after all."""
    svc = context.app_ctx.dossier
    typed = _typed(context, press.dossier_id)
    if typed is None:
        prompt = await svc.current(_uid(update), press.dossier_id)
    else:
        prompt = await svc.answer(_uid(update), press.dossier_id, typed)
    await _show(update, context, prompt)


async def act_typed_question(update: Update, context: Context, press: Press) -> None:
    """«Đây là câu hỏi»: answer it from the knowledge base; the step waits and is asked again."""
    ctx = context.app_ctx
    typed = _typed(context, press.dossier_id)
    if typed is not None and update.effective_chat is not None:
        result = await ctx.knowledge.ask(_uid(update), update.effective_chat.id, typed)
        await answer(update, context, knowledge.result_reply(ctx, result))
    prompt = await ctx.dossier.current(_uid(update), press.dossier_id)
    await _show(update, context, prompt)


async def act_rerate(update: Update, context: Context, press: Press) -> None:
    """«Phân hạng lại / nâng hạng» under a rated product: a new dossier linked to it, answers copied."""
    ctx = context.app_ctx
    old = await ctx.dossier.get(_uid(update), press.dossier_id)
    prompt = await ctx.dossier.rerate(_uid(update), press.dossier_id)
    html = ctx.renderer.render("review/rerate_started", reference=old.reference)
    await answer(update, context, Reply(html))
    await _show(update, context, prompt, drop=False)


# action → (how its arguments are read, what it does)
ACTIONS: dict[str, tuple[Callable[[CallbackData], Press], Action]] = {
    "a": (_with_value, act_choose),
    "b": (_dossier_only, _op("back")),
    "s": (_dossier_only, _op("skip")),
    "c": (_dossier_only, _op("resume")),
    "r": (_dossier_only, _op("go_to_review")),
    "o": (_dossier_only, act_open),
    "x": (_dossier_only, act_save_exit),
    "e": (_dossier_only, act_edit_menu),
    "es": (_with_value, act_edit_section),
    "j": (_with_step, act_jump),
    "ta": (_dossier_only, act_typed_answer),
    "tq": (_dossier_only, act_typed_question),
    "sub": (_dossier_only, act_submit_ask),
    "ok": (_dossier_only, act_submit),
    "pdf": (_dossier_only, act_pdf),
    "del": (_dossier_only, act_delete_ask),
    "delok": (_dossier_only, act_delete),
    "rerate": (_dossier_only, act_rerate),
}


# ---- typed text and files during the flow --------------------------------------------------------
def _dossier_of(user: User) -> int | None:
    value = (user.flow_data or {}).get("dossier")
    return int(value) if isinstance(value, int | str) and str(value).isdigit() else None


async def on_text(update: Update, context: Context, user: User) -> None:
    ctx = context.app_ctx
    msg = update.effective_message
    assert msg is not None and msg.text is not None
    dossier_id = _dossier_of(user)
    if dossier_id is None:
        await ctx.users.set_flow(user.id, None)
        await start(update, context)
        return
    try:
        typed = await ctx.dossier.answer_text(user.id, dossier_id, msg.text)
    except (DossierNotFound, DossierLocked):
        await ctx.users.set_flow(user.id, None)
        await start(update, context)
        return
    prompt = typed.prompt
    if typed.verdict is Verdict.ASK:  # it may be the answer or a question: the producer says which
        await ctx.users.set_flow(user.id, FLOW, {"dossier": dossier_id, "typed": msg.text})
        r = ctx.renderer
        rows = [
            [Button(r.label("dossier.typed_answer"), encode("dos", "ta", dossier_id))],
            [Button(r.label("dossier.typed_question"), encode("dos", "tq", dossier_id))],
        ]
        await answer(update, context, Reply(r.render("dossier/answer_or_question"), rows))
        return
    if typed.verdict is Verdict.QUESTION and update.effective_chat is not None:
        # not an answer this step could take: the question is answered, then the step asked again
        result = await ctx.knowledge.ask(user.id, update.effective_chat.id, msg.text)
        await answer(update, context, knowledge.result_reply(ctx, result))
    await answer(update, context, prompt_reply(ctx, prompt))


async def on_media(update: Update, context: Context, user: User) -> None:
    """A photo or document answers a file step; anything else gets a line and the question again."""
    ctx = context.app_ctx
    msg = update.effective_message
    assert msg is not None
    dossier_id = _dossier_of(user)
    if dossier_id is None:
        await ctx.users.set_flow(user.id, None)
        await basic.on_media(update, context)
        return
    upload = None
    if msg.photo:
        largest = msg.photo[-1]
        upload = Upload(
            largest.file_id,
            largest.file_unique_id,
            None,
            "image/jpeg",
            largest.file_size,
            compressed_photo=True,
        )
    elif msg.document:
        doc = msg.document
        upload = Upload(doc.file_id, doc.file_unique_id, doc.file_name, doc.mime_type, doc.file_size)
    svc = ctx.dossier
    try:
        if upload is None:
            prompt = await svc.current(user.id, dossier_id)
            what = basic.media_kind(ctx, msg)
            await answer(update, context, Reply(ctx.renderer.render("dossier/use_buttons", what=what)))
        else:
            prompt = await svc.attach(user.id, dossier_id, upload)
    except (DossierNotFound, DossierLocked):
        await ctx.users.set_flow(user.id, None)
        await start(update, context)
        return
    await answer(update, context, prompt_reply(ctx, prompt))
