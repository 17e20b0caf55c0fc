"""Where a dossier's status may go, and by whom: the transition table and the one function that applies
a transition and writes its history row in the same transaction.

A new status or a new way between statuses (staff review, return for correction, decisions) is a
row in `TRANSITIONS`; callers go through `apply_transition`, which refuses anything not in the table
with `TransitionNotAllowed`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from dossier.errors import TransitionNotAllowed
from dossier.models import Dossier, DossierStatus, DossierStatusHistory


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
TRANSITIONS: tuple[Transition, ...] = (
    _row(None, S.DRAFT, Role.OWNER),  # a producer starts a dossier
    _row(S.DRAFT, S.SUBMITTED, Role.OWNER),
    _row(S.RETURNED, S.SUBMITTED, Role.OWNER),  # resubmitted after corrections
)
_ALLOWED: dict[tuple[str | None, str], frozenset[Role]] = {(t.source, t.target): t.roles for t in TRANSITIONS}

# The owner may change answers exactly while the owner may (re)submit.
EDITABLE_STATUSES = frozenset(
    t.source for t in TRANSITIONS if t.source and t.target == S.SUBMITTED and Role.OWNER in t.roles
)
# Only a draft may be deleted (with its history: nothing was ever submitted).
DELETABLE_STATUSES = frozenset({S.DRAFT})


def is_editable(status: str) -> bool:
    """Whether the owner may still change the answers."""
    return status in EDITABLE_STATUSES


def is_deletable(status: str) -> bool:
    return status in DELETABLE_STATUSES


def check_transition(source: str | None, target: DossierStatus, role: Role) -> None:
    """Raise TransitionNotAllowed unless the table allows `source` → `target` for `role`."""
    if role not in _ALLOWED.get((source, target), frozenset()):  # a StrEnum key matches its str
        raise TransitionNotAllowed(source, target, role)


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
    dossier.status = target
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
    return history
