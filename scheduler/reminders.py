"""Reminders computed from the data: a job (every minute) asks what is due now and queues it through the
outbox, claiming each (kind, subject, offset, user) in the delivery ledger in the same transaction.

What is due, and to whom:
- a rating round opens → the producers of its audience (topic "rounds");
- N days before a commune deadline (REMINDER_DEADLINE_DAYS) → producers with a draft or returned dossier
  in its audience, naming what each still lacks, with a button to continue it ("rounds");
- N hours before a training (REMINDER_TRAINING_HOURS) → those registered ("events");
- N days before a certificate's valid-until date (REMINDER_CERTIFICATE_DAYS) → its owner, with a
  button that starts the re-rating dossier ("certificate");
- a draft untouched for REMINDER_DRAFT_IDLE_DAYS, a returned dossier untouched for
  REMINDER_RETURNED_IDLE_DAYS → one nudge to the owner ("dossier").

Every reminder has a moment and a moment after which it is useless (the next offset's moment, the
event's start, the deadline): nothing is kept in memory, so a reminder missed while the bot was down is
sent on return while still useful and never after. A moved event has a new subject (its start time is
part of it), so its reminders are re-timed; a cancelled one is no longer asked about. In quiet hours
non-urgent reminders are not claimed: the first run after the quiet hours end finds them still due.
Users who muted the topic (users.muted_topics), blocked the bot, or are staff get nothing.
"""

from __future__ import annotations

import copy
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from common.callbacks import encode
from common.clock import Clock, FakeClock
from common.config import Settings
from common.render import Renderer
from common.text import clip
from common.topics import Topic
from dossier.engine import DossierEngine, DossierState
from dossier.models import Dossier, DossierStatus
from knowledge.schedule import ReminderSchedule
from scheduler.event_models import (
    Event,
    EventKind,
    EventRegistration,
    EventStatus,
    RegistrationStatus,
    ReminderDelivery,
)
from scheduler.events import _view_of, audience_clause, topic_muted
from scheduler.outbox import enqueue_many, outbox_row
from storage.db import Database
from storage.models import Role, User
from storage.outbox_models import Priority

log = logging.getLogger(__name__)

ROUND_USEFUL = timedelta(days=7)  # a round with no end date: its opening is news for a week
IDLE_USEFUL = timedelta(days=3)  # an idle-dossier nudge missed by more than this is not sent late
URGENT_BEFORE = timedelta(hours=12)  # a training reminder this close is sent even in quiet hours
MISSING_SHOWN = 5
DOSSIERS_SHOWN = 3
OUTBOX_KIND = "reminder"
CLAIM_CHUNK = 200  # ledger rows claimed by one INSERT (under SQLite's 999-variable floor: 5 a row)
class Kind:
    ROUND_OPEN = "round_open"
    DEADLINE = "deadline"
    TRAINING = "training"
    CERTIFICATE = "certificate"
    DRAFT_IDLE = "draft_idle"
    RETURNED_IDLE = "returned_idle"


@dataclass(frozen=True)
class Due:
    """One reminder for one user, ready to queue."""

    kind: str
    subject: str
    offset: str
    user_id: int
    text: str
    expires_at: datetime
    buttons: list[list[dict[str, Any]]] | None = None
    urgent: bool = False
    priority: int = Priority.NOTICE

    @property
    def key(self) -> str:
        return f"{self.kind}|{self.subject}|{self.offset}|{self.user_id}"


@dataclass
class TickResult:
    queued: int = 0
    held: int = 0  # due but waiting for the end of the quiet hours
    due: list[Due] = field(default_factory=list)


def _stamp(value: datetime) -> int:
    return int(value.timestamp())


def current_offset(
    moment: datetime, offsets: Sequence[timedelta], now: datetime
) -> tuple[int, datetime] | None:
    """The offset whose reminder is due at `now` for something at `moment`: the latest one passed
    (index into `offsets`, sorted largest first) and when it stops being useful (the next offset's
    time, or the moment itself). None when none is due."""
    if now >= moment:
        return None
    for i in range(len(offsets) - 1, -1, -1):  # smallest offset first
        if moment - offsets[i] <= now:
            expires = moment - offsets[i + 1] if i + 1 < len(offsets) else moment
            return i, expires
    return None


class Reminders:
    """Computes due reminders (`due`, for the preview) and queues them (`tick`, the job)."""

    def __init__(
        self, db: Database, clock: Clock, settings: Settings, renderer: Renderer, engine: DossierEngine
    ) -> None:
        self.db = db
        self.clock = clock
        self.renderer = renderer
        self.engine = engine
        self.tz = ZoneInfo(settings.timezone)
        # The schedule the knowledge base's reminders answer states (`knowledge.schedule`): the job reads
        # its offsets and quiet hours from the same object, so the two cannot disagree.
        self.schedule = ReminderSchedule.from_settings(settings)
        self.draft_idle = timedelta(days=self.schedule.draft_idle_days)
        self.returned_idle = timedelta(days=self.schedule.returned_idle_days)
        self.quiet_start = time.fromisoformat(self.schedule.quiet_start)
        self.quiet_end = time.fromisoformat(self.schedule.quiet_end)
        self.batch = settings.reminder_batch

    # ---- quiet hours
    def quiet(self, now: datetime) -> bool:
        t = now.astimezone(self.tz).time()
        if not self.schedule.quiet_hours:  # equal start and end: none
            return False
        if self.quiet_start < self.quiet_end:
            return self.quiet_start <= t < self.quiet_end
        return t >= self.quiet_start or t < self.quiet_end

    def quiet_ends(self, now: datetime) -> datetime:
        local = now.astimezone(self.tz)
        end = datetime.combine(local.date(), self.quiet_end, tzinfo=self.tz)
        if end <= local:
            end += timedelta(days=1)
        return end.astimezone(UTC)

    # ---- the job
    async def tick(self, now: datetime | None = None) -> TickResult:
        """Queue every reminder due at `now` that nobody claimed yet. What is due is read first; then
        each chunk of reminders is claimed and queued in a short transaction of its own (a long one
        would hold SQLite's single writer, and the bot's replies would wait behind it)."""
        now = now or self.clock.now()
        result = TickResult()
        async with self.db.session() as s:
            due = await self._due(s, now)
        quiet = self.quiet(now)
        morning = self.quiet_ends(now) if quiet else now
        ready = []
        for d in due:
            if quiet and not d.urgent and d.expires_at > morning:
                result.held += 1
            else:
                ready.append(d)
        for i in range(0, len(ready), CLAIM_CHUNK):
            async with self.db.session() as s:
                queued = await self._claim_and_queue(s, ready[i : i + CLAIM_CHUNK], now)
            result.queued += len(queued)
            result.due.extend(queued)
        if result.queued or result.held:
            log.info("Reminders: %d queued, %d held for the morning", result.queued, result.held)
        return result

    async def _claim_and_queue(self, s: AsyncSession, chunk: Sequence[Due], now: datetime) -> list[Due]:
        """Claim `chunk` in the ledger with one statement and queue the ones this run won with another
        (a multi-row INSERT), in `s`. RETURNING names the rows won: a row another process claimed
        first is skipped by ON CONFLICT."""
        insert = postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert
        claim = (
            insert(ReminderDelivery)
            .values([
                {"kind": d.kind, "subject": d.subject, "offset": d.offset, "user_id": d.user_id, "at": now}
                for d in chunk
            ])
            .on_conflict_do_nothing(index_elements=["kind", "subject", "offset", "user_id"])
            .returning(ReminderDelivery.kind, ReminderDelivery.subject, ReminderDelivery.offset,
                       ReminderDelivery.user_id)
        )
        won = {(k, sub, off, int(u)) for k, sub, off, u in (await s.execute(claim)).all()}
        queued = [d for d in chunk if (d.kind, d.subject, d.offset, d.user_id) in won]
        await enqueue_many(s, [
            outbox_row(chat_id=d.user_id, text=d.text, kind=OUTBOX_KIND, now=now, buttons=d.buttons,
                       priority=d.priority, key=d.key)
            for d in queued
        ])
        return queued

    async def due(self, now: datetime) -> list[Due]:
        """What a run at `now` would queue (nothing is written): the preview for staff, and tests."""
        async with self.db.session() as s:
            due = await self._due(s, now)
            await s.rollback()
        if self.quiet(now):
            morning = self.quiet_ends(now)
            due = [d for d in due if d.urgent or d.expires_at <= morning]
        return due

    async def _due(self, s: AsyncSession, now: datetime) -> list[Due]:
        out: list[Due] = []
        for rule in (self._rounds, self._deadlines, self._trainings, self._certificates, self._idle):
            if len(out) >= self.batch:
                break
            out.extend(await rule(s, now, self.batch - len(out)))
        return out[: self.batch]

    # ---- who may receive
    @staticmethod
    def _reachable(topic: Topic) -> Any:
        return and_(
            User.blocked.is_(False),
            User.role == Role.PRODUCER.value,
            or_(User.muted_topics.is_(None), ~topic_muted(User.muted_topics, topic.value)),
        )

    @staticmethod
    def _unclaimed(kind: str, subject: str, offset: str) -> Any:
        """Users not yet in the ledger for (kind, subject, offset). NOT IN (user_id is NOT NULL), not a
        correlated NOT EXISTS: PostgreSQL's generic plan of the prepared statement (asyncpg, after five
        runs) turned NOT EXISTS into a nested loop over every claimed row for each user (10 s a query
        at 50,000 users, `python -m bench reminders`); NOT IN is one hashed subplan whatever the plan."""
        return User.id.not_in(
            select(ReminderDelivery.user_id).where(
                ReminderDelivery.kind == kind,
                ReminderDelivery.subject == subject,
                ReminderDelivery.offset == offset,
            )
        )

    async def _claimed(
        self, s: AsyncSession, kind: str, keys: Iterable[tuple[str, str, int]]
    ) -> set[tuple[str, str, int]]:
        """Which (subject, offset, user) of `kind` are already in the ledger."""
        keys = list(keys)
        found: set[tuple[str, str, int]] = set()
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            rows = await s.execute(
                select(ReminderDelivery.subject, ReminderDelivery.offset, ReminderDelivery.user_id).where(
                    ReminderDelivery.kind == kind,
                    ReminderDelivery.subject.in_({k[0] for k in chunk}),
                )
            )
            found |= {(a, b, int(c)) for a, b, c in rows}
        return found

    # ---- rules
    async def _rounds(self, s: AsyncSession, now: datetime, limit: int) -> list[Due]:
        events = (await s.scalars(select(Event).where(
            Event.kind == EventKind.ROUND.value,
            Event.status == EventStatus.ACTIVE.value,
            Event.starts_at <= now,
            or_(Event.ends_at > now, and_(Event.ends_at.is_(None), Event.starts_at > now - ROUND_USEFUL)),
        ).order_by(Event.starts_at))).all()
        out: list[Due] = []
        for e in events:
            expires = e.ends_at or e.starts_at + ROUND_USEFUL
            if now >= expires or len(out) >= limit:
                continue
            subject, offset = f"ev:{e.id}@{_stamp(e.starts_at)}", "open"
            users = (await s.scalars(
                select(User.id).where(
                    self._reachable(Topic.ROUNDS),
                    audience_clause(e.communes or [], e.product_sets or []),
                    self._unclaimed(Kind.ROUND_OPEN, subject, offset),
                ).order_by(User.id).limit(limit - len(out))
            )).all()
            if not users:
                continue
            text = self.renderer.render("events/reminder_round_open", e=_view_of(e, {}))
            buttons = [[{"text": self.renderer.label("events.open"),
                         "callback_data": encode("ev", "v", e.id)}]]
            out.extend(
                Due(Kind.ROUND_OPEN, subject, offset, int(u), text, expires, buttons,
                    priority=Priority.BROADCAST)
                for u in users
            )
        return out

    async def _deadlines(self, s: AsyncSession, now: datetime, limit: int) -> list[Due]:
        if not self.schedule.deadline_days:
            return []
        offsets = [timedelta(days=d) for d in self.schedule.deadline_days]
        out: list[Due] = []
        for e, i, expires in await _upcoming(s, EventKind.DEADLINE, offsets, now):
            if len(out) >= limit:
                continue
            days = self.schedule.deadline_days[i]
            subject, offset = f"ev:{e.id}@{_stamp(e.starts_at)}", f"{days}d"
            conds = [
                Dossier.status.in_([DossierStatus.DRAFT, DossierStatus.RETURNED]),
                self._reachable(Topic.ROUNDS),
                self._unclaimed(Kind.DEADLINE, subject, offset),
            ]
            if e.communes:
                conds.append(or_(
                    Dossier.commune.in_(e.communes),
                    and_(Dossier.commune.is_(None), User.commune.in_(e.communes)),
                ))
            if e.product_sets:
                conds.append(Dossier.product_set.in_(e.product_sets))
            owners = (await s.scalars(
                select(User.id).join(Dossier, Dossier.owner_id == User.id).where(*conds)
                .group_by(User.id).order_by(User.id).limit(limit - len(out))
            )).all()
            if not owners:
                continue
            dossiers = (await s.scalars(
                select(Dossier).join(User, User.id == Dossier.owner_id)
                .where(Dossier.owner_id.in_(list(owners)), conds[0], *conds[3:])
                .order_by(Dossier.owner_id, Dossier.id)
            )).all()
            by_owner: dict[int, list[Dossier]] = defaultdict(list)
            for d in dossiers:
                by_owner[d.owner_id].append(d)
            view = _view_of(e, {})
            left = (e.starts_at - now)
            for owner in owners:
                items = [self._dossier_item(d) for d in by_owner.get(owner, [])][:DOSSIERS_SHOWN]
                if not items:
                    continue
                text = self.renderer.render(
                    "events/reminder_deadline", e=view, days_left=max(1, round(left / timedelta(days=1))),
                    hours_left=max(1, int(left / timedelta(hours=1))), dossiers=items,
                )
                buttons = [
                    [{"text": self.renderer.label("events.continue_dossier", name=item["name"]),
                      "callback_data": encode("dos", "o", item["id"])}]
                    for item in items
                ]
                out.append(Due(Kind.DEADLINE, subject, offset, int(owner), text, expires, buttons))
        return out

    def _dossier_item(self, d: Dossier) -> dict[str, Any]:
        try:
            state = DossierState.from_parts(
                copy.deepcopy(d.answers), d.current_step, d.review_mode, copy.deepcopy(d.flow_state)
            )
            missing = [m.label for m in self.engine.missing(state)]
        except Exception:  # a dossier the form no longer fits: remind without the list
            log.exception("Could not list what dossier %s lacks", d.id)
            missing = []
        name = d.product_name or self.renderer.label("events.untitled_dossier")
        return {
            "id": d.id, "name": clip(name, 40), "status": d.status, "missing": missing[:MISSING_SHOWN],
            "more": max(0, len(missing) - MISSING_SHOWN),
        }

    async def _trainings(self, s: AsyncSession, now: datetime, limit: int) -> list[Due]:
        if not self.schedule.training_hours:
            return []
        offsets = [timedelta(hours=h) for h in self.schedule.training_hours]
        out: list[Due] = []
        for e, i, expires in await _upcoming(s, EventKind.TRAINING, offsets, now):
            if len(out) >= limit:
                continue
            hours = self.schedule.training_hours[i]
            subject, offset = f"ev:{e.id}@{_stamp(e.starts_at)}", f"{hours}h"
            users = (await s.scalars(
                select(User.id).join(EventRegistration, EventRegistration.user_id == User.id).where(
                    EventRegistration.event_id == e.id,
                    EventRegistration.status == RegistrationStatus.REGISTERED.value,
                    User.blocked.is_(False),
                    or_(User.muted_topics.is_(None), ~topic_muted(User.muted_topics, Topic.EVENTS.value)),
                    self._unclaimed(Kind.TRAINING, subject, offset),
                ).order_by(User.id).limit(limit - len(out))
            )).all()
            if not users:
                continue
            text = self.renderer.render("events/reminder_training", e=_view_of(e, {}), hours=hours)
            buttons = [[{"text": self.renderer.label("events.open"),
                         "callback_data": encode("ev", "v", e.id)}]]
            urgent = offsets[i] <= URGENT_BEFORE
            out.extend(
                Due(Kind.TRAINING, subject, offset, int(u), text, expires, buttons, urgent) for u in users
            )
        return out

    def _local_midnight(self, day: date) -> datetime:
        return datetime.combine(day, time(0, 0), tzinfo=self.tz).astimezone(UTC)

    async def _certificates(self, s: AsyncSession, now: datetime, limit: int) -> list[Due]:
        if not self.schedule.certificate_days:
            return []
        today = now.astimezone(self.tz).date()
        offsets = [timedelta(days=d) for d in self.schedule.certificate_days]
        rows = (await s.execute(
            select(Dossier.id, Dossier.owner_id, Dossier.product_name, Dossier.valid_until, Dossier.stars)
            .join(User, User.id == Dossier.owner_id)
            .where(
                Dossier.valid_until.is_not(None),
                Dossier.valid_until > today,
                Dossier.valid_until <= today + offsets[0] + timedelta(days=1),
                self._reachable(Topic.CERTIFICATE),
            ).order_by(Dossier.valid_until, Dossier.id)
        )).all()
        candidates = []
        for dossier_id, owner, name, valid_until, stars in rows:
            found = current_offset(self._local_midnight(valid_until), offsets, now)
            if found is None:
                continue
            i, expires = found
            subject = f"dos:{dossier_id}@{valid_until.isoformat()}"
            key = f"{self.schedule.certificate_days[i]}d"
            candidates.append((subject, key, int(owner), expires, dossier_id, name, valid_until, stars))
        claimed = await self._claimed(s, Kind.CERTIFICATE, ((c[0], c[1], c[2]) for c in candidates))
        out: list[Due] = []
        for subject, offset, owner, expires, dossier_id, name, valid_until, stars in candidates:
            if (subject, offset, owner) in claimed or len(out) >= limit:
                continue
            text = self.renderer.render(
                "events/reminder_certificate", name=name or self.renderer.label("events.untitled_dossier"),
                valid_until=valid_until, days_left=(valid_until - today).days, stars=stars,
            )
            label = self.renderer.label("events.rerate")
            buttons = [[{"text": label, "callback_data": encode("dos", "rerate", dossier_id)}]]
            out.append(Due(Kind.CERTIFICATE, subject, offset, owner, text, expires, buttons))
        return out

    async def _idle(self, s: AsyncSession, now: datetime, limit: int) -> list[Due]:
        out: list[Due] = []
        for kind, status, idle, template, topic in (
            (Kind.DRAFT_IDLE, DossierStatus.DRAFT, self.draft_idle, "events/reminder_draft_idle",
             Topic.DOSSIER),
            (Kind.RETURNED_IDLE, DossierStatus.RETURNED, self.returned_idle, "events/reminder_returned_idle",
             Topic.DOSSIER),
        ):
            rows = (await s.scalars(
                select(Dossier).join(User, User.id == Dossier.owner_id).where(
                    Dossier.status == status,
                    Dossier.updated_at <= now - idle,
                    Dossier.updated_at > now - idle - IDLE_USEFUL,
                    self._reachable(topic),
                ).order_by(Dossier.updated_at, Dossier.id)
            )).all()
            offset = f"{idle / timedelta(days=1):g}d"
            candidates = [(f"dos:{d.id}@{_stamp(d.updated_at)}", offset, int(d.owner_id), d) for d in rows]
            claimed = await self._claimed(s, kind, ((c[0], c[1], c[2]) for c in candidates))
            for subject, off, owner, d in candidates:
                if (subject, off, owner) in claimed or len(out) >= limit:
                    continue
                item = self._dossier_item(d)
                text = self.renderer.render(template, d=item, days=round(idle / timedelta(days=1)))
                buttons = [[{"text": self.renderer.label("events.continue_dossier", name=item["name"]),
                             "callback_data": encode("dos", "o", d.id)}]]
                out.append(Due(kind, subject, off, owner, text, d.updated_at + idle + IDLE_USEFUL, buttons))
        return out


# ---- preview: what would go out at a given moment (nothing is sent) --------------------------------
def preview_main(argv: Sequence[str] | None = None) -> int:
    """`python -m scheduler.reminders preview --at "dd/mm/yyyy HH:MM"`: print, from DATABASE_URL, what
    the job would queue at that moment and to whom. Nothing is written or sent."""
    import argparse
    import asyncio

    from common.config import ConfigError, load_settings
    from dossier.form import default_form
    from knowledge.communes import CommuneDirectory
    from scheduler.events import EventError, parse_local

    p = argparse.ArgumentParser(prog="reminders", description=preview_main.__doc__)
    p.add_argument("action", choices=["preview"])
    p.add_argument("--at", required=True, help='local time, "dd/mm/yyyy HH:MM" (Asia/Ho_Chi_Minh)')
    args = p.parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(exc)
        return 2
    tz = ZoneInfo(settings.timezone)
    try:
        at = parse_local(args.at, tz)
    except EventError:
        print(f'Bad --at "{args.at}": use dd/mm/yyyy HH:MM, for example 15/06/2026 08:00')
        return 2


    async def run() -> list[Due]:
        db = Database(settings.database_url)
        try:
            engine = DossierEngine(default_form(), CommuneDirectory.load())
            job = Reminders(db, FakeClock(at), settings, Renderer(settings.timezone), engine)
            return await job.due(at)
        finally:
            await db.dispose()

    due = asyncio.run(run())
    print(f"{len(due)} reminder(s) at {at.astimezone(tz):%d/%m/%Y %H:%M} ({settings.timezone})")
    for d in due:
        first = d.text.splitlines()[0] if d.text else ""
        print(f"{d.user_id}\t{d.kind}\t{d.offset}\t{d.subject}\t{first[:80]}")
    return 0



async def _upcoming(
    s: AsyncSession, kind: EventKind, offsets: list[timedelta], now: datetime
) -> list[tuple[Event, int, datetime]]:
    """Active events of `kind` starting within the first (largest) offset, each with the index of the
    offset whose moment has come and until when that reminder is useful; events between two moments
    are left out."""
    events = (await s.scalars(select(Event).where(
        Event.kind == kind.value,
        Event.status == EventStatus.ACTIVE.value,
        Event.starts_at > now,
        Event.starts_at <= now + offsets[0],
    ).order_by(Event.starts_at))).all()
    out = []
    for e in events:
        found = current_offset(e.starts_at, offsets, now)
        if found is not None:
            out.append((e, found[0], found[1]))
    return out


if __name__ == "__main__":
    import sys

    sys.exit(preview_main(sys.argv[1:]))
