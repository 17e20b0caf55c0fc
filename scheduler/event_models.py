"""Tables of events and reminders: events (rating rounds, commune deadlines, trainings, fairs, general
events), who registered for a training (with its waiting list), and the reminder delivery ledger that
makes each reminder reach each user at most once."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.db import Base, UTCDateTime


class EventKind(StrEnum):
    ROUND = "round"  # a rating round / registration window opens (QĐ 26/2026 Điều 5)
    DEADLINE = "deadline"  # the commune's own deadline for receiving dossiers
    TRAINING = "training"  # tập huấn: date, time, place, capacity
    FAIR = "fair"  # a fair or exhibition
    GENERAL = "general"


class EventStatus(StrEnum):
    ACTIVE = "active"
    CANCELLED = "cancelled"


class RegistrationStatus(StrEnum):
    REGISTERED = "registered"
    WAITING = "waiting"
    CANCELLED = "cancelled"


class Event(Base):
    """Something on the calendar, shown to an audience: everyone (both lists empty), the producers of
    some of today's communes, and/or of some product sets (ids of dossier/form.yaml's product_group)."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    place: Mapped[str] = mapped_column(String(200), default="")
    link: Mapped[str | None] = mapped_column(String(512), nullable=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    capacity: Mapped[int | None] = mapped_column(Integer, nullable=True)
    communes: Mapped[list[str]] = mapped_column(JSON, default=list)
    product_sets: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The provincial milestone (30/6 or 30/12) a commune deadline or a round belongs to.
    milestone: Mapped[date | None] = mapped_column(Date, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=EventStatus.ACTIVE.value, index=True)
    created_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class EventRegistration(Base):
    """A producer registered for (or waiting for a place at) a training; the waiting list is in
    `queued_at` order."""

    __tablename__ = "event_registrations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(Integer, ForeignKey("events.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=RegistrationStatus.REGISTERED.value)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("event_id", "user_id", name="uq_event_registrations_event_user"),
        Index("ix_event_registrations_event_id_status", "event_id", "status"),
    )


class ReminderDelivery(Base):
    """One reminder claimed for one user: (kind, subject, offset, user) is unique, and the claim is
    written in the transaction that queues the message in the outbox (whose idempotency key is
    "kind|subject|offset|user")."""

    __tablename__ = "reminder_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(64))
    offset: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("kind", "subject", "offset", "user_id", name="uq_reminder_deliveries_key"),
    )
