"""Models shared by every part of the bot: the users table and the audit log."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.db import Base, UTCDateTime


class Role(StrEnum):
    PRODUCER = "producer"
    STAFF = "staff"
    ADMIN = "admin"


class User(Base):
    """A person who has talked to the bot (keyed by Telegram user id)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    full_name: Mapped[str] = mapped_column(String(256), default="")
    username: Mapped[str | None] = mapped_column(String(64), nullable=True)
    language: Mapped[str | None] = mapped_column(String(16), nullable=True)
    commune: Mapped[str | None] = mapped_column(String(128), nullable=True)
    role: Mapped[str] = mapped_column(String(16), default=Role.PRODUCER)
    # Topics (common/topics.py) the user turned off; everything else is on.
    muted_topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    start_payload: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Which guided flow the user's free text belongs to (None: questions go to the knowledge base),
    # and that flow's small state. Lives here, not in memory, so a restart resumes the flow.
    flow: Mapped[str | None] = mapped_column(String(32), nullable=True)
    flow_data: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditLog(Base):
    """Who did what and when: staff actions, status changes, broadcasts."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    action: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text, default="")


class ProcessedUpdate(Base):
    """A Telegram update_id some instance has taken on; a second delivery of it is dropped."""

    __tablename__ = "processed_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
