"""Tables of the knowledge part: questions asked, feedback, staff threads, staff-linked samples and the
knowledge version every bot process follows."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.db import Base, UTCDateTime


class Outcome(StrEnum):
    ANSWERED = "answered"
    SUGGESTED = "suggested"
    UNKNOWN = "unknown"
    OUT_OF_SCOPE = "out_of_scope"  # recognised as another subject: told where to ask, not in the inbox
    SMALL_TALK = "small_talk"  # nothing but a greeting or thanks: invited to ask, not in the inbox
    PASSED = "passed"  # written to staff directly ("Gửi câu hỏi cho cán bộ"): always in the inbox


class QuestionStatus(StrEnum):
    """Where a question stands for staff. None (no status) means it needs no attention."""

    OPEN = "open"  # unanswered, or the asker gave 👎: waiting in the staff inbox
    ANSWERED = "answered"  # staff wrote an answer that was sent to the asker
    LINKED = "linked"  # staff linked it to an existing entry (it became a sample question)
    NEW_ENTRY = "new_entry"  # staff decided a new entry is needed


class Question(Base):
    """Every question a user asked the knowledge base, with what the bot did with it."""

    __tablename__ = "questions"
    __table_args__ = (
        Index("ix_questions_status_created_at", "status", "created_at"),
        Index("ix_questions_user_id_created_at", "user_id", "created_at"),
        Index("ix_questions_cluster_id", "cluster_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    text: Mapped[str] = mapped_column(Text)
    normalized: Mapped[str] = mapped_column(Text, default="")
    entry_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    outcome: Mapped[str] = mapped_column(String(16))
    status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # The inbox group of an open question: the id of the group's first question (None until placed).
    cluster_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    staff_answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    resolved_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Feedback(Base):
    """A 👍/👎 on an answer; one per user and question (a second tap changes it)."""

    __tablename__ = "feedback"
    __table_args__ = (UniqueConstraint("question_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(BigInteger)
    value: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StaffThread(Base):
    """A "Hỏi cán bộ" conversation: a user's question forwarded to the staff chat."""

    __tablename__ = "staff_threads"
    __table_args__ = (Index("ix_staff_threads_user_id_status", "user_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    user_chat_id: Mapped[int] = mapped_column(BigInteger)
    question_id: Mapped[int | None] = mapped_column(
        ForeignKey("questions.id", ondelete="SET NULL"), nullable=True
    )
    question: Mapped[str] = mapped_column(Text)
    staff_chat_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    staff_chat_message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    staff_user_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StaffThreadMessage(Base):
    """A message in the staff chat that belongs to a thread (the forward and every follow-up)."""

    __tablename__ = "staff_thread_messages"
    __table_args__ = (UniqueConstraint("staff_chat_id", "message_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("staff_threads.id", ondelete="CASCADE"), index=True)
    staff_chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class KbExtraQuestion(Base):
    """A sample question staff linked to an entry; the link moves the knowledge version, so every bot
    process's index includes it before its next answer."""

    __tablename__ = "kb_extra_questions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[str] = mapped_column(String(100), index=True)
    question: Mapped[str] = mapped_column(Text)
    added_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class KnowledgeVersion(Base):
    """One row: a number that moves whenever the knowledge the matcher serves changes (a staff reload,
    a group linked to an entry). Every bot process compares it with the version of its own index
    before answering, and rebuilds when it moved, so several processes on one database agree."""

    __tablename__ = "knowledge_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
