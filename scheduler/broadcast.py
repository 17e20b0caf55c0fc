"""Staff broadcasts: compose (content checked against Telegram's limits, audience, preview), confirm now
or at a time, and deliver through the outbox with a live progress message; pause, resume, cancel.

`BroadcastService` is what handlers call (every staff action is audited in its transaction).
`BroadcastRunner` runs beside the outbox worker and does the rest, all of it from the database so a
restart resumes where it stopped:
- a scheduled broadcast starts once, at its time (a conditional UPDATE: two processes cannot both);
- recipients' outbox rows are created in batches of `batch` users (keyset on users.id, the cursor kept
  on the broadcast; the idempotency key `<broadcast>:<user>` makes a repeated batch add nothing), so
  at most one batch is in memory and every recipient gets one row;
- the officer's progress message is edited at most every `edit_every` seconds (sooner, but never
  within `min_gap`, when the state changed), and only when its text changed;
- when every row has an outcome the message becomes the report, and the failures go as a CSV file.

Broadcast rows have `Priority.BROADCAST`: the worker claims notices and alerts first, so a broadcast
never holds up anyone's status notice. Pausing holds the rows (outbox state `held`); what the worker had
already claimed (at most its look-ahead, about a second and a half of sends) still leaves.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from markupsafe import Markup
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from common.callbacks import encode
from common.clock import Clock
from common.render import Renderer
from common.text import CAPTION_LIMIT, MESSAGE_LIMIT, utf16_len, visible_text
from common.topics import Topic
from scheduler import audience as audiences
from scheduler.audience import Audience, AudienceCount
from scheduler.outbox import enqueue_many, outbox_row
from scheduler.port import Buttons, Outcome, ProgressPort
from storage.db import Database
from storage.models import User
from storage.outbox_models import (
    ACTIVE_BROADCAST_STATES,
    Broadcast,
    BroadcastState,
    OutboxMessage,
    OutboxState,
    Priority,
)
from storage.staff import StaffAccess, audit

log = logging.getLogger(__name__)
Sleep = Callable[[float], Awaitable[None]]

KIND = "broadcast"
TEXT_KINDS = ("text",)
MEDIA_KINDS = ("photo", "document", "copy")
S = BroadcastState


class BroadcastError(Exception):
    """A staff action that cannot be done; `reason` names the template line to show."""

    def __init__(self, reason: str, **detail: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Content:
    """What the officer sent: Telegram-HTML `body` (text or caption) and, for media, how to send it."""

    kind: str  # text | photo | document | copy
    body: str = ""
    file_id: str | None = None
    from_chat_id: int | None = None
    message_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Content:
        return cls(
            kind=str(data.get("kind", "text")),
            body=str(data.get("body", "")),
            file_id=data.get("file_id"),
            from_chat_id=data.get("from_chat_id"),
            message_id=data.get("message_id"),
        )

    @property
    def media(self) -> dict[str, Any] | None:
        if self.kind in ("photo", "document"):
            return {"type": self.kind, "file_id": self.file_id}
        if self.kind == "copy":
            return {"type": "copy", "from_chat_id": self.from_chat_id, "message_id": self.message_id}
        return None


@dataclass(frozen=True)
class Outgoing:
    """One recipient's message, exactly as the outbox will send it (the preview sends the same)."""

    text: str  # HTML text, or the caption of a photo/document/copy
    media: dict[str, Any] | None
    buttons: Buttons


@dataclass(frozen=True)
class Progress:
    """Where a broadcast's delivery stands (counts of its outbox rows, and those left out)."""

    broadcast: Broadcast
    sent: int
    failed: int
    blocked: int  # blocked the bot while it was being sent
    waiting: int  # pending or held rows
    cancelled: int

    @property
    def unreachable(self) -> int:
        return self.broadcast.unreachable + self.blocked

    @property
    def to_create(self) -> int:
        b = self.broadcast
        return 0 if b.queue_done else max(0, b.expected - b.queued)

    @property
    def total(self) -> int:
        return self.sent + self.failed + self.blocked + self.waiting + self.cancelled + self.to_create

    @property
    def done(self) -> int:
        return self.sent + self.failed + self.blocked


def mute_button(renderer: Renderer, topic: Topic) -> dict[str, str]:
    return {"text": renderer.label("broadcast.mute"), "callback_data": encode("set", "mute", topic.value)}


def compose_message(renderer: Renderer, content: Content, sender_name: str, topic: Topic) -> Outgoing:
    """The message producers get: who it is from, the officer's text, the "stop this kind" button."""
    text = renderer.render("broadcast/message", sender=sender_name, body=content.body, kind=content.kind)
    return Outgoing(text, content.media, [[mute_button(renderer, topic)]])


def check_limits(outgoing: Outgoing) -> tuple[int, int] | None:
    """(length, limit) when the message is over Telegram's limit (4,096, or 1,024 for a caption), as
    Telegram measures it (UTF-16 units of the visible text); None when it fits."""
    limit = MESSAGE_LIMIT if outgoing.media is None else CAPTION_LIMIT
    length = utf16_len(visible_text(outgoing.text))
    return (length, limit) if length > limit else None


class BroadcastService:
    """Staff actions on broadcasts (each checks the member's access and is audited) and the reads the
    progress message and /thongbao need."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        renderer: Renderer,
        *,
        rate: float = 25.0,
        edit_every: float = 5.0,
        batch: int = 500,
        run_runner: bool = True,
    ) -> None:
        self.db = db
        self.clock = clock
        self.renderer = renderer
        self.rate = rate
        self.edit_every = edit_every
        self.batch = batch
        self.run_runner = run_runner
        self.running: BroadcastRunner | None = None

    def runner(self, port: ProgressPort, *, sleep: Sleep = asyncio.sleep, **kw: Any) -> BroadcastRunner:
        """A runner on this service (tests and benchmarks drive their own)."""
        kw.setdefault("edit_every", self.edit_every)
        kw.setdefault("batch", self.batch)
        return BroadcastRunner(self, port, sleep=sleep, **kw)

    def start(self, port: ProgressPort) -> None:
        """Start this process's runner beside the outbox worker (nothing when the worker is off)."""
        if self.run_runner and self.running is None:
            self.running = self.runner(port)
            self.running.start()

    async def stop(self) -> None:
        runner, self.running = self.running, None
        if runner is not None:
            await runner.stop()

    async def shown(self, broadcast_id: int, html: str, message_id: int | None = None) -> None:
        """The handler showed `html` as the progress message (so the runner does not repeat it)."""
        values: dict[str, Any] = {"progress_html": html, "progress_at": self.clock.now()}
        if message_id is not None:
            values["progress_message_id"] = message_id
        async with self.db.session() as s:
            await s.execute(update(Broadcast).where(Broadcast.id == broadcast_id).values(**values))

    # ---- composing ---------------------------------------------------------------------------------
    def outgoing(self, b: Broadcast) -> Outgoing:
        audience = Audience.from_json(b.audience)
        return compose_message(self.renderer, Content.from_json(b.content), b.sender_name, audience.topic)

    async def create(self, access: StaffAccess, content: Content, sender_name: str) -> Broadcast:
        """A draft with this content, after checking Telegram's limits (BroadcastError "too_long")."""
        if content.kind not in TEXT_KINDS + MEDIA_KINDS:
            raise BroadcastError("unsupported")
        if content.kind == "text" and not visible_text(content.body).strip():
            raise BroadcastError("empty")
        over = check_limits(compose_message(self.renderer, content, sender_name, Topic.GENERAL))
        if over is not None:
            raise BroadcastError("too_long", length=over[0], limit=over[1], caption=content.kind != "text")
        now = self.clock.now()
        async with self.db.session() as s:
            b = Broadcast(
                created_by=access.user_id,
                created_at=now,
                state=S.DRAFT.value,
                content=content.to_json(),
                sender_name=sender_name[:256],
                audience=Audience().within(access.commune_filter()).to_json(),
                scope=sorted(access.communes) if access.scoped else [],
                cursor=0,
                queue_done=False,
                queued=0,
                expected=0,
                unreachable=0,
                muted=0,
            )
            s.add(b)
            await s.flush()
            audit(
                s,
                at=now,
                actor_id=access.user_id,
                action="broadcast.draft",
                broadcast=b.id,
                kind=content.kind,
            )
        return b

    async def _mine(
        self, s: AsyncSession, access: StaffAccess, broadcast_id: int, *, lock: bool = False
    ) -> Broadcast:
        q = select(Broadcast).where(Broadcast.id == broadcast_id)
        if lock and not self.db.is_sqlite:
            q = q.with_for_update()
        b = (await s.execute(q)).scalar_one_or_none()
        if b is None or not self._may_act(access, b):
            raise BroadcastError("not_found")
        return b

    @staticmethod
    def _may_act(access: StaffAccess, b: Broadcast) -> bool:
        """A scoped member acts only on broadcasts within their communes (their own, in practice)."""
        if not access.scoped:
            return True
        return bool(b.scope) and set(b.scope) <= set(access.communes)

    async def get(self, access: StaffAccess, broadcast_id: int) -> Broadcast:
        async with self.db.session() as s:
            return await self._mine(s, access, broadcast_id)

    async def set_audience(self, access: StaffAccess, broadcast_id: int, audience: Audience) -> Broadcast:
        """Change a draft's audience (narrowed to the member's scope; OutOfScope otherwise)."""
        audience = audience.within(access.commune_filter())
        now = self.clock.now()
        async with self.db.session() as s:
            b = await self._mine(s, access, broadcast_id, lock=True)
            if b.state != S.DRAFT.value:
                raise BroadcastError("not_draft")
            b.audience = audience.to_json()
            audit(
                s,
                at=now,
                actor_id=access.user_id,
                action="broadcast.audience",
                broadcast=b.id,
                audience=audience.to_json(),
            )
        return b

    async def count(self, audience: Audience) -> AudienceCount:
        async with self.db.session() as s:
            return await audiences.count(s, audience)

    async def confirm(
        self,
        access: StaffAccess,
        broadcast_id: int,
        *,
        chat_id: int,
        message_id: int | None,
        at: datetime | None = None,
    ) -> Broadcast:
        """Send a draft now (`at` None) or at `at`; the progress message is `message_id` in `chat_id`."""
        now = self.clock.now()
        if at is not None and at <= now:
            raise BroadcastError("past")
        async with self.db.session() as s:
            b = await self._mine(s, access, broadcast_id, lock=True)
            if b.state != S.DRAFT.value:
                raise BroadcastError("not_draft")
            audience = Audience.from_json(b.audience).within(access.commune_filter())
            counted = await audiences.count(s, audience)
            if counted.recipients == 0:
                raise BroadcastError("nobody")
            b.audience = audience.to_json()
            b.scope = sorted(access.communes) if access.scoped else []
            b.expected, b.unreachable, b.muted = counted.recipients, counted.unreachable, counted.muted
            b.progress_chat_id, b.progress_message_id = chat_id, message_id
            if at is None:
                b.state, b.started_at = S.RUNNING.value, now
                await self.queue_rows(s, b, now, self.batch)  # the worker can start at once
            else:
                b.state, b.scheduled_at = S.SCHEDULED.value, at
            action = "broadcast.schedule" if at else "broadcast.send"
            audit(
                s,
                at=now,
                actor_id=access.user_id,
                action=action,
                broadcast=b.id,
                recipients=counted.recipients,
                when=at.isoformat() if at else None,
            )
        return b

    async def queue_rows(self, s: AsyncSession, b: Broadcast, now: datetime, limit: int) -> int:
        """In `s`: the outbox rows of the next `limit` recipients after `b.cursor` (one per recipient;
        the idempotency key `<broadcast>:<user>` makes a repeated batch add nothing); how many users."""
        ids = await audiences.batch(s, Audience.from_json(b.audience), after=b.cursor, limit=limit)
        out = self.outgoing(b)
        held = b.state == S.PAUSED.value  # queued while paused: held until resumed
        rows = [
            outbox_row(
                chat_id=uid, text=out.text, kind=KIND, now=now, buttons=out.buttons,
                priority=Priority.BROADCAST, key=f"{b.id}:{uid}", media=out.media, broadcast_id=b.id,
            )
            | ({"state": OutboxState.HELD.value} if held else {})
            for uid in ids
        ]
        await enqueue_many(s, rows)
        if ids:
            b.cursor = ids[-1]
            b.queued += len(ids)
        if len(ids) < limit:
            b.queue_done = True
            b.expected = b.queued
        return len(ids)

    # ---- controlling -------------------------------------------------------------------------------
    async def pause(self, access: StaffAccess, broadcast_id: int) -> Broadcast:
        return await self._control(access, broadcast_id, "pause")

    async def resume(self, access: StaffAccess, broadcast_id: int) -> Broadcast:
        return await self._control(access, broadcast_id, "resume")

    async def cancel(self, access: StaffAccess, broadcast_id: int) -> Broadcast:
        return await self._control(access, broadcast_id, "cancel")

    async def _control(self, access: StaffAccess, broadcast_id: int, action: str) -> Broadcast:
        now = self.clock.now()
        async with self.db.session() as s:
            b = await self._mine(s, access, broadcast_id, lock=True)
            rows = update(OutboxMessage).where(OutboxMessage.broadcast_id == b.id)
            if action == "pause":
                if b.state != S.RUNNING.value:
                    raise BroadcastError("not_running")
                b.state = S.PAUSED.value
                await s.execute(
                    rows.where(OutboxMessage.state == OutboxState.PENDING.value).values(
                        state=OutboxState.HELD.value
                    )
                )
            elif action == "resume":
                if b.state != S.PAUSED.value:
                    raise BroadcastError("not_paused")
                b.state = S.RUNNING.value
                await s.execute(
                    rows.where(OutboxMessage.state == OutboxState.HELD.value).values(
                        state=OutboxState.PENDING.value, next_attempt_at=now
                    )
                )
            else:
                if b.state not in (S.DRAFT.value, S.SCHEDULED.value, *ACTIVE_BROADCAST_STATES):
                    raise BroadcastError("finished")
                if b.state == S.DRAFT.value:
                    b.reported_at = now  # nothing to report
                b.state, b.finished_at = S.CANCELLED.value, now
                await s.execute(
                    rows.where(
                        OutboxMessage.state.in_([OutboxState.PENDING.value, OutboxState.HELD.value])
                    ).values(state=OutboxState.CANCELLED.value)
                )
            audit(s, at=now, actor_id=access.user_id, action=f"broadcast.{action}", broadcast=b.id)
        return b

    # ---- reading -----------------------------------------------------------------------------------
    async def progress(self, broadcast_id: int) -> Progress:
        async with self.db.session() as s:
            b = await s.get(Broadcast, broadcast_id)
            assert b is not None
            return await self._progress(s, b)

    async def _progress(self, s: AsyncSession, b: Broadcast) -> Progress:
        rows = await s.execute(
            select(OutboxMessage.state, func.count())
            .where(OutboxMessage.broadcast_id == b.id)
            .group_by(OutboxMessage.state)
        )
        n = {str(state): int(k) for state, k in rows}
        return Progress(
            b,
            sent=n.get(OutboxState.SENT.value, 0),
            failed=n.get(OutboxState.FAILED.value, 0),
            blocked=n.get(OutboxState.BLOCKED.value, 0),
            waiting=n.get(OutboxState.PENDING.value, 0) + n.get(OutboxState.HELD.value, 0),
            cancelled=n.get(OutboxState.CANCELLED.value, 0),
        )

    async def recent(self, access: StaffAccess, limit: int = 5) -> list[Progress]:
        """The newest confirmed broadcasts this member may see, with their counts."""
        async with self.db.session() as s:
            q = (
                select(Broadcast)
                .where(Broadcast.state != S.DRAFT.value)
                .order_by(Broadcast.id.desc())
                .limit(limit * 4 if access.scoped else limit)
            )
            found = [b for b in (await s.execute(q)).scalars() if self._may_act(access, b)][:limit]
            return [await self._progress(s, b) for b in found]

    async def failures_csv(self, access: StaffAccess, broadcast_id: int) -> tuple[bytes, int]:
        """The recipients that did not get it (failed, blocked, cancelled) as CSV, streamed from the
        database; and how many."""
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(["user_id", "name", "username", "state", "attempts", "error"])
        count = 0
        async with self.db.session() as s:
            await self._mine(s, access, broadcast_id)
            if access.user_id:
                audit(
                    s,
                    at=self.clock.now(),
                    actor_id=access.user_id,
                    action="broadcast.csv",
                    broadcast=broadcast_id,
                )
            q = (
                select(
                    OutboxMessage.chat_id,
                    User.full_name,
                    User.username,
                    OutboxMessage.state,
                    OutboxMessage.attempts,
                    OutboxMessage.last_error,
                )
                .join(User, User.id == OutboxMessage.chat_id, isouter=True)
                .where(
                    OutboxMessage.broadcast_id == broadcast_id,
                    OutboxMessage.state.in_(
                        [OutboxState.FAILED.value, OutboxState.BLOCKED.value, OutboxState.CANCELLED.value]
                    ),
                )
                .order_by(OutboxMessage.chat_id)
            )
            async for row in await s.stream(q.execution_options(yield_per=1000)):
                writer.writerow([row[0], row[1] or "", row[2] or "", row[3], row[4], (row[5] or "")[:300]])
                count += 1
        return ("\ufeff" + buf.getvalue()).encode("utf-8"), count  # BOM: Excel reads UTF-8

    # ---- the progress message ----------------------------------------------------------------------
    def view(self, p: Progress) -> tuple[str, Buttons]:
        """The progress message (or, once finished, the report) and its buttons."""
        b = p.broadcast
        r = self.renderer
        final = b.state in (S.DONE.value, S.CANCELLED.value)
        left = p.waiting + p.to_create
        seconds = math.ceil(left / self.rate) if self.rate > 0 else 0
        width = 10
        filled = width if p.total == 0 else min(width, (p.done * width) // p.total)
        html = r.render(
            "broadcast/report" if final else "broadcast/progress",
            b=b,
            p=p,
            bar="▓" * filled + "░" * (width - filled),
            percent=100 if p.total == 0 else (100 * p.done) // p.total,
            minutes=seconds // 60,
            seconds=seconds % 60,
            audience=describe(r, Audience.from_json(b.audience)),
        )
        buttons: Buttons = []
        if b.state == S.RUNNING.value:
            buttons = [[_button(r, "pause", b.id), _button(r, "cancel", b.id)]]
        elif b.state == S.PAUSED.value:
            buttons = [[_button(r, "resume", b.id), _button(r, "cancel", b.id)]]
        elif b.state == S.SCHEDULED.value:
            buttons = [[_button(r, "unschedule", b.id)]]
        elif final and p.failed + p.blocked + p.cancelled:
            buttons = [[_button(r, "csv", b.id)]]
        return html, buttons


ACTIONS = {"pause": "p", "resume": "r", "cancel": "x", "unschedule": "x", "csv": "csv"}


def _button(r: Renderer, name: str, broadcast_id: int) -> dict[str, str]:
    return {"text": r.label(f"broadcast.{name}"), "callback_data": encode("bc", ACTIONS[name], broadcast_id)}


def describe(r: Renderer, audience: Audience) -> Markup:
    """The audience in words (rendered HTML, to put into another template)."""
    names = {ps.id: str(ps.number or ps.label) for ps in audiences.product_sets()}
    html = r.render(
        "broadcast/audience_words",
        a=audience,
        communes=audience.communes,
        sets=[names.get(ps, ps) for ps in audience.product_sets],
        statuses=[r.label(f"dossier.status_{st}") for st in audience.statuses],
    )
    return Markup(html)


class BroadcastRunner:
    """Starts scheduled broadcasts, creates their outbox rows in batches, keeps the progress messages
    up to date and reports at the end. `tick()` does one round; `start()`/`stop()` run it as a task."""

    def __init__(
        self,
        service: BroadcastService,
        port: ProgressPort,
        *,
        sleep: Sleep = asyncio.sleep,
        interval: float = 1.0,
        edit_every: float = 5.0,
        min_gap: float = 1.5,
        batch: int = 500,
    ) -> None:
        self.service = service
        self.db = service.db
        self.clock = service.clock
        self.port = port
        self.sleep = sleep
        self.interval = interval
        self.edit_every = timedelta(seconds=edit_every)
        self.min_gap = timedelta(seconds=min_gap)
        self.batch = batch
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self.run(), name="broadcasts")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass

    async def run(self) -> None:
        while not self._stopping:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("broadcasts: a round failed; trying again")
            await self.sleep(self.interval)

    async def tick(self) -> None:
        """One round: start what is due, queue one batch of each running broadcast, refresh progress."""
        now = self.clock.now()
        for broadcast_id in await self._due(now):
            await self._start(broadcast_id, now)
        for broadcast_id in await self._ids(ACTIVE_BROADCAST_STATES, queue_done=False):
            await self.queue_batch(broadcast_id)
        for broadcast_id in await self._unreported():
            await self._refresh(broadcast_id)

    async def _due(self, now: datetime) -> list[int]:
        async with self.db.session() as s:
            q = select(Broadcast.id).where(
                Broadcast.state == S.SCHEDULED.value, Broadcast.scheduled_at <= now
            )
            return list((await s.execute(q)).scalars())

    async def _ids(self, states: tuple[str, ...], *, queue_done: bool) -> list[int]:
        async with self.db.session() as s:
            q = select(Broadcast.id).where(Broadcast.state.in_(states), Broadcast.queue_done.is_(queue_done))
            return list((await s.execute(q.order_by(Broadcast.id))).scalars())

    async def _unreported(self) -> list[int]:
        async with self.db.session() as s:
            q = select(Broadcast.id).where(
                Broadcast.state.in_([*ACTIVE_BROADCAST_STATES, S.DONE.value, S.CANCELLED.value]),
                (Broadcast.reported_at.is_(None)) | (Broadcast.csv_sent_at.is_(None)),
            )
            return list((await s.execute(q.order_by(Broadcast.id))).scalars())

    async def _start(self, broadcast_id: int, now: datetime) -> None:
        """Scheduled → running, once (whoever's UPDATE matches first)."""
        async with self.db.session() as s:
            result = await s.execute(
                update(Broadcast)
                .where(Broadcast.id == broadcast_id, Broadcast.state == S.SCHEDULED.value)
                .values(state=S.RUNNING.value, started_at=now)
            )
            if result.rowcount == 1:
                audit(s, at=now, actor_id=None, action="broadcast.start", broadcast=broadcast_id)

    async def queue_batch(self, broadcast_id: int) -> int:
        """Create the outbox rows of the next `batch` recipients (one transaction); how many users."""
        now = self.clock.now()
        async with self.db.session() as s:
            q = select(Broadcast).where(Broadcast.id == broadcast_id)
            if not self.db.is_sqlite:
                q = q.with_for_update()
            b = (await s.execute(q)).scalar_one()
            if b.state not in ACTIVE_BROADCAST_STATES or b.queue_done:
                return 0
            return await self.service.queue_rows(s, b, now, self.batch)

    async def _refresh(self, broadcast_id: int) -> None:
        """Finish the broadcast when every row has an outcome; edit its progress message when due."""
        now = self.clock.now()
        async with self.db.session() as s:
            b = await s.get(Broadcast, broadcast_id)
            assert b is not None
            p = await self.service._progress(s, b)
            if b.state == S.RUNNING.value and b.queue_done and p.waiting == 0:
                b.state, b.finished_at = S.DONE.value, now
                audit(
                    s,
                    at=now,
                    actor_id=None,
                    action="broadcast.done",
                    broadcast=b.id,
                    sent=p.sent,
                    failed=p.failed,
                    unreachable=p.unreachable,
                )
        if b.reported_at is None:
            await self._show(b, p, now)
        elif b.csv_sent_at is None:
            await self._send_csv(b)

    async def _show(self, b: Broadcast, p: Progress, now: datetime) -> None:
        html, buttons = self.service.view(p)
        final = b.state in (S.DONE.value, S.CANCELLED.value)
        changed_state = b.progress_html is not None and _state_line(html) != _state_line(b.progress_html)
        if html == b.progress_html:
            if final:
                await self._mark(b.id, reported_at=now)
            return
        if b.progress_chat_id is None:
            await self._mark(b.id, reported_at=now if final else None)
            return
        if b.progress_at is not None:
            gap = now - b.progress_at
            if gap < self.min_gap or (gap < self.edit_every and not (final or changed_state)):
                return
        result = None
        if b.progress_message_id is not None:
            result = await self.port.edit(b.progress_chat_id, b.progress_message_id, html, buttons)
            if result.outcome is Outcome.REFUSED and "not modified" in result.error.lower():
                result = None  # already shows it
            elif result.outcome is Outcome.RETRY_AFTER:
                await self._mark(b.id, progress_at=now + timedelta(seconds=result.retry_after))
                return
            elif result.outcome is Outcome.TRANSIENT:
                await self._mark(b.id, progress_at=now)  # tried: the next try keeps the same spacing
                return
        message_id = b.progress_message_id
        if b.progress_message_id is None or (result is not None and result.outcome is not Outcome.SENT):
            sent = await self.port.send(b.progress_chat_id, html, buttons)  # the old one is gone
            if sent.outcome is not Outcome.SENT:
                log.warning("broadcast %d: progress message not shown: %s", b.id, sent.error)
                await self._mark(b.id, progress_at=now, reported_at=now if final else None)
                return
            message_id = sent.message_id
        await self._mark(
            b.id,
            progress_html=html,
            progress_at=now,
            progress_message_id=message_id,
            reported_at=now if final else None,
        )

    async def _send_csv(self, b: Broadcast) -> None:
        if b.state not in (S.DONE.value, S.CANCELLED.value):
            return
        p = await self.service.progress(b.id)
        now = self.clock.now()
        if b.progress_chat_id is not None and p.failed + p.blocked + p.cancelled > 0:
            # Claim it first: a crash after the claim loses the file (the report's button remains).
            async with self.db.session() as s:
                claimed = await s.execute(
                    update(Broadcast)
                    .where(Broadcast.id == b.id, Broadcast.csv_sent_at.is_(None))
                    .values(csv_sent_at=now)
                )
                if claimed.rowcount != 1:
                    return
            data, count = await self.service.failures_csv(_system(), b.id)
            caption = self.service.renderer.render("broadcast/csv_caption", b=b, count=count)
            result = await self.port.send_file(b.progress_chat_id, f"thongbao-{b.id}-loi.csv", data, caption)
            if result.outcome in (Outcome.TRANSIENT, Outcome.RETRY_AFTER):
                await self._mark_csv_unsent(b.id)  # tried again next round
            elif result.outcome is not Outcome.SENT:
                log.warning("broadcast %d: failures file not sent: %s", b.id, result.error)
        else:
            await self._mark(b.id, csv_sent_at=now)

    async def _mark_csv_unsent(self, broadcast_id: int) -> None:
        async with self.db.session() as s:
            await s.execute(update(Broadcast).where(Broadcast.id == broadcast_id).values(csv_sent_at=None))

    async def _mark(self, broadcast_id: int, **values: Any) -> None:
        values = {k: v for k, v in values.items() if v is not None}
        if not values:
            return
        async with self.db.session() as s:
            await s.execute(update(Broadcast).where(Broadcast.id == broadcast_id).values(**values))


def _state_line(html: str) -> str:
    return html.split("\n", 1)[0]


def _system() -> StaffAccess:
    from storage.models import Role

    return StaffAccess(0, Role.ADMIN)
