"""Who a broadcast reaches: criteria as data (`Audience`), turned into SQL over the users table, counted
and read in keyset batches (never every recipient in memory).

Criteria combine with AND; the values inside one criterion with OR:
- `communes`: today's units (knowledge.communes resolves old names before they get here). A user's
  commune is `users.commune` when set (/caidat), else the commune of their latest dossier that has one.
- `product_sets` and `statuses`: the user has a dossier of one of these product sets *and* one of these
  statuses (the same dossier when both are given: "returned tea dossiers").
- `event_id`: the user registered for that event, or waits for a place (scheduler/event_models.py;
  cancelled registrations do not count).
- `topic`: the kind of message (common/topics.py); users who turned it off are left out and counted
  ("subscribers of a topic" are exactly the users who did not mute it).
A new criterion is a field here and one clause in `_criteria`.

Only producers are recipients (staff get the preview); users who blocked the bot are left out and counted
as unreachable. A scoped officer's audience is always narrowed to their communes (`within`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import String, and_, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from common.topics import Topic, parse_topic
from dossier.models import Dossier
from scheduler.event_models import EventRegistration, RegistrationStatus
from storage.models import Role, User


class OutOfScope(ValueError):
    """The audience names communes outside the officer's scope."""

    def __init__(self, communes: Sequence[str]) -> None:
        super().__init__(", ".join(communes))
        self.communes = tuple(communes)


@dataclass(frozen=True)
class Audience:
    """A broadcast's recipients as criteria (empty criteria: every producer)."""

    communes: tuple[str, ...] = ()
    product_sets: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    event_id: int | None = None
    topic: Topic = Topic.GENERAL

    @property
    def everyone(self) -> bool:
        return not (self.communes or self.product_sets or self.statuses or self.event_id)

    def to_json(self) -> dict[str, Any]:
        return {
            "communes": list(self.communes),
            "product_sets": list(self.product_sets),
            "statuses": list(self.statuses),
            "event_id": self.event_id,
            "topic": self.topic.value,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Audience:
        data = data or {}
        event = data.get("event_id")
        return cls(
            communes=tuple(str(c) for c in data.get("communes") or ()),
            product_sets=tuple(str(p) for p in data.get("product_sets") or ()),
            statuses=tuple(str(s) for s in data.get("statuses") or ()),
            event_id=int(event) if event is not None else None,
            topic=parse_topic(str(data.get("topic") or "")) or Topic.GENERAL,
        )

    def within(self, scope: frozenset[str] | None) -> Audience:
        """This audience as a member with commune `scope` (None: all) may send it: no communes named
        means all of theirs; a commune outside it raises OutOfScope."""
        if scope is None:
            return self
        outside = [c for c in self.communes if c not in scope]
        if outside:
            raise OutOfScope(outside)
        return replace(self, communes=self.communes or tuple(sorted(scope)))

    def toggled(self, name: str, value: str) -> Audience:
        """This audience with `value` added to, or removed from, the criterion `name`."""
        current: tuple[str, ...] = getattr(self, name)
        values = tuple(v for v in current if v != value) if value in current else (*current, value)
        return replace(self, **{name: values})


def user_commune() -> ColumnElement[Any]:
    """SQL: the user's commune (users.commune, else their latest dossier's commune)."""
    latest = (
        select(Dossier.commune)
        .where(Dossier.owner_id == User.id, Dossier.commune.is_not(None))
        .order_by(Dossier.updated_at.desc(), Dossier.id.desc())
        .limit(1)
        .correlate(User)
        .scalar_subquery()
    )
    return func.coalesce(User.commune, latest)


def _muted(topic: Topic) -> ColumnElement[bool]:
    # users.muted_topics is a JSON list of words; its text holds "<topic>" quoted (SQLite and PostgreSQL).
    return cast(User.muted_topics, String).like(f'%"{topic.value}"%')


def _criteria(audience: Audience) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = [User.role == Role.PRODUCER.value]
    if audience.communes:
        clauses.append(user_commune().in_(audience.communes))
    if audience.product_sets or audience.statuses:
        conditions = [Dossier.owner_id == User.id]
        if audience.product_sets:
            conditions.append(Dossier.product_set.in_(audience.product_sets))
        if audience.statuses:
            conditions.append(Dossier.status.in_(audience.statuses))
        clauses.append(select(Dossier.id).where(*conditions).exists())
    if audience.event_id is not None:
        registered = select(EventRegistration.user_id).where(
            EventRegistration.event_id == audience.event_id,
            EventRegistration.status != RegistrationStatus.CANCELLED.value,
        )
        clauses.append(User.id.in_(registered))
    return clauses


def recipients_clause(audience: Audience) -> ColumnElement[bool]:
    """SQL: the user is a recipient (matches, reachable, has not muted the topic)."""
    return and_(*_criteria(audience), User.blocked.is_(False), ~_muted(audience.topic))


@dataclass(frozen=True)
class AudienceCount:
    """Who would receive it now, and who matches but is left out."""

    recipients: int
    unreachable: int  # blocked the bot
    muted: int  # turned the topic off (and reachable)


async def count(session: AsyncSession, audience: Audience) -> AudienceCount:
    matching = and_(*_criteria(audience))
    muted = _muted(audience.topic)
    q = select(
        func.count().filter(and_(User.blocked.is_(False), ~muted)),
        func.count().filter(User.blocked.is_(True)),
        func.count().filter(and_(User.blocked.is_(False), muted)),
    ).where(matching)
    recipients, unreachable, muted_n = (await session.execute(q)).one()
    return AudienceCount(int(recipients or 0), int(unreachable or 0), int(muted_n or 0))


async def batch(session: AsyncSession, audience: Audience, *, after: int, limit: int) -> list[int]:
    """The next `limit` recipients' user ids above `after`, in id order (keyset pagination)."""
    q = select(User.id).where(recipients_clause(audience), User.id > after).order_by(User.id).limit(limit)
    return list((await session.execute(q)).scalars())


@dataclass(frozen=True)
class ProductSet:
    id: str
    number: int | None
    label: str


def product_sets() -> list[ProductSet]:
    """The product sets of the dossier form (QĐ 26/2026), in form order: what dossiers.product_set holds."""
    from dossier.columns import PRODUCT_SET_STEP
    from dossier.form import default_form

    step = default_form().step(PRODUCT_SET_STEP)
    found: list[ProductSet] = []
    for group in step.choices:
        for choice in group.sub or (group,):
            found.append(ProductSet(choice.id, choice.number, choice.button or choice.label))
    return found


class Preferences:
    """What a producer receives (/caidat): the topics they turned off, and their commune."""

    def __init__(self, db: Any, clock: Any) -> None:
        self.db = db
        self.clock = clock

    async def get(self, user_id: int) -> tuple[frozenset[str], str | None]:
        async with self.db.session() as s:
            user = await s.get(User, user_id)
            if user is None:
                return frozenset(), None
            return frozenset(user.muted_topics or ()), user.commune

    async def set_topic(self, user_id: int, topic: Topic, on: bool) -> frozenset[str]:
        """Turn `topic` on or off for the user; the topics now muted."""
        async with self.db.session() as s:
            user = await s.get(User, user_id)
            if user is None:
                return frozenset()
            muted = [t for t in (user.muted_topics or []) if t != topic.value]
            if not on:
                muted.append(topic.value)
            user.muted_topics = sorted(muted)
            return frozenset(user.muted_topics)

    async def set_commune(self, user_id: int, commune: str | None) -> None:
        async with self.db.session() as s:
            user = await s.get(User, user_id)
            if user is not None:
                user.commune = commune
