"""Answering questions from the knowledge base: the current knowledge index, questions, feedback.

Async functions over `storage.db.Database` with an injected clock; they return plain dataclasses that
the handler layer renders with templates. Every question is committed before `ask` returns (persist,
then reply).

The service holds one `KnowledgeIndex` (entries and matcher together, immutable). The database holds the
knowledge version (`KnowledgeVersion`): a staff reload or a group linked to an entry, in any bot process,
moves it; before answering, each process compares it with its own index's and rebuilds (in a worker
thread, then one assignment) when it moved. So several processes on one database agree.
The staff inbox lives in `knowledge.inbox`, the "Hỏi cán bộ" threads in `knowledge.relay`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from common.clock import Clock
from knowledge.clusters import place
from knowledge.communes import CommuneDirectory, CommuneMatch
from knowledge.decision import UNNAMED_TOPIC, Decision
from knowledge.index import IndexRejected, KnowledgeIndex, build_index, load_checked
from knowledge.kb import Entry, OutOfScopeTopic, Problem, Source, load_contacts
from knowledge.models import Feedback, KbExtraQuestion, KnowledgeVersion, Outcome, Question, QuestionStatus
from knowledge.normalize import fold_text
from knowledge.products import PRODUCT_CARD_TAGS, ProductMatch
from knowledge.schedule import ReminderSchedule
from storage.db import Database

log = logging.getLogger(__name__)

FEEDBACK_VALUES = frozenset({"up", "down"})
MAX_QUESTION_CHARS = 4000  # stored, never sent as a whole
VERSION_ROW = 1
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
    reminders: ReminderSchedule | None = None  # the configured schedule, for `dynamic: reminders`
    detail_paragraphs: list[str] = field(default_factory=list)
    tags: tuple[str, ...] = ()

    @property
    def source_names(self) -> list[str]:
        """What the source line shows: each source's publisher (else its title), each name once."""
        return list(dict.fromkeys(s.publisher or s.title for s in self.sources))


@dataclass(frozen=True)
class Suggestion:
    """An entry offered as a choice ("Có phải anh/chị muốn hỏi…") or as a related topic."""

    entry_id: str
    title: str
    confidence: float


@dataclass(frozen=True)
class AskResult:
    """What `ask` decided: `outcome` answered/suggested/unknown/out_of_scope/small_talk, the entry when
    answered, suggestions, and the other subject the question is about when it is out of scope."""

    question_id: int
    outcome: str
    confidence: float
    entry: EntryView | None
    suggestions: list[Suggestion] = field(default_factory=list)
    out_of_scope: OutOfScopeTopic | None = None
    place: CommuneMatch | None = None  # the commune the question names, for an answer about where
    product: ProductMatch | None = None  # the product the question names, for an answer about products

    @property
    def answered(self) -> bool:
        return self.outcome == Outcome.ANSWERED


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


def question_view(q: Question) -> QuestionView:
    return QuestionView(
        q.id, q.user_id, q.chat_id, q.text, q.entry_id, q.confidence, q.outcome, q.status, q.created_at
    )


async def publish_change(session: AsyncSession, now: datetime) -> None:
    """Move the knowledge version inside `session`'s transaction: every process rebuilds its index
    before its next answer (call it in the transaction that changes what the matcher should know)."""
    await session.execute(
        update(KnowledgeVersion)
        .where(KnowledgeVersion.id == VERSION_ROW)
        .values(version=KnowledgeVersion.version + 1, updated_at=now)
    )


# Answers about where to go (tags of the entries): an old commune the question names gets its new unit.
PLACE_TAGS = frozenset({"sap-nhap", "noi-nop"})


class KnowledgeService:
    """Answers questions; one per process. The index is the only state in memory, and it follows the
    knowledge version in the database."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        data_dir: Path | str | None = None,
        contacts_file: Path | str | None = None,
        reminders: ReminderSchedule | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.data_dir = data_dir
        self.contacts_file = contacts_file
        # What the reminder job is configured to do: the `dynamic: reminders` answer shows it (without
        # it, that answer is shown without the schedule's numbers).
        self.reminders = reminders
        self._index: KnowledgeIndex | None = None
        self._communes: CommuneDirectory | None = None
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------- the index
    async def start(self) -> None:
        """Build the index once at start, with the staff-linked questions (raises `IndexRejected` when
        the knowledge files have errors: there is nothing to answer with)."""
        await self.index()

    async def index(self) -> KnowledgeIndex:
        """The index to answer with; rebuilt first when the knowledge version in the database moved
        (one primary-key read per call). While another question's rebuild runs, the old index answers,
        whole (entries and matcher together)."""
        current = self._index
        if current is not None and (self._lock.locked() or current.version == await self._stored_version()):
            return current
        return await self.refresh()

    async def refresh(self) -> KnowledgeIndex:
        """Catch up with the database: rebuild from the files and the staff-linked questions when the
        knowledge version moved. Files with errors keep the old index (logged)."""
        async with self._lock:  # one rebuild at a time; whoever waited finds it done
            version, extras = await self._stored_state()
            current = self._index
            if current is not None and current.version == version:
                return current
            try:
                index = await asyncio.to_thread(build_index, self.data_dir, extras, version)
            except IndexRejected as exc:
                if current is None:
                    raise
                log.error("Knowledge version %s not loaded, the old entries stay: %s", version, exc)
                index = replace(current, version=version)
            self._index = index
            return index

    async def _current(self) -> KnowledgeIndex:
        """The index this process holds, without asking the database (showing an entry does not need
        the latest version; answering a question does)."""
        return self._index if self._index is not None else await self.index()

    async def reload_checked(self) -> ReloadOutcome:
        """Staff reload: read the files, and switch every process to them only when they have no errors."""
        try:
            _, kb, problems = await asyncio.to_thread(load_checked, self.data_dir)
        except IndexRejected as exc:
            current = await self.index()
            return ReloadOutcome(False, len(current.kb.entries), exc.problems)
        async with self.db.session() as s:
            await publish_change(s, self.clock.now())
        await self.refresh()
        return ReloadOutcome(True, len(kb.entries), problems)

    async def _stored_version(self) -> int:
        async with self.db.session() as s:
            return await _version(s)

    async def _stored_state(self) -> tuple[int, dict[str, list[str]]]:
        """The knowledge version and the staff-linked questions (read in that order: a link committed
        in between is picked up now and again at the next check, never missed)."""
        async with self.db.session() as s:
            version = await _version(s)
            rows = (await s.execute(select(KbExtraQuestion).order_by(KbExtraQuestion.id))).scalars().all()
        extras: dict[str, list[str]] = {}
        for row in rows:
            extras.setdefault(row.entry_id, []).append(row.question)
        return version, extras

    # ------------------------------------------------------------- entries
    async def entry_view(self, entry_id: str) -> EntryView | None:
        """An entry ready to render (contacts filled in for `dynamic: contacts`, the configured schedule
        for `dynamic: reminders`), or None."""
        index = await self._current()
        entry = index.kb.get(entry_id)
        if entry is None:  # a button or link sent before its entry was merged into another
            entry = index.kb.get(index.kb.merged.get(entry_id, ""))
        return self._view(index, entry) if entry is not None else None

    async def contacts_view(self) -> EntryView | None:
        """The entry that lists the contacts (`dynamic: contacts`), if the knowledge base has one."""
        index = await self._current()
        entry = next((e for e in index.kb.entries.values() if e.dynamic == "contacts"), None)
        return self._view(index, entry) if entry is not None else None

    def _view(self, index: KnowledgeIndex, entry: Entry) -> EntryView:
        kb = index.kb
        related = [(r, kb.entries[r].title) for r in entry.related if r in kb.entries]
        contacts = load_contacts(self.contacts_file) if entry.dynamic == "contacts" else None
        reminders = self.reminders if entry.dynamic == "reminders" else None
        return EntryView(
            id=entry.id,
            title=entry.title,
            answer=entry.answer,
            short_answer=entry.short_answer,
            paragraphs=entry.paragraphs,
            sources=kb.sources_of(entry),
            rule=entry.rule,
            valid_from=entry.valid_from,
            valid_from_text=entry.valid_from.strftime("%d/%m/%Y") if entry.valid_from else "",
            reviewed=entry.reviewed,
            unverified=entry.unverified,
            dynamic=entry.dynamic,
            related=related,
            contacts=contacts,
            reminders=reminders,
            detail_paragraphs=entry.detail_paragraphs,
            tags=entry.tags,
        )

    async def search_entries(self, text: str, limit: int = 5) -> list[tuple[str, str]]:
        """(entry_id, title) for staff picking an entry: an exact id, titles containing the text, then
        the matcher's best entries."""
        index = await self._current()
        entries = index.kb.entries
        wanted = text.strip().lower()
        found: list[str] = [wanted] if wanted in entries else []
        folded = fold_text(text)
        if folded:
            found += [e.id for e in entries.values() if folded in fold_text(e.title) or folded in e.id]
        found += [entry_id for entry_id, _ in index.matcher.scores(text)[0]]
        unique = list(dict.fromkeys(found))[:limit]
        return [(entry_id, entries[entry_id].title) for entry_id in unique]

    # ------------------------------------------------------------- asking
    async def ask(self, user_id: int, chat_id: int, text: str) -> AskResult:
        """Match the question, store it (committed; an unknown one placed in an inbox group) and return
        what to show."""
        index = await self.index()
        match = index.matcher.match(text)
        topic = None
        if match.out_of_scope is not None:  # another subject: named when the matcher could tell which
            topic = index.kb.out_of_scope.get(match.out_of_scope, UNNAMED_SUBJECT)
        if match.decision is Decision.ANSWER:
            outcome, offered = Outcome.ANSWERED, match.suggestions
        elif match.small_talk:
            outcome, offered = Outcome.SMALL_TALK, ()
        elif topic is not None:
            outcome, offered = Outcome.OUT_OF_SCOPE, ()
        elif match.decision is Decision.SUGGEST:
            outcome, offered = Outcome.SUGGESTED, tuple(match.choices)
        else:
            outcome, offered = Outcome.UNKNOWN, tuple(match.choices)
        row = Question(
            user_id=user_id,
            chat_id=chat_id,
            text=text.strip()[:MAX_QUESTION_CHARS],
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
            if row.status == QuestionStatus.OPEN:
                await place(s, row)
            question_id = row.id
        entry = index.kb.get(match.entry_id) if outcome == Outcome.ANSWERED and match.entry_id else None
        suggestions = suggestions_of(index, offered)
        view = self._view(index, entry) if entry is not None else None
        named, product = self._cards(index, text, entry.tags) if entry is not None else (None, None)
        return AskResult(question_id, outcome, match.confidence, view, suggestions, topic, named, product)

    def _cards(
        self, index: KnowledgeIndex, text: str, tags: Sequence[str]
    ) -> tuple[CommuneMatch | None, ProductMatch | None]:
        """What an answer with these tags says about the question's own words: the commune it names (an
        answer about where to go) and the product it names (an answer about products, found with the
        lexicon the matcher uses)."""
        named = self._place(text) if PLACE_TAGS & set(tags) else None
        products = index.matcher.products if PRODUCT_CARD_TAGS & set(tags) else None
        return named, products.mentioned(text) if products is not None else None

    async def cards_for(
        self, question_id: int, entry: EntryView
    ) -> tuple[CommuneMatch | None, ProductMatch | None]:
        """`_cards` for an entry shown for a stored question (a suggestion the user picked)."""
        index = await self._current()
        async with self.db.session() as s:
            question = await s.get(Question, question_id)
        return self._cards(index, question.text, entry.tags) if question is not None else (None, None)

    def _place(self, text: str) -> CommuneMatch | None:
        """The commune a question about where to go names: an old one (told its new unit) or a current
        one (told what it is made of and where to submit)."""
        if self._communes is None:
            self._communes = CommuneDirectory.load()
        return self._communes.mentioned(text)

    async def question_text(self, question_id: int, user_id: int) -> str | None:
        """The text of a question the user asked (None when it is not theirs or does not exist)."""
        async with self.db.session() as s:
            question = await s.get(Question, question_id)
        return question.text if question is not None and question.user_id == user_id else None

    async def owns_question(self, question_id: int, user_id: int) -> bool:
        """True when `question_id` was asked by `user_id` (guards buttons against forged data)."""
        return await self.question_text(question_id, user_id) is not None

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
        return question_view(q) if q is not None else None

    async def pick_suggestion(self, question_id: int, entry_id: str) -> EntryView | None:
        """The user chose a suggested entry: remember the choice and return the entry to show."""
        view = await self.entry_view(entry_id)
        if view is None:
            return None
        async with self.db.session() as s:
            question = await s.get(Question, question_id)
            if question is not None:
                question.entry_id = entry_id
                if question.status == QuestionStatus.OPEN and question.outcome != Outcome.ANSWERED:
                    question.status = None
        return view

    async def pass_to_staff(
        self, user_id: int, chat_id: int, text: str, *, question_id: int | None = None
    ) -> int:
        """A question passed to staff ("Hỏi cán bộ", /lienhe) also waits in the staff inbox (/cauhoi),
        whether or not a staff chat received it: the user's stored question `question_id` is opened
        again, or a new one is stored. Returns the id of the question in the inbox."""
        async with self.db.session() as s:
            question = await s.get(Question, question_id) if question_id is not None else None
            if question is None or question.user_id != user_id:
                question = Question(
                    user_id=user_id,
                    chat_id=chat_id,
                    text=text.strip()[:MAX_QUESTION_CHARS],
                    outcome=Outcome.PASSED,
                    created_at=self.clock.now(),
                )
                s.add(question)
                await s.flush()
            if question.status != QuestionStatus.OPEN:
                question.status = QuestionStatus.OPEN
                question.cluster_id = None
                await place(s, question)
            return question.id

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
            now = self.clock.now()
            if existing is None:
                s.add(Feedback(question_id=question_id, user_id=user_id, value=value, created_at=now))
            else:
                existing.value = value
                existing.created_at = now
            if value == "down" and question.status is None:
                question.status = QuestionStatus.OPEN
                await place(s, question)
            elif (
                value == "up"
                and question.status == QuestionStatus.OPEN
                and question.outcome == Outcome.ANSWERED
            ):
                question.status = None
        return True


async def _version(session: AsyncSession) -> int:
    found = await session.execute(select(KnowledgeVersion.version).where(KnowledgeVersion.id == VERSION_ROW))
    return int(found.scalar_one_or_none() or 0)


def suggestions_of(index: KnowledgeIndex, pairs: Sequence[tuple[str, float]]) -> list[Suggestion]:
    """(entry, confidence) pairs as suggestions, dropping ids the index does not know."""
    return [Suggestion(e, index.kb.entries[e].title, c) for e, c in pairs if e in index.kb.entries]
