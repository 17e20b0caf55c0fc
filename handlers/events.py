"""Events in the chat. Producers: "Lịch & sự kiện" / /lich lists what is coming for them; an event
opens with its details, registration for a training (or the waiting list), cancelling, an .ics file;
t.me/<bot>?start=ev_<id> opens one event. Staff: /sukien lists the events they manage, with a guided
wizard to create or edit one, cancel it, get its QR code, confirm the provincial milestones with the
commune's own deadline, and import a CSV/YAML file.

Callback data: `ev:<action>[:<id>]` for everyone (v view, r register, u unregister, i .ics, l list) and
`evs:<action>[:<args>]` for staff, re-checked on the server for every press (`basic.staff_required`,
and the service checks the member's communes). The wizard's state lives in users.flow_data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from telegram import InputFile, Update

from common.callbacks import BadCallback, CallbackData, encode, parse
from common.reply import Button, Reply
from common.text import clip
from common.topics import Topic, receives
from handlers import basic
from handlers.context import AppContext, Context
from handlers.send import answer, drop_buttons, replace
from scheduler.event_models import EventKind
from scheduler.events import EventDraft, EventError, EventView, parse_local
from storage.models import User

WIZARD = "events_wizard"
IMPORT = "events_import"
IMPORT_MAX_BYTES = 1_000_000
KINDS = [k.value for k in EventKind]
OPTIONAL = {"place", "description", "link", "ends_at"}
EDITABLE = ("title", "starts_at", "ends_at", "place", "capacity", "audience", "description", "link")


# ---- producers ----------------------------------------------------------------------------------
def _error(ctx: AppContext, exc: EventError) -> str:
    row = exc.params.get("row")
    code = exc.params.get("reason", exc.code) if row else exc.code
    return ctx.renderer.render("events/error", code=code, params=exc.params, row=row)


def _set_labels(ctx: AppContext, view: EventView | EventDraft) -> list[str]:
    return [ctx.events.catalog.label(p) for p in view.product_sets]


def list_reply(ctx: AppContext, events: list[EventView]) -> Reply:
    r = ctx.renderer
    rows = [
        [Button(r.label("events.item", n=i, title=clip(e.title, 40)), encode("ev", "v", e.id))]
        for i, e in enumerate(events, start=1)
    ]
    rows.append([Button(r.label("menu.back_to_menu"), "m:menu")])
    return Reply(r.render("events/list", events=events), rows)


def detail_reply(ctx: AppContext, view: EventView, *, staff: bool = False) -> Reply:
    r = ctx.renderer
    rows: list[list[Button]] = []
    if view.is_training and not view.cancelled and not staff:
        if view.mine:
            rows.append([Button(r.label("events.unregister"), encode("ev", "u", view.id))])
        else:
            rows.append([Button(r.label("events.register"), encode("ev", "r", view.id))])
    if staff:
        rows.append([Button(r.label("events.edit"), encode("evs", "ed", view.id)),
                     Button(r.label("events.qr"), encode("evs", "q", view.id))])
        if not view.cancelled:
            rows.append([Button(r.label("events.cancel_event"), encode("evs", "cc", view.id))])
    rows.append([Button(r.label("events.ics"), encode("ev", "i", view.id))])
    rows.append([Button(r.label("events.back"), "evs:m" if staff else "ev:l")])
    html = r.render("events/detail", e=view, link=ctx.events.deep_link(view.id), sets=_set_labels(ctx, view),
                    staff=staff)
    return Reply(html, rows)


async def show_calendar(update: Update, context: Context) -> None:
    """/lich and the menu's «Lịch & sự kiện»: what is coming for this producer."""
    ctx = context.app_ctx
    user = update.effective_user
    assert user is not None
    events = await ctx.events.upcoming_for(user.id)
    await answer(update, context, list_reply(ctx, events))


async def open_link(update: Update, context: Context, arg: str) -> None:
    """t.me/<bot>?start=ev_<id>: the event itself."""
    ctx = context.app_ctx
    user = update.effective_user
    assert user is not None
    if not arg.isdigit() or not 1 <= int(arg) <= 2**31 - 1:
        await show_calendar(update, context)
        return
    try:
        view = await ctx.events.get(int(arg), user.id)
    except EventError as exc:
        await answer(update, context, Reply(_error(ctx, exc)))
        return
    await answer(update, context, detail_reply(ctx, view))


async def on_button(update: Update, context: Context) -> None:
    """A producer's event button (`ev:<action>[:<id>]`)."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    ctx = context.app_ctx
    cb = parse(query.data)
    uid = update.effective_user.id
    if cb.action == "l":
        cb.expect(0)
        await query.answer()
        await replace(query, context, list_reply(ctx, await ctx.events.upcoming_for(uid)))
        return
    if cb.action not in ("v", "r", "u", "i"):
        raise BadCallback(f"unknown event action {cb.action!r}")
    event_id = cb.expect(1).id(0)
    await query.answer()
    try:
        if cb.action == "v":
            view = await ctx.events.get(event_id, uid)
            await replace(query, context, detail_reply(ctx, view))
        elif cb.action == "r":
            result = await ctx.events.register(uid, event_id)
            view = await ctx.events.get(event_id, uid)
            await replace(query, context, detail_reply(ctx, view))
            hours = ctx.settings.reminder_training_hours
            muted = not receives(context.db_user.muted_topics if context.db_user else None, Topic.EVENTS)
            html = ctx.renderer.render("events/registered", e=view, result=result, hours=hours, muted=muted)
            await answer(update, context, Reply(html))
        elif cb.action == "u":
            was = await ctx.events.unregister(uid, event_id)
            view = await ctx.events.get(event_id, uid)
            await replace(query, context, detail_reply(ctx, view))
            await answer(update, context, Reply(ctx.renderer.render("events/unregistered", e=view, was=was)))
        else:
            view = await ctx.events.get(event_id, uid)
            chat = update.effective_chat
            assert chat is not None
            await context.bot.send_document(
                chat.id, InputFile(ctx.events.ics(view), filename=ctx.events.ics_name(view)),
                caption=ctx.renderer.render("events/ics_caption", e=view),
            )
    except EventError as exc:
        await answer(update, context, Reply(_error(ctx, exc)))


# ---- staff: the list --------------------------------------------------------------------------
async def staff_menu_reply(ctx: AppContext, access: Any) -> Reply:
    r = ctx.renderer
    events = await ctx.events.upcoming_for_staff(access)
    milestones = await ctx.events.milestones(access)
    rows = [[Button(r.label("events.item", n=i, title=clip(e.title, 40)), encode("evs", "v", e.id))]
            for i, e in enumerate(events, start=1)]
    rows += [[Button(r.label("events.milestone", day=m.day.strftime("%d/%m/%Y")),
                     encode("evs", "ms", m.token))]
             for m in milestones]
    rows.append([Button(r.label("events.new"), "evs:n"), Button(r.label("events.import"), "evs:i")])
    scope = ", ".join(sorted(access.communes)) if access.scoped else ""
    return Reply(r.render("events/staff_menu", events=events, milestones=milestones, scope=scope), rows)


@basic.staff_required
async def staff_menu(update: Update, context: Context) -> None:
    """/sukien (staff): the events this member manages, the milestones to confirm, create, import."""
    ctx = context.app_ctx
    access = await basic.staff_access(update, context)
    if access is None:
        await basic.staff_only(update, context)
        return
    user = update.effective_user
    assert user is not None
    if context.db_user is not None and context.db_user.flow in (WIZARD, IMPORT):
        await ctx.users.set_flow(user.id, None)
    await answer(update, context, await staff_menu_reply(ctx, access))


# ---- staff: the wizard ------------------------------------------------------------------------
def _steps(draft: EventDraft) -> list[str]:
    steps = ["title", "starts_at"]
    if draft.kind in (EventKind.ROUND.value, EventKind.FAIR.value):
        steps.append("ends_at")
    steps.append("place")
    if draft.kind == EventKind.TRAINING.value:
        steps.append("capacity")
    steps += ["audience", "description", "link"]
    return steps


def _ask_reply(ctx: AppContext, state: dict[str, Any], access: Any, error: str = "") -> Reply:
    r = ctx.renderer
    draft = EventDraft.from_json(state.get("draft"))
    field = state["step"]
    rows: list[list[Button]] = []
    if field == "kind":
        rows = [[Button(r.label(f"events.kind.{k}"), encode("evs", "k", k))] for k in KINDS]
    elif field in OPTIONAL:
        rows = [[Button(r.label("events.skip"), "evs:s")]]
    elif field == "capacity":
        rows = [[Button(r.label("events.unlimited"), "evs:s")]]
    elif field == "audience":
        allowed = sorted(access.communes) if access.scoped else ctx.events.catalog.communes
        for i, name in enumerate(ctx.events.catalog.communes):
            if name in allowed:
                mark = "✓ " if name in draft.communes else ""
                rows.append([Button(r.label("events.commune", mark=mark, name=name), encode("evs", "c", i))])
        nav = [Button(r.label("events.by_sets"), "evs:ps")]
        if not access.scoped:
            nav.insert(0, Button(r.label("events.everyone"), "evs:e"))
        rows.append(nav)
        rows.append([Button(r.label("events.next"), "evs:nx")])
    rows.append([Button(r.label("events.abort"), "evs:x")])
    html = r.render("events/ask", field=field, draft=draft, editing=state.get("event_id") is not None,
                    error=error)
    return Reply(html, rows)


def _confirm_reply(ctx: AppContext, draft: EventDraft) -> Reply:
    r = ctx.renderer
    rows = [[Button(r.label("events.save"), "evs:y"), Button(r.label("events.abort"), "evs:x")]]
    return Reply(r.render("events/confirm", draft=draft, sets=_set_labels(ctx, draft)), rows)


async def _next(update: Update, context: Context, state: dict[str, Any], access: Any) -> None:
    """Move the wizard to its next step (or the confirmation) and show it; the state is saved first."""
    ctx = context.app_ctx
    user = update.effective_user
    assert user is not None
    draft = EventDraft.from_json(state["draft"])
    if state.get("single"):
        state["step"] = "confirm"
    else:
        steps = _steps(draft)
        current = state["step"]
        later = steps[steps.index(current) + 1 :] if current in steps else steps
        state["step"] = later[0] if later else "confirm"
    await ctx.users.set_flow(user.id, WIZARD, state)
    if state["step"] == "confirm":
        await answer(update, context, _confirm_reply(ctx, draft))
    else:
        await answer(update, context, _ask_reply(ctx, state, access))


async def _start_wizard(update: Update, context: Context, state: dict[str, Any], access: Any) -> None:
    ctx = context.app_ctx
    user = update.effective_user
    assert user is not None
    await ctx.users.set_flow(user.id, WIZARD, state)
    await answer(update, context, _ask_reply(ctx, state, access))


def _state(user: User | None) -> dict[str, Any] | None:
    if user is None or user.flow != WIZARD or not isinstance(user.flow_data, dict):
        return None
    data = dict(user.flow_data)
    return data if "step" in data and "draft" in data else None


@basic.staff_required
async def on_staff_button(update: Update, context: Context) -> None:
    """A staff event button (`evs:…`); access and scope are read again for every press."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    ctx = context.app_ctx
    cb = parse(query.data)
    access = await basic.staff_access(update, context)
    if access is None:
        await basic.staff_only(update, context)
        return
    uid = update.effective_user.id
    await query.answer()
    try:
        await _staff_action(update, context, cb, access, uid)
    except EventError as exc:
        await answer(update, context, Reply(_error(ctx, exc)))


async def _staff_action(update: Update, context: Context, cb: CallbackData, access: Any, uid: int) -> None:
    ctx = context.app_ctx
    query = update.callback_query
    assert query is not None
    a = cb.action
    tz = ctx.events.tz
    if a == "m":
        cb.expect(0)
        await ctx.users.set_flow(uid, None)
        await replace(query, context, await staff_menu_reply(ctx, access))
    elif a == "n":
        cb.expect(0)
        draft = EventDraft(communes=sorted(access.communes) if access.scoped else [])
        await drop_buttons(query)
        await _start_wizard(update, context, {"step": "kind", "draft": draft.to_json()}, access)
    elif a == "ms":
        token = cb.expect(1).token(0)
        try:
            day = datetime.strptime(token, "%Y%m%d").date()
        except ValueError:
            raise BadCallback(f"bad milestone {token!r}") from None
        if day not in {m.day for m in await ctx.events.milestones(access)}:
            await basic.stale_button(update, context)
            return
        draft = EventDraft(
            kind=EventKind.DEADLINE.value, milestone=day,
            title=ctx.renderer.label("events.deadline_title", day=f"{day:%d/%m/%Y}"),
            communes=sorted(access.communes) if access.scoped else [],
        )
        await drop_buttons(query)
        await _start_wizard(update, context, {"step": "starts_at", "draft": draft.to_json()}, access)
    elif a == "v":
        event_id = cb.expect(1).id(0)
        view = await ctx.events.get(event_id)
        if not await _may_manage(ctx, access, event_id):
            raise EventError("not_found")
        await replace(query, context, detail_reply(ctx, view, staff=True))
    elif a == "ed":
        event_id = cb.expect(1).id(0)
        view = await ctx.events.get(event_id)
        if not await _may_manage(ctx, access, event_id) or view.cancelled:
            raise EventError("not_found" if not view.cancelled else "cancelled")
        r = ctx.renderer
        fields = [f for f in EDITABLE if f != "capacity" or view.is_training]
        rows = [[Button(r.label(f"events.field.{f}"), encode("evs", "f", event_id, f))
                 for f in fields[i : i + 2]]
                for i in range(0, len(fields), 2)]
        rows.append([Button(r.label("events.back"), "evs:m")])
        await replace(query, context, Reply(r.render("events/edit_menu", e=view), rows))
    elif a == "f":
        cb.expect(2)
        event_id, field = cb.id(0), cb.token(1)
        if field not in EDITABLE:
            raise BadCallback(f"bad field {field!r}")
        if not await _may_manage(ctx, access, event_id):
            raise EventError("not_found")
        draft = await ctx.events.draft_of(event_id)
        await drop_buttons(query)
        state = {"step": field, "draft": draft.to_json(), "event_id": event_id, "single": True}
        await _start_wizard(update, context, state, access)
    elif a == "cc":
        event_id = cb.expect(1).id(0)
        view = await ctx.events.get(event_id)
        if not await _may_manage(ctx, access, event_id):
            raise EventError("not_found")
        r = ctx.renderer
        rows = [[Button(r.label("events.cancel_yes"), encode("evs", "cy", event_id)),
                 Button(r.label("events.cancel_no"), encode("evs", "v", event_id))]]
        await replace(query, context, Reply(r.render("events/confirm_cancel", e=view), rows))
    elif a == "cy":
        event_id = cb.expect(1).id(0)
        view = await ctx.events.cancel(ctx.staff, uid, event_id)
        await drop_buttons(query)
        await answer(update, context, Reply(ctx.renderer.render("events/saved", e=view, action="cancelled",
                                                                link="")))
    elif a == "q":
        event_id = cb.expect(1).id(0)
        view = await ctx.events.get(event_id)
        if not await _may_manage(ctx, access, event_id):
            raise EventError("not_found")
        chat = update.effective_chat
        assert chat is not None
        # As a document, so the PNG arrives as made (a photo would be recompressed) and prints sharp.
        await context.bot.send_document(
            chat.id, InputFile(ctx.events.qr_png(event_id), filename=f"su-kien-{event_id}-qr.png"),
            caption=ctx.renderer.render("events/qr_caption", e=view, link=ctx.events.deep_link(event_id)),
        )
        await ctx.staff.record(uid, "event.qr", event=event_id)
    elif a == "i":
        cb.expect(0)
        await ctx.users.set_flow(uid, IMPORT, {})
        await answer(update, context, Reply(ctx.renderer.render("events/import_intro"),
                                            [[Button(ctx.renderer.label("events.abort"), "evs:x")]]))
    else:
        await _wizard_button(update, context, cb, access, uid, tz)


async def _may_manage(ctx: AppContext, access: Any, event_id: int) -> bool:
    return any(e.id == event_id for e in await ctx.events.managed(access, [event_id]))


async def _wizard_button(update: Update, context: Context, cb: CallbackData, access: Any, uid: int,
                         tz: Any) -> None:
    """Buttons inside the wizard: they act on the saved wizard state, or are stale."""
    ctx = context.app_ctx
    query = update.callback_query
    assert query is not None
    user = await ctx.users.get(uid)
    state = _state(user)
    if cb.action == "x":
        cb.expect(0)
        await ctx.users.set_flow(uid, None)
        await drop_buttons(query)
        await answer(update, context, Reply(ctx.renderer.render("events/aborted")))
        return
    if state is None:
        await basic.stale_button(update, context)
        return
    draft = EventDraft.from_json(state["draft"])
    step = state["step"]
    a = cb.action
    if a == "k" and step == "kind":
        kind = cb.expect(1).token(0)
        if kind not in KINDS:
            raise BadCallback(f"bad kind {kind!r}")
        draft.kind = kind
        state.update(step="title", draft=draft.to_json())
        await drop_buttons(query)
        await ctx.users.set_flow(uid, WIZARD, state)
        await answer(update, context, _ask_reply(ctx, state, access))
    elif a == "s" and (step in OPTIONAL or step == "capacity"):
        cb.expect(0)
        if step == "capacity":
            draft.capacity = None
        elif step == "ends_at":
            draft.ends_at = None
        elif step == "link":
            draft.link = None
        else:
            setattr(draft, step, "")
        state["draft"] = draft.to_json()
        await drop_buttons(query)
        await _next(update, context, state, access)
    elif a == "c" and step == "audience":
        index = cb.expect(1).number(0, len(ctx.events.catalog.communes) - 1)
        name = ctx.events.catalog.communes[index]
        if access.scoped and name not in access.communes:
            await basic.stale_button(update, context)
            return
        draft.communes = sorted(set(draft.communes) ^ {name})
        state["draft"] = draft.to_json()
        await ctx.users.set_flow(uid, WIZARD, state)
        await replace(query, context, _ask_reply(ctx, state, access))
    elif a == "e" and step == "audience" and not access.scoped:
        cb.expect(0)
        draft.communes, draft.product_sets = [], []
        state["draft"] = draft.to_json()
        await drop_buttons(query)
        await _next(update, context, state, access)
    elif a == "ps" and step == "audience":
        cb.expect(0)
        state["step"] = "product_sets"
        await drop_buttons(query)
        await ctx.users.set_flow(uid, WIZARD, state)
        await answer(update, context, _ask_reply(ctx, state, access))
    elif a == "nx" and step == "audience":
        cb.expect(0)
        if access.scoped and not draft.communes:
            raise EventError("out_of_scope", communes=", ".join(sorted(access.communes)))
        await drop_buttons(query)
        await _next(update, context, state, access)
    elif a == "y" and step == "confirm":
        cb.expect(0)
        event_id = state.get("event_id")
        if event_id:
            before = await ctx.events.get(int(event_id))
            view = await ctx.events.edit(ctx.staff, uid, int(event_id), draft)
            action = "unchanged" if view == before else "edited"
        else:
            view = await ctx.events.create(ctx.staff, uid, draft)
            action = "created"
        await ctx.users.set_flow(uid, None)
        await drop_buttons(query)
        html = ctx.renderer.render("events/saved", e=view, action=action, link=ctx.events.deep_link(view.id))
        await answer(update, context, Reply(html, [[Button(ctx.renderer.label("events.back"), "evs:m")]]))
    else:
        await basic.stale_button(update, context)


async def on_wizard_text(update: Update, context: Context, user: User) -> None:
    """Typed answers to the wizard's question; a bad one is explained and asked again."""
    ctx = context.app_ctx
    msg = update.effective_message
    assert msg is not None and msg.text is not None
    access = await basic.staff_access(update, context)
    state = _state(user)
    if access is None or state is None:  # no longer staff, or a broken state: leave the wizard
        await ctx.users.set_flow(user.id, None)
        await answer(update, context, Reply(ctx.renderer.render("events/aborted")))
        return
    draft = EventDraft.from_json(state["draft"])
    step = state["step"]
    text = msg.text.strip()
    try:
        if step == "title":
            draft.title = text
        elif step in ("starts_at", "ends_at"):
            value = parse_local(text, ctx.events.tz)
            if value <= ctx.clock.now():
                raise EventError("in_the_past", value=text)
            setattr(draft, step, value)
            late = draft.milestone and value.astimezone(ctx.events.tz).date() > draft.milestone
            if step == "starts_at" and draft.milestone and late:
                raise EventError("after_milestone", milestone=draft.milestone.strftime("%d/%m/%Y"))
            if draft.ends_at is not None and draft.starts_at is not None and draft.ends_at <= draft.starts_at:
                if step == "ends_at":
                    raise EventError("ends_before_start")
                draft.ends_at = None
        elif step == "place":
            draft.place = text
        elif step == "capacity":
            if not text.isdigit() or not 1 <= int(text) <= 10_000:
                raise EventError("bad_capacity", limit=10_000)
            draft.capacity = int(text)
        elif step == "product_sets":
            catalog = ctx.events.catalog
            draft.product_sets = sorted({catalog.product_set(p) for p in catalog.split(text)})
            state["step"] = "audience"
        elif step == "description":
            draft.description = text
        elif step == "link":
            draft.link = text
        else:
            await answer(update, context, Reply(ctx.renderer.render("events/use_buttons")))
            return
        state["draft"] = draft.to_json()
        ctx.events.check_field(draft, step if step != "product_sets" else "audience", access)
    except EventError as exc:
        await answer(update, context, _ask_reply(ctx, state, access, _error(ctx, exc)))
        return
    state["draft"] = draft.to_json()
    if step == "product_sets":
        await ctx.users.set_flow(user.id, WIZARD, state)
        await answer(update, context, _ask_reply(ctx, state, access))
        return
    await _next(update, context, state, access)


async def on_import_file(update: Update, context: Context, user: User) -> None:
    """A CSV or YAML file sent after «Nhập từ tệp»: every event, or none and the bad row named."""
    ctx = context.app_ctx
    msg = update.effective_message
    assert msg is not None
    access = await basic.staff_access(update, context)
    if access is None:
        await ctx.users.set_flow(user.id, None)
        await basic.on_media(update, context)
        return
    doc = msg.document
    if doc is None:
        await answer(update, context, Reply(ctx.renderer.render("events/need_file")))
        return
    if (doc.file_size or 0) > IMPORT_MAX_BYTES:
        await answer(update, context, Reply(_error(ctx, EventError("file_too_big"))))
        return
    content = bytes(await (await context.bot.get_file(doc.file_id)).download_as_bytearray())
    try:
        views = await ctx.events.import_file(ctx.staff, user.id, content, doc.file_name or "events.csv")
    except EventError as exc:
        await answer(update, context, Reply(_error(ctx, exc)))
        return
    await ctx.users.set_flow(user.id, None)
    await answer(update, context, Reply(ctx.renderer.render("events/imported", events=views),
                                        [[Button(ctx.renderer.label("events.back"), "evs:m")]]))


async def on_import_text(update: Update, context: Context, user: User) -> None:
    await answer(update, context, Reply(context.app_ctx.renderer.render("events/need_file")))


