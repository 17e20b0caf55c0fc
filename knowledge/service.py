"""The knowledge service: asks the matcher, records questions and feedback, and runs the staff inbox.

Async functions over `storage.db.Database` with an injected clock; it returns plain dataclasses that the
handler layer renders with templates. Every question is committed before `ask` returns (persist, then
reply). Staff work on groups of similar open questions (unanswered or 👎): answer them, link them to an
entry (they become sample questions the matcher uses after the reload `link_group` does), or mark that
a new entry is needed. "Hỏi cán bộ" threads route a staff reply to the asker and back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz
from sqlalchemy import ColumnElement, func, select, update

from common.clock import Clock
from knowledge.decision import UNNAMED_TOPIC, Decision
from knowledge.kb import (
    ERROR,
    Entry,
    KnowledgeBase,
    OutOfScopeTopic,
    Problem,
    Source,
    load_contacts,
    load_knowledge_base,
)
from knowledge.models import (
    Feedback,
    KbExtraQuestion,
    Outcome,
    Question,
    QuestionStatus,
    StaffThread,
    StaffThreadMessage,
)
from knowledge.normalize import fold_text
from knowledge.retrieval import Matcher
from storage.db import Database

# Two open questions belong to one group when their normalised texts are at least this similar.
GROUP_SIMILARITY = 72.0
THREAD_OPEN = "open"
THREAD_CLOSED = "closed"
FEEDBACK_VALUES = frozenset({"up", "down"})


# Staff look through the questions declined as out of scope over this window (/cauhoi).
DECLINED_WINDOW = timedelta(days=7)
# A question declined as another subject the matcher could not name (no title, nowhere to send).
UNNAMED_SUBJECT = OutOfScopeTopic(UNNAMED_TOPIC, "", "", ())


@dataclass(frozen=True)
class EntryView:
    """An entry with everything a template needs (sources resolved, date as dd/mm/yyyy)."""

    id: str
    title: str
    answer: str
    short_answer: str
    paragraphs: list[str]
    sources: list[Source]
    rule: str
    valid_from: date | None
    valid_from_text: str
    reviewed: date | None
    unverified: bool
    dynamic: str | None
    related: list[tuple[str, str]]
    contacts: dict[str, Any] | None = None


@dataclass(frozen=True)
class Suggestion:
    entry_id: str
    title: str
    confidence: float


@dataclass(frozen=True)
class AskResult:
    """What `ask` decided: `outcome` answered/suggested/unknown/out_of_scope, the entry when answered,
    suggestions, and the other subject the question is about when it is out of scope."""

    question_id: int
    outcome: str
    confidence: float
    entry: EntryView | None
    suggestions: list[Suggestion] = field(default_factory=list)
    out_of_scope: OutOfScopeTopic | None = None

    @property
    def answered(self) -> bool:
        return self.outcome == Outcome.ANSWERED


@dataclass(frozen=True)
class QuestionGroup:
    """Similar open questions for the staff inbox; `ids` are passed back to answer/link/mark them."""

    ids: list[int]
    representative: str
    count: int
    askers: int
    first_asked: datetime
    last_asked: datetime
    closest_entry_id: str | None = None


@dataclass(frozen=True)
class QuestionView:
    """A stored question and what the bot did with it."""

    id: int
    user_id: int
    chat_id: int
    text: str
    entry_id: str | None
    confidence: float
    outcome: str
    status: str | None
    created_at: datetime


@dataclass(frozen=True)
class ReloadOutcome:
    """What `reload_checked` did: `loaded` False means errors were found and the old entries stay."""

    loaded: bool
    entries: int
    problems: list[Problem]


@dataclass(frozen=True)
class Recipient:
    """Someone to tell about a staff decision, with the words of their own question (never another's)."""

    user_id: int
    chat_id: int
    question: str


@dataclass(frozen=True)
class ThreadView:
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


class KnowledgeService:
    """One per process: holds the loaded knowledge base and matcher; state lives in the database."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        data_dir: Path | str | None = None,
        contacts_file: Path | str | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.data_dir = data_dir
        self.contacts_file = contacts_file
        self.kb: KnowledgeBase = load_knowledge_base(data_dir)
        self.matcher = Matcher(self.kb)
        self._extras_loaded = False

    # ------------------------------------------------------------- loading
    async def reload(self) -> KnowledgeBase:
        """Re-read the entry files and the staff-linked questions, and rebuild the matcher."""
        kb = load_knowledge_base(self.data_dir)
        extras = await self.extra_questions()
        self.kb = kb
        # Training the classifier takes a second or two: off the event loop, the old matcher serves meanwhile.
        self.matcher = await asyncio.to_thread(Matcher, kb, extras)
        self._extras_loaded = True
        return kb

    async def reload_checked(self) -> ReloadOutcome:
        """Staff reload: read the files, and switch to them only when they have no errors."""
        kb = load_knowledge_base(self.data_dir)
        problems = kb.check()
        if any(p.level == ERROR for p in problems) or not kb.entries:
            return ReloadOutcome(False, len(self.kb.entries), problems)
        extras = await self.extra_questions()
        self.kb = kb
        # Training the classifier takes a second or two: off the event loop, the old matcher serves meanwhile.
        self.matcher = await asyncio.to_thread(Matcher, kb, extras)
        self._extras_loaded = True
        return ReloadOutcome(True, len(kb.entries), problems)

    async def extra_questions(self) -> dict[str, list[str]]:
        async with self.db.session() as s:
            rows = (await s.execute(select(KbExtraQuestion).order_by(KbExtraQuestion.id))).scalars().all()
        extras: dict[str, list[str]] = {}
        for row in rows:
            extras.setdefault(row.entry_id, []).append(row.question)
        return extras

    async def _ready(self) -> None:
        if not self._extras_loaded:
            await self.reload()

    # ------------------------------------------------------------- views
    def entry_view(self, entry_id: str) -> EntryView | None:
        """An entry ready to render (contacts filled in for `dynamic: contacts`), or None."""
        entry = self.kb.get(entry_id)
        if entry is None:
            return None
        return self._view(entry)

    def _view(self, entry: Entry) -> EntryView:
        related = [(r, self.kb.entries[r].title) for r in entry.related if r in self.kb.entries]
        contacts = load_contacts(self.contacts_file) if entry.dynamic == "contacts" else None
        return EntryView(
            id=entry.id,
            title=entry.title,
            answer=entry.answer,
            short_answer=entry.short_answer,
            paragraphs=entry.paragraphs,
            sources=self.kb.sources_of(entry),
            rule=entry.rule,
            valid_from=entry.valid_from,
            valid_from_text=entry.valid_from.strftime("%d/%m/%Y") if entry.valid_from else "",
            reviewed=entry.reviewed,
            unverified=entry.unverified,
            dynamic=entry.dynamic,
            related=related,
            contacts=contacts,
        )

    def search_entries(self, text: str, limit: int = 5) -> list[tuple[str, str]]:
        """(entry_id, title) for staff picking an entry: an exact id, titles containing the text, then
        the matcher's best entries."""
        wanted = text.strip().lower()
        found: list[str] = []
        if wanted in self.kb.entries:
            found.append(wanted)
        folded = fold_text(text)
        if folded:
            found += [
                e.id for e in self.kb.entries.values() if folded in fold_text(e.title) or folded in e.id
            ]
        found += [entry_id for entry_id, _ in self.matcher.scores(text)[0]]
        unique = list(dict.fromkeys(found))[:limit]
        return [(entry_id, self.kb.entries[entry_id].title) for entry_id in unique]

    def _suggestions(self, pairs: Sequence[tuple[str, float]]) -> list[Suggestion]:
        return [Suggestion(e, self.kb.entries[e].title, c) for e, c in pairs if e in self.kb.entries]

    # ------------------------------------------------------------- asking
    async def ask(self, user_id: int, chat_id: int, text: str) -> AskResult:
        """Match the question, store it (committed) and return what to show."""
        await self._ready()
        match = self.matcher.match(text)
        topic = None
        if match.out_of_scope is not None:  # another subject: named when the matcher could tell which
            topic = self.kb.out_of_scope.get(match.out_of_scope, UNNAMED_SUBJECT)
        if match.decision is Decision.ANSWER:
            outcome, suggestions = Outcome.ANSWERED, self._suggestions(match.suggestions)
        elif match.small_talk:
            outcome, suggestions = Outcome.SMALL_TALK, []
        elif topic is not None:
            outcome, suggestions = Outcome.OUT_OF_SCOPE, []
        elif match.decision is Decision.SUGGEST:
            outcome, suggestions = Outcome.SUGGESTED, self._suggestions(match.choices)
        else:
            outcome, suggestions = Outcome.UNKNOWN, self._suggestions(match.choices)
        row = Question(
            user_id=user_id,
            chat_id=chat_id,
            text=text.strip()[:4000],
            normalized=match.normalized,
            entry_id=match.entry_id,
            confidence=round(match.confidence, 4),
            outcome=outcome,
            status=QuestionStatus.OPEN if outcome == Outcome.UNKNOWN else None,
            created_at=self.clock.now(),
        )
        async with self.db.session() as s:
            s.add(row)
            await s.flush()
            question_id = row.id
        entry = self.entry_view(match.entry_id) if outcome == Outcome.ANSWERED and match.entry_id else None
        return AskResult(question_id, outcome, match.confidence, entry, suggestions, topic)

    async def question_text(self, question_id: int, user_id: int) -> str | None:
        """The text of a question the user asked (None when it is not theirs or does not exist)."""
        async with self.db.session() as s:
            question = await s.get(Question, question_id)
        return question.text if question is not None and question.user_id == user_id else None

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
        return [_question_view(q) for q in rows]

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
        return bool(result.rowcount)

    async def last_question(self, user_id: int) -> QuestionView | None:
        """The user's most recent question (console `ask`, tests)."""
        async with self.db.session() as s:
            q = (
                await s.execute(
                    select(Question)
                    .where(Question.user_id == user_id)
                    .order_by(Question.created_at.desc(), Question.id.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
        return _question_view(q) if q is not None else None

    async def owns_question(self, question_id: int, user_id: int) -> bool:
        """True when `question_id` was asked by `user_id` (guards buttons against forged data)."""
        return await self.question_text(question_id, user_id) is not None

    async def pick_suggestion(self, question_id: int, entry_id: str) -> EntryView | None:
        """The user chose a suggested entry: remember the choice and return the entry to show."""
        view = self.entry_view(entry_id)
        if view is None:
            return None
        async with self.db.session() as s:
            question = await s.get(Question, question_id)
            if question is not None:
                question.entry_id = entry_id
                if question.status == QuestionStatus.OPEN and question.outcome != Outcome.ANSWERED:
                    question.status = None
        return view

    async def record_feedback(self, question_id: int, user_id: int, value: str) -> bool:
        """Store 👍/👎 (one per user and question; the last tap wins). A 👎 puts the question in the
        staff inbox. Returns False when nothing changed (same tap again) or the question is unknown."""
        if value not in FEEDBACK_VALUES:
            raise ValueError(f"feedback must be 'up' or 'down', not {value!r}")
        async with self.db.session() as s:
            question = await s.get(Question, question_id)
            if question is None:
                return False
            existing = (
                await s.execute(
                    select(Feedback).where(Feedback.question_id == question_id, Feedback.user_id == user_id)
                )
            ).scalar_one_or_none()
            if existing is not None and existing.value == value:
                return False
            if existing is None:
                s.add(
                    Feedback(
                        question_id=question_id, user_id=user_id, value=value, created_at=self.clock.now()
                    )
                )
            else:
                existing.value = value
                existing.created_at = self.clock.now()
            if value == "down" and question.status is None:
                question.status = QuestionStatus.OPEN
            elif (
                value == "up"
                and question.status == QuestionStatus.OPEN
                and question.outcome == Outcome.ANSWERED
            ):
                question.status = None
        return True

    # ------------------------------------------------------------- staff inbox
    async def unanswered_groups(self, limit: int = 20) -> list[QuestionGroup]:
        """Open questions grouped by similarity, biggest and most recent groups first."""
        async with self.db.session() as s:
            rows = (
                (
                    await s.execute(
                        select(Question)
                        .where(Question.status == QuestionStatus.OPEN)
                        .order_by(Question.created_at)
                    )
                )
                .scalars()
                .all()
            )
        clusters: list[list[Question]] = []
        keys: list[str] = []
        for row in rows:
            key = row.normalized or row.text.lower()
            for index, cluster_key in enumerate(keys):
                if fuzz.token_set_ratio(key, cluster_key, processor=None) >= GROUP_SIMILARITY and (
                    fuzz.ratio(key, cluster_key, processor=None) >= GROUP_SIMILARITY - 20
                ):
                    clusters[index].append(row)
                    break
            else:
                clusters.append([row])
                keys.append(key)
        groups = [
            QuestionGroup(
                ids=[q.id for q in cluster],
                representative=cluster[0].text,
                count=len(cluster),
                askers=len({q.user_id for q in cluster}),
                first_asked=min(q.created_at for q in cluster),
                last_asked=max(q.created_at for q in cluster),
                closest_entry_id=cluster[0].entry_id,
            )
            for cluster in clusters
        ]
        groups.sort(key=lambda g: (-g.count, -g.last_asked.timestamp()))
        return groups[:limit]

    async def _resolve(
        self, group_ids: Sequence[int], status: str, staff_id: int | None, **changes: Any
    ) -> list[Question]:
        """Move the still-open questions among `group_ids` to `status`; returns those it moved."""
        if not group_ids:
            return []
        async with self.db.session() as s:
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
            for row in rows:
                row.status = status
                row.resolved_by = staff_id
                row.resolved_at = self.clock.now()
                for name, value in changes.items():
                    setattr(row, name, value)
            return list(rows)

    @staticmethod
    def _askers(rows: Sequence[Question]) -> list[Recipient]:
        """One recipient per asker, quoting that asker's own first question of the group."""
        seen: dict[int, Recipient] = {}
        for row in rows:
            seen.setdefault(row.user_id, Recipient(row.user_id, row.chat_id, row.text))
        return list(seen.values())

    async def answer_group(
        self, group_ids: Sequence[int], staff_id: int, answer_text: str
    ) -> list[Recipient]:
        """Staff answered the group: close the open questions and return the askers to notify.
        A second call with the same ids returns [] (nobody is notified twice)."""
        rows = await self._resolve(group_ids, QuestionStatus.ANSWERED, staff_id, staff_answer=answer_text)
        return self._askers(rows)

    async def link_group(self, group_ids: Sequence[int], entry_id: str, staff_id: int) -> list[Recipient]:
        """Link the group to an existing entry: its questions become sample questions (matcher reloaded).
        Returns the askers to notify with that entry. Raises KeyError for an unknown entry."""
        if entry_id not in self.kb.entries:
            raise KeyError(f"unknown entry {entry_id!r}")
        rows = await self._resolve(group_ids, QuestionStatus.LINKED, staff_id, entry_id=entry_id)
        if rows:
            async with self.db.session() as s:
                existing = set(
                    (
                        await s.execute(
                            select(KbExtraQuestion.question).where(KbExtraQuestion.entry_id == entry_id)
                        )
                    ).scalars()
                )
                existing.update(self.kb.entries[entry_id].questions)
                for row in rows:
                    text = row.text.strip()
                    if text and text not in existing:
                        existing.add(text)
                        s.add(
                            KbExtraQuestion(
                                entry_id=entry_id,
                                question=text,
                                added_by=staff_id,
                                created_at=self.clock.now(),
                            )
                        )
            await self.reload()
        return self._askers(rows)

    async def mark_new_entry(self, group_ids: Sequence[int], staff_id: int | None = None) -> int:
        """Staff decided the group needs a new entry; returns how many questions were marked."""
        return len(await self._resolve(group_ids, QuestionStatus.NEW_ENTRY, staff_id))

    # ------------------------------------------------------------- staff threads
    async def open_thread(
        self,
        user_id: int,
        user_chat_id: int,
        question: str,
        *,
        staff_chat_id: int | None = None,
        staff_chat_message_id: int | None = None,
        question_id: int | None = None,
    ) -> ThreadView:
        """Start a "Hỏi cán bộ" thread; pass the id of the message forwarded to the staff chat (or add
        it later with `add_thread_message`)."""
        now = self.clock.now()
        async with self.db.session() as s:
            thread = StaffThread(
                user_id=user_id,
                user_chat_id=user_chat_id,
                question_id=question_id,
                question=question.strip()[:4000],
                staff_chat_id=staff_chat_id,
                staff_chat_message_id=staff_chat_message_id,
                status=THREAD_OPEN,
                created_at=now,
                updated_at=now,
            )
            s.add(thread)
            await s.flush()
            if staff_chat_id is not None and staff_chat_message_id is not None:
                s.add(
                    StaffThreadMessage(
                        thread_id=thread.id,
                        staff_chat_id=staff_chat_id,
                        message_id=staff_chat_message_id,
                        created_at=now,
                    )
                )
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

    async def latest_open_thread_for_user(self, user_id: int) -> ThreadView | None:
        """The user's most recent open thread (their follow-up message goes to it)."""
        async with self.db.session() as s:
            thread = (
                await s.execute(
                    select(StaffThread)
                    .where(StaffThread.user_id == user_id, StaffThread.status == THREAD_OPEN)
                    .order_by(StaffThread.updated_at.desc(), StaffThread.id.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
            return _thread_view(thread) if thread else None

    async def close_thread(self, thread_id: int) -> bool:
        """Close a thread; False when it was not open."""
        async with self.db.session() as s:
            thread = await s.get(StaffThread, thread_id)
            if thread is None or thread.status != THREAD_OPEN:
                return False
            thread.status = THREAD_CLOSED
            thread.updated_at = self.clock.now()
            return True


def _question_view(q: Question) -> QuestionView:
    return QuestionView(
        q.id, q.user_id, q.chat_id, q.text, q.entry_id, q.confidence, q.outcome, q.status, q.created_at
    )
