"""The refusals of the dossier core; the chat handler shows a template for each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dossier.engine import MissingItem


class DossierError(Exception):
    """Base of the dossier service's refusals."""


class DossierNotFound(DossierError):
    """No such dossier for this owner (also when it belongs to someone else)."""


class DossierLocked(DossierError):
    """The dossier is no longer editable by its owner (submitted, under review, decided)."""

    def __init__(self, status: str) -> None:
        super().__init__(f"dossier is {status}")
        self.status = status


class TransitionNotAllowed(DossierLocked):
    """The transition table has no `source` → `target` for this role."""

    def __init__(self, source: str | None, target: str, role: str) -> None:
        DossierError.__init__(self, f"{role} may not move a dossier from {source} to {target}")
        self.status = source or ""
        self.source = source
        self.target = target
        self.role = role


class DossierIncomplete(DossierError):
    """Submission refused: these required items are missing."""

    def __init__(self, missing: Sequence[MissingItem]) -> None:
        super().__init__(", ".join(m.step_id for m in missing))
        self.missing = list(missing)
