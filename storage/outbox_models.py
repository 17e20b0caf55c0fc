"""The outbox tables: outgoing messages, and the pacing state every sending process shares.

`outbox` holds one row per message nobody just asked for (status notices, officer alerts,
broadcasts, reminders), written in the transaction of the change that causes it and sent later by
the worker in `scheduler/`. `outbox_pacing` (one row) and `outbox_chats` (one row per recipient)
hold the next free send slot overall and per chat, so pacing is global across processes.
`broadcasts` holds staff announcements: content, audience, where delivery stands, the progress message.
"""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.db import Base, UTCDateTime


class OutboxState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # refused by Telegram, or transient errors beyond the retry limit
    BLOCKED = "blocked"  # the recipient blocked the bot, deleted the account, or the chat is gone
    HELD = "held"  # a row of a paused broadcast: not claimed until the broadcast resumes
    CANCELLED = "cancelled"  # a row of a cancelled broadcast that never left


class Priority(IntEnum):
    """Lower goes first: a notice about someone's own dossier before a broadcast."""

    NOTICE = 0
    ALERT = 5
    BROADCAST = 10


class OutboxMessage(Base):
    """One outgoing message, rendered at enqueue time (HTML text and inline buttons as JSON)."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("kind", "idempotency_key", name="uq_outbox_kind_key"),
        Index("ix_outbox_due", "state", "priority", "id"),
        Index("ix_outbox_chat", "chat_id", "state"),
        Index("ix_outbox_broadcast", "broadcast_id", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    priority: Mapped[int] = mapped_column(SmallInteger, default=Priority.NOTICE)
    text: Mapped[str] = mapped_column(Text)
    buttons: Mapped[list[list[dict[str, Any]]] | None] = mapped_column(JSON, nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # A photo/document by file_id ({"type", "file_id"}: `text` is its caption) or a copy of a message
    # ({"type": "copy", "from_chat_id", "message_id"}: `text` replaces its caption); None: a text message.
    media: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # The broadcast this row is one recipient of (progress and reports count by it); None otherwise.
    broadcast_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    state: Mapped[str] = mapped_column(String(16), default=OutboxState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class OutboxPacing(Base):
    """The single row (id 1) of global pacing: the next free send slot, and a pause Telegram asked
    for (429). Claims lock it, so every process takes slots from one sequence."""

    __tablename__ = "outbox_pacing"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    next_slot: Mapped[datetime] = mapped_column(UTCDateTime)
    paused_until: Mapped[datetime] = mapped_column(UTCDateTime)


class OutboxChat(Base):
    """The earliest moment the next message to this chat may leave (one a second per chat)."""

    __tablename__ = "outbox_chats"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    next_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BroadcastState(StrEnum):
    DRAFT = "draft"  # being composed: content and audience may still change
    SCHEDULED = "scheduled"  # confirmed for `scheduled_at`; cancellable until it starts
    RUNNING = "running"  # its rows are being created (`queue_done` false) and/or sent
    PAUSED = "paused"  # rows kept back (outbox state held) until resumed
    CANCELLED = "cancelled"  # what had not left never will
    DONE = "done"  # every row has an outcome


ACTIVE_BROADCAST_STATES = (BroadcastState.RUNNING.value, BroadcastState.PAUSED.value)


class Broadcast(Base):
    """A staff announcement to an audience: its content, who it goes to, where it stands and where its
    live progress message is. Its recipients are outbox rows with `broadcast_id` = this id."""

    __tablename__ = "broadcasts"
    __table_args__ = (Index("ix_broadcasts_state", "state", "scheduled_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_by: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16), default=BroadcastState.DRAFT)
    # {"kind": text|photo|document|copy, "body": Telegram-HTML, "file_id"?, "from_chat_id"?, "message_id"?}
    content: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    sender_name: Mapped[str] = mapped_column(String(256), default="")
    # scheduler.audience.Audience as JSON, and the officer's commune scope at confirmation ([] = all).
    audience: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    scope: Mapped[list[str]] = mapped_column(JSON, default=list)
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Row creation in batches: the last user id queued, whether every recipient has a row, how many.
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    queue_done: Mapped[bool] = mapped_column(Boolean, default=False)
    queued: Mapped[int] = mapped_column(Integer, default=0)
    expected: Mapped[int] = mapped_column(Integer, default=0)  # recipients counted at confirmation
    unreachable: Mapped[int] = mapped_column(Integer, default=0)  # excluded: blocked the bot
    muted: Mapped[int] = mapped_column(Integer, default=0)  # excluded: turned the topic off
    # The officer's live progress message, what it shows now and when it was last edited.
    progress_chat_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    progress_message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    progress_html: Mapped[str | None] = mapped_column(Text, nullable=True)
    progress_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # final report shown
    csv_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
