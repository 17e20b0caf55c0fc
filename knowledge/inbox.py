"""The staff inbox (/cauhoi): open questions (unanswered, or 👎) in groups of similar ones, and what
staff do with a group — answer it (each asker is told, under their own question), link it to an entry
(its questions become sample questions in every bot process), or mark that a new entry is needed —
plus the questions declined as out of scope, to put a misjudged one back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from common.clock import Clock
from knowledge.clusters import place, place_unplaced
from knowledge.models import KbExtraQuestion, Outcome, Question, QuestionStatus
from knowledge.service import KnowledgeService, QuestionView, publish_change, question_view
from storage.db import Database

# Staff look through the questions declined as out of scope over this window (/cauhoi).
DECLINED_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class QuestionGroup:
    """Similar open questions for the staff inbox; `ids` are passed back to answer/link/mark them.
    `representative` is for staff eyes only: it is one asker's own words."""

    ids: list[int]
    representative: str
    count: int
    askers: int
    first_asked: datetime
    last_asked: datetime


@dataclass(frozen=True)
class Recipient:
    """Someone to tell about a staff decision, with the words of their own question (never another's)."""

    user_id: int
    chat_id: int
    question: str


class Inbox:
    """The staff inbox over the questions table; links go through the knowledge service."""

    def __init__(self, db: Database, clock: Clock, knowledge: KnowledgeService) -> None:
        self.db = db
        self.clock = clock
        self.knowledge = knowledge

    # ------------------------------------------------------------- groups
    async def groups(self, limit: int = 20) -> list[QuestionGroup]:
        """Open questions by their stored group, biggest and most recent groups first."""
        async with self.db.session() as s:
            await place_unplaced(s)
            rows = (
                (
                    await s.execute(
                        select(Question)
                        .where(Question.status == QuestionStatus.OPEN)
                        .order_by(Question.created_at, Question.id)
                    )
                )
                .scalars()
                .all()
            )
        clusters: dict[int, list[Question]] = {}
        for row in rows:
            clusters.setdefault(row.cluster_id or row.id, []).append(row)
        groups = [_group(cluster) for cluster in clusters.values()]
        groups.sort(key=lambda g: (-g.count, -g.last_asked.timestamp()))
        return groups[:limit]

    async def group_of(self, question_id: int) -> QuestionGroup | None:
        """The open group `question_id` belongs to (None when it is not open any more)."""
        async with self.db.session() as s:
            question = await s.get(Question, question_id)
            if question is None or question.status != QuestionStatus.OPEN:
                return None
            if question.cluster_id is None:
                await place_unplaced(s)
            rows = (
                (
                    await s.execute(
                        select(Question)
                        .where(
                            Question.status == QuestionStatus.OPEN,
                            Question.cluster_id == question.cluster_id,
                        )
                        .order_by(Question.created_at, Question.id)
                    )
                )
                .scalars()
                .all()
            )
        return _group(list(rows))

    async def _resolve(
        self, group_ids: Sequence[int], status: str, staff_id: int | None, **changes: Any
    ) -> list[Question]:
        """Move the still-open questions among `group_ids` to `status`; returns those it moved."""
        if not group_ids:
            return []
        async with self.db.session() as s:
            return await self._resolve_in(s, group_ids, status, staff_id, **changes)

    async def _resolve_in(
        self, s: AsyncSession, group_ids: Sequence[int], status: str, staff_id: int | None, **changes: Any
    ) -> list[Question]:
        rows = (
            (
                await s.execute(
                    select(Question)
                    .where(Question.id.in_(list(group_ids)), Question.status == QuestionStatus.OPEN)
                    .order_by(Question.id)
                )
            )
            .scalars()
            .all()
        )
        now = self.clock.now()
        for row in rows:
            row.status = status
            row.resolved_by = staff_id
            row.resolved_at = now
            for name, value in changes.items():
                setattr(row, name, value)
        return list(rows)

    async def answer_group(
        self, group_ids: Sequence[int], staff_id: int, answer_text: str
    ) -> list[Recipient]:
        """Staff answered the group: close the open questions and return the askers to notify.
        A second call with the same ids returns [] (nobody is notified twice)."""
        rows = await self._resolve(group_ids, QuestionStatus.ANSWERED, staff_id, staff_answer=answer_text)
        return _askers(rows)

    async def link_group(self, group_ids: Sequence[int], entry_id: str, staff_id: int) -> list[Recipient]:
        """Link the group to an existing entry: its questions become sample questions, and the knowledge
        version moves in the same transaction so every process learns them. Returns the askers to
        notify with that entry. Raises KeyError for an unknown entry."""
        index = await self.knowledge.index()
        entry = index.kb.get(entry_id)
        if entry is None:
            raise KeyError(f"unknown entry {entry_id!r}")
        if not group_ids:
            return []
        async with self.db.session() as s:
            rows = await self._resolve_in(s, group_ids, QuestionStatus.LINKED, staff_id, entry_id=entry_id)
            if rows:
                query = select(KbExtraQuestion.question).where(KbExtraQuestion.entry_id == entry_id)
                known = set((await s.execute(query)).scalars()) | set(entry.questions)
                now = self.clock.now()
                for row in rows:
                    text = row.text.strip()
                    if text and text not in known:
                        known.add(text)
                        s.add(
                            KbExtraQuestion(
                                entry_id=entry_id, question=text, added_by=staff_id, created_at=now
                            )
                        )
                await publish_change(s, now)
        if rows:
            await self.knowledge.refresh()
        return _askers(rows)

    async def mark_new_entry(self, group_ids: Sequence[int], staff_id: int) -> int:
        """Staff decided the group needs a new entry; returns how many questions were marked."""
        return len(await self._resolve(group_ids, QuestionStatus.NEW_ENTRY, staff_id))

    # ------------------------------------------------------------- declined questions
    def _declined_recently(self) -> ColumnElement[bool]:
        """Declined as out of scope in the last DECLINED_WINDOW, and not put back in the inbox."""
        declined = (Question.outcome == Outcome.OUT_OF_SCOPE) & Question.status.is_(None)
        return declined & (Question.created_at >= self.clock.now() - DECLINED_WINDOW)

    async def declined_count(self) -> int:
        """How many questions were declined as out of scope in the last DECLINED_WINDOW (not put back)."""
        async with self.db.session() as s:
            query = select(func.count()).select_from(Question).where(self._declined_recently())
            return int((await s.execute(query)).scalar_one())

    async def declined_questions(self, limit: int = 8) -> list[QuestionView]:
        """The latest `limit` questions declined as out of scope in the last DECLINED_WINDOW and not put
        back in the inbox, newest first: staff look through them for misjudged ones."""
        query = (
            select(Question)
            .where(self._declined_recently())
            .order_by(Question.created_at.desc(), Question.id.desc())
            .limit(limit)
        )
        async with self.db.session() as s:
            rows = (await s.execute(query)).scalars().all()
        return [question_view(q) for q in rows]

    async def reopen_declined(self, question_id: int) -> bool:
        """Put a question declined as out of scope into the staff inbox (it was about OCOP after all).
        False when it is not a declined question still waiting (unknown id, or already reopened)."""
        async with self.db.session() as s:
            result = await s.execute(
                update(Question)
                .where(
                    Question.id == question_id,
                    Question.outcome == Outcome.OUT_OF_SCOPE,
                    Question.status.is_(None),
                )
                .values(status=QuestionStatus.OPEN)
            )
            if not result.rowcount:
                return False
            question = await s.get(Question, question_id)
            assert question is not None
            await place(s, question)
        return True


def _group(cluster: list[Question]) -> QuestionGroup:
    first = cluster[0]
    return QuestionGroup(
        ids=[q.id for q in cluster],
        representative=first.text,
        count=len(cluster),
        askers=len({q.user_id for q in cluster}),
        first_asked=min(q.created_at for q in cluster),
        last_asked=max(q.created_at for q in cluster),
    )


def _askers(rows: Sequence[Question]) -> list[Recipient]:
    """One recipient per asker, quoting that asker's own first question of the group."""
    seen: dict[int, Recipient] = {}
    for row in rows:
        seen.setdefault(row.user_id, Recipient(row.user_id, row.chat_id, row.text))
    return list(seen.values())
