"""The users repository: register or refresh a user on every update, roles, and the user's flow state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from common.clock import Clock
from storage.db import Database
from storage.models import User
from storage.staff import StaffDirectory


@dataclass(frozen=True)
class Seen:
    """The user as stored after this update, and whether this was their first contact."""

    user: User
    is_new: bool


LAST_SEEN_RESOLUTION = timedelta(minutes=5)


class Users:
    """Reads and writes the users table. Roles come from the staff directory (configured STAFF_IDS /
    ADMIN_IDS, and roles granted with /canbo); `users.role` mirrors the effective role."""

    def __init__(self, db: Database, clock: Clock, staff: StaffDirectory) -> None:
        self.db = db
        self.clock = clock
        self.staff = staff

    async def seen(self, user_id: int, full_name: str, username: str | None, language: str | None) -> Seen:
        """Create the user on first contact, else refresh name, username, role and last_seen.

        Two first updates of one new user handled at once (two instances, or two processes) race
        to create the row: the loser's insert fails on the primary key, and it simply reads the
        row the winner wrote."""
        try:
            return await self._seen(user_id, full_name, username, language)
        except IntegrityError:
            return await self._seen(user_id, full_name, username, language)

    async def _seen(self, user_id: int, full_name: str, username: str | None, language: str | None) -> Seen:
        now = self.clock.now()
        async with self.db.session() as s:
            user = await s.get(User, user_id)
            is_new = user is None
            role = await self.staff.effective_role(s, user_id, None if user is None else user.role)
            if user is None:
                user = User(id=user_id, first_seen=now, muted_topics=[], flow_data={}, blocked=False)
                s.add(user)
            # Write only what changed; last_seen to within a few minutes (one read per update, not a write).
            fields = {
                "full_name": full_name[:256],
                "username": username,
                "language": language,
                "role": role.value,
                "blocked": False,
            }
            for name, value in fields.items():
                if getattr(user, name) != value:
                    setattr(user, name, value)
            if is_new or now - user.last_seen >= LAST_SEEN_RESOLUTION:
                user.last_seen = now
        return Seen(user, is_new)

    async def get(self, user_id: int) -> User | None:
        async with self.db.session() as s:
            return await s.get(User, user_id)

    async def set_start_payload(self, user_id: int, payload: str) -> None:
        async with self.db.session() as s:
            user = await s.get(User, user_id)
            if user is not None and user.start_payload is None:
                user.start_payload = payload[:64]

    async def set_flow(self, user_id: int, flow: str | None, data: dict[str, Any] | None = None) -> None:
        """Enter a guided flow (or leave it with None); free text then goes to that flow."""
        async with self.db.session() as s:
            user = await s.get(User, user_id)
            if user is None:
                return
            user.flow = flow
            user.flow_data = dict(data or {})

    async def mark_blocked(self, user_id: int) -> None:
        async with self.db.session() as s:
            user = await s.get(User, user_id)
            if user is not None:
                user.blocked = True
