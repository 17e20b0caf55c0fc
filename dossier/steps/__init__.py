"""Step types of the dossier form: one `StepKind` class each, registered here by its `type` name.

To add a step type, write one StepKind subclass (in the module of its family, or a new one) and list it
in `_KINDS`: the form loader then accepts the type with its rules and messages, and the engine runs it.
"""

from __future__ import annotations

from datetime import date

from dossier.schema import Form, Step
from dossier.steps.base import StepContext, StepKind
from dossier.steps.choice import ChoiceKind, GroupKind, MultiKind, YesNoKind
from dossier.steps.commune import CommuneKind
from dossier.steps.files import DocumentKind, PhotoKind, PhotosKind
from dossier.steps.name import NameKind, OrganisationNameKind, ProductNameKind
from dossier.steps.typed import (
    DateKind,
    LongTextKind,
    NumberKind,
    PhoneKind,
    TaxCodeKind,
    TextKind,
    TypedKind,
)
from dossier.validators import Invalid, Valid

_KINDS: tuple[StepKind, ...] = (
    TextKind(),
    NameKind(),
    OrganisationNameKind(),
    ProductNameKind(),
    LongTextKind(),
    NumberKind(),
    PhoneKind(),
    TaxCodeKind(),
    DateKind(),
    ChoiceKind(),
    MultiKind(),
    YesNoKind(),
    CommuneKind(),
    GroupKind(),
    PhotoKind(),
    DocumentKind(),
    PhotosKind(),
)
KINDS: dict[str, StepKind] = {kind.type: kind for kind in _KINDS}


def kind_of(step: Step) -> StepKind:
    return KINDS[step.type]


def validate_typed(form: Form, step: Step, raw: str, today: date) -> Valid | Invalid:
    """Parse and check what the user typed for a typed-answer step (text, number, phone, date…)."""
    kind = kind_of(step)
    if not isinstance(kind, TypedKind):
        raise ValueError(f"step {step.id}: type {step.type} is not typed text")
    return kind.validate(StepContext(form), step, raw, today)
