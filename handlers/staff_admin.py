"""Admins manage the staff in the chat: /canbo lists who has a role, adds someone (by Telegram id or
@username; role; the communes/wards they work on), changes or removes a granted role; /nhatky reads the
audit log. Every change is written to the audit log; the person concerned is told through the outbox
and gets (or loses) the staff command menu.

Callback data `st:<action>:…`; every press re-checks that the presser is an admin.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import BotCommandScopeChat, Update
from telegram.error import BadRequest, Forbidden

from common.callbacks import BadCallback, encode, parse
from common.reply import Button, Reply
from common.text import clip
from handlers import basic
from handlers.commands import staff_command_list
from handlers.context import Context
from handlers.send import answer, replace
from storage.models import Role, User
from storage.staff import OnChange, StaffAccess, StaffConfigured, StaffListing, UnknownUser

log = logging.getLogger(__name__)

ADD_FLOW = "staff_add"
LOG_PAGE = 15
MAX_REF = 64


async def _admin_or_refuse(update: Update, context: Context) -> bool:
    """True for an admin. A non-staff user gets the unknown-command/expired-button reply; a staff
    member who is not an admin is told that only admins manage staff."""
    access = await basic.staff_access(update, context)
    if access is None:
        await basic.staff_only(update, context)
        return False
    if not access.is_admin:
        if update.callback_query is not None:
            await update.callback_query.answer()
        await answer(update, context, Reply(context.app_ctx.renderer.render("staff/admins_only")))
        return False
    return True


def _listing_reply(context: Context, members: list[StaffListing]) -> Reply:
    ctx = context.app_ctx
    r = ctx.renderer
    rows = [[Button(r.label("staff.add"), "st:add")]]
    for m in members:
        name = m.name or (f"@{m.username}" if m.username else str(m.user_id))
        buttons = [Button(r.label("staff.edit", name=clip(name, 24)), encode("st", "e", m.user_id))]
        if not m.configured:
            buttons.append(
                Button(r.label("staff.remove", name=clip(name, 18)), encode("st", "rm", m.user_id))
            )
        rows.append(buttons)
    rows.append([Button(r.label("staff.audit"), "st:log:0")])
    return Reply(r.render("staff/list", members=members), rows)


async def show_staff(update: Update, context: Context) -> None:
    """/canbo (admins): who has a role, with buttons to add, change and remove."""
    if not await _admin_or_refuse(update, context):
        return
    ctx = context.app_ctx
    if context.db_user is not None and context.db_user.flow == ADD_FLOW:
        await ctx.users.set_flow(context.db_user.id, None)
    await answer(update, context, _listing_reply(context, await ctx.staff.listing()))


async def show_audit(update: Update, context: Context) -> None:
    """/nhatky (admins): the newest audit-log entries."""
    if not await _admin_or_refuse(update, context):
        return
    await answer(update, context, await _audit_reply(context, 0))


async def _audit_reply(context: Context, offset: int) -> Reply:
    ctx = context.app_ctx
    entries, names = await ctx.staff.audit_entries(limit=LOG_PAGE + 1, offset=offset)
    more = len(entries) > LOG_PAGE
    entries = entries[:LOG_PAGE]
    r = ctx.renderer
    rows = []
    if more:
        rows.append([Button(r.label("staff.older"), encode("st", "log", offset + LOG_PAGE))])
    return Reply(r.render("staff/audit", entries=entries, names=names, offset=offset), rows)


async def _scope_reply(context: Context, target: User, role: str, chosen: list[str]) -> Reply:
    ctx = context.app_ctx
    r = ctx.renderer
    units = ctx.communes.current_units()
    rows = [
        [Button(r.label("staff.unit", on=u.name in chosen, label=u.label), encode("st", "c", target.id, i))]
        for i, u in enumerate(units)
    ]
    rows.append([Button(r.label("staff.all_units", on=not chosen), encode("st", "c", target.id, "all"))])
    rows.append(
        [Button(r.label("staff.save"), encode("st", "ok", target.id)), Button(r.label("staff.back"), "st:ls")]
    )
    html = r.render("staff/scope", name=target.full_name, user_id=target.id, role=role, chosen=chosen)
    return Reply(html, rows)


def _role_reply(context: Context, target: User) -> Reply:
    r = context.app_ctx.renderer
    rows = [
        [
            Button(r.label("staff.role_staff"), encode("st", "r", target.id, "s")),
            Button(r.label("staff.role_admin"), encode("st", "r", target.id, "a")),
        ],
        [Button(r.label("staff.back"), "st:ls")],
    ]
    return Reply(r.render("staff/role", name=target.full_name, user_id=target.id), rows)


async def on_add_text(update: Update, context: Context, user: User) -> None:
    """The admin typed the id or @username of the person to add."""
    ctx = context.app_ctx
    msg = update.effective_message
    assert msg is not None and msg.text is not None
    if not await _admin_or_refuse(update, context):
        await ctx.users.set_flow(user.id, None)
        return
    ref = msg.text.strip()
    target = await ctx.staff.find_user(ref) if len(ref) <= MAX_REF else None
    if target is None:
        html = ctx.renderer.render("staff/not_found", ref=ref[:MAX_REF])
        await answer(update, context, Reply(html, [[Button(ctx.renderer.label("staff.back"), "st:ls")]]))
        return
    await ctx.users.set_flow(user.id, None)
    await answer(update, context, _role_reply(context, target))


def _notice(context: Context, user_id: int) -> OnChange:
    """Queue the notice of a new or removed role to the person, in the transaction of the change."""
    ctx = context.app_ctx

    async def queue(s: AsyncSession, access: StaffAccess | None) -> None:
        if access is None:
            text = ctx.renderer.render("staff/revoked_notice")
        else:
            text = ctx.renderer.render(
                "staff/granted_notice", role=access.role.value, communes=sorted(access.communes)
            )
        await ctx.outbox.enqueue(s, chat_id=user_id, text=text, kind="staff_role")

    return queue


async def _set_menu(context: Context, user_id: int, *, staff: bool) -> None:
    """Give (or take back) the staff command menu in the person's chat."""
    scope = BotCommandScopeChat(user_id)
    try:
        if staff:
            await context.bot.set_my_commands(staff_command_list(context.app_ctx), scope=scope)
        else:
            await context.bot.delete_my_commands(scope=scope)
    except (BadRequest, Forbidden) as exc:  # they have not opened the bot: the menu is set at next start
        log.warning("Could not change the command menu of %s: %s", user_id, exc)


async def on_button(update: Update, context: Context) -> None:
    """st:add · st:ls · st:e:<user> · st:r:<user>:<s|a> · st:c:<user>:<i|all> · st:ok:<user> ·
    st:rm:<user> · st:rmok:<user> · st:log:<offset>."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    cb = parse(query.data)
    if not await _admin_or_refuse(update, context):
        return
    ctx = context.app_ctx
    admin_id = update.effective_user.id
    r = ctx.renderer
    if cb.action == "add":
        cb.expect(0)
        await query.answer()
        await ctx.users.set_flow(admin_id, ADD_FLOW)
        await answer(update, context, Reply(r.render("staff/add_prompt")))
        return
    if cb.action == "ls":
        cb.expect(0)
        await query.answer()
        await ctx.users.set_flow(admin_id, None)
        await replace(query, context, _listing_reply(context, await ctx.staff.listing()))
        return
    if cb.action == "log":
        offset = cb.expect(1).number(0, 1_000_000)
        await query.answer()
        await answer(update, context, await _audit_reply(context, offset))
        return
    if cb.action not in {"e", "r", "c", "ok", "rm", "rmok"}:
        raise BadCallback(f"unknown staff button {cb.action!r}")
    target_id = cb.user_id(0)
    target = await ctx.users.get(target_id)
    if target is None:
        raise BadCallback(f"no such user {target_id}")
    pending = dict(context.db_user.flow_data) if context.db_user is not None else {}
    if context.db_user is None or context.db_user.flow not in (None, ADD_FLOW):
        pending = {}

    if cb.action == "e":
        cb.expect(1)
        await query.answer()
        await replace(query, context, _role_reply(context, target))
    elif cb.action == "r":
        role = {"s": Role.STAFF, "a": Role.ADMIN}.get(cb.expect(2).arg(1))
        if role is None:
            raise BadCallback("unknown role")
        await query.answer()
        access = await ctx.staff.access(target_id)
        chosen = sorted(access.communes) if access is not None else []
        pending = {"target": target_id, "role": role.value, "communes": chosen}
        await ctx.users.set_flow(admin_id, None, pending)
        if role == Role.ADMIN:  # admins see every commune: nothing more to ask
            await _save(update, context, target, Role.ADMIN, [])
            return
        await replace(query, context, await _scope_reply(context, target, role.value, chosen))
    elif cb.action == "c":
        cb.expect(2)
        if pending.get("target") != target_id:
            raise BadCallback("no role being chosen for this user")
        units = [u.name for u in ctx.communes.current_units()]
        chosen = [str(c) for c in pending.get("communes", []) if c in units]
        which = cb.arg(1)
        if which == "all":
            chosen = []
        else:
            name = units[cb.number(1, len(units) - 1)]
            chosen = [c for c in chosen if c != name] if name in chosen else sorted([*chosen, name])
        await query.answer()
        await ctx.users.set_flow(admin_id, None, {**pending, "communes": chosen})
        await replace(query, context, await _scope_reply(context, target, str(pending["role"]), chosen))
    elif cb.action == "ok":
        cb.expect(1)
        if pending.get("target") != target_id:
            raise BadCallback("no role being chosen for this user")
        await query.answer()
        units = {u.name for u in ctx.communes.current_units()}
        communes = [str(c) for c in pending.get("communes", []) if c in units]
        await _save(update, context, target, Role(str(pending.get("role", Role.STAFF.value))), communes)
    elif cb.action == "rm":
        cb.expect(1)
        await query.answer()
        rows = [
            [
                Button(r.label("staff.confirm_remove"), encode("st", "rmok", target_id)),
                Button(r.label("staff.back"), "st:ls"),
            ]
        ]
        await replace(query, context, Reply(r.render("staff/confirm_remove", name=target.full_name), rows))
    elif cb.action == "rmok":
        cb.expect(1)
        await query.answer()
        try:
            removed = await ctx.staff.revoke(admin_id, target_id, on_change=_notice(context, target_id))
        except StaffConfigured:
            await answer(update, context, Reply(r.render("staff/configured", name=target.full_name)))
            return
        if removed:
            await _set_menu(context, target_id, staff=False)
        html = r.render("staff/removed", name=target.full_name, removed=removed)
        await replace(query, context, Reply(html, [[Button(r.label("staff.back"), "st:ls")]]))


async def _save(update: Update, context: Context, target: User, role: Role, communes: list[str]) -> None:
    ctx = context.app_ctx
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    await ctx.users.set_flow(update.effective_user.id, None)
    try:
        access, _ = await ctx.staff.grant(
            update.effective_user.id, target.id, role, communes, on_change=_notice(context, target.id)
        )
    except UnknownUser:
        await answer(update, context, Reply(ctx.renderer.render("staff/not_found", ref=str(target.id))))
        return
    data = {"role": access.role.value, "communes": sorted(access.communes)}
    await _set_menu(context, target.id, staff=True)
    html = ctx.renderer.render("staff/saved", name=target.full_name, configured=access.configured, **data)
    await replace(query, context, Reply(html, [[Button(ctx.renderer.label("staff.back"), "st:ls")]]))
