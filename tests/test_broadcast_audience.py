"""Who a broadcast reaches: communes (users.commune, else the latest dossier's), product sets and statuses
(the same dossier), combinations, event registrants (once the events table exists), muted and blocked
users left out and counted; a scoped officer reaches only producers of their communes; Telegram's limits
are checked before anything is queued."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from common.clock import FakeClock
from common.render import Renderer
from dossier.models import Dossier
from scheduler import audience as audiences
from scheduler.audience import Audience, OutOfScope
from scheduler.broadcast import BroadcastError, BroadcastRunner, BroadcastService, Content
from scheduler.event_models import Event, EventRegistration
from storage.db import Database
from storage.models import Role, User
from storage.outbox_models import OutboxMessage
from storage.staff import StaffAccess

ADMIN = StaffAccess(500, Role.ADMIN)
PHU_NGHIA = StaffAccess(502, Role.STAFF, frozenset({"Phú Nghĩa"}))
XUAN_MAI = StaffAccess(503, Role.STAFF, frozenset({"Xuân Mai"}))


async def add_user(db: Database, clock: FakeClock, uid: int, **fields: Any) -> None:
    values: dict[str, Any] = {"muted_topics": [], "blocked": False, "commune": None, "role": "producer"}
    values.update(fields)
    async with db.session() as s:
        s.add(
            User(
                id=uid,
                full_name=f"U{uid}",
                flow_data={},
                first_seen=clock.now(),
                last_seen=clock.now(),
                **values,
            )
        )


async def add_dossier(
    db: Database, clock: FakeClock, owner: int, *, minutes_ago: int = 0, **fields: Any
) -> None:
    at = clock.now() - timedelta(minutes=minutes_ago)
    values: dict[str, Any] = {"status": "submitted", "commune": None, "product_set": None}
    values.update(fields)
    async with db.session() as s:
        s.add(Dossier(owner_id=owner, answers={}, flow_state={}, created_at=at, updated_at=at, **values))


async def recipients(db: Database, audience: Audience) -> set[int]:
    async with db.session() as s:
        return set(await audiences.batch(s, audience, after=0, limit=10_000))


@pytest.fixture
async def people(database: Database, clock: FakeClock) -> Database:
    db = database
    await add_user(db, clock, 1, commune="Phú Nghĩa")
    await add_user(db, clock, 2)  # commune from the latest dossier: Xuân Mai (the older one said Phú Nghĩa)
    await add_dossier(
        db, clock, 2, commune="Phú Nghĩa", minutes_ago=60, product_set="plant_tea", status="returned"
    )
    await add_dossier(db, clock, 2, commune="Xuân Mai", product_set="liquor", status="submitted")
    await add_user(db, clock, 3, commune="Xuân Mai")  # users.commune wins over the dossier's
    await add_dossier(db, clock, 3, commune="Phú Nghĩa", product_set="plant_tea", status="submitted")
    await add_user(db, clock, 4, commune="Phú Nghĩa", blocked=True)
    await add_user(db, clock, 5, commune="Phú Nghĩa", muted_topics=["general"])
    await add_user(db, clock, 6, commune="Phú Nghĩa", muted_topics=["events"])  # other topic: still receives
    await add_user(
        db, clock, 7, commune="Phú Nghĩa", role="staff"
    )  # staff get the preview, not the broadcast
    await add_user(db, clock, 8)  # no commune known
    return db


async def test_criteria_and_their_combinations(people: Database) -> None:
    db = people
    assert await recipients(db, Audience()) == {1, 2, 3, 6, 8}
    assert await recipients(db, Audience(communes=("Phú Nghĩa",))) == {1, 6}
    assert await recipients(db, Audience(communes=("Xuân Mai",))) == {2, 3}
    assert await recipients(db, Audience(product_sets=("plant_tea",))) == {2, 3}
    assert await recipients(db, Audience(statuses=("returned",))) == {2}
    # Product set and status on the same dossier: 2's tea dossier is returned, 3's is only submitted.
    assert await recipients(db, Audience(product_sets=("plant_tea",), statuses=("returned",))) == {2}
    assert await recipients(db, Audience(product_sets=("liquor",), statuses=("returned",))) == set()
    assert await recipients(db, Audience(communes=("Xuân Mai",), statuses=("submitted",))) == {2, 3}
    async with db.session() as s:
        counted = await audiences.count(s, Audience(communes=("Phú Nghĩa",)))
    assert (counted.recipients, counted.unreachable, counted.muted) == (2, 1, 1)


async def test_event_registrants_are_an_audience(people: Database) -> None:
    db = people
    now = FakeClock().now()
    async with db.session() as s:
        for event_id in (1, 2):
            s.add(Event(id=event_id, kind="training", title=f"Tập huấn {event_id}", starts_at=now,
                        communes=[], product_sets=[], created_at=now, updated_at=now))
        await s.flush()
        for event_id, user_id, status in [(1, 1, "registered"), (1, 3, "cancelled"), (1, 2, "registered"),
                                          (2, 6, "registered")]:
            s.add(EventRegistration(event_id=event_id, user_id=user_id, status=status, queued_at=now,
                                    updated_at=now))
    service = BroadcastService(db, FakeClock(), Renderer())
    assert await recipients(db, Audience(event_id=1)) == {1, 2}
    assert await recipients(db, Audience(event_id=1, communes=("Xuân Mai",))) == {2}
    assert (await service.count(Audience(event_id=2))).recipients == 1


async def test_a_scoped_officer_reaches_only_their_communes(people: Database, clock: FakeClock) -> None:
    db = people
    service = BroadcastService(db, clock, Renderer(), batch=2)
    b = await service.create(PHU_NGHIA, Content("text", "Tin xã Phú Nghĩa"), "Cán bộ B")
    assert Audience.from_json(b.audience).communes == ("Phú Nghĩa",)  # "everyone" is everyone of theirs
    with pytest.raises(OutOfScope):
        await service.set_audience(PHU_NGHIA, b.id, Audience(communes=("Xuân Mai",)))
    with pytest.raises(OutOfScope):
        await service.set_audience(PHU_NGHIA, b.id, Audience(communes=("Phú Nghĩa", "Xuân Mai")))
    await service.set_audience(PHU_NGHIA, b.id, Audience())  # "all" → all of theirs
    with pytest.raises(BroadcastError):  # another commune's officer cannot touch it
        await service.cancel(XUAN_MAI, b.id)
    confirmed = await service.confirm(PHU_NGHIA, b.id, chat_id=502, message_id=None)
    assert confirmed.expected == 2 and confirmed.scope == ["Phú Nghĩa"]
    runner = BroadcastRunner(service, port=None, batch=2)  # type: ignore[arg-type]
    while await runner.queue_batch(b.id):
        pass
    async with db.session() as s:
        chats = set((await s.execute(select(OutboxMessage.chat_id))).scalars())
    assert chats == {1, 6}
    assert [p.broadcast.id for p in await service.recent(XUAN_MAI)] == []
    assert [p.broadcast.id for p in await service.recent(ADMIN)] == [b.id]


async def test_rows_are_made_once_however_often_a_batch_is_repeated(
    people: Database, clock: FakeClock
) -> None:
    service = BroadcastService(people, clock, Renderer(), batch=2)
    b = await service.create(ADMIN, Content("text", "Một lần thôi"), "Cán bộ A")
    await service.confirm(ADMIN, b.id, chat_id=500, message_id=None)
    runner = BroadcastRunner(service, port=None, batch=2)  # type: ignore[arg-type]
    await runner.queue_batch(b.id)
    async with people.session() as s:  # a crash after the insert but before the cursor moved
        from storage.outbox_models import Broadcast

        row = await s.get(Broadcast, b.id)
        assert row is not None
        row.cursor, row.queued = 0, 0
    while await runner.queue_batch(b.id):
        pass
    async with people.session() as s:
        chats = list((await s.execute(select(OutboxMessage.chat_id))).scalars())
    assert sorted(chats) == [1, 2, 3, 6, 8]


async def test_telegram_limits_are_checked_before_anything_is_queued(
    database: Database, clock: FakeClock
) -> None:
    service = BroadcastService(database, clock, Renderer())
    with pytest.raises(BroadcastError) as long_text:
        await service.create(ADMIN, Content("text", "<b>" + "a" * 4080 + "</b>"), "Cán bộ A")
    assert long_text.value.reason == "too_long" and long_text.value.detail["limit"] == 4096
    fits = await service.create(ADMIN, Content("text", "a" * 4000), "Cán bộ A")
    assert fits.id
    with pytest.raises(BroadcastError) as long_caption:
        await service.create(
            ADMIN, Content("photo", "😀" * 510, file_id="F1"), "Cán bộ A"
        )  # UTF-16: 1020 + header
    assert long_caption.value.detail["limit"] == 1024
    with pytest.raises(BroadcastError):
        await service.create(ADMIN, Content("text", "   "), "Cán bộ A")
    async with database.session() as s:
        assert (await s.execute(select(OutboxMessage))).first() is None
