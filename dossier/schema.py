"""The typed objects of a dossier form (sections, steps, choices, rules, relevance conditions) and the
evaluation of conditions over stored answers. No loading and no step-type behaviour: dossier.form builds
these from form.yaml, dossier.steps gives each step type its behaviour.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


def has_answer(value: object) -> bool:
    """Whether a stored answer counts as given (the one test of "answered" used everywhere)."""
    return value is not None and value != "" and value != []


@dataclass(frozen=True)
class Choice:
    """One option of a choice/multi/yes_no/group step (a group option may have sub-options)."""

    id: str
    label: str
    sub: tuple[Choice, ...] = ()
    aliases: tuple[str, ...] = ()
    number: int | None = None  # an official number (the 26 product sets of QĐ 26/2026)
    button: str | None = None  # a shorter label for a phone button (the full label is in the question)
    group: str | None = None  # the group (nhóm) a product set belongs to: 6 sectors → 17 groups → 26 sets

    @property
    def button_label(self) -> str:
        """What the button says: the short label when there is one, numbered when the choice has a number."""
        text = self.button or self.label
        return f"{self.number}. {text}" if self.number is not None else text


@dataclass(frozen=True)
class Rule:
    """A validation rule: its kind (min_length, max, max_date...), its value and the message to show."""

    kind: str
    value: Any
    message: str


@dataclass(frozen=True)
class Condition:
    """A relevance condition: a comparison on an earlier step, or all/any/not of conditions.

    `op` is one of equals, not_equals, in, answered, all, any, not; evaluated by `condition_holds`
    (never eval()).
    """

    op: str
    step: str | None = None
    value: Any = None
    children: tuple[Condition, ...] = ()

    def steps(self) -> set[str]:
        """Every step id the condition reads."""
        found = {self.step} if self.step else set()
        for child in self.children:
            found |= child.steps()
        return found


@dataclass(frozen=True)
class Step:
    """One question of the form."""

    id: str
    type: str
    label: str
    question: str
    section_id: str
    index: int
    required: bool = False
    help: str | None = None
    rules: tuple[Rule, ...] = ()
    relevant: Condition | None = None
    choices: tuple[Choice, ...] = ()
    messages: Mapping[str, str] = field(default_factory=dict)

    def rule(self, kind: str) -> Rule | None:
        for rule in self.rules:
            if rule.kind == kind:
                return rule
        return None

    def choice(self, choice_id: str) -> Choice | None:
        for choice in self.choices:
            if choice.id == choice_id:
                return choice
        return None


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Form:
    """The whole form: sections in order, every step by id, and the form-level messages."""

    title: str
    sections: tuple[Section, ...]
    messages: Mapping[str, str]
    display: Mapping[str, str]
    units: Mapping[str, str] = field(default_factory=dict)  # unit typed without diacritics → printed

    @property
    def steps(self) -> tuple[Step, ...]:
        return tuple(step for section in self.sections for step in section.steps)

    def step(self, step_id: str) -> Step:
        return self._by_id[step_id]

    def has_step(self, step_id: str) -> bool:
        return step_id in self._by_id

    def section_of(self, step: Step) -> Section:
        return next(s for s in self.sections if s.id == step.section_id)

    @property
    def _by_id(self) -> dict[str, Step]:
        cached = self.__dict__.get("_by_id_cache")
        if cached is None:
            cached = {step.id: step for step in self.steps}
            object.__setattr__(self, "_by_id_cache", cached)
        return cached

    def message(self, key: str, step: Step | None = None, **values: Any) -> str:
        """The message `key` (the step's own if it has one), with {placeholders} filled in."""
        text = (step.messages.get(key) if step else None) or self.messages[key]
        return fill(text, **values)


def fill(text: str, **values: Any) -> str:
    """Replace {name} placeholders; unknown placeholders are left as written (no str.format surprises)."""
    return re.sub(r"\{(\w+)\}", lambda m: str(values.get(m.group(1), m.group(0))), text)


def condition_holds(condition: Condition, answers: Mapping[str, Any]) -> bool:
    """Evaluate a relevance condition against stored answers (see `answer_key` for what is compared)."""
    if condition.op == "all":
        return all(condition_holds(c, answers) for c in condition.children)
    if condition.op == "any":
        return any(condition_holds(c, answers) for c in condition.children)
    if condition.op == "not":
        return not condition_holds(condition.children[0], answers)
    assert condition.step is not None
    raw = answers.get(condition.step)
    if condition.op == "answered":
        return has_answer(raw) == condition.value
    keys = answer_keys(raw)
    if condition.op == "equals":
        return condition.value in keys
    if condition.op == "not_equals":
        return condition.value not in keys
    if condition.op == "in":
        return any(v in keys for v in condition.value)
    raise ValueError(f"unknown condition op {condition.op}")


def answer_keys(raw: object) -> set[str]:
    """The comparable values of a stored answer: a choice id, each id of a multi, a group's id..."""
    if raw is None:
        return set()
    if isinstance(raw, list):
        return {str(v) for v in raw if not isinstance(v, dict)}
    if isinstance(raw, dict):
        keys = set()
        for field_name in ("group", "sub", "unit", "value"):
            if raw.get(field_name) is not None:
                keys.add(str(raw[field_name]))
        return keys
    return {str(raw)}
