"""Assisted entry: an officer fills a dossier for a producer who is not on Telegram, then hands it over
with a single-use, expiring claim link (t.me/<bot>?start=claim_<token>).

While the officer fills it the officer is the dossier's temporary owner (the normal dossier flow runs
unchanged); `dossiers.entered_by` / `dossiers.assisted` record that staff entered it. A link's token is
random (192 bits), only its SHA-256 is stored; issuing a new link for a dossier cancels the older ones.
The producer who opens the link becomes the owner in one transaction that also marks the link used,
writes the audit row and queues the officer's notice; a second use, an expired or replaced link, or the
officer opening their own link changes nothing and gets its own polite answer.

"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy import BigInteger, ForeignKey, Integer, String, select, update
from sqlalchemy.orm import Mapped, mapped_column

from common.clock import Clock
from common.render import Renderer
from dossier.models import Dossier
from scheduler.outbox import enqueue
from storage.db import Base, Database, UTCDateTime
from storage.models import User
from storage.outbox_models import Priority
from storage.staff import StaffDirectory, audit

TOKEN_BYTES = 24  # 192 bits; token_urlsafe gives 32 characters: "claim_" + 32 fits Telegram's 64
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,58}$")
NOTICE_KIND = "desk.claim"

class DossierClaim(Base):
    """One claim link: whose dossier it hands over, until when, and whether it was used."""

    __tablename__ = "dossier_claims"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("dossiers.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    used_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # Set when a newer link for the dossier replaced this one, or the dossier was claimed through another.
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ClaimOutcome(StrEnum):
    """What opening a claim link did."""

    CLAIMED = "claimed"  # the dossier is now the user's
    ALREADY_YOURS = "already_yours"  # this user used the link before
    USED = "used"  # somebody else used it
    REPLACED = "replaced"  # the officer made a newer link
    EXPIRED = "expired"
    OWN_LINK = "own_link"  # the officer (the current owner) opened their own link
    NOT_FOUND = "not_found"  # no such link (mistyped, cut off, or its dossier was deleted)


@dataclass(frozen=True)
class ClaimResult:
    outcome: ClaimOutcome
    dossier_id: int | None = None
    product_name: str | None = None
    reference: str | None = None
    status: str | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True)
class IssuedLink:
    """A fresh link's token (shown once, never stored) and when it stops working."""

    token: str
    dossier_id: int
    product_name: str | None
    reference: str | None
    expires_at: datetime


@dataclass(frozen=True)
class AssistedDossier:
    """A dossier an officer entered and still holds (not yet claimed by its producer)."""

    id: int
    product_name: str | None  # else the producer's name while the product is not named yet
    reference: str | None
    status: str
    updated_at: datetime
    link_expires_at: datetime | None  # the open link, if any


class ClaimRefused(Exception):
    """The dossier is not an assisted dossier held by this officer, or the officer is no longer staff."""


def _title(product_name: str | None, answers: dict[str, object] | None) -> str | None:
    """What to call a dossier: its product, else (early in the form) its producer's name."""
    producer = (answers or {}).get("producer_name")
    return product_name or (str(producer)[:256] if producer else None)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


class ClaimService:
    """Marks assisted dossiers, issues claim links and hands dossiers over."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        staff: StaffDirectory,
        renderer: Renderer,
        *,
        days: int = 14,
    ) -> None:
        self.db = db
        self.clock = clock
        self.staff = staff
        self.renderer = renderer
        self.days = days

    async def mark_assisted(self, officer_id: int, dossier_id: int) -> None:
        """Record that staff member `officer_id` entered the (new) dossier `dossier_id` they hold."""
        now = self.clock.now()
        async with self.db.session() as s:
            if await self.staff.access_in(s, officer_id) is None:
                raise ClaimRefused("not staff")
            done = await s.execute(
                update(Dossier)
                .where(Dossier.id == dossier_id, Dossier.owner_id == officer_id)
                .values(entered_by=officer_id, assisted=True)
                .execution_options(synchronize_session=False)
            )
            if done.rowcount != 1:
                raise ClaimRefused(str(dossier_id))
            audit(s, at=now, actor_id=officer_id, action="desk.assisted_new", dossier=dossier_id)

    async def held_by(self, officer_id: int) -> list[AssistedDossier]:
        """The assisted dossiers `officer_id` still holds, most recently changed first."""
        now = self.clock.now()
        open_link = (
            select(sa.func.max(DossierClaim.expires_at))
            .where(
                DossierClaim.dossier_id == Dossier.id,
                DossierClaim.used_at.is_(None),
                DossierClaim.revoked_at.is_(None),
                DossierClaim.expires_at > now,
            )
            .scalar_subquery()
        )
        q = (
            select(
                Dossier.id, Dossier.product_name, Dossier.answers, Dossier.reference, Dossier.status,
                Dossier.updated_at, open_link,
            )
            .where(Dossier.owner_id == officer_id, Dossier.assisted.is_(True))
            .order_by(Dossier.updated_at.desc(), Dossier.id.desc())
        )
        async with self.db.session() as s:
            rows = (await s.execute(q)).all()
        return [AssistedDossier(r[0], _title(r[1], r[2]), r[3], r[4], r[5], _aware(r[6])) for r in rows]

    async def issue_link(self, officer_id: int, dossier_id: int) -> IssuedLink:
        """A new claim link for an assisted dossier the officer holds; older open links stop working."""
        now = self.clock.now()
        token = secrets.token_urlsafe(TOKEN_BYTES)
        expires = now + timedelta(days=self.days)
        async with self.db.session() as s:
            if await self.staff.access_in(s, officer_id) is None:
                raise ClaimRefused("not staff")
            row = (
                await s.execute(
                    select(Dossier.product_name, Dossier.answers, Dossier.reference).where(
                        Dossier.id == dossier_id, Dossier.owner_id == officer_id, Dossier.assisted.is_(True)
                    )
                )
            ).first()
            if row is None:
                raise ClaimRefused(str(dossier_id))
            await s.execute(
                update(DossierClaim)
                .where(
                    DossierClaim.dossier_id == dossier_id,
                    DossierClaim.used_at.is_(None),
                    DossierClaim.revoked_at.is_(None),
                )
                .values(revoked_at=now)
            )
            s.add(
                DossierClaim(
                    dossier_id=dossier_id,
                    token_hash=token_hash(token),
                    created_by=officer_id,
                    created_at=now,
                    expires_at=expires,
                )
            )
            audit(s, at=now, actor_id=officer_id, action="desk.claim_link", dossier=dossier_id,
                  expires=expires.isoformat(timespec="minutes"))
        return IssuedLink(token, dossier_id, _title(row[0], row[1]), row[2], expires)

    async def claim(self, token: str, user_id: int) -> ClaimResult:
        """`user_id` opened a claim link: hand the dossier over if the link is good (see ClaimOutcome)."""
        if not TOKEN_RE.match(token):
            return ClaimResult(ClaimOutcome.NOT_FOUND)
        now = self.clock.now()
        async with self.db.session() as s:
            claim = await s.scalar(select(DossierClaim).where(DossierClaim.token_hash == token_hash(token)))
            dossier = await s.get(Dossier, claim.dossier_id) if claim is not None else None
            if claim is None or dossier is None:
                audit(s, at=now, actor_id=user_id, action="desk.claim_refused", reason="not_found")
                return ClaimResult(ClaimOutcome.NOT_FOUND)
            result = ClaimResult(
                ClaimOutcome.CLAIMED, dossier.id, _title(dossier.product_name, dossier.answers),
                dossier.reference, dossier.status, claim.expires_at,
            )
            refusal = self._refusal(claim, dossier, user_id, now)
            if refusal is not None:
                audit(s, at=now, actor_id=user_id, action="desk.claim_refused", dossier=dossier.id,
                      reason=refusal.value)
                return _with(result, refusal)
            # Single use even when two people open the link at once: only one UPDATE finds it unused.
            taken = await s.execute(
                update(DossierClaim)
                .where(
                    DossierClaim.id == claim.id,
                    DossierClaim.used_at.is_(None),
                    DossierClaim.revoked_at.is_(None),
                )
                .values(used_at=now, used_by=user_id)
            )
            officer_id = dossier.owner_id
            moved = await s.execute(
                update(Dossier)
                .where(Dossier.id == dossier.id, Dossier.owner_id == officer_id)
                .values(owner_id=user_id, version=Dossier.version + 1)
                .execution_options(synchronize_session=False)
            )
            if taken.rowcount != 1 or moved.rowcount != 1:
                await s.rollback()
                return _with(result, ClaimOutcome.USED)
            await s.execute(
                update(DossierClaim)
                .where(DossierClaim.dossier_id == dossier.id, DossierClaim.used_at.is_(None))
                .values(revoked_at=now)
            )
            officer = await s.get(User, officer_id)
            producer = await s.get(User, user_id)
            if officer is not None and (officer.flow_data or {}).get("dossier") == dossier.id:
                officer.flow = None  # the officer's half-typed answer no longer has a dossier to go to
                officer.flow_data = {}
            audit(s, at=now, actor_id=user_id, action="desk.claim", dossier=dossier.id, officer=officer_id,
                  producer=user_id)
            text = self.renderer.render(
                "desk/claimed_officer",
                product_name=result.product_name,
                reference=dossier.reference,
                producer=producer.full_name if producer is not None else str(user_id),
            )
            await enqueue(s, chat_id=officer_id, text=text, kind=NOTICE_KIND, now=now,
                          priority=Priority.NOTICE, key=f"claim:{claim.id}")
        return result

    @staticmethod
    def _refusal(claim: DossierClaim, dossier: Dossier, user_id: int, now: datetime) -> ClaimOutcome | None:
        if claim.used_at is not None:
            return ClaimOutcome.ALREADY_YOURS if claim.used_by == user_id else ClaimOutcome.USED
        if claim.revoked_at is not None:
            return ClaimOutcome.REPLACED
        if claim.expires_at <= now:
            return ClaimOutcome.EXPIRED
        if user_id in (claim.created_by, dossier.owner_id):
            return ClaimOutcome.OWN_LINK
        return None


def _with(result: ClaimResult, outcome: ClaimOutcome) -> ClaimResult:
    return ClaimResult(outcome, result.dossier_id, result.product_name, result.reference, result.status,
                       result.expires_at)


def _aware(value: datetime | None) -> datetime | None:
    """A max() over a UTC column comes back without the column's type on SQLite: as naive UTC or text."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
