"""Inbox groups: an open question joins the group of the first open question it resembles, once, when
it becomes open — the inbox then reads the stored group ids instead of comparing every open question
with every other on each press."""

from __future__ import annotations

from rapidfuzz import fuzz
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.models import Question, QuestionStatus

# Two open questions belong to one group when their normalised texts are at least this similar
# (token set), and not too different as strings (GROUP_SIMILARITY - 20).
GROUP_SIMILARITY = 72.0


def group_key(question: Question) -> str:
    """What questions are compared by: the matcher's normalised form, else the lower-cased text."""
    return question.normalized or question.text.lower()


def similar(key: str, other: str) -> bool:
    return (
        fuzz.token_set_ratio(key, other, processor=None) >= GROUP_SIMILARITY
        and fuzz.ratio(key, other, processor=None) >= GROUP_SIMILARITY - 20
    )


async def place(session: AsyncSession, question: Question) -> None:
    """Give an open question (already flushed, so it has an id) its group: that of the earliest open
    question of a group it resembles, compared group by group in the order the groups began; else a
    group of its own (its own id)."""
    rows = (
        await session.execute(
            select(Question.cluster_id, Question.normalized, Question.text)
            .where(
                Question.status == QuestionStatus.OPEN,
                Question.cluster_id.is_not(None),
                Question.id != question.id,
            )
            .order_by(Question.created_at, Question.id)
        )
    ).all()
    key = group_key(question)
    seen: set[int] = set()
    for cluster_id, normalized, text in rows:
        if cluster_id in seen:
            continue
        seen.add(cluster_id)
        if similar(key, normalized or text.lower()):
            question.cluster_id = cluster_id
            return
    question.cluster_id = question.id


async def place_unplaced(session: AsyncSession) -> None:
    """Place the open questions that have no group yet (asked before groups were stored), oldest first."""
    waiting = (
        (
            await session.execute(
                select(Question)
                .where(Question.status == QuestionStatus.OPEN, Question.cluster_id.is_(None))
                .order_by(Question.created_at, Question.id)
            )
        )
        .scalars()
        .all()
    )
    for question in waiting:
        await place(session, question)
        await session.flush()
