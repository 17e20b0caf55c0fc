"""Once-only updates: claim an update_id in the database; a second delivery of it finds it taken.

Behind a load balancer Telegram (or the balancer retrying a slow instance) can deliver one update to
two instances. Each instance claims the update's id before any other work; the primary key decides,
on SQLite and on PostgreSQL alike, so exactly one claim succeeds. The claim is committed before the
update is handled: an instance that dies mid-update does not get it again (at most once, as PTB's
webhook server, which answers Telegram before handling, already is).

Rows older than `keep` are pruned at most every `prune_every`, by whichever instance claims an update
when that is due (one indexed DELETE; several instances pruning at once is harmless).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite

from common.clock import Clock
from storage.db import Database
from storage.models import ProcessedUpdate

DEFAULT_KEEP = timedelta(days=2)
DEFAULT_PRUNE_EVERY = timedelta(minutes=10)


class ProcessedUpdates:
    """Claims update ids for this process; `claim` is True for the first delivery only."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        keep: timedelta = DEFAULT_KEEP,
        prune_every: timedelta = DEFAULT_PRUNE_EVERY,
    ) -> None:
        self.db = db
        self.clock = clock
        self.keep = keep
        self.prune_every = prune_every
        self._last_prune: datetime | None = None
        self._insert = postgresql.insert if not db.is_sqlite else sqlite.insert

    async def claim(self, update_id: int) -> bool:
        """Record `update_id` as taken; False when some instance took it already."""
        now = self.clock.now()
        stmt = (
            self._insert(ProcessedUpdate)
            .values(update_id=update_id, processed_at=now)
            .on_conflict_do_nothing(index_elements=[ProcessedUpdate.update_id])
            .returning(ProcessedUpdate.update_id)
        )
        async with self.db.session() as s:
            claimed = (await s.execute(stmt)).scalar_one_or_none() is not None
        if self._last_prune is None or now - self._last_prune >= self.prune_every:
            self._last_prune = now
            await self.prune(now)
        return claimed

    async def prune(self, now: datetime | None = None) -> int:
        """Delete claims older than `keep`; returns how many went."""
        cutoff = (now or self.clock.now()) - self.keep
        async with self.db.session() as s:
            result = await s.execute(delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < cutoff))
        return int(getattr(result, "rowcount", 0) or 0)
