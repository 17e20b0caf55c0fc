"""The staff directory: configured and granted roles, commune scopes, the mirrored users.role, audit rows."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from common.clock import FakeClock
from storage.db import Database
from storage.models import AuditLog, Role, User
from storage.staff import StaffConfigured, StaffDirectory, UnknownUser
from storage.users import Users


async def test_grant_scope_revoke_and_audit(database: Database) -> None:
    clock = FakeClock()
    staff = StaffDirectory(database, clock, staff_ids=[10], admin_ids=[1])
    users = Users(database, clock, staff)
    for uid, name in [(1, "Admin"), (10, "Cấu hình"), (20, "Lan"), (30, "Hùng")]:
        await users.seen(uid, name, f"user{uid}", "vi")
    with pytest.raises(UnknownUser):
        await staff.grant(1, 999, Role.STAFF)

    access, new = await staff.grant(1, 20, Role.STAFF, ["Quảng Bị"])
    assert new and access.scoped and access.sees("Quảng Bị") and not access.sees("Xuân Mai")
    assert not access.sees(None)  # a dossier with no commune yet: only unscoped members
    assert (await users.seen(20, "Lan", "user20", "vi")).user.role == Role.STAFF
    async with database.session() as s:
        assert await staff.recipients(s, "Xuân Mai") == [1, 10]
        assert await staff.recipients(s, "Quảng Bị") == [1, 10, 20]

    admin = await staff.access(1)
    assert admin is not None and admin.is_admin and admin.sees("Xuân Mai") and admin.configured
    assert (await staff.access(30)) is None
    assert [m.user_id for m in await staff.listing()] == [1, 10, 20]
    assert (await staff.find_user("@USER20")) is not None and (await staff.find_user("20")) is not None

    with pytest.raises(StaffConfigured):
        await staff.revoke(1, 10)
    assert await staff.revoke(1, 20) is True
    assert await staff.revoke(1, 20) is False
    assert (await staff.access(20)) is None
    async with database.session() as s:
        assert (await s.get(User, 20)).role == Role.PRODUCER
        actions = (await s.scalars(select(AuditLog.action).order_by(AuditLog.id))).all()
    assert actions == ["staff.grant", "staff.revoke"]
    entries, names = await staff.audit_entries()
    assert [e.action for e in entries] == ["staff.revoke", "staff.grant"]
    assert names == {1: "Admin"}
