"""Who is staff, with what role and over which communes: the staff directory and the audit log.

Staff and admins come from configuration (STAFF_IDS / ADMIN_IDS: they cannot be removed in the chat) and
from grants an admin makes with /canbo (the `staff_members` table). A member may be scoped to some of
today's communes/wards and then sees and acts on only the dossiers filed there; an empty scope means every
commune. `users.role` mirrors the effective role so that the per-update user row answers "is this staff"
without another query; the directory is the authority and keeps the two in step.

Every staff action is written with `audit()` in the transaction that does it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from common.clock import Clock
from storage.db import Base, Database, UTCDateTime
from storage.models import AuditLog, Role, User

STAFF_ROLES = frozenset({Role.STAFF.value, Role.ADMIN.value})


class StaffMember(Base):
    """A role granted in the chat by an admin (or a scope given to a configured member)."""

    __tablename__ = "staff_members"

    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    role: Mapped[str] = mapped_column(String(16), default=Role.STAFF.value)
    # Today's communes/wards (CommuneDirectory unit names) this member works on; [] = all of them.
    communes: Mapped[list[str]] = mapped_column(JSON, default=list)
    granted_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime)


@dataclass(frozen=True)
class StaffAccess:
    """What one staff member may do: their role and the communes they see (empty: all)."""

    user_id: int
    role: Role
    communes: frozenset[str] = frozenset()
    configured: bool = False  # from STAFF_IDS / ADMIN_IDS: not removable in the chat

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def scoped(self) -> bool:
        """Whether this member sees only some communes (admins always see all)."""
        return bool(self.communes) and not self.is_admin

    def sees(self, commune: str | None) -> bool:
        """Whether a dossier (or producer) of `commune` is within this member's scope. A dossier whose
        commune is not known yet is seen only by unscoped members."""
        return not self.scoped or (commune is not None and commune in self.communes)

    def commune_filter(self) -> frozenset[str] | None:
        """The communes to filter queries on, or None for no filter."""
        return self.communes if self.scoped else None


@dataclass(frozen=True)
class StaffListing:
    """A row of the /canbo list."""

    user_id: int
    name: str
    username: str | None
    role: Role
    communes: tuple[str, ...]
    configured: bool


# Run in the transaction of a role change, with the new access (None: removed) — e.g. to queue the
# notice to the person in the outbox, so the change and its notice commit together.
OnChange = Callable[[AsyncSession, "StaffAccess | None"], Awaitable[None]]


class StaffConfigured(Exception):
    """The member comes from STAFF_IDS / ADMIN_IDS: only the configuration can remove them."""


class UnknownUser(Exception):
    """Nobody with that id or username has talked to the bot yet."""


def audit(session: AsyncSession, *, at: datetime, actor_id: int | None, action: str, **detail: Any) -> None:
    """Add an audit-log row to `session` (it commits with the action it records)."""
    text = "; ".join(f"{k}={v}" for k, v in detail.items() if v is not None and v != "")
    session.add(AuditLog(at=at, actor_id=actor_id, action=action[:64], detail=text[:4000]))


def _strongest(roles: Iterable[str | None]) -> Role:
    present = {r for r in roles if r}
    if Role.ADMIN.value in present:
        return Role.ADMIN
    if Role.STAFF.value in present:
        return Role.STAFF
    return Role.PRODUCER


class StaffDirectory:
    """Reads and changes who is staff. Configured ids are fixed; grants live in `staff_members`."""

    def __init__(self, db: Database, clock: Clock, staff_ids: Collection[int], admin_ids: Collection[int]):
        self.db = db
        self.clock = clock
        self.staff_ids = frozenset(staff_ids)
        self.admin_ids = frozenset(admin_ids)

    def configured_role(self, user_id: int) -> Role:
        if user_id in self.admin_ids:
            return Role.ADMIN
        if user_id in self.staff_ids:
            return Role.STAFF
        return Role.PRODUCER

    def _access(self, user_id: int, row: StaffMember | None) -> StaffAccess | None:
        configured = self.configured_role(user_id)
        role = _strongest([configured.value, row.role if row else None])
        if role == Role.PRODUCER:
            return None
        communes = frozenset(row.communes or ()) if row else frozenset()
        return StaffAccess(user_id, role, communes, configured != Role.PRODUCER)

    async def access_in(self, session: AsyncSession, user_id: int) -> StaffAccess | None:
        """The member's access read in `session` (None: not staff). Call it in the transaction that acts,
        so a role removed a moment ago is not used."""
        return self._access(user_id, await session.get(StaffMember, user_id))

    async def access(self, user_id: int) -> StaffAccess | None:
        async with self.db.session() as s:
            return await self.access_in(s, user_id)

    async def effective_role(self, session: AsyncSession, user_id: int, stored: str | None) -> Role:
        """The role to keep in `users.role` for this user: configured, or granted (one lookup only for a
        user the table already marks as staff, or a configured one)."""
        configured = self.configured_role(user_id)
        if configured == Role.PRODUCER and stored not in STAFF_ROLES:
            return Role.PRODUCER
        row = await session.get(StaffMember, user_id)
        return _strongest([configured.value, row.role if row else None])

    async def find_user(self, ref: str) -> User | None:
        """A user who has talked to the bot, by numeric id or @username."""
        ref = ref.strip()
        async with self.db.session() as s:
            if ref.lstrip("-").isdigit():
                return await s.get(User, int(ref))
            name = ref.removeprefix("@").lower()
            if not name:
                return None
            users = (await s.scalars(select(User).where(User.username.is_not(None)))).all()
            return next((u for u in users if (u.username or "").lower() == name), None)

    async def grant(
        self, actor_id: int, user_id: int, role: Role, communes: Sequence[str] = (),
        on_change: OnChange | None = None,
    ) -> tuple[StaffAccess, bool]:
        """Make `user_id` staff or admin over `communes` (empty: all). Returns the access and whether the
        user was not staff before. Raises UnknownUser if they never talked to the bot."""
        now = self.clock.now()
        async with self.db.session() as s:
            user = await s.get(User, user_id)
            if user is None:
                raise UnknownUser(str(user_id))
            was_staff = user.role in STAFF_ROLES
            row = await s.get(StaffMember, user_id)
            if row is None:
                row = StaffMember(user_id=user_id, granted_at=now)
                s.add(row)
            row.role = role.value
            row.communes = sorted(set(communes))
            row.granted_by = actor_id
            row.granted_at = now
            access = self._access(user_id, row)
            assert access is not None
            user.role = access.role.value
            audit(s, at=now, actor_id=actor_id, action="staff.grant", user=user_id, role=role.value,
                  communes=", ".join(row.communes) or "*")
            if on_change is not None:
                await on_change(s, access)
        return access, not was_staff

    async def revoke(self, actor_id: int, user_id: int, on_change: OnChange | None = None) -> bool:
        """Remove a granted role (False if there was none). Raises StaffConfigured for configured ids."""
        if self.configured_role(user_id) != Role.PRODUCER:
            raise StaffConfigured(str(user_id))
        now = self.clock.now()
        async with self.db.session() as s:
            row = await s.get(StaffMember, user_id)
            if row is None:
                return False
            await s.delete(row)
            user = await s.get(User, user_id)
            if user is not None:
                user.role = Role.PRODUCER.value
            audit(s, at=now, actor_id=actor_id, action="staff.revoke", user=user_id)
            if on_change is not None:
                await on_change(s, None)
        return True

    async def listing(self) -> list[StaffListing]:
        """Everyone with a role: configured first, then granted, by name."""
        async with self.db.session() as s:
            rows = {r.user_id: r for r in (await s.scalars(select(StaffMember))).all()}
            ids = set(rows) | self.staff_ids | self.admin_ids
            users = {u.id: u for u in (await s.scalars(select(User).where(User.id.in_(ids)))).all()}
        out = []
        for uid in ids:
            access = self._access(uid, rows.get(uid))
            if access is None:
                continue
            user = users.get(uid)
            out.append(
                StaffListing(
                    uid,
                    user.full_name if user else "",
                    user.username if user else None,
                    access.role,
                    tuple(sorted(access.communes)),
                    access.configured,
                )
            )
        return sorted(out, key=lambda m: (not m.configured, m.name.lower(), m.user_id))

    async def recipients(self, session: AsyncSession, commune: str | None) -> list[int]:
        """Chat ids of the staff who should hear about a dossier of `commune`: every member whose scope
        includes it (unscoped members and admins always)."""
        rows = {r.user_id: r for r in (await session.scalars(select(StaffMember))).all()}
        ids = set(rows) | self.staff_ids | self.admin_ids
        out = []
        for uid in sorted(ids):
            access = self._access(uid, rows.get(uid))
            if access is not None and access.sees(commune):
                out.append(uid)
        return out

    async def member_ids(self) -> list[int]:
        """Every staff member and admin, configured or granted."""
        async with self.db.session() as s:
            granted = (await s.scalars(select(StaffMember.user_id))).all()
        return sorted(set(granted) | self.staff_ids | self.admin_ids)

    async def record(self, actor_id: int | None, action: str, **detail: Any) -> None:
        """Write one audit-log row in a transaction of its own (an action that changed nothing else:
        an export, a statistics view, a QR code made)."""
        async with self.db.session() as s:
            audit(s, at=self.clock.now(), actor_id=actor_id, action=action, **detail)

    async def audit_entries(
        self, *, limit: int = 20, offset: int = 0
    ) -> tuple[list[AuditLog], dict[int, str]]:
        """The newest audit-log rows first, and the names of their actors (id → name)."""
        async with self.db.session() as s:
            q = select(AuditLog).order_by(AuditLog.id.desc()).limit(limit).offset(offset)
            entries = list((await s.scalars(q)).all())
            ids = {e.actor_id for e in entries if e.actor_id is not None}
            users = (await s.scalars(select(User).where(User.id.in_(ids)))).all() if ids else []
        return entries, {u.id: u.full_name for u in users}
