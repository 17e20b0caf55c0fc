"""What every step type shares: the `StepKind` base class, the results a kind hands back to the engine,
the typed pending sub-state (stored as JSON in Dossier.flow_state) and the prompt pieces.

A kind never moves through the form: it reads what the user did on the current step and says what that
means — store this answer (`Store`), stay with a sub-state (`Stay`), change the answer but stay
(`Collect`), keep the stored answer (`Proceed`), leave the optional step empty (`SkipStep`) or refuse
with a message (`Refuse`). The engine turns that into navigation.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any, ClassVar, Literal, Protocol

from common.render import Renderer
from dossier.schema import Choice, Form, Step, has_answer
from knowledge.normalize import fold_text

# Short callback values of the non-choice buttons (the handler puts them in callback data).
DONE = "done"
KEEP = "keep"
RETYPE = "retype"
UP = "up"
CLEAR = "clear"


# ----------------------------------------------------------------------------------- pending state


@dataclass(frozen=True)
class Pending:
    """A half-made answer of the current step, kept between two updates (e.g. ticked boxes).

    Serialised as `{"kind": <tag>, "step": <step id>, ...fields}`; the tag names the subclass.
    `sub_level`: «Quay lại» leaves the sub-state instead of going to the previous step.
    """

    step: str

    tag: ClassVar[str] = ""
    sub_level: ClassVar[bool] = False
    _by_tag: ClassVar[dict[str, type[Pending]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.tag:
            Pending._by_tag[cls.tag] = cls

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.tag, "step": self.step, **self._fields()}

    def _fields(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def _read(cls, step: str, data: dict[str, Any]) -> Pending:
        raise NotImplementedError

    @staticmethod
    def from_json(data: object) -> Pending | None:
        """The typed sub-state of a stored dict; None for anything unreadable (it is only a convenience)."""
        if not isinstance(data, dict):
            return None
        cls = Pending._by_tag.get(str(data.get("kind")))
        step = data.get("step")
        if cls is None or not isinstance(step, str):
            return None
        try:
            return cls._read(step, data)
        except (TypeError, ValueError, KeyError, AttributeError):
            return None


def str_tuple(value: object) -> tuple[str, ...]:
    """A stored list of strings, read back strictly."""
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValueError("not a list of strings")
    return tuple(value)


# ----------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Store:
    """The answer is complete: store it and move on."""

    value: Any


@dataclass(frozen=True)
class Stay:
    """Stay on the step with this sub-state (None: leave the sub-state)."""

    pending: Pending | None = None


@dataclass(frozen=True)
class Collect:
    """Change the answer but stay on the step (a photo added to a list, the list cleared)."""

    value: Any


@dataclass(frozen=True)
class Proceed:
    """Keep the stored answer and move on."""


@dataclass(frozen=True)
class SkipStep:
    """Finished without an answer: skip the (optional) step."""


@dataclass(frozen=True)
class Refuse:
    message: str


Result = Store | Stay | Collect | Proceed | SkipStep | Refuse
PROCEED = Proceed()
SKIP = SkipStep()


# ----------------------------------------------------------------------------------- prompt pieces


@dataclass(frozen=True)
class PromptChoice:
    """One button of the prompt: its label and the short value sent back (choice index, 'done'...)."""

    label: str
    value: str
    selected: bool = False


Expects = Literal["text", "choice", "photo", "document", "none"]


@dataclass(frozen=True)
class Question:
    """What a kind contributes to the prompt of its step.

    kind: 'question', or a sub-level's own screen ('subgroup', 'commune_confirm'); `detail` carries
    that screen's data for the template.
    """

    choices: tuple[PromptChoice, ...]
    expects: Expects
    kind: str = "question"
    files: int = 0
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FileRef:
    """An attachment already stored by the service, as the engine records it in the answers."""

    attachment_id: int
    kind: str  # "photo" | "document"
    name: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"attachment_id": self.attachment_id, "kind": self.kind, "name": self.name}


# ----------------------------------------------------------------------------------- the kind


class CommuneMatchLike(Protocol):
    old_name: str
    kind: str
    new_unit: str | None
    partial: bool
    also: Sequence[str]
    provisional: bool
    note: str | None
    is_current: bool


class CommuneResolver(Protocol):
    """What the commune step needs of knowledge.communes.CommuneDirectory."""

    def resolve(self, text: str) -> CommuneMatchLike | None: ...

    def current_units(self) -> Sequence[Any]: ...


@lru_cache(maxsize=1)
def _labels_renderer() -> Renderer:
    return Renderer()


def default_label(key: str, **context: Any) -> str:
    """A button label from templates/labels/dossier.yaml (`dossier.<key>`)."""
    return _labels_renderer().label(f"dossier.{key}", **context)


@dataclass(frozen=True)
class StepContext:
    """What kinds may consult: the form (messages, display formats), button labels, the communes."""

    form: Form
    label: Callable[..., str] = default_label
    communes: CommuneResolver | None = None

    def stale(self) -> Refuse:
        return Refuse(self.form.message("stale"))

    def refuse(self, key: str, step: Step | None = None, **values: Any) -> Refuse:
        return Refuse(self.form.message(key, step, **values))


@dataclass(frozen=True)
class Current:
    """The current step as a kind sees it: the stored answer and this step's pending sub-state."""

    step: Step
    answer: Any = None
    pending: Pending | None = None

    @property
    def answered(self) -> bool:
        return has_answer(self.answer)


ChoiceSource = Literal["none", "own", "yes_no"]


class StepKind(ABC):
    """The behaviour of one step type. Subclasses set `type` and override what applies to them.

    Definition (checked when the form loads): `rules` it accepts, `messages` it may show, where its
    `choices` come from and whether they may have `sub_choices`. Behaviour: `read_text`, `press`,
    `done`, `accepts_file`/`attach`, `question` (its part of the prompt), `display` (review and PDF),
    `attachment_ids` and `locality` (the commune printed at the top of the PDF).
    """

    type: ClassVar[str] = ""
    rules: ClassVar[frozenset[str]] = frozenset()
    messages: ClassVar[tuple[str, ...]] = ()
    choices: ClassVar[ChoiceSource] = "none"
    sub_choices: ClassVar[bool] = False
    is_file: ClassVar[bool] = False

    @abstractmethod
    def read_text(self, ctx: StepContext, cur: Current, text: str, today: date) -> Result:
        """Typed text (already NFC and trimmed) for this step."""

    def press(self, ctx: StepContext, cur: Current, value: str) -> Result:
        """A button of this step's prompt (KEEP is handled by the engine)."""
        return ctx.stale()

    def done(self, ctx: StepContext, cur: Current) -> Result:
        """«Xong» on a step that collects several things."""
        return ctx.stale()

    def accepts_file(self, ctx: StepContext, cur: Current, file_kind: str) -> Refuse | None:
        """None when a file of this kind ('photo' or 'document') may be attached here."""
        return ctx.refuse("file_unexpected")

    def attach(self, ctx: StepContext, cur: Current, file: FileRef) -> Result:
        return ctx.refuse("file_unexpected")

    def question(self, ctx: StepContext, cur: Current, keep: tuple[PromptChoice, ...]) -> Question:
        """This step's buttons and what answers it; `keep` is the «Giữ nguyên» button when answered."""
        return Question(keep, "text")

    def display(self, ctx: StepContext, step: Step, value: Any) -> str:
        """An answered value as a person reads it (Vietnamese formats from the form's display section)."""
        return str(value)

    def attachment_ids(self, value: Any) -> set[int]:
        return set()

    def readable(self, step: Step, value: Any) -> bool:
        """Whether a stored answer still means something in this form (an older form's value may not)."""
        return True

    def locality(self, value: Any) -> str | None:
        return None


# ----------------------------------------------------------------------------------- helpers


def match_choice(choices: Sequence[Choice], text: str) -> Choice | None:
    """The choice typed by label, button label, id or alias (diacritics optional), or by its number
    (1-based)."""
    typed = fold_text(text)
    if not typed:
        return None
    for choice in choices:
        names = [choice.label, choice.id, *choice.aliases, *([choice.button] if choice.button else [])]
        if any(fold_text(n) == typed for n in names):
            return choice
    if typed.isdigit() and 1 <= int(typed) <= len(choices):
        return choices[int(typed) - 1]
    return None


def by_index(choices: Sequence[Choice], value: str) -> Choice | None:
    """The choice a button's value (its 0-based index) names."""
    if not value.isdigit():
        return None
    index = int(value)
    return choices[index] if 0 <= index < len(choices) else None


def in_form_order(step: Step, ids: Sequence[str]) -> list[str]:
    order = [c.id for c in step.choices]
    return sorted(ids, key=order.index)
