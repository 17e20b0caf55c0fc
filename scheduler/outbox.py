"""The outbox repository: `enqueue` in the caller's transaction, and the worker's claims and records.

Enqueue writes a pending row in the session the caller's change uses, so the change and its notice
commit together or not at all (a rolled-back status change sends nothing).

A claim (`OutboxStore.claim`) is one short transaction that locks the single pacing row, so claims of
every process are serialized and take send slots from one sequence: slot n+1 is at least 1/rate
after slot n overall, and at least `per_chat` after the previous slot of the same chat
(`outbox_chats`). Claimed rows get a lease (claimed_by, lease_until = slot + lease); candidate rows
are read with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so a row another transaction holds is never
waited for nor taken twice. A lease that expires (the worker died) makes the row claimable again.

Outcomes are recorded right after Telegram answers, only by the worker still holding the lease
(`WHERE claimed_by = me`); answers that arrive while a commit runs share the next one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database
from storage.models import User
from storage.outbox_models import OutboxChat, OutboxMessage, OutboxPacing, OutboxState, Priority

PACING_ROW = 1
MAX_ERROR = 1000


def outbox_row(
    *,
    chat_id: int,
    text: str,
    kind: str,
    now: datetime,
    buttons: Sequence[Sequence[dict[str, Any]]] | None = None,
    priority: int = Priority.NOTICE,
    key: str | None = None,
    not_before: datetime | None = None,
    media: dict[str, Any] | None = None,
    broadcast_id: int | None = None,
) -> dict[str, Any]:
    """The pending outbox row `enqueue` writes, checked (text or media, lengths of kind and key)."""
    if not text.strip() and media is None:
        raise ValueError("an outbox message needs a text")
    if len(kind) > 32 or (key is not None and len(key) > 128):
        raise ValueError("kind is at most 32 characters, key at most 128")
    return {
        "chat_id": chat_id,
        "kind": kind,
        "priority": int(priority),
        "text": text,
        "buttons": [list(row) for row in buttons] if buttons else None,
        "media": media,
        "broadcast_id": broadcast_id,
        "idempotency_key": key,
        "state": OutboxState.PENDING.value,
        "attempts": 0,
        "next_attempt_at": max(now, not_before) if not_before else now,
        "created_at": now,
    }


async def enqueue(
    session: AsyncSession,
    *,
    chat_id: int,
    text: str,
    kind: str,
    now: datetime,
    buttons: Sequence[Sequence[dict[str, Any]]] | None = None,
    priority: int = Priority.NOTICE,
    key: str | None = None,
    not_before: datetime | None = None,
    media: dict[str, Any] | None = None,
    broadcast_id: int | None = None,
) -> int | None:
    """Queue one rendered HTML message in `session` (the caller's transaction; nothing is committed
    here). `key` makes it idempotent per `kind`: a second enqueue with the same (kind, key) is
    ignored and returns None; otherwise the new row's id. `media` makes it a photo/document (by
    file_id) or a copy of a message, `text` being its caption (see OutboxMessage.media)."""
    values = outbox_row(
        chat_id=chat_id, text=text, kind=kind, now=now, buttons=buttons, priority=priority, key=key,
        not_before=not_before, media=media, broadcast_id=broadcast_id,
    )
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(OutboxMessage)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["kind", "idempotency_key"])
        .returning(OutboxMessage.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def enqueue_many(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Insert many prepared rows (OutboxMessage columns, the same keys in every row; `outbox_row`
    makes them) in the caller's transaction, skipping those whose (kind, idempotency_key) already
    exists, as `enqueue` does. One executemany: SQLAlchemy sends it as multi-row INSERTs
    ("insertmanyvalues", up to 1,000 rows a statement) with one compiled statement, which is several
    times faster than compiling a `.values([...])` of hundreds of rows. Used for broadcast batches
    and reminders."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(OutboxMessage).on_conflict_do_nothing(index_elements=["kind", "idempotency_key"])
    await session.execute(stmt, list(rows))


@dataclass(frozen=True)
class Claimed:
    """A row this worker holds: send it at `slot`, and only while the lease lasts."""

    id: int
    chat_id: int
    text: str
    buttons: list[list[dict[str, Any]]] | None
    attempts: int
    slot: datetime
    lease_until: datetime
    media: dict[str, Any] | None = None


@dataclass(frozen=True)
class Record:
    """What Telegram's answer means for one claimed row: sent (with its message id), pending again
    `at` (retry; `counts` as an attempt unless it was a 429), failed or blocked (with the error)."""

    claimed: Claimed
    state: OutboxState
    at: datetime
    message_id: int | None = None
    error: str = ""
    counts: bool = True


@dataclass(frozen=True)
class Pacing:
    """How fast the outbox may send: `rate` messages a second overall (0: unlimited) and one message
    per `per_chat` seconds to a chat. Slots are handed out at most `lookahead` seconds ahead, a
    claim takes `share` seconds' worth of them (so several workers interleave).

    A message leaves within `tolerance` of its slot or not at all (the worker gives it back and a
    later claim re-slots it); within a process, sends are also spaced on their actual times."""

    rate: float = 25.0
    per_chat: float = 1.0
    lookahead: float = 1.5
    share: float = 0.5
    tolerance: float = 0.5
    # A process's own sliding window: `rate` sends per `window` seconds of its actual send times. (1.02
    # was tried against the jitter between deciding to send and the call arriving: it cost 4 % of wall
    # time on a loaded machine and the fake still saw 26 in one second once; so 1.0.)
    window: float = 1.0
    lease: float = 60.0
    batch: int = 200  # rows per claim when the rate is unlimited

    @property
    def interval(self) -> timedelta:
        return timedelta(seconds=1.0 / self.rate) if self.rate > 0 else timedelta(0)

    @property
    def chat_gap(self) -> timedelta:
        return timedelta(seconds=self.per_chat) if self.per_chat > 0 else timedelta(0)

    @property
    def claim_limit(self) -> int:
        if self.rate <= 0:
            return self.batch
        return max(1, min(self.batch, math.ceil(self.rate * min(self.share, self.lookahead))))


class OutboxStore:
    """The worker's side of the outbox table (claims, outcomes, pauses, counts)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = not db.is_sqlite  # row locks exist on PostgreSQL; SQLite has one writer anyway

    async def prune(self, now: datetime, keep: timedelta = timedelta(days=30)) -> int:
        """Delete what no one needs any more: notices settled (sent, failed, blocked) more than `keep`
        ago, and per-chat pacing rows whose slot is long past. A broadcast's rows stay: its report
        counts them. Returns the number of messages deleted."""
        settled = (OutboxState.SENT.value, OutboxState.FAILED.value, OutboxState.BLOCKED.value)
        async with self.db.session() as s:
            gone = await s.execute(
                delete(OutboxMessage).where(
                    OutboxMessage.broadcast_id.is_(None),
                    OutboxMessage.state.in_(settled),
                    OutboxMessage.created_at < now - keep,
                )
            )
            await s.execute(delete(OutboxChat).where(OutboxChat.next_at < now - timedelta(hours=1)))
        return int(gone.rowcount or 0)

    async def claim(self, worker_id: str, now: datetime, pacing: Pacing) -> list[Claimed]:
        """Take the next rows due, each with a send slot, in slot order (empty when none may go
        within the lookahead)."""
        horizon = now + timedelta(seconds=pacing.lookahead)
        lease = timedelta(seconds=pacing.lease)
        per_chat = pacing.chat_gap
        async with self.db.session() as s:
            q = select(OutboxPacing).where(OutboxPacing.id == PACING_ROW)
            row = (await s.execute(q.with_for_update() if self._lock else q)).scalar_one()
            cursor = max(now, row.next_slot, row.paused_until)
            if cursor > horizon:
                return []
            busy_chat = exists().where(
                OutboxChat.chat_id == OutboxMessage.chat_id, OutboxChat.next_at > horizon
            )
            cq = (
                select(OutboxMessage)
                .where(
                    OutboxMessage.state == OutboxState.PENDING.value,
                    OutboxMessage.next_attempt_at <= now,
                    or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now),
                    ~busy_chat,
                )
                .order_by(OutboxMessage.priority, OutboxMessage.id)
                .limit(pacing.claim_limit * 2)
            )
            if self._lock:
                cq = cq.with_for_update(skip_locked=True, of=OutboxMessage)
            candidates = list((await s.execute(cq)).scalars())
            if not candidates:
                return []
            chat_ids = {m.chat_id for m in candidates}
            known = await s.execute(select(OutboxChat).where(OutboxChat.chat_id.in_(chat_ids)))
            chats = {c.chat_id: c for c in known.scalars()}
            taken: list[Claimed] = []
            seen: set[int] = set()
            for m in candidates:
                if len(taken) >= pacing.claim_limit:
                    break
                if m.chat_id in seen:
                    continue
                chat = chats.get(m.chat_id)
                slot = max(cursor, chat.next_at) if chat is not None else cursor
                if slot > horizon:
                    continue
                seen.add(m.chat_id)
                m.claimed_by = worker_id
                m.lease_until = slot + lease
                if chat is None:
                    chat = OutboxChat(chat_id=m.chat_id, next_at=slot + per_chat)
                    s.add(chat)
                    chats[m.chat_id] = chat
                else:
                    chat.next_at = slot + per_chat
                cursor = slot + pacing.interval
                taken.append(
                    Claimed(m.id, m.chat_id, m.text, m.buttons, m.attempts, slot, m.lease_until, m.media)
                )
            if taken:
                row.next_slot = cursor
        return taken

    async def record(self, worker_id: str, records: Sequence[Record]) -> int:
        """Write the outcomes of rows this worker holds, in one transaction (group commit: the
        answers that arrived while the previous commit ran). Returns how many rows were still held."""
        if not records:
            return 0
        done = 0
        async with self.db.session() as s:
            sent = [r for r in records if r.state == OutboxState.SENT]
            if sent:
                ids = [r.claimed.id for r in sent]
                stmt = (
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_(ids), OutboxMessage.claimed_by == worker_id)
                    .values(
                        state=OutboxState.SENT.value,
                        claimed_by=None,
                        lease_until=None,
                        attempts=OutboxMessage.attempts + 1,
                        sent_at=sent[-1].at,
                        telegram_message_id=case(
                            {r.claimed.id: r.message_id for r in sent}, value=OutboxMessage.id
                        ),
                    )
                    .execution_options(synchronize_session=False)
                )
                done += int(getattr(await s.execute(stmt), "rowcount", 0) or 0)
            for r in records:
                if r.state == OutboxState.SENT:
                    continue
                values: dict[str, Any] = {
                    "claimed_by": None,
                    "lease_until": None,
                    "last_error": r.error[:MAX_ERROR],
                    "attempts": OutboxMessage.attempts + (1 if r.counts else 0),
                }
                if r.state == OutboxState.PENDING:
                    values["next_attempt_at"] = r.at
                else:
                    values["state"] = r.state.value
                stmt = (
                    update(OutboxMessage)
                    .where(OutboxMessage.id == r.claimed.id, OutboxMessage.claimed_by == worker_id)
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )
                held = int(getattr(await s.execute(stmt), "rowcount", 0) or 0)
                done += held
                if held and r.state == OutboxState.BLOCKED:
                    # The user is unreachable (users.blocked); their next /start clears it.
                    await s.execute(update(User).where(User.id == r.claimed.chat_id).values(blocked=True))
        return done

    async def release(self, claimed: Sequence[Claimed], worker_id: str) -> None:
        """Give back rows this worker will not send now (stopping, or paused by a 429)."""
        if not claimed:
            return
        async with self.db.session() as s:
            await s.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_([c.id for c in claimed]), OutboxMessage.claimed_by == worker_id)
                .values(claimed_by=None, lease_until=None)
            )

    async def pause(self, until: datetime) -> None:
        """Telegram asked the bot to wait (429): no process takes a slot before `until`."""
        async with self.db.session() as s:
            q = select(OutboxPacing).where(OutboxPacing.id == PACING_ROW)
            row = (await s.execute(q.with_for_update() if self._lock else q)).scalar_one()
            row.paused_until = max(row.paused_until, until)
            row.next_slot = max(row.next_slot, until)

    async def next_due(self) -> datetime | None:
        """When a pending row may next be claimable (its next attempt, or its lease running out);
        None when nothing is pending."""
        due = func.coalesce(OutboxMessage.lease_until, OutboxMessage.next_attempt_at)
        async with self.db.session() as s:
            q = select(func.min(due)).where(OutboxMessage.state == OutboxState.PENDING.value)
            value = (await s.execute(q)).scalar_one_or_none()
        if isinstance(value, str):  # SQLite's min() over a timestamp column comes back as text
            value = datetime.fromisoformat(value)
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    async def counts(self) -> dict[str, int]:
        async with self.db.session() as s:
            rows = await s.execute(select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state))
            return {str(state): int(n) for state, n in rows}
