"""Where a dossier's status may go, and by whom: the transition table and the one function that applies
a transition and writes its history row in the same transaction.

    draft → submitted → received (the commune checked the format) → forwarded (to the province)
    → rated (stars, score, certificate, recognition date; valid 36 months) | not rated (the reason)
    rated (5 stars) → proposed (to the central level)
    submitted | received | resubmitted | forwarded → returned (for correction) → resubmitted → …

A new status or a new way between statuses is a row in `TRANSITIONS`; callers go through
`apply_transition`, which refuses anything not in the table with `TransitionNotAllowed`. Notices are
queued by the caller in the same session (dossier.review.DossierDesk.notify).
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from dossier.errors import TransitionNotAllowed
from dossier.models import Dossier, DossierStatus, DossierStatusHistory

VALID_MONTHS = 36  # a certificate is valid 36 months from its recognition date
STARS = (3, 4, 5)  # the stars a rating may give (a lower score is "not rated")
CENTRAL_STARS = 5  # only a 5-star product may be proposed to the central level


class Role(StrEnum):
    """Who acts on a dossier."""

    OWNER = "owner"  # the producer who made it
    STAFF = "staff"  # commune/district officers
    ADMIN = "admin"
    SYSTEM = "system"  # the bot itself (deadlines, imports)


@dataclass(frozen=True)
class Transition:
    """`source` → `target` is allowed for these roles (`source` None: the dossier is being created)."""

    source: DossierStatus | None
    target: DossierStatus
    roles: frozenset[Role]


def _row(source: DossierStatus | None, target: DossierStatus, *roles: Role) -> Transition:
    return Transition(source, target, frozenset(roles))


S = DossierStatus
OFFICERS = (Role.STAFF, Role.ADMIN)
TRANSITIONS: tuple[Transition, ...] = (
    _row(None, S.DRAFT, Role.OWNER),  # a producer starts a dossier (or a re-rating of a rated one)
    _row(S.DRAFT, S.SUBMITTED, Role.OWNER),
    # The commune checks the format: takes it in, or returns it for correction.
    _row(S.SUBMITTED, S.RECEIVED, *OFFICERS),
    _row(S.SUBMITTED, S.RETURNED, *OFFICERS),
    _row(S.RECEIVED, S.RETURNED, *OFFICERS),
    _row(S.RETURNED, S.RESUBMITTED, Role.OWNER),  # corrected and sent again
    _row(S.RESUBMITTED, S.RECEIVED, *OFFICERS),
    _row(S.RESUBMITTED, S.RETURNED, *OFFICERS),
    _row(S.RECEIVED, S.FORWARDED, *OFFICERS),  # to the province's rating council
    _row(S.FORWARDED, S.RETURNED, *OFFICERS),  # the council asks for a correction
    _row(S.FORWARDED, S.RATED, *OFFICERS),
    _row(S.FORWARDED, S.NOT_RATED, *OFFICERS),
    _row(S.RATED, S.PROPOSED, *OFFICERS),  # a 5-star candidate, to the central level
)
_ALLOWED: dict[tuple[str | None, str], frozenset[Role]] = {(t.source, t.target): t.roles for t in TRANSITIONS}

# What the producer sends with «Nộp hồ sơ» from each status they may send from.
SUBMIT_TARGET: dict[str, DossierStatus] = {
    str(t.source): t.target
    for t in TRANSITIONS
    if t.source is not None and Role.OWNER in t.roles and t.target in (S.SUBMITTED, S.RESUBMITTED)
}
# The owner may change answers exactly while the owner may (re)submit.
EDITABLE_STATUSES = frozenset(SUBMIT_TARGET)
# Only a draft may be deleted (with its history: nothing was ever submitted).
DELETABLE_STATUSES = frozenset({S.DRAFT})
# Waiting for an officer (the desk's default queue), and the products that hold a certificate.
OPEN_STATUSES = (S.SUBMITTED, S.RESUBMITTED, S.RECEIVED, S.FORWARDED)
CERTIFIED_STATUSES = frozenset({S.RATED, S.PROPOSED})
# Statuses whose notice to officers is "a dossier came in" (the producer acted).
INCOMING_STATUSES = frozenset({S.SUBMITTED, S.RESUBMITTED})


def is_editable(status: str) -> bool:
    """Whether the owner may still change the answers."""
    return status in EDITABLE_STATUSES


def is_deletable(status: str) -> bool:
    return status in DELETABLE_STATUSES


def is_certified(status: str) -> bool:
    """A rated product (a re-rating or an upgrade may start from it)."""
    return status in CERTIFIED_STATUSES


def allowed(source: str | None, target: str, role: Role) -> bool:
    return role in _ALLOWED.get((source, target), frozenset())  # a StrEnum key matches its str


def targets(source: str | None, role: Role) -> list[DossierStatus]:
    """Where `role` may move a dossier that is in `source`, in table order."""
    return [t.target for t in TRANSITIONS if t.source == source and role in t.roles]


def check_transition(source: str | None, target: DossierStatus, role: Role) -> None:
    """Raise TransitionNotAllowed unless the table allows `source` → `target` for `role`."""
    if not allowed(source, target, role):
        raise TransitionNotAllowed(source, target, role)


def add_months(day: date, months: int) -> date:
    """The same day `months` later (the last day of the month when that day does not exist)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def valid_until(recognized_on: date) -> date:
    """The last day a certificate recognised on `recognized_on` is valid: 36 months later."""
    return add_months(recognized_on, VALID_MONTHS)


async def apply_transition(
    session: AsyncSession,
    dossier: Dossier,
    target: DossierStatus,
    *,
    actor_id: int | None,
    role: Role,
    at: datetime,
    note: str = "",
    flagged_steps: Sequence[str] | None = None,
) -> DossierStatusHistory:
    """Move `dossier` to `target` and add the history row (who, when, from → to, note, flagged steps)
    to `session`, so both commit — or roll back — together. A dossier not yet in the session (its
    status still unset) is being created: it is added and flushed for its id."""
    source = dossier.status
    check_transition(source, target, role)
    if target == S.PROPOSED and dossier.stars != CENTRAL_STARS:
        raise TransitionNotAllowed(source, target, role)
    dossier.status = target
    dossier.status_at = at
    if dossier.id is None:
        session.add(dossier)
    await session.flush()
    history = DossierStatusHistory(
        dossier_id=dossier.id,
        at=at,
        actor_id=actor_id,
        from_status=source,
        to_status=target,
        note=note,
        flagged_steps=list(flagged_steps) if flagged_steps is not None else None,
    )
    session.add(history)
    await session.flush()
    return history
