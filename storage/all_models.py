"""Imports every module that defines tables, so Base.metadata knows them all (Alembic, tests)."""

import dossier.claims  # the claim links of assisted entry
import dossier.models  # noqa: F401
import knowledge.models  # noqa: F401
import scheduler.event_models  # noqa: F401  (events, registrations, reminder ledger)
import storage.models
import storage.staff  # noqa: F401
from storage import outbox_models  # noqa: F401
