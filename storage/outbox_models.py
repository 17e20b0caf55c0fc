"""The outbox tables: outgoing messages, and the pacing state every sending process shares.

`outbox` holds one row per message nobody just asked for (status notices, officer alerts,
broadcasts, reminders), written in the transaction of the change that causes it and sent later by
the worker in `scheduler/`. `outbox_pacing` (one row) and `outbox_chats` (one row per recipient)
hold the next free send slot overall and per chat, so pacing is global across processes.
"""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.db import Base, UTCDateTime


class OutboxState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # refused by Telegram, or transient errors beyond the retry limit
    BLOCKED = "blocked"  # the recipient blocked the bot, deleted the account, or the chat is gone


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
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    priority: Mapped[int] = mapped_column(SmallInteger, default=Priority.NOTICE)
    text: Mapped[str] = mapped_column(Text)
    buttons: Mapped[list[list[dict[str, Any]]] | None] = mapped_column(JSON, nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(128), nullable=True)
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
