"""/caidat: what a producer receives — every topic of common/topics.py (on by default, one button each to
turn it off or on again) and their commune; and the "Không nhận loại tin này" button under a broadcast.

Buttons (`set:` namespace): t:<topic> toggles a topic · mute:<topic> turns it off (under a message) ·
c asks for the commune.
"""

from __future__ import annotations

from telegram import Update

from common.callbacks import BadCallback, encode, parse
from common.reply import Button, Reply
from common.topics import TOPICS, Topic, parse_topic
from handlers.context import Context
from handlers.send import answer, replace
from storage.models import User

COMMUNE = "settings_commune"


async def _reply(context: Context, user_id: int) -> Reply:
    r = context.app_ctx.renderer
    muted, commune = await context.app_ctx.preferences.get(user_id)
    topics = [
        {"name": r.label(f"settings.topic_{t.value}"), "on": t.value not in muted, "id": t.value}
        for t in TOPICS
    ]
    rows = [
        [Button(r.label("settings.toggle", on=t["on"], name=t["name"]), encode("set", "t", t["id"]))]
        for t in topics
    ]
    rows.append([Button(r.label("settings.commune"), "set:c")])
    return Reply(r.render("settings/main", topics=topics, commune=commune), rows)


async def show(update: Update, context: Context) -> None:
    """/caidat: the topics with their state, the commune, and how to stop."""
    user = update.effective_user
    assert user is not None
    await answer(update, context, await _reply(context, user.id))


async def on_button(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None
    user = update.effective_user
    assert user is not None
    cb = parse(query.data)
    ctx = context.app_ctx
    r = ctx.renderer
    if cb.action == "c":
        cb.expect(0)
        await query.answer()
        await ctx.users.set_flow(user.id, COMMUNE)
        await answer(update, context, Reply(r.render("settings/ask_commune")))
        return
    topic = parse_topic(cb.expect(1).token(0))
    if topic is None or cb.action not in ("t", "mute"):
        raise BadCallback(f"unknown settings button {query.data!r}")
    if cb.action == "mute":
        await context.app_ctx.preferences.set_topic(user.id, topic, on=False)
        await query.answer(r.label("settings.muted"))
        name = r.label(f"settings.topic_{topic.value}")
        await answer(update, context, Reply(r.render("settings/muted", name=name)))
        return
    muted, _commune = await context.app_ctx.preferences.get(user.id)
    await context.app_ctx.preferences.set_topic(user.id, topic, on=topic.value in muted)
    await query.answer()
    await replace(query, context, await _reply(context, user.id))


async def on_commune(update: Update, context: Context, db_user: User) -> None:
    """The commune typed after «Đổi xã/phường» (an old name becomes today's unit)."""
    ctx = context.app_ctx
    msg = update.effective_message
    assert msg is not None and msg.text is not None
    directory = ctx.communes
    match = directory.resolve(msg.text)
    if match is None or match.new_unit is None:
        html = ctx.renderer.render("settings/commune_unknown", text=msg.text)
        await answer(update, context, Reply(html))
        return
    await context.app_ctx.preferences.set_commune(db_user.id, match.new_unit)
    await ctx.users.set_flow(db_user.id, None)
    old = None if match.is_current else f"{match.kind} {match.old_name}"
    await answer(
        update, context, Reply(ctx.renderer.render("settings/commune_saved", commune=match.new_unit, old=old))
    )
    await answer(update, context, await _reply(context, db_user.id))


__all__ = ["COMMUNE", "Topic", "on_button", "on_commune", "show"]
