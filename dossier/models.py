"""Tables of the dossier part: dossiers, their attachments, status history and the reference sequence."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, Float, ForeignKey, Index, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from storage.db import Base, UTCDateTime


class DossierStatus(StrEnum):
    """Where a dossier stands; which status may follow which is dossier.workflow's table."""

    DRAFT = "draft"
    SUBMITTED = "submitted"  # sent by the producer, not yet looked at
    RECEIVED = "received"  # the commune checked the format and took it in
    RETURNED = "returned"  # sent back to the producer to correct some items
    RESUBMITTED = "resubmitted"  # corrected and sent again
    FORWARDED = "forwarded"  # passed on to the province's rating council
    RATED = "rated"  # recognised: stars, score, certificate, valid until
    NOT_RATED = "not_rated"  # the council did not rate it (with the reason)
    PROPOSED = "proposed"  # a 5-star product proposed to the central level


class Dossier(Base):
    """One producer's OCOP registration dossier: the answers and where the conversation stands."""

    __tablename__ = "dossiers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"), index=True)
    reference: Mapped[str | None] = mapped_column(String(32), unique=True, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=DossierStatus.DRAFT, index=True)
    product_name: Mapped[str | None] = mapped_column(String(256), nullable=True)
    # Copied from the answers on every save (dossier/columns.py), for queues, scopes and audiences.
    commune: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    product_set: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    # Assisted entry: the officer who filled it for a producer not on Telegram (dossier/claims.py).
    entered_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    assisted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    current_step: Mapped[str | None] = mapped_column(String(64), nullable=True)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Engine sub-state not worth its own column: pending multi/group/commune choice, skipped steps.
    flow_state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    review_mode: Mapped[bool] = mapped_column(Boolean, default=False)
    # Optimistic lock: two updates racing on one dossier cannot silently overwrite each other.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    stars: Mapped[int | None] = mapped_column(Integer, nullable=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    certificate_no: Mapped[str | None] = mapped_column(String(64), nullable=True)
    recognized_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    valid_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    # When the status last changed (the desk's queue is oldest first by it).
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    # A re-rating or upgrade of a rated product: the dossier it continues.
    previous_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("dossiers.id", ondelete="SET NULL"), nullable=True, index=True
    )
    # The last return for correction: {"steps": {step id: why}, "snapshot": answers when returned}.
    corrections: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __mapper_args__ = {"version_id_col": version}


class Attachment(Base):
    """A file the producer sent for a step (Telegram file ids; a local copy when downloaded)."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(Integer, ForeignKey("dossiers.id", ondelete="CASCADE"))
    step_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # photo | document
    file_id: Mapped[str] = mapped_column(String(256))
    file_unique_id: Mapped[str] = mapped_column(String(128))
    file_name: Mapped[str | None] = mapped_column(String(256), nullable=True)
    mime: Mapped[str | None] = mapped_column(String(128), nullable=True)
    size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    local_path: Mapped[str | None] = mapped_column(String(512), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_attachments_dossier_id_step_id", "dossier_id", "step_id"),)


class DossierStatusHistory(Base):
    """Every status change: who, when, from → to, a note and the steps flagged for correction."""

    __tablename__ = "dossier_status_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("dossiers.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    from_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    flagged_steps: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)


class ReferenceSequence(Base):
    """The last reference number issued per year (OCOP-<year>-<n>); incremented in one UPDATE."""

    __tablename__ = "dossier_reference_sequences"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)
