"""The composition root: every service of the bot built in one place from the settings.

`bot.py` (run, webhook), the console, `ask`, the benchmarks and the tests all call `compose()`; the
Telegram side (`handlers.app.build_application`) only wires handlers to what it returns. Nothing
here imports `telegram`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from common.clock import Clock, SystemClock
from common.config import Settings
from common.flood import FloodGuard
from common.render import Renderer
from dossier.claims import ClaimService
from dossier.intent import KnowledgeMatch
from dossier.review import ReviewDesk
from dossier.service import DossierService
from knowledge.communes import CommuneDirectory
from knowledge.eligibility import EligibilityCheck
from knowledge.inbox import Inbox
from knowledge.relay import Relay, warn_if_unstaffed
from knowledge.schedule import ReminderSchedule
from knowledge.service import KnowledgeService
from scheduler.audience import Preferences
from scheduler.broadcast import BroadcastService
from scheduler.events import EventService
from scheduler.outbox import Pacing
from scheduler.reminders import Reminders
from scheduler.service import Outbox
from scheduler.worker import RetryPolicy
from storage.db import Database
from storage.files import LocalFileStore
from storage.processed import ProcessedUpdates
from storage.staff import StaffDirectory
from storage.users import Users


@dataclass
class AppContext:
    """Configuration and every service, shared by all handlers (typed: no lookups by name)."""

    settings: Settings
    db: Database
    clock: Clock
    renderer: Renderer
    users: Users
    staff: StaffDirectory
    communes: CommuneDirectory  # today's communes/wards and the old names they replaced
    flood: FloodGuard
    knowledge: KnowledgeService
    inbox: Inbox
    relay: Relay
    eligibility: EligibilityCheck
    dossier: DossierService
    outbox: Outbox  # every message that is not a direct reply (scheduler/)
    claims: ClaimService  # assisted entry: dossiers officers entered, and the links that hand them over
    broadcasts: BroadcastService  # staff broadcasts and their runner (scheduler/)
    preferences: Preferences  # what a producer receives (/caidat)
    events: EventService  # events, registrations, .ics and QR (scheduler/events.py)
    reminders: Reminders  # the reminder job's core (scheduler/reminders.py)
    processed: ProcessedUpdates | None = None  # duplicate deliveries (DEDUPLICATE_UPDATES)
    # Dossier status (issue #11): the officers' desk and the status notices, built from the services
    # above; it also hooks the dossier service (a submission's notice to officers).
    review: ReviewDesk = field(init=False)

    def __post_init__(self) -> None:
        self.review = ReviewDesk(
            self.db, self.clock, self.dossier, self.staff, self.outbox, self.renderer,
            staff_chat_id=self.settings.staff_chat_id,
        )

    async def start(self) -> None:
        """What must happen before the first update: migrate, then build the knowledge index."""
        await self.db.upgrade()
        await self.knowledge.start()
        from dossier.pdf import start_pdf_processes  # (fpdf2 is imported by the bot, not by tools)

        start_pdf_processes(self.settings.pdf_processes)  # spawned now, not at the first PDF
        warn_if_unstaffed(self.settings.staff_set, self.settings.staff_chat_id)

    async def stop(self) -> None:
        await self.broadcasts.stop()
        await self.outbox.stop()  # the worker finishes its message and records it first
        await self.db.dispose()


def compose(
    settings: Settings,
    *,
    clock: Clock | None = None,
    db: Database | None = None,
    flood_now: Callable[[], float] = time.monotonic,
) -> AppContext:
    """Build every service for `settings`. `clock` and `db` may be injected (tests); `flood_now` is
    flood control's time source (the fake Bot API's simulated time in tests and the console)."""
    clock = clock or SystemClock()
    db = db or Database(settings.database_url)
    knowledge = KnowledgeService(
        db, clock, contacts_file=settings.contacts_file, reminders=ReminderSchedule.from_settings(settings)
    )
    staff = StaffDirectory(db, clock, settings.staff_ids, settings.admin_ids)
    renderer = Renderer(settings.timezone)
    communes = CommuneDirectory.load()
    dossier = DossierService(
        db,
        clock,
        settings,
        communes=communes,
        files=LocalFileStore(settings.storage_dir),
        questions=KnowledgeMatch(knowledge),  # a question typed instead of an answer
    )
    return AppContext(
        settings=settings,
        db=db,
        clock=clock,
        renderer=renderer,
        users=Users(db, clock, staff),
        staff=staff,
        communes=communes,
        flood=FloodGuard(settings.flood_max_updates, settings.flood_window_seconds, now=flood_now),
        knowledge=knowledge,
        inbox=Inbox(db, clock, knowledge),
        relay=Relay(db, clock),
        eligibility=EligibilityCheck.load(),
        dossier=dossier,
        outbox=Outbox(
            db,
            clock,
            pacing=Pacing(rate=settings.outbox_rate, per_chat=settings.outbox_per_chat_seconds),
            retry=RetryPolicy(
                settings.outbox_max_attempts,
                settings.outbox_retry_base_seconds,
                settings.outbox_retry_max_seconds,
            ),
            run_worker=settings.outbox_worker,
        ),
        claims=ClaimService(db, clock, staff, renderer, days=settings.claim_link_days),
        events=EventService(
            db, clock, renderer, timezone=settings.timezone, reminder_hours=settings.reminder_training_hours
        ),
        reminders=Reminders(db, clock, settings, renderer, dossier.engine),
        processed=ProcessedUpdates(db, clock) if settings.deduplicate_updates else None,
        broadcasts=BroadcastService(
            db, clock, renderer, rate=settings.outbox_rate, edit_every=settings.broadcast_progress_seconds,
            batch=settings.broadcast_batch, run_runner=settings.outbox_worker,
        ),
        preferences=Preferences(db, clock),
    )
