"""Events and registrations over the database: staff create, edit, cancel and import events (scoped to
their communes, every action audited); producers see what is coming for them, register for a training
(capacity, a waiting list that moves up), cancel; an .ics file and a QR code for any event.

Nothing here imports `telegram`: notices to registrants (moved, cancelled, moved up from the waiting
list) are queued through the outbox in the transaction that causes them; words come from
templates/events/*.html through the injected renderer.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import and_, exists, func, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from common.callbacks import encode
from common.clock import Clock, parse_local_datetime
from common.links import bot_link
from common.render import Renderer
from common.topics import Topic, receives
from dossier.models import Dossier
from scheduler.event_models import Event, EventKind, EventRegistration, EventStatus, RegistrationStatus
from scheduler.outbox import enqueue
from storage.db import Database
from storage.models import User
from storage.outbox_models import OutboxMessage, OutboxState, Priority
from storage.staff import StaffAccess, audit

DATETIME_FORMAT = "%d/%m/%Y %H:%M"
LINK_RE = re.compile(r"^(https?://|tg://)\S{1,500}$")
TITLE_MAX = 200
PLACE_MAX = 200
DESCRIPTION_MAX = 1500
CAPACITY_MAX = 10_000
MILESTONES = ((6, 30), (12, 30))  # QĐ 26/2026 Điều 5: the province rates at least twice a year
IMPORT_MAX_ROWS = 500
# What staff may type for a kind in an import file (English ids or Vietnamese words without accents).
KIND_NAMES = {
    "round": EventKind.ROUND, "dot_danh_gia": EventKind.ROUND, "dot": EventKind.ROUND,
    "deadline": EventKind.DEADLINE, "han_nop": EventKind.DEADLINE, "han": EventKind.DEADLINE,
    "training": EventKind.TRAINING, "tap_huan": EventKind.TRAINING,
    "fair": EventKind.FAIR, "hoi_cho": EventKind.FAIR, "trien_lam": EventKind.FAIR,
    "general": EventKind.GENERAL, "su_kien": EventKind.GENERAL, "khac": EventKind.GENERAL,
}
IMPORT_COLUMNS = (
    "kind", "title", "starts_at", "ends_at", "place", "capacity", "communes", "product_sets",
    "description", "link",
)


class EventError(Exception):
    """A refusal the chat explains: `code` picks the sentence in templates/events/error.html."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


class ImportError_(EventError):
    """A bad row of an import file: nothing was imported."""


# ---- values ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProductSet:
    id: str
    number: int
    label: str


@dataclass
class EventDraft:
    """An event being made or changed (the wizard keeps it as JSON in users.flow_data)."""

    kind: str = EventKind.GENERAL.value
    title: str = ""
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    place: str = ""
    capacity: int | None = None
    communes: list[str] = field(default_factory=list)
    product_sets: list[str] = field(default_factory=list)
    description: str = ""
    link: str | None = None
    milestone: date | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "title": self.title,
            "starts_at": self.starts_at.isoformat() if self.starts_at else None,
            "ends_at": self.ends_at.isoformat() if self.ends_at else None,
            "place": self.place, "capacity": self.capacity, "communes": list(self.communes),
            "product_sets": list(self.product_sets), "description": self.description, "link": self.link,
            "milestone": self.milestone.isoformat() if self.milestone else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> EventDraft:
        data = data or {}
        return cls(
            kind=str(data.get("kind") or EventKind.GENERAL.value),
            title=str(data.get("title") or ""),
            starts_at=_dt(data.get("starts_at")),
            ends_at=_dt(data.get("ends_at")),
            place=str(data.get("place") or ""),
            capacity=int(data["capacity"]) if data.get("capacity") is not None else None,
            communes=[str(c) for c in data.get("communes") or []],
            product_sets=[str(p) for p in data.get("product_sets") or []],
            description=str(data.get("description") or ""),
            link=data.get("link") or None,
            milestone=date.fromisoformat(data["milestone"]) if data.get("milestone") else None,
        )

    @classmethod
    def of(cls, event: Event) -> EventDraft:
        return cls(
            kind=event.kind, title=event.title, starts_at=event.starts_at, ends_at=event.ends_at,
            place=event.place, capacity=event.capacity, communes=list(event.communes or []),
            product_sets=list(event.product_sets or []), description=event.description, link=event.link,
            milestone=event.milestone,
        )


def _dt(value: object) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class EventView:
    """An event as a producer or staff member sees it, with the viewer's registration."""

    id: int
    kind: str
    title: str
    description: str
    place: str
    link: str | None
    starts_at: datetime
    ends_at: datetime | None
    capacity: int | None
    communes: tuple[str, ...]
    product_sets: tuple[str, ...]
    status: str
    registered: int = 0
    waiting: int = 0
    mine: str | None = None  # the viewer's registration status
    position: int | None = None  # the viewer's place on the waiting list (1 = next)

    @property
    def is_training(self) -> bool:
        return self.kind == EventKind.TRAINING.value

    @property
    def cancelled(self) -> bool:
        return self.status == EventStatus.CANCELLED.value

    @property
    def full(self) -> bool:
        return self.capacity is not None and self.registered >= self.capacity


@dataclass(frozen=True)
class RegistrationResult:
    status: str  # registered | waiting
    already: bool
    position: int | None = None


@dataclass(frozen=True)
class Milestone:
    """A provincial rating milestone not yet confirmed with a commune deadline."""

    day: date

    @property
    def token(self) -> str:
        return self.day.strftime("%Y%m%d")


# ---- parsing --------------------------------------------------------------------------------------
def parse_local(text: str, tz: ZoneInfo) -> datetime:
    """'dd/mm/yyyy HH:MM' in local time → an aware UTC datetime; EventError('bad_datetime') otherwise."""
    moment = parse_local_datetime(text, tz)
    if moment is None:
        raise EventError("bad_datetime", value=text)
    return moment


def format_local(value: datetime, tz: ZoneInfo) -> str:
    return value.astimezone(tz).strftime(DATETIME_FORMAT)


def parse_kind(text: str) -> EventKind:
    key = re.sub(r"[\s\-]+", "_", (text or "").strip().lower())
    kind = KIND_NAMES.get(key)
    if kind is None:
        raise EventError("bad_kind", value=text)
    return kind


class Catalog:
    """What an audience may name: today's communes and the product sets of the dossier form."""

    def __init__(self, communes: Sequence[str], product_sets: Sequence[ProductSet], resolve: Any = None):
        self.communes = list(communes)
        self.product_sets = list(product_sets)
        self._resolve = resolve
        self._by_id = {p.id: p for p in product_sets}
        self._by_number = {p.number: p for p in product_sets}

    @classmethod
    def load(cls) -> Catalog:
        from dossier.columns import PRODUCT_SET_STEP
        from dossier.form import default_form
        from knowledge.communes import CommuneDirectory

        directory = CommuneDirectory.load()
        step = next(s for s in default_form().steps if s.id == PRODUCT_SET_STEP)
        sets = [
            ProductSet(sub.id, sub.number, sub.label)
            for group in step.choices for sub in group.sub if sub.number is not None
        ]
        units = [u.name for u in directory.current_units()]
        return cls(units, sets, directory.resolve)

    def commune(self, text: str) -> str:
        """Today's unit named by `text` (tolerant: accents, 'xã', old names), else EventError."""
        text = text.strip()
        if text in self.communes:
            return text
        match = self._resolve(text) if self._resolve else None
        unit = getattr(match, "new_unit", None) if match is not None else None
        if unit in self.communes and not getattr(match, "partial", False):
            return str(unit)
        raise EventError("bad_commune", value=text)

    def product_set(self, text: str) -> str:
        key = text.strip().lower()
        if key.isdigit() and int(key) in self._by_number:
            return self._by_number[int(key)].id
        if key in self._by_id:
            return key
        raise EventError("bad_product_set", value=text)

    def label(self, set_id: str) -> str:
        p = self._by_id.get(set_id)
        return f"{p.number}. {p.label}" if p else set_id

    def split(self, text: str) -> list[str]:
        return [part.strip() for part in re.split(r"[,;\n]", text or "") if part.strip()]


# ---- audience -------------------------------------------------------------------------------------
def audience_clause(communes: Sequence[str], product_sets: Sequence[str]) -> ColumnElement[bool]:
    """SQL over `users`: the user belongs to an event's audience (everyone when both lists are empty).
    A user's communes are their own and their dossiers'; their product sets are their dossiers'."""
    conds: list[ColumnElement[bool]] = []
    if communes:
        conds.append(
            or_(
                User.commune.in_(list(communes)),
                exists().where(Dossier.owner_id == User.id, Dossier.commune.in_(list(communes))),
            )
        )
    if product_sets:
        conds.append(exists().where(Dossier.owner_id == User.id, Dossier.product_set.in_(list(product_sets))))
    return and_(*conds) if conds else true()


def in_audience(event: Event, communes: Iterable[str | None], product_sets: Iterable[str | None]) -> bool:
    """The same rule in Python, for one user whose communes and product sets are known."""
    mine_c = {c for c in communes if c}
    mine_p = {p for p in product_sets if p}
    if event.communes and not mine_c & set(event.communes):
        return False
    return not (event.product_sets and not mine_p & set(event.product_sets))


def topic_muted(column: Any, topic: str) -> ColumnElement[bool]:
    """SQL: `topic` is in a JSON list of topic slugs. The slugs are plain ASCII words, so matching the
    quoted word in the JSON text works alike on SQLite and PostgreSQL."""
    from sqlalchemy import String, cast

    return cast(column, String).like(f'%"{topic}"%')


# ---- the service ----------------------------------------------------------------------------------
class EventService:
    """Event use cases for the chat (and the console, the tests, the reminder job)."""

    def __init__(
        self, db: Database, clock: Clock, renderer: Renderer, *, timezone: str = "Asia/Ho_Chi_Minh",
        catalog: Catalog | None = None, bot_username: str = "",
        reminder_hours: Sequence[int] = (),
    ) -> None:
        self.db = db
        self.clock = clock
        self.renderer = renderer
        self.tz = ZoneInfo(timezone)
        self.catalog = catalog or Catalog.load()
        self.bot_username = bot_username  # set by the Telegram side once the bot is known
        # How long before a training its registrants are reminded (REMINDER_TRAINING_HOURS; none: never).
        self.reminder_hours = tuple(reminder_hours)

    # -- reading
    async def _counts(self, s: AsyncSession, ids: Sequence[int]) -> dict[int, dict[str, int]]:
        if not ids:
            return {}
        rows = await s.execute(
            select(EventRegistration.event_id, EventRegistration.status, func.count())
            .where(EventRegistration.event_id.in_(list(ids)))
            .group_by(EventRegistration.event_id, EventRegistration.status)
        )
        out: dict[int, dict[str, int]] = {}
        for event_id, status, n in rows:
            out.setdefault(event_id, {})[status] = int(n)
        return out

    async def _view(self, s: AsyncSession, event: Event, user_id: int | None = None) -> EventView:
        counts = (await self._counts(s, [event.id])).get(event.id, {})
        mine = position = None
        if user_id is not None:
            reg = await s.scalar(
                select(EventRegistration).where(
                    EventRegistration.event_id == event.id, EventRegistration.user_id == user_id
                )
            )
            if reg is not None and reg.status != RegistrationStatus.CANCELLED.value:
                mine = reg.status
                if reg.status == RegistrationStatus.WAITING.value:
                    position = 1 + int(
                        await s.scalar(
                            select(func.count()).where(
                                EventRegistration.event_id == event.id,
                                EventRegistration.status == RegistrationStatus.WAITING.value,
                                or_(
                                    EventRegistration.queued_at < reg.queued_at,
                                    and_(EventRegistration.queued_at == reg.queued_at,
                                         EventRegistration.id < reg.id),
                                ),
                            )
                        )
                        or 0
                    )
        return _view_of(event, counts, mine, position)

    async def get(self, event_id: int, user_id: int | None = None) -> EventView:
        async with self.db.session() as s:
            event = await s.get(Event, event_id)
            if event is None:
                raise EventError("not_found")
            return await self._view(s, event, user_id)

    async def upcoming_for(self, user_id: int, *, limit: int = 10) -> list[EventView]:
        """Active events not over yet whose audience includes the user, soonest first."""
        now = self.clock.now()
        async with self.db.session() as s:
            user = await s.get(User, user_id)
            rows = (await s.execute(
                select(Dossier.commune, Dossier.product_set).where(Dossier.owner_id == user_id)
            )).all()
            communes = [user.commune if user else None, *(r[0] for r in rows)]
            sets = [r[1] for r in rows]
            events = (await s.scalars(_upcoming(now))).all()
            shown = [e for e in events if in_audience(e, communes, sets)][:limit]
            counts = await self._counts(s, [e.id for e in shown])
            mine = {
                r.event_id: r.status
                for r in (await s.scalars(select(EventRegistration).where(
                    EventRegistration.user_id == user_id,
                    EventRegistration.event_id.in_([e.id for e in shown]),
                ))).all()
                if r.status != RegistrationStatus.CANCELLED.value
            }
        return [_view_of(e, counts.get(e.id, {}), mine.get(e.id)) for e in shown]

    async def upcoming_for_staff(self, access: StaffAccess, *, limit: int = 15) -> list[EventView]:
        """Active events not over yet that this member may manage, soonest first."""
        now = self.clock.now()
        async with self.db.session() as s:
            events = [e for e in (await s.scalars(_upcoming(now))).all() if _manages(access, e)][:limit]
            counts = await self._counts(s, [e.id for e in events])
        return [_view_of(e, counts.get(e.id, {})) for e in events]

    async def milestones(self, access: StaffAccess) -> list[Milestone]:
        """The provincial milestones (30/6, 30/12) of this year and the next still ahead, that have no
        commune deadline yet among the events this member manages."""
        today = self.clock.now().astimezone(self.tz).date()
        candidates = [
            date(y, m, d)
            for y in (today.year, today.year + 1)
            for (m, d) in MILESTONES
            if date(y, m, d) > today
        ][:2]
        async with self.db.session() as s:
            rows = (await s.scalars(
                select(Event).where(
                    Event.kind == EventKind.DEADLINE.value,
                    Event.status == EventStatus.ACTIVE.value,
                    Event.milestone.in_(candidates),
                )
            )).all()
        done = {e.milestone for e in rows if _manages(access, e)}
        return [Milestone(d) for d in candidates if d not in done]

    # -- validation
    def check(self, draft: EventDraft, access: StaffAccess, *, new: bool = True) -> EventDraft:
        """Validate a whole draft (EventError names what is wrong); returns it cleaned."""
        try:
            kind = EventKind(draft.kind)
        except ValueError:
            raise EventError("bad_kind", value=draft.kind) from None
        title = " ".join(draft.title.split())
        if not title:
            raise EventError("title_missing")
        if len(title) > TITLE_MAX:
            raise EventError("title_too_long", limit=TITLE_MAX)
        if draft.starts_at is None:
            raise EventError("starts_missing")
        if new and draft.starts_at <= self.clock.now():
            raise EventError("in_the_past", value=format_local(draft.starts_at, self.tz))
        if draft.ends_at is not None and draft.ends_at <= draft.starts_at:
            raise EventError("ends_before_start")
        place = " ".join(draft.place.split())
        if len(place) > PLACE_MAX:
            raise EventError("place_too_long", limit=PLACE_MAX)
        description = draft.description.strip()
        if len(description) > DESCRIPTION_MAX:
            raise EventError("description_too_long", limit=DESCRIPTION_MAX)
        link = (draft.link or "").strip() or None
        if link is not None and not LINK_RE.match(link):
            raise EventError("bad_link", value=link)
        capacity = draft.capacity
        if kind != EventKind.TRAINING:
            capacity = None
        elif capacity is not None and not 1 <= capacity <= CAPACITY_MAX:
            raise EventError("bad_capacity", limit=CAPACITY_MAX)
        communes = sorted({self.catalog.commune(c) for c in draft.communes})
        sets = sorted({self.catalog.product_set(p) for p in draft.product_sets})
        if access.scoped and (not communes or not set(communes) <= access.communes):
            raise EventError("out_of_scope", communes=", ".join(sorted(access.communes)))
        if draft.milestone is not None and draft.starts_at.astimezone(self.tz).date() > draft.milestone:
            raise EventError("after_milestone", milestone=draft.milestone.strftime("%d/%m/%Y"))
        return replace(
            draft, kind=kind.value, title=title, place=place, description=description, link=link,
            capacity=capacity, communes=communes, product_sets=sets,
        )

    def check_field(self, draft: EventDraft, field: str, access: StaffAccess) -> None:
        """Validate what the wizard has so far (fields not asked yet get harmless stand-ins)."""
        filled = replace(
            draft,
            title=draft.title or "-",
            starts_at=draft.starts_at or self.clock.now() + timedelta(days=1),
            milestone=None,
        )
        if field != "audience" and access.scoped and not filled.communes:
            filled.communes = sorted(access.communes)
        self.check(filled, access, new=False)

    async def draft_of(self, event_id: int) -> EventDraft:
        async with self.db.session() as s:
            event = await s.get(Event, event_id)
            if event is None:
                raise EventError("not_found")
            return EventDraft.of(event)

    async def managed(self, access: StaffAccess, ids: Sequence[int]) -> list[Event]:
        """The events among `ids` this member may manage."""
        async with self.db.session() as s:
            rows = (await s.scalars(select(Event).where(Event.id.in_(list(ids))))).all()
        return [e for e in rows if _manages(access, e)]

    async def _access(self, s: AsyncSession, staff: Any, actor_id: int) -> StaffAccess:
        access = await staff.access_in(s, actor_id)
        if access is None:
            raise EventError("not_staff")
        return access

    async def _managed(
        self, s: AsyncSession, access: StaffAccess, event_id: int, *, lock: bool = True
    ) -> Event:
        if lock:  # take the row first: concurrent edits and registrations queue behind each other
            await s.execute(
                update(Event).where(Event.id == event_id).values(id=Event.id)
                .execution_options(synchronize_session=False)
            )
        event = await s.get(Event, event_id, populate_existing=True)
        if event is None or not _manages(access, event):
            raise EventError("not_found")
        return event

    # -- staff actions
    async def create(self, staff: Any, actor_id: int, draft: EventDraft) -> EventView:
        now = self.clock.now()
        async with self.db.session() as s:
            access = await self._access(s, staff, actor_id)
            clean = self.check(draft, access)
            event = _new_event(clean, actor_id, now)
            s.add(event)
            await s.flush()
            audit(s, at=now, actor_id=actor_id, action="event.create", event=event.id, kind=event.kind,
                  title=event.title, starts=format_local(event.starts_at, self.tz))
            return _view_of(event, {})

    async def edit(self, staff: Any, actor_id: int, event_id: int, draft: EventDraft) -> EventView:
        """Save a changed event; a new time or place is told to everyone registered or waiting."""
        now = self.clock.now()
        async with self.db.session() as s:
            access = await self._access(s, staff, actor_id)
            event = await self._managed(s, access, event_id)
            if event.status != EventStatus.ACTIVE.value:
                raise EventError("cancelled")
            moved_time = draft.starts_at != event.starts_at
            clean = self.check(draft, access, new=moved_time)
            before = EventDraft.of(event)
            _apply(event, clean, now)
            changed = [k for k, v in clean.to_json().items() if before.to_json().get(k) != v]
            if not changed:
                return await self._view(s, event)
            if moved_time:
                await drop_queued_reminders(s, event.id)  # the new time gets reminders of its own
            if "capacity" in changed:
                await self._promote(s, event, now)  # more places (or no limit): the waiting list moves up
            if moved_time or "place" in changed:
                await self._tell_registrants(
                    s, event, "events/notice_moved", now, old_starts=before.starts_at, moved_time=moved_time,
                    old_place=before.place,
                )
            audit(s, at=now, actor_id=actor_id, action="event.edit", event=event.id, fields=",".join(changed))
            return await self._view(s, event)

    async def cancel(self, staff: Any, actor_id: int, event_id: int) -> EventView:
        """Cancel an event: its reminders stop (the job skips cancelled events) and registrants are told."""
        now = self.clock.now()
        async with self.db.session() as s:
            access = await self._access(s, staff, actor_id)
            event = await self._managed(s, access, event_id)
            if event.status == EventStatus.CANCELLED.value:
                raise EventError("cancelled")
            event.status = EventStatus.CANCELLED.value
            event.updated_at = now
            await drop_queued_reminders(s, event.id)
            await self._tell_registrants(s, event, "events/notice_cancelled", now)
            audit(s, at=now, actor_id=actor_id, action="event.cancel", event=event.id, title=event.title)
            return await self._view(s, event)

    async def _tell_registrants(self, s: AsyncSession, event: Event, template: str, now: datetime,
                                **extra: Any) -> None:
        """Queue `template` to everyone registered or waiting. `reminded` tells the template whether this
        person will get the event's reminders (reminders configured and the last of them still ahead of
        the event's time, registered, and the events topic not turned off)."""
        regs = (await s.execute(
            select(EventRegistration.user_id, EventRegistration.status, User.muted_topics)
            .join(User, User.id == EventRegistration.user_id)
            .where(
                EventRegistration.event_id == event.id,
                EventRegistration.status != RegistrationStatus.CANCELLED.value,
            )
        )).all()
        if not regs:
            return
        view = _view_of(event, {})
        texts = {
            reminded: self.renderer.render(template, e=view, reminded=reminded, **extra)
            for reminded in (True, False)
        }
        stamp = f"{event.id}:{int(event.updated_at.timestamp())}:{template.rsplit('_', 1)[-1]}"
        last_reminder = min(self.reminder_hours, default=None)
        ahead = last_reminder is not None and event.starts_at - timedelta(hours=last_reminder) > now
        for user_id, status, muted in regs:
            registered = status == RegistrationStatus.REGISTERED.value
            reminded = ahead and registered and receives(muted, Topic.EVENTS)
            await enqueue(s, chat_id=user_id, text=texts[reminded], kind="event_notice", now=now,
                          priority=Priority.NOTICE, key=f"{stamp}:{user_id}",
                          buttons=[[{"text": self.renderer.label("events.open"),
                                     "callback_data": encode("ev", "v", event.id)}]])

    async def import_file(self, staff: Any, actor_id: int, content: bytes, file_name: str) -> list[EventView]:
        """Create every event of a CSV or YAML file in one transaction; the first bad row is named
        (ImportError_ with its row number) and nothing is created."""
        rows = parse_import(content, file_name)
        now = self.clock.now()
        async with self.db.session() as s:
            access = await self._access(s, staff, actor_id)
            events = []
            for number, row in rows:
                try:
                    clean = self.check(self._row_draft(row), access)
                except EventError as exc:
                    raise ImportError_("bad_row", row=number, reason=exc.code, **exc.params) from None
                event = _new_event(clean, actor_id, now)
                s.add(event)
                events.append(event)
            await s.flush()
            audit(s, at=now, actor_id=actor_id, action="event.import", file=file_name[:80], count=len(events),
                  events=",".join(str(e.id) for e in events))
            return [_view_of(e, {}) for e in events]

    def _row_draft(self, row: Mapping[str, Any]) -> EventDraft:
        def text(key: str) -> str:
            value = row.get(key)
            return "" if value is None else str(value).strip()

        unknown = set(row) - set(IMPORT_COLUMNS)
        if unknown:
            raise EventError("unknown_column", value=", ".join(sorted(unknown)))
        capacity_text = text("capacity")
        if capacity_text and not capacity_text.isdigit():
            raise EventError("bad_capacity", limit=CAPACITY_MAX)
        if not text("starts_at"):
            raise EventError("starts_missing")
        return EventDraft(
            kind=parse_kind(text("kind")).value,
            title=text("title"),
            starts_at=parse_local(text("starts_at"), self.tz),
            ends_at=parse_local(text("ends_at"), self.tz) if text("ends_at") else None,
            place=text("place"),
            capacity=int(capacity_text) if capacity_text else None,
            communes=_listed(row.get("communes"), self.catalog),
            product_sets=_listed(row.get("product_sets"), self.catalog),
            description=text("description"),
            link=text("link") or None,
        )

    # -- producers
    async def register(self, user_id: int, event_id: int) -> RegistrationResult:
        """Register for a training: a place while there is one, else the waiting list."""
        now = self.clock.now()
        async with self.db.session() as s:
            await s.execute(update(Event).where(Event.id == event_id).values(id=Event.id)
                            .execution_options(synchronize_session=False))
            event = await s.get(Event, event_id, populate_existing=True)
            if event is None:
                raise EventError("not_found")
            if event.kind != EventKind.TRAINING.value:
                raise EventError("not_a_training")
            if event.status != EventStatus.ACTIVE.value:
                raise EventError("cancelled")
            if event.starts_at <= now:
                raise EventError("started")
            reg = await s.scalar(select(EventRegistration).where(
                EventRegistration.event_id == event_id, EventRegistration.user_id == user_id))
            if reg is not None and reg.status != RegistrationStatus.CANCELLED.value:
                view = await self._view(s, event, user_id)
                return RegistrationResult(reg.status, True, view.position)
            taken = int(await s.scalar(select(func.count()).where(
                EventRegistration.event_id == event_id,
                EventRegistration.status == RegistrationStatus.REGISTERED.value)) or 0)
            waiting_exists = bool(await s.scalar(select(func.count()).where(
                EventRegistration.event_id == event_id,
                EventRegistration.status == RegistrationStatus.WAITING.value)))
            full = event.capacity is not None and (taken >= event.capacity or waiting_exists)
            status = RegistrationStatus.WAITING if full else RegistrationStatus.REGISTERED
            if reg is not None:  # registering again: a new row, at the end of the queue (ids only grow)
                await s.delete(reg)
                await s.flush()
            reg = EventRegistration(event_id=event_id, user_id=user_id, status=status.value, queued_at=now,
                                    updated_at=now)
            s.add(reg)
            await s.flush()
            view = await self._view(s, event, user_id)
            return RegistrationResult(status.value, False, view.position)

    async def unregister(self, user_id: int, event_id: int) -> bool:
        """Cancel a registration (False if there was none). A freed place goes to the first on the
        waiting list, who is told through the outbox in this same transaction."""
        now = self.clock.now()
        async with self.db.session() as s:
            await s.execute(update(Event).where(Event.id == event_id).values(id=Event.id)
                            .execution_options(synchronize_session=False))
            event = await s.get(Event, event_id, populate_existing=True)
            if event is None:
                raise EventError("not_found")
            reg = await s.scalar(select(EventRegistration).where(
                EventRegistration.event_id == event_id, EventRegistration.user_id == user_id))
            if reg is None or reg.status == RegistrationStatus.CANCELLED.value:
                return False
            freed = reg.status == RegistrationStatus.REGISTERED.value
            reg.status = RegistrationStatus.CANCELLED.value
            reg.updated_at = now
            await s.flush()
            if freed and event.status == EventStatus.ACTIVE.value and event.starts_at > now:
                await self._promote(s, event, now)
            return True

    async def _promote(self, s: AsyncSession, event: Event, now: datetime) -> None:
        taken = int(await s.scalar(select(func.count()).where(
            EventRegistration.event_id == event.id,
            EventRegistration.status == RegistrationStatus.REGISTERED.value)) or 0)
        free = (event.capacity - taken) if event.capacity is not None else None  # None: no limit
        if free is not None and free <= 0:
            return
        nxt = (await s.scalars(
            select(EventRegistration).where(
                EventRegistration.event_id == event.id,
                EventRegistration.status == RegistrationStatus.WAITING.value,
            ).order_by(EventRegistration.queued_at, EventRegistration.id).limit(free)
        )).all()
        view = _view_of(event, {})
        for reg in nxt:
            reg.status = RegistrationStatus.REGISTERED.value
            reg.updated_at = now
            await enqueue(
                s, chat_id=reg.user_id, text=self.renderer.render("events/notice_promoted", e=view),
                kind="event_notice", now=now, priority=Priority.NOTICE,
                key=f"promoted:{event.id}:{reg.user_id}:{int(now.timestamp())}",
                buttons=[[{"text": self.renderer.label("events.open"),
                           "callback_data": encode("ev", "v", event.id)}]],
            )

    # -- files
    def deep_link(self, event_id: int) -> str:
        return bot_link(self.bot_username, f"ev_{event_id}")

    def ics(self, view: EventView) -> bytes:
        """The event as an iCalendar file (times in Asia/Ho_Chi_Minh, UTC inside)."""
        from icalendar import Calendar
        from icalendar import Event as IcsEvent

        cal = Calendar()
        cal.add("prodid", "-//Tro ly OCOP//events//VI")
        cal.add("version", "2.0")
        item = IcsEvent()
        item.add("uid", f"ocop-event-{view.id}@{self.bot_username or 'ocop-bot'}")
        item.add("summary", view.title)
        item.add("dtstart", view.starts_at.astimezone(self.tz))
        item.add("dtend", (view.ends_at or view.starts_at + timedelta(hours=2)).astimezone(self.tz))
        item.add("dtstamp", self.clock.now())
        if view.place:
            item.add("location", view.place)
        description = view.description
        link = view.link or self.deep_link(view.id)
        item.add("description", f"{description}\n{link}".strip())
        item.add("url", link)
        if view.cancelled:
            item.add("status", "CANCELLED")
        cal.add_component(item)
        return cal.to_ical()

    def qr_png(self, event_id: int) -> bytes:
        """A QR code of the event's deep link, as a PNG image (for posters at the commune office)."""
        import qrcode

        image = qrcode.make(self.deep_link(event_id), box_size=10, border=4)
        out = io.BytesIO()
        image.save(out, format="PNG")
        return out.getvalue()

    def ics_name(self, view: EventView) -> str:
        return f"su-kien-{view.id}.ics"


# ---- helpers --------------------------------------------------------------------------------------
def _upcoming(now: datetime) -> Any:
    return (
        select(Event)
        .where(
            Event.status == EventStatus.ACTIVE.value,
            func.coalesce(Event.ends_at, Event.starts_at) >= now,
        )
        .order_by(Event.starts_at, Event.id)
        .limit(500)
    )


def _manages(access: StaffAccess, event: Event) -> bool:
    """Unscoped staff manage every event; scoped staff the events aimed only at their communes."""
    if not access.scoped:
        return True
    return bool(event.communes) and set(event.communes) <= access.communes


def _new_event(d: EventDraft, actor_id: int, now: datetime) -> Event:
    assert d.starts_at is not None
    event = Event(status=EventStatus.ACTIVE.value, created_by=actor_id, created_at=now, updated_at=now)
    _apply(event, d, now)
    return event


def _apply(event: Event, d: EventDraft, now: datetime) -> None:
    assert d.starts_at is not None
    event.kind = d.kind
    event.title = d.title
    event.starts_at = d.starts_at
    event.ends_at = d.ends_at
    event.place = d.place
    event.capacity = d.capacity
    event.communes = list(d.communes)
    event.product_sets = list(d.product_sets)
    event.description = d.description
    event.link = d.link
    event.milestone = d.milestone
    event.updated_at = now


def _view_of(event: Event, counts: Mapping[str, int], mine: str | None = None,
             position: int | None = None) -> EventView:
    return EventView(
        id=event.id, kind=event.kind, title=event.title, description=event.description or "",
        place=event.place or "", link=event.link, starts_at=event.starts_at, ends_at=event.ends_at,
        capacity=event.capacity, communes=tuple(event.communes or ()),
        product_sets=tuple(event.product_sets or ()), status=event.status,
        registered=counts.get(RegistrationStatus.REGISTERED.value, 0),
        waiting=counts.get(RegistrationStatus.WAITING.value, 0), mine=mine, position=position,
    )


def _listed(value: object, catalog: Catalog) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if str(v).strip()]
    return catalog.split(str(value))


def parse_import(content: bytes, file_name: str) -> list[tuple[int, dict[str, Any]]]:
    """Rows of a CSV (header line; ',' or ';') or YAML (a list of mappings) file, numbered as staff
    see them (CSV: the line number; YAML: the item's position from 1)."""
    name = file_name.lower()
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportError_("not_utf8") from None
    rows: list[tuple[int, dict[str, Any]]] = []
    if name.endswith((".yaml", ".yml")):
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError:
            raise ImportError_("bad_yaml") from None
        if isinstance(data, dict) and isinstance(data.get("events"), list):
            data = data["events"]
        if not isinstance(data, list):
            raise ImportError_("bad_yaml")
        for i, item in enumerate(data, start=1):
            if not isinstance(item, dict):
                raise ImportError_("bad_row", row=i, reason="not_a_mapping")
            rows.append((i, {str(k).strip().lower(): _yaml_value(v) for k, v in item.items()}))
    elif name.endswith(".csv"):
        sample = text[:2000]
        delimiter = ";" if sample.count(";") > sample.count(",") else ","
        reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
        if not reader.fieldnames:
            raise ImportError_("empty")
        for record in reader:
            if not any((v or "").strip() for v in record.values() if isinstance(v, str)):
                continue
            if None in record:  # more cells than the header has columns
                raise ImportError_("bad_row", row=reader.line_num, reason="extra_cells")
            rows.append((reader.line_num, {str(k).strip().lower(): v for k, v in record.items()}))
    else:
        raise ImportError_("bad_file_type")
    if not rows:
        raise ImportError_("empty")
    if len(rows) > IMPORT_MAX_ROWS:
        raise ImportError_("too_many_rows", limit=IMPORT_MAX_ROWS)
    return rows


def _yaml_value(value: object) -> object:
    """YAML reads 30/06/2026 08:00 as text, but a bare date as a date: give it back as staff wrote it."""
    if isinstance(value, datetime):
        return value.strftime(DATETIME_FORMAT)
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    return value


async def drop_queued_reminders(s: AsyncSession, event_id: int) -> int:
    """Cancel, in `s`, the reminders of an event that are queued in the outbox but not sent yet (a
    reminder queued seconds before the event was cancelled or moved must not go out). Their ledger rows
    stay: the old time is never reminded again."""
    from scheduler.reminders import OUTBOX_KIND

    done = await s.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.kind == OUTBOX_KIND,
            OutboxMessage.state == OutboxState.PENDING.value,
            OutboxMessage.idempotency_key.like(f"%|ev:{event_id}@%"),
        )
        .values(state=OutboxState.CANCELLED.value)
        .execution_options(synchronize_session=False)
    )
    return int(done.rowcount or 0)
