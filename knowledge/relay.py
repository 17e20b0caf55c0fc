"""The staff relay: a producer's question passed to staff ("Hỏi cán bộ", /lienhe) as a thread; the
staff chat messages that belong to it, so a staff reply reaches the asker, and the asker's follow-up
reaches the staff member who took the thread.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from common.clock import Clock
from knowledge.models import StaffThread, StaffThreadMessage
from storage.db import Database

log = logging.getLogger(__name__)

THREAD_OPEN = "open"
THREAD_CLOSED = "closed"
MAX_QUESTION_CHARS = 4000  # stored, never sent as a whole


@dataclass(frozen=True)
class ThreadView:
    """A thread as the handlers see it."""

    id: int
    user_id: int
    user_chat_id: int
    question: str
    question_id: int | None
    staff_chat_id: int | None
    staff_chat_message_id: int | None
    staff_user_id: int | None
    status: str
    created_at: datetime


def _thread_view(t: StaffThread) -> ThreadView:
    return ThreadView(
        id=t.id,
        user_id=t.user_id,
        user_chat_id=t.user_chat_id,
        question=t.question,
        question_id=t.question_id,
        staff_chat_id=t.staff_chat_id,
        staff_chat_message_id=t.staff_chat_message_id,
        staff_user_id=t.staff_user_id,
        status=t.status,
        created_at=t.created_at,
    )


def warn_if_unstaffed(staff_ids: Collection[int], staff_chat_id: int | None) -> bool:
    """Log a warning at start when no staff is configured: questions passed to staff then wait in the
    inbox (/cauhoi) with nobody to read them, and the askers are told so. True when it warned."""
    if staff_ids or staff_chat_id is not None:
        return False
    log.warning(
        "No staff configured (STAFF_IDS, STAFF_CHAT_ID): questions passed to staff are only kept in "
        "the inbox, and the askers are given the commune contacts instead"
    )
    return True


class Relay:
    """Threads between producers and staff; all state in the database."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def open_thread(
        self, user_id: int, user_chat_id: int, question: str, *, question_id: int | None = None
    ) -> ThreadView:
        """Start a "Hỏi cán bộ" thread (about the stored question `question_id`, when there is one); the
        messages posted to staff are added with `add_thread_message`."""
        now = self.clock.now()
        async with self.db.session() as s:
            thread = StaffThread(
                user_id=user_id,
                user_chat_id=user_chat_id,
                question_id=question_id,
                question=question.strip()[:MAX_QUESTION_CHARS],
                status=THREAD_OPEN,
                created_at=now,
                updated_at=now,
            )
            s.add(thread)
            await s.flush()
            return _thread_view(thread)

    async def add_thread_message(self, thread_id: int, staff_chat_id: int, message_id: int) -> None:
        """A further message of the thread was posted in the staff chat (a forwarded follow-up)."""
        now = self.clock.now()
        async with self.db.session() as s:
            thread = await s.get(StaffThread, thread_id)
            if thread is None:
                raise KeyError(f"no thread {thread_id}")
            if thread.staff_chat_message_id is None:
                thread.staff_chat_id = staff_chat_id
                thread.staff_chat_message_id = message_id
            thread.updated_at = now
            exists = (
                await s.execute(
                    select(StaffThreadMessage.id).where(
                        StaffThreadMessage.staff_chat_id == staff_chat_id,
                        StaffThreadMessage.message_id == message_id,
                    )
                )
            ).first()
            if exists is None:
                s.add(
                    StaffThreadMessage(
                        thread_id=thread_id,
                        staff_chat_id=staff_chat_id,
                        message_id=message_id,
                        created_at=now,
                    )
                )

    async def thread(self, thread_id: int) -> ThreadView | None:
        """One thread by id, whatever its status."""
        async with self.db.session() as s:
            thread = await s.get(StaffThread, thread_id)
            return _thread_view(thread) if thread else None

    async def thread_for_staff_message(self, staff_chat_id: int, message_id: int) -> ThreadView | None:
        """The open thread a staff chat message belongs to (a staff reply to it goes to the user)."""
        async with self.db.session() as s:
            thread = (
                await s.execute(
                    select(StaffThread)
                    .join(StaffThreadMessage, StaffThreadMessage.thread_id == StaffThread.id)
                    .where(
                        StaffThreadMessage.staff_chat_id == staff_chat_id,
                        StaffThreadMessage.message_id == message_id,
                        StaffThread.status == THREAD_OPEN,
                    )
                )
            ).scalar_one_or_none()
            return _thread_view(thread) if thread else None

    async def record_staff_reply(self, thread_id: int, staff_user_id: int) -> ThreadView | None:
        """A staff member replied: the first one to reply takes the thread. Returns the thread."""
        async with self.db.session() as s:
            thread = await s.get(StaffThread, thread_id)
            if thread is None:
                return None
            if thread.staff_user_id is None:
                thread.staff_user_id = staff_user_id
            thread.updated_at = self.clock.now()
            return _thread_view(thread)

    async def close_thread(self, thread_id: int) -> bool:
        """Close a thread; False when it was not open."""
        async with self.db.session() as s:
            thread = await s.get(StaffThread, thread_id)
            if thread is None or thread.status != THREAD_OPEN:
                return False
            thread.status = THREAD_CLOSED
            thread.updated_at = self.clock.now()
            return True
