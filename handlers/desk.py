"""The officers' desk in the chat, part 2: /xuat exports the dossiers in the officer's scope (filtered by
status, commune and product set with buttons) as Excel and CSV; /thongke counts them and sends a chart;
/nhaphoso lets an officer fill a dossier for a producer who is not on Telegram and hand it over with a
claim link (t.me/<bot>?start=claim_<token>, the deep link "claim").

Staff only (a non-staff user gets exactly the unknown-command / expired-button reply), checked again on
every command and button, with the officer's commune scope read from the staff directory each time.
Callback data: `dsk:<action>[:<args>]` — the export filter travels in the data as
`<status|->:<commune key|->:<product set|->` and is checked against what the officer's scope holds.
Every action is written to the audit log.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from telegram import InputFile, Update

from common.callbacks import BadCallback, CallbackData, encode, parse
from common.links import bot_link
from common.reply import Button, Reply
from common.text import clip
from dossier.claims import ClaimOutcome, ClaimRefused
from dossier.export import export_dossiers
from dossier.stats import (
    DeskNames,
    DeskStats,
    DossierFilter,
    chart_text,
    commune_key,
    count_dossiers,
    count_matching,
    desk_names,
    render_chart,
)
from dossier.workflow import is_editable
from handlers import basic, dossier_flow
from handlers.context import AppContext, Context
from handlers.send import answer, drop_buttons, replace
from storage.staff import StaffAccess

NS = "dsk"
ANY = "-"
STATUS_RE = re.compile(r"^[a-z_]{1,16}$")
COMMUNE_RE = re.compile(r"^[0-9a-f]{8}$")
SET_RE = re.compile(r"^[a-z0-9_]{1,32}$")
STATS_LINES = 8  # communes / product sets listed in the /thongke message


def names_of(ctx: AppContext) -> DeskNames:
    return desk_names(ctx.renderer, ctx.dossier.form)


def scope_text(names: DeskNames, access: StaffAccess) -> str:
    communes = access.commune_filter()
    return ", ".join(sorted(communes)) if communes is not None else names.label("scope_all")


def _private(update: Update) -> bool:
    chat = update.effective_chat
    return chat is not None and chat.type == chat.PRIVATE


# ---- /xuat --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Picked:
    """The export filter as the buttons carry it: raw values (commune as the name, resolved)."""

    filter: DossierFilter
    commune_key: str | None = None

    def data(self, action: str, **change: str | None) -> str:
        status = change.get("status", self.filter.status)
        key = change.get("commune", self.commune_key)
        product_set = change.get("product_set", self.filter.product_set)
        return encode(NS, action, status or ANY, key or ANY, product_set or ANY)


def _read_filter(cb: CallbackData, stats: DeskStats) -> Picked:
    """The filter in the button's data, refused (BadCallback) unless each part is something the
    officer's scope holds (a forged commune or status never reaches a query)."""
    cb.expect(3)
    status, key, product_set = (None if a == ANY else a for a in cb.args)
    if status is not None and (not STATUS_RE.match(status) or status not in dict(stats.by_status)):
        raise BadCallback(f"status {status!r}")
    commune = None
    if key is not None:
        by_key = {commune_key(c): c for c, _ in stats.by_commune if c is not None}
        if not COMMUNE_RE.match(key) or key not in by_key:
            raise BadCallback(f"commune {key!r}")
        commune = by_key[key]
    if product_set is not None and (
        not SET_RE.match(product_set) or product_set not in {p for p, _ in stats.by_product_set}
    ):
        raise BadCallback(f"product set {product_set!r}")
    return Picked(DossierFilter(status, commune, product_set), key)


async def _menu(ctx: AppContext, access: StaffAccess, picked: Picked) -> Reply:
    names = names_of(ctx)
    flt = picked.filter
    n = await count_matching(ctx.db, access.commune_filter(), flt)
    any_name = names.label("any")
    html = ctx.renderer.render(
        "desk/export_menu",
        scope=scope_text(names, access),
        status=names.status(flt.status) if flt.status else any_name,
        commune=flt.commune or any_name,
        product_set=names.product_set(flt.product_set) if flt.product_set else any_name,
        n=n,
    )
    status = names.status(flt.status) if flt.status else any_name
    product_set = _short(names, names.product_set(flt.product_set)) if flt.product_set else any_name
    rows = [
        [Button(names.label("filter_status", value=status), picked.data("xs"))],
        [Button(names.label("filter_commune", value=flt.commune or any_name), picked.data("xc"))],
        [Button(names.label("filter_product_set", value=product_set), picked.data("xp"))],
    ]
    last = [Button(names.label("make_files"), picked.data("xg"))]
    if not flt.empty:
        last.append(Button(names.label("clear"), encode(NS, "xv", ANY, ANY, ANY)))
    rows.append(last)
    return Reply(html, rows)


def _picker(ctx: AppContext, stats: DeskStats, picked: Picked, what: str) -> Reply:
    names = names_of(ctx)
    rows: list[list[Button]] = []
    if what == "status":
        rows.append([Button(names.label("option_any", n=stats.total), picked.data("xv", status=None))])
        for status, n in stats.by_status:
            if n:
                label = names.label("option", name=names.status(status), n=n)
                rows.append([Button(label, picked.data("xv", status=status))])
    elif what == "commune":
        rows.append([Button(names.label("option_any", n=stats.total), picked.data("xv", commune=None))])
        for commune, n in stats.by_commune:
            if commune is not None:
                label = names.label("option", name=commune, n=n)
                rows.append([Button(label, picked.data("xv", commune=commune_key(commune)))])
    else:
        rows.append([Button(names.label("option_any", n=stats.total), picked.data("xv", product_set=None))])
        for product_set, n in stats.by_product_set:
            if product_set is not None:
                label = names.label("option", name=names.product_set(product_set), n=n)
                rows.append([Button(label, picked.data("xv", product_set=product_set))])
    rows.append([Button(names.label("back"), picked.data("xv"))])
    return Reply(ctx.renderer.render("desk/export_pick", what=what), rows)


@basic.staff_required
async def export_command(update: Update, context: Context) -> None:
    """/xuat: the filter menu (all the officer's dossiers until a filter is chosen)."""
    access = await basic.staff_access(update, context)
    if access is None:
        await basic.staff_only(update, context)
        return
    await answer(update, context, await _menu(context.app_ctx, access, Picked(DossierFilter())))


async def _send_files(update: Update, context: Context, access: StaffAccess, picked: Picked) -> None:
    ctx = context.app_ctx
    names = names_of(ctx)
    communes = access.commune_filter()
    flt = picked.filter
    if await count_matching(ctx.db, communes, flt) == 0:
        await answer(update, context, Reply(ctx.renderer.render("desk/export_empty")))
        return
    files = await export_dossiers(ctx.db, communes, flt, names, ctx.dossier.engine, ctx.settings.timezone)
    now = ctx.clock.now()
    filtered = " · ".join(
        part
        for part in (
            names.status(flt.status) if flt.status else "",
            flt.commune or "",
            names.product_set(flt.product_set) if flt.product_set else "",
        )
        if part
    )
    scope_names = ", ".join(sorted(communes)) if communes is not None else "*"
    await ctx.staff.record(access.user_id, "desk.export", rows=files.rows, scope=scope_names, filter=filtered)
    stamp = now.astimezone(ctx.renderer.tz).strftime("%Y%m%d-%H%M")
    chat = update.effective_chat
    assert chat is not None
    scope = scope_text(names, access)
    caption = ctx.renderer.render("desk/export_caption", csv=False, n=files.rows, at=now, scope=scope,
                                  filtered=filtered)
    await context.bot.send_document(
        chat.id, InputFile(files.xlsx, filename=f"ho-so-ocop-{stamp}.xlsx"), caption=caption,
        parse_mode="HTML",
    )
    caption = ctx.renderer.render("desk/export_caption", csv=True, n=files.rows, at=now, scope=scope,
                                  filtered=filtered)
    await context.bot.send_document(
        chat.id, InputFile(files.csv, filename=f"ho-so-ocop-{stamp}.csv"), caption=caption, parse_mode="HTML"
    )


# ---- /thongke -----------------------------------------------------------------------------------
@basic.staff_required
async def stats_command(update: Update, context: Context) -> None:
    """/thongke: counts by status, commune, product set and stars, and the chart as a photo."""
    ctx = context.app_ctx
    access = await basic.staff_access(update, context)
    if access is None:
        await basic.staff_only(update, context)
        return
    names = names_of(ctx)
    stats = await count_dossiers(ctx.db, access.commune_filter())
    now = ctx.clock.now()
    scope = scope_text(names, access)
    await ctx.staff.record(access.user_id, "desk.stats", total=stats.total,
                           scope=", ".join(sorted(access.communes)) if access.scoped else "*")
    communes = [(names.commune(c), n) for c, n in stats.by_commune]
    sets = [(names.product_set(p), n) for p, n in stats.by_product_set]
    html = ctx.renderer.render(
        "desk/stats",
        stats=stats,
        scope=scope,
        statuses=[(names.status(st), n) for st, n in stats.by_status if n],
        communes=communes[:STATS_LINES],
        more_communes=max(len(communes) - STATS_LINES, 0),
        product_sets=sets[:STATS_LINES],
        more_sets=max(len(sets) - STATS_LINES, 0),
        stars=stats.by_stars,
    )
    await answer(update, context, Reply(html))
    if stats.total == 0:
        return
    png = await asyncio.to_thread(render_chart, stats, names, chart_text(names, scope))
    chat = update.effective_chat
    assert chat is not None
    caption = ctx.renderer.render("desk/stats_caption", scope=scope, at=now)
    await context.bot.send_photo(chat.id, InputFile(png, filename="thong-ke-ho-so.png"), caption=caption)


# ---- /nhaphoso ----------------------------------------------------------------------------------
def _short(names: DeskNames, name: str | None, limit: int = 30) -> str:
    text = name or names.label("untitled")
    return clip(text, limit)


@basic.staff_required
async def assisted_command(update: Update, context: Context) -> None:
    """/nhaphoso: the assisted dossiers the officer holds (continue, get a link) and a new one."""
    ctx = context.app_ctx
    access = await basic.staff_access(update, context)
    if access is None:
        await basic.staff_only(update, context)
        return
    names = names_of(ctx)
    held = await ctx.claims.held_by(access.user_id)
    rows = [
        [
            Button(
                names.label("assisted_continue", name=_short(names, d.product_name, 20)),
                encode("dos", "o", d.id),
            ),
            Button(
                names.label("assisted_link", name=_short(names, d.product_name, 20)),
                encode(NS, "nl", d.id),
            ),
        ]
        for d in held[:20]
    ]
    rows.append([Button(names.label("assisted_new"), encode(NS, "nn"))])
    status_names = {d.status: names.status(d.status) for d in held}
    html = ctx.renderer.render(
        "desk/assisted_menu", held=held[:20], status_names=status_names, untitled=names.label("untitled")
    )
    await answer(update, context, Reply(html, rows))


async def _assisted_new(update: Update, context: Context, access: StaffAccess) -> None:
    """A new dossier held by the officer, marked as entered by staff; the normal dossier flow runs."""
    ctx = context.app_ctx
    prompt = await ctx.dossier.create(access.user_id)
    await ctx.claims.mark_assisted(access.user_id, prompt.dossier_id)
    await ctx.users.set_flow(access.user_id, dossier_flow.FLOW, {"dossier": prompt.dossier_id})
    await answer(update, context, Reply(ctx.renderer.render("desk/assisted_started")))
    await answer(update, context, dossier_flow.prompt_reply(ctx, prompt))


async def _assisted_link(update: Update, context: Context, access: StaffAccess, dossier_id: int) -> None:
    ctx = context.app_ctx
    names = names_of(ctx)
    try:
        link = await ctx.claims.issue_link(access.user_id, dossier_id)
    except ClaimRefused:
        await answer(update, context, Reply(ctx.renderer.render("desk/not_held")))
        return
    url = bot_link(context.bot.username, f"claim_{link.token}")
    html = ctx.renderer.render(
        "desk/link", name=link.product_name or names.label("untitled"), reference=link.reference, url=url,
        expires_at=link.expires_at,
    )
    await answer(update, context, Reply(html))


async def claim(update: Update, context: Context, token: str) -> None:
    """/start claim_<token>: the producer opening an officer's link takes the dossier over."""
    ctx = context.app_ctx
    user = update.effective_user
    assert user is not None
    result = await ctx.claims.claim(token, user.id)
    names = names_of(ctx)
    rows: list[list[Button]] = []
    if result.outcome in (ClaimOutcome.CLAIMED, ClaimOutcome.ALREADY_YOURS) and result.dossier_id:
        rows.append([Button(names.label("open_claimed"), encode("dos", "o", result.dossier_id))])
    html = ctx.renderer.render(
        "desk/claim",
        outcome=result.outcome.value,
        name=result.product_name or names.label("untitled"),
        reference=result.reference,
        expires_at=result.expires_at,
        editable=bool(result.status and is_editable(result.status)),
    )
    await answer(update, context, Reply(html, rows))


# ---- buttons ------------------------------------------------------------------------------------
@basic.staff_required
async def on_button(update: Update, context: Context) -> None:
    """Every `dsk:` press, refused as an expired button unless the data is one of ours and in scope."""
    query = update.callback_query
    assert query is not None
    ctx = context.app_ctx
    cb = parse(query.data)
    access = await basic.staff_access(update, context)
    if access is None:
        await basic.staff_only(update, context)
        return
    if cb.action in ("xv", "xs", "xc", "xp", "xg"):
        stats = await count_dossiers(ctx.db, access.commune_filter())
        picked = _read_filter(cb, stats)
        await query.answer()
        if cb.action == "xv":
            await replace(query, context, await _menu(ctx, access, picked))
        elif cb.action == "xg":
            await drop_buttons(query)
            await _send_files(update, context, access, picked)
        else:
            what = {"xs": "status", "xc": "commune", "xp": "product_set"}[cb.action]
            await replace(query, context, _picker(ctx, stats, picked, what))
        return
    if cb.action == "nn":
        cb.expect(0)
        await query.answer()
        await drop_buttons(query)
        await _assisted_new(update, context, access)
        return
    if cb.action == "nl":
        dossier_id = cb.expect(1).id(0)
        await query.answer()
        await _assisted_link(update, context, access, dossier_id)
        return
    raise BadCallback(f"unknown desk action {cb.action!r}")
