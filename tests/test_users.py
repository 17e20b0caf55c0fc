"""The users repository: a new user's first two updates racing on two instances both succeed."""

from __future__ import annotations

import asyncio

from common.clock import FakeClock
from storage.db import Database
from storage.staff import StaffDirectory
from storage.users import Users


async def test_a_new_users_first_updates_on_two_instances_both_succeed(database: Database) -> None:
    other = Database(database.url.replace("+aiosqlite", "").replace("+asyncpg", ""), schema=database.schema)
    clock = FakeClock()
    first = Users(database, clock, StaffDirectory(database, clock, (), ()))
    second = Users(other, clock, StaffDirectory(other, clock, (), ()))
    try:
        for user_id in range(9000, 9010):  # several tries: the race is not won the same way each time
            a, b = await asyncio.gather(
                first.seen(user_id, "Lan", None, "vi"), second.seen(user_id, "Lan", None, "vi")
            )
            assert a.user.id == b.user.id == user_id
            assert [a.is_new, b.is_new].count(True) >= 1
    finally:
        await other.dispose()
