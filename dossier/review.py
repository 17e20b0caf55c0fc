"""The officers' review desk and the status notices: the queue in an officer's scope, one dossier opened
with its history and (after a correction) what changed, status changes with a note, return for
correction field by field, the rating result, the proposal to the central level — and, in the same
transaction as every change, the notices queued in the outbox (the producer: what changed, why, what
to do next; officers: every submission and resubmission, with a button to open it).

Every call re-reads the officer's access in its own transaction (a role removed a moment ago is not
used) and treats a dossier outside the officer's scope exactly like one that does not exist. Every
staff action writes an audit row in the transaction that does it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from common.callbacks import encode
from common.clock import Clock
from common.render import Renderer
from dossier.errors import DossierError, DossierNotFound, TransitionNotAllowed
from dossier.models import Dossier, DossierStatus, DossierStatusHistory
from dossier.service import DossierService
from dossier.views import AttachmentInfo, DossierPrompt, flagged_steps, review_prompt
from dossier.workflow import (
    CENTRAL_STARS,
    INCOMING_STATUSES,
    OPEN_STATUSES,
    STARS,
    Role,
    apply_transition,
    targets,
    valid_until,
)
from scheduler.service import Outbox
from storage.db import Database
from storage.models import Role as UserRole
from storage.models import User
from storage.outbox_models import Priority
from storage.staff import StaffAccess, StaffDirectory, audit

S = DossierStatus
PAGE_SIZE = 8
NOTE_LIMIT = 1000  # characters of an officer's note or reason kept
REASON_LIMIT = 300
QUEUE_FILTERS = ("open", "all", *(s.value for s in S if s != S.DRAFT))
KIND_PRODUCER = "dossier_status"  # outbox kinds (idempotency is per kind and key)
KIND_OFFICER = "dossier_incoming"


class NotStaff(DossierError):
    """The user is not (or no longer) staff: the caller answers as to an unknown command or button."""


class BadResult(DossierError):
    """A rating result that does not hold together (stars, score, certificate, date)."""

    def __init__(self, field_name: str) -> None:
        super().__init__(field_name)
        self.field = field_name


# ---- what the desk hands back ----------------------------------------------------------------------
@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    actor_id: int | None
    by_owner: bool
    from_status: str | None
    to_status: str
    note: str
    flagged: tuple[str, ...] = ()  # labels of the flagged steps


@dataclass(frozen=True)
class Change:
    """A field the producer changed after a return for correction: old → new as a person reads it."""

    step_id: str
    label: str
    old: str
    new: str
    flagged: bool


@dataclass(frozen=True)
class DeskItem:
    id: int
    reference: str | None
    product_name: str | None
    owner_name: str
    commune: str | None
    product_set: str | None
    status: str
    status_at: datetime | None
    submitted_at: datetime | None


@dataclass(frozen=True)
class Queue:
    """One page of the queue, oldest change first, with the counts per status (in scope and under the
    commune/product-set filters) and the filter values to offer."""

    status: str
    commune: str | None
    commune_no: int | None
    product_set: str | None
    page: int
    items: tuple[DeskItem, ...]
    total: int
    counts: dict[str, int]
    communes: tuple[str, ...]
    product_sets: tuple[str, ...]

    @property
    def has_next(self) -> bool:
        return (self.page + 1) * PAGE_SIZE < self.total


@dataclass(frozen=True)
class DossierCard:
    """One dossier as an officer opens it."""

    item: DeskItem
    prompt: DossierPrompt  # every answer by section (dossier.views' review)
    history: tuple[HistoryEntry, ...]
    changes: tuple[Change, ...]  # after a resubmission: what changed since the return
    corrections: tuple[tuple[str, int, str, str], ...]  # the last return's (id, no, label, why)
    attachments: int
    targets: tuple[str, ...]  # statuses this officer may move it to
    stars: int | None
    score: float | None
    certificate_no: str | None
    recognized_on: date | None
    valid_until: date | None
    previous_reference: str | None
    owner_id: int


@dataclass(frozen=True)
class StatusLine:
    """A producer's dossier on «Hồ sơ của tôi» / /trangthai: status, last change, timeline."""

    id: int
    reference: str | None
    product_name: str | None
    status: str
    status_at: datetime | None
    updated_at: datetime
    answered: int
    total: int
    missing: int
    stars: int | None
    score: float | None
    certificate_no: str | None
    valid_until: date | None
    history: tuple[HistoryEntry, ...]
    corrections: tuple[tuple[str, int, str, str], ...]
    previous_reference: str | None = None
    last_note: str = ""

    @property
    def editable(self) -> bool:
        return self.status in (S.DRAFT, S.RETURNED)

    @property
    def certified(self) -> bool:
        return self.status in (S.RATED, S.PROPOSED)


@dataclass(frozen=True)
class Result:
    """A rating result typed by an officer (validated by `check_result`)."""

    stars: int
    score: float
    certificate_no: str
    recognized_on: date


@dataclass
class Outcome:
    """What a desk action did (for the officer's confirmation)."""

    dossier_id: int
    reference: str | None
    status: str
    told: list[int] = field(default_factory=list)  # chats a notice was queued for


def staff_role(access: StaffAccess) -> Role:
    return Role.ADMIN if access.role == UserRole.ADMIN else Role.STAFF


def check_result(stars: int, score: float, certificate_no: str, recognized_on: date, today: date) -> Result:
    """A rating result that holds together, else BadResult naming the field."""
    if stars not in STARS:
        raise BadResult("stars")
    if not 0 <= score <= 100:
        raise BadResult("score")
    cert = certificate_no.strip()
    if not 3 <= len(cert) <= 64:
        raise BadResult("certificate")
    if recognized_on > today or recognized_on.year < 2018:
        raise BadResult("date")
    return Result(stars, score, cert, recognized_on)


def parse_score(text: str) -> float:
    """A score typed as «78», «78,5» or «78.5» (BadResult otherwise; the range is check_result's)."""
    cleaned = text.strip().replace(",", ".")
    try:
        value = float(cleaned)
    except ValueError:
        raise BadResult("score") from None
    if not 0 <= value <= 100:
        raise BadResult("score")
    return value


def parse_day(text: str) -> date:
    """A date typed dd/mm/yyyy (also with - or .), else BadResult."""
    parts = text.strip().replace("-", "/").replace(".", "/").split("/")
    try:
        day, month, year = (int(p) for p in parts)
        return date(year, month, day)
    except ValueError:
        raise BadResult("date") from None


class ReviewDesk:
    """The staff side of dossiers (queue, open, act) and the status notices for both sides."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        dossiers: DossierService,
        staff: StaffDirectory,
        outbox: Outbox,
        renderer: Renderer,
        *,
        staff_chat_id: int | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.dossiers = dossiers
        self.staff = staff
        self.outbox = outbox
        self.renderer = renderer
        self.staff_chat_id = staff_chat_id
        self.engine = dossiers.engine
        self.form = dossiers.form
        # The dossier service tells officers of submissions through this desk, in its transaction.
        dossiers.on_transition = self._on_owner_transition
        dossiers.correction_only = renderer.render("review/correction_only")

    # ---- access ----------------------------------------------------------------------------------
    async def _access(self, s: AsyncSession, user_id: int) -> StaffAccess:
        access = await self.staff.access_in(s, user_id)
        if access is None:
            raise NotStaff(str(user_id))
        return access

    async def _dossier(
        self, s: AsyncSession, access: StaffAccess, dossier_id: int, *, lock: bool = False
    ) -> Dossier:
        """The dossier if it exists, is not a draft and is in the officer's scope; else DossierNotFound
        (the same answer for all three). `lock`: taken for writing until commit."""
        if lock:
            found = await s.execute(
                update(Dossier)
                .where(Dossier.id == dossier_id)
                .values(version=Dossier.version + 1)
                .returning(Dossier.id)
                .execution_options(synchronize_session=False)
            )
            if found.scalar_one_or_none() is None:
                raise DossierNotFound(str(dossier_id))
        dossier = await s.scalar(
            select(Dossier).where(Dossier.id == dossier_id).execution_options(populate_existing=True)
        )
        if dossier is None or dossier.status == S.DRAFT or not access.sees(dossier.commune):
            raise DossierNotFound(str(dossier_id))
        return dossier

    async def brief(self, user_id: int, dossier_id: int) -> tuple[DeskItem, tuple[str, ...]]:
        """The dossier's line and the statuses this officer may move it to (access and scope checked;
        nothing is changed, so nothing is audited)."""
        async with self.db.session() as s:
            access = await self._access(s, user_id)
            dossier = await self._dossier(s, access, dossier_id)
            owner = await s.get(User, dossier.owner_id)
            allowed = tuple(
                t.value
                for t in targets(dossier.status, staff_role(access))
                if t != S.PROPOSED or dossier.stars == CENTRAL_STARS
            )
        return _item(dossier, owner.full_name if owner else ""), allowed

    async def can_use_desk(self, user_id: int) -> bool:
        async with self.db.session() as s:
            return await self.staff.access_in(s, user_id) is not None

    # ---- the queue -------------------------------------------------------------------------------
    async def queue(
        self,
        user_id: int,
        *,
        status: str = "open",
        commune_no: int | None = None,
        product_set: str | None = None,
        page: int = 0,
    ) -> Queue:
        """The dossiers in the officer's scope under the filters, oldest status change first."""
        if status not in QUEUE_FILTERS:
            status = "open"
        async with self.db.session() as s:
            access = await self._access(s, user_id)
            scope = [Dossier.status != S.DRAFT]
            communes_in = access.commune_filter()
            if communes_in is not None:
                scope.append(Dossier.commune.in_(sorted(communes_in)))
            communes = tuple(
                c for c in (await s.scalars(select(Dossier.commune).where(*scope).distinct())).all() if c
            )
            communes = tuple(sorted(communes))
            sets = tuple(
                sorted(
                    p
                    for p in (await s.scalars(select(Dossier.product_set).where(*scope).distinct())).all()
                    if p
                )
            )
            commune = (
                communes[commune_no] if commune_no is not None and 0 <= commune_no < len(communes) else None
            )
            if commune is None:
                commune_no = None
            if product_set not in sets:
                product_set = None
            filters = list(scope)
            if commune is not None:
                filters.append(Dossier.commune == commune)
            if product_set is not None:
                filters.append(Dossier.product_set == product_set)
            counts = {
                st: n
                for st, n in (
                    await s.execute(
                        select(Dossier.status, func.count()).where(*filters).group_by(Dossier.status)
                    )
                ).all()
            }
            if status == "open":
                filters.append(Dossier.status.in_([x.value for x in OPEN_STATUSES]))
            elif status != "all":
                filters.append(Dossier.status == status)
            total = await s.scalar(select(func.count()).select_from(Dossier).where(*filters)) or 0
            rows = (
                await s.execute(
                    select(Dossier, User.full_name)
                    .join(User, User.id == Dossier.owner_id)
                    .where(*filters)
                    .order_by(Dossier.status_at.asc(), Dossier.id.asc())
                    .limit(PAGE_SIZE)
                    .offset(page * PAGE_SIZE)
                )
            ).all()
            audit(
                s,
                at=self.clock.now(),
                actor_id=user_id,
                action="review.queue",
                status=status,
                commune=commune,
                product_set=product_set,
                page=page or None,
            )
        items = tuple(_item(d, name) for d, name in rows)
        return Queue(status, commune, commune_no, product_set, page, items, total, counts, communes, sets)

    # ---- one dossier -----------------------------------------------------------------------------
    async def card(self, user_id: int, dossier_id: int) -> DossierCard:
        async with self.db.session() as s:
            access = await self._access(s, user_id)
            dossier = await self._dossier(s, access, dossier_id)
            card = await self._card(s, access, dossier)
            audit(
                s,
                at=self.clock.now(),
                actor_id=user_id,
                action="review.open",
                dossier=dossier.id,
                reference=dossier.reference,
            )
        return card

    async def _card(self, s: AsyncSession, access: StaffAccess, dossier: Dossier) -> DossierCard:
        owner = await s.get(User, dossier.owner_id)
        state = self.dossiers.state_of(dossier)
        prompt = review_prompt(self.engine, dossier, state, "locked", None, tuple(self.engine.missing(state)))
        history = await self._history(s, dossier)
        files = await self.dossiers.attachments_in(s, dossier)
        previous = await s.get(Dossier, dossier.previous_id) if dossier.previous_id else None
        return DossierCard(
            item=_item(dossier, owner.full_name if owner else ""),
            prompt=prompt,
            history=tuple(history),
            changes=tuple(self.changes(dossier)) if dossier.status == S.RESUBMITTED else (),
            corrections=flagged_steps(self.form, dossier),
            attachments=len(files),
            targets=tuple(
                t.value
                for t in targets(dossier.status, staff_role(access))
                if t != S.PROPOSED or dossier.stars == CENTRAL_STARS
            ),
            stars=dossier.stars,
            score=dossier.score,
            certificate_no=dossier.certificate_no,
            recognized_on=dossier.recognized_on,
            valid_until=dossier.valid_until,
            previous_reference=previous.reference if previous else None,
            owner_id=dossier.owner_id,
        )

    async def attachments(self, user_id: int, dossier_id: int) -> list[AttachmentInfo]:
        """The dossier's files, for re-sending by file_id."""
        async with self.db.session() as s:
            access = await self._access(s, user_id)
            dossier = await self._dossier(s, access, dossier_id)
            files = await self.dossiers.attachments_in(s, dossier)
            audit(s, at=self.clock.now(), actor_id=user_id, action="review.files", dossier=dossier.id)
        return files

    async def pdf(self, user_id: int, dossier_id: int) -> tuple[bytes, str]:
        """The printout (bytes, file name) of a dossier in the officer's scope."""
        async with self.db.session() as s:
            access = await self._access(s, user_id)
            dossier = await self._dossier(s, access, dossier_id)
            files = await self.dossiers.attachments_in(s, dossier)
            audit(s, at=self.clock.now(), actor_id=user_id, action="review.pdf", dossier=dossier.id)
        return await self.dossiers.render_pdf_of(dossier, files), self.dossiers.pdf_file_name(dossier)

    async def flaggable(self, user_id: int, dossier_id: int) -> DossierPrompt:
        """The answers by section, to pick the steps to return for correction (nothing changes)."""
        async with self.db.session() as s:
            access = await self._access(s, user_id)
            dossier = await self._dossier(s, access, dossier_id)
        state = self.dossiers.state_of(dossier)
        return review_prompt(self.engine, dossier, state, "locked", None, ())

    def step_label(self, step_no: int) -> tuple[str, str] | None:
        """(step id, label) of the form's step at `step_no`, or None."""
        step = self.engine.step_by_no(step_no)
        return (step.id, step.label) if step else None

    # ---- acting ----------------------------------------------------------------------------------
    async def change(self, user_id: int, dossier_id: int, target: str, note: str = "") -> Outcome:
        """Move a dossier to `target` (received, forwarded, not_rated, proposed) with the officer's
        note; the producer's notice is queued with it. TransitionNotAllowed when the table refuses."""
        try:
            goal = S(target)
        except ValueError:
            raise TransitionNotAllowed(None, target, "staff") from None
        if goal in (S.RETURNED, S.RATED):
            raise TransitionNotAllowed(None, target, "staff")  # they carry more: return_for_correction, rate
        return await self._act(user_id, dossier_id, goal, note.strip()[:NOTE_LIMIT])

    async def return_for_correction(
        self, user_id: int, dossier_id: int, reasons: Mapping[str, str], note: str = ""
    ) -> Outcome:
        """Return the dossier with these steps flagged (step id → why): the answers are kept as a
        snapshot (to show old → new at resubmission) and only those steps open for the producer."""
        steps = {
            k: v.strip()[:REASON_LIMIT] for k, v in reasons.items() if self.form.has_step(k) and v.strip()
        }
        return await self._act(user_id, dossier_id, S.RETURNED, note.strip()[:NOTE_LIMIT], flags=steps)

    async def rate(self, user_id: int, dossier_id: int, result: Result, note: str = "") -> Outcome:
        """Record the council's result: stars, score, certificate number, recognition date; valid for
        36 months from that date."""
        return await self._act(user_id, dossier_id, S.RATED, note.strip()[:NOTE_LIMIT], result=result)

    async def _act(
        self,
        user_id: int,
        dossier_id: int,
        target: DossierStatus,
        note: str,
        *,
        flags: dict[str, str] | None = None,
        result: Result | None = None,
    ) -> Outcome:
        now = self.clock.now()
        async with self.db.session() as s:
            access = await self._access(s, user_id)
            dossier = await self._dossier(s, access, dossier_id, lock=True)
            if flags is not None and not flags:
                raise BadResult("steps")  # after the access check: out of scope answers as not found
            if result is not None:
                dossier.stars = result.stars
                dossier.score = result.score
                dossier.certificate_no = result.certificate_no
                dossier.recognized_on = result.recognized_on
                dossier.valid_until = valid_until(result.recognized_on)
            source = dossier.status
            history = await apply_transition(
                s,
                dossier,
                target,
                actor_id=user_id,
                role=staff_role(access),
                at=now,
                note=note,
                flagged_steps=sorted(flags, key=self._order) if flags is not None else None,
            )
            if flags:
                dossier.corrections = {
                    "steps": flags,
                    "snapshot": copy.deepcopy(dossier.answers),
                    "at": now.isoformat(),
                }
                state = self.dossiers.state_of(dossier)
                self.engine.to_review(state)
                dossier.current_step = None
                dossier.review_mode = True
                dossier.flow_state = state.extra_json()
            told = await self.notify(s, dossier, history)
            audit(
                s,
                at=now,
                actor_id=user_id,
                action=f"dossier.{target.value}",
                dossier=dossier.id,
                reference=dossier.reference,
                source=source,
                note=note,
                steps=", ".join(flags) if flags else None,
                result=f"{result.stars}* {result.score} {result.certificate_no}" if result else None,
            )
        return Outcome(dossier.id, dossier.reference, dossier.status, told)

    # ---- what changed after a return -------------------------------------------------------------
    def changes(self, dossier: Dossier) -> list[Change]:
        """Each field whose answer differs from the snapshot taken at the last return, in form order."""
        corrections = dossier.corrections or {}
        snapshot = corrections.get("snapshot")
        if not isinstance(snapshot, dict):
            return []
        flagged = set(corrections.get("steps") or {})
        answers = dossier.answers or {}
        out = []
        for step in self.form.steps:
            old, new = snapshot.get(step.id), answers.get(step.id)
            if old == new:
                continue
            old_text = self.engine.display(step, old) if old is not None else ""
            new_text = self.engine.display(step, new) if new is not None else ""
            out.append(Change(step.id, step.label, old_text, new_text, step.id in flagged))
        return out

    def _order(self, step_id: str) -> int:
        return self.form.step(step_id).index if self.form.has_step(step_id) else 10_000

    async def _history(self, s: AsyncSession, dossier: Dossier) -> list[HistoryEntry]:
        rows = (
            await s.scalars(
                select(DossierStatusHistory)
                .where(DossierStatusHistory.dossier_id == dossier.id)
                .order_by(DossierStatusHistory.at, DossierStatusHistory.id)
            )
        ).all()
        return [
            HistoryEntry(
                h.at,
                h.actor_id,
                h.actor_id == dossier.owner_id,
                h.from_status,
                h.to_status,
                h.note or "",
                tuple(self.form.step(x).label for x in (h.flagged_steps or []) if self.form.has_step(x)),
            )
            for h in rows
        ]

    # ---- the producer's view ---------------------------------------------------------------------
    async def status_lines(self, owner_id: int, dossier_id: int | None = None) -> list[StatusLine]:
        """The owner's dossiers (or the one with this id), most recently changed first, each with its
        timeline. Another user's dossier is simply not there."""
        async with self.db.session() as s:
            q = select(Dossier).where(Dossier.owner_id == owner_id)
            if dossier_id is not None:
                q = q.where(Dossier.id == dossier_id)
            dossiers = (await s.scalars(q.order_by(Dossier.updated_at.desc(), Dossier.id.desc()))).all()
            lines = []
            for d in dossiers:
                history = await self._history(s, d)
                previous = await s.get(Dossier, d.previous_id) if d.previous_id else None
                state = self.dossiers.state_of(d)
                answered, total = self.engine.answered_count(state)
                last_note = next((h.note for h in reversed(history) if h.note and not h.by_owner), "")
                lines.append(
                    StatusLine(
                        d.id,
                        d.reference,
                        d.product_name,
                        d.status,
                        d.status_at,
                        d.updated_at,
                        answered,
                        total,
                        len(self.engine.missing(state)),
                        d.stars,
                        d.score,
                        d.certificate_no,
                        d.valid_until,
                        tuple(history),
                        flagged_steps(self.form, d) if d.status == S.RETURNED else (),
                        previous.reference if previous else None,
                        last_note,
                    )
                )
        return lines

    async def find_own(self, owner_id: int, ref: str) -> int | None:
        """The id of the owner's dossier with this reference code or number (None: not theirs)."""
        ref = ref.strip()
        async with self.db.session() as s:
            if ref.isdigit() and len(ref) < 10:
                q = select(Dossier.id).where(Dossier.owner_id == owner_id, Dossier.id == int(ref))
            else:
                q = select(Dossier.id).where(
                    Dossier.owner_id == owner_id, func.upper(Dossier.reference) == ref.upper()
                )
            return await s.scalar(q)

    # ---- notices -----------------------------------------------------------------------------------
    async def _on_owner_transition(
        self, s: AsyncSession, dossier: Dossier, history: DossierStatusHistory
    ) -> bool:
        return bool(await self.notify(s, dossier, history))

    async def notify(self, s: AsyncSession, dossier: Dossier, history: DossierStatusHistory) -> list[int]:
        """Queue, in `s`, the notices of one status change: officers hear of every submission and
        resubmission (the staff chat when there is one, else each officer whose scope includes the
        dossier's commune); the producer hears of every change an officer makes. Returns the chats."""
        told: list[int] = []
        target = history.to_status
        if target in INCOMING_STATUSES:
            owner = await s.get(User, dossier.owner_id)
            changes = self.changes(dossier) if target == S.RESUBMITTED else []
            html = self.renderer.render(
                "review/notice_officer",
                d=_item(dossier, owner.full_name if owner else ""),
                resubmitted=target == S.RESUBMITTED,
                changes=len(changes),
                set_name=self.set_name(dossier.product_set),
            )
            buttons = [
                [{"text": self.renderer.label("review.open"), "callback_data": encode("rv", "o", dossier.id)}]
            ]
            chats = (
                [self.staff_chat_id]
                if self.staff_chat_id is not None
                else await self.staff.recipients(s, dossier.commune)
            )
            for chat in chats:
                await self.outbox.enqueue(
                    s,
                    chat_id=chat,
                    text=html,
                    kind=KIND_OFFICER,
                    buttons=buttons,
                    priority=Priority.NOTICE,
                    key=f"{history.id}:{chat}",
                )
                told.append(chat)
        if history.actor_id != dossier.owner_id and target != S.DRAFT:
            html = self.renderer.render(
                "review/notice_producer",
                d=dossier,
                target=target,
                note=history.note or "",
                flags=flagged_steps(self.form, dossier) if target == S.RETURNED else (),
            )
            if target == S.RETURNED:
                label = self.renderer.label("review.fix")
            else:
                label = self.renderer.label("review.mine")
            data = encode("dos", "o", dossier.id) if target == S.RETURNED else "m:mine"
            await self.outbox.enqueue(
                s,
                chat_id=dossier.owner_id,
                text=html,
                kind=KIND_PRODUCER,
                buttons=[[{"text": label, "callback_data": data}]],
                priority=Priority.NOTICE,
                key=str(history.id),
            )
            told.append(dossier.owner_id)
        return told

    # ---- names -----------------------------------------------------------------------------------
    def set_name(self, product_set: str | None) -> str:
        """The product set's number and name («12. Sản phẩm trà từ thực vật khác»), or the id."""
        if not product_set or not self.form.has_step("product_group"):
            return product_set or ""
        step = self.form.step("product_group")
        for group in step.choices:
            for sub in getattr(group, "sub", None) or ():
                if sub.id == product_set:
                    number = getattr(sub, "number", None)
                    return f"{number}. {sub.label}" if number else sub.label
            if group.id == product_set:
                return group.label
        return product_set


def _item(d: Dossier, owner_name: str) -> DeskItem:
    return DeskItem(
        d.id,
        d.reference,
        d.product_name,
        owner_name,
        d.commune,
        d.product_set,
        d.status,
        d.status_at,
        d.submitted_at,
    )
