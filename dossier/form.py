"""Loads the dossier form (dossier/form.yaml) into typed objects and rejects a broken definition at load.

The form is data in the spirit of ODK's XLSForm: sections of steps, each with a type, a question, rules
with their messages and an optional relevance condition. `load_form()` raises `FormError` listing every
problem by step id; `form_check_main` is the `python bot.py form check` command.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

FORM_FILE = Path(__file__).resolve().parent / "form.yaml"

STEP_TYPES = frozenset(
    {
        "text",
        "long_text",
        "number",
        "phone",
        "tax_code",
        "date",
        "choice",
        "multi",
        "yes_no",
        "commune",
        "group",
        "photo",
        "document",
        "photos",
    }
)
CHOICE_TYPES = frozenset({"choice", "multi", "yes_no", "group"})
FILE_TYPES = frozenset({"photo", "document", "photos"})
TEXT_TYPES = frozenset({"text", "long_text"})
DEFAULT_MAX_LENGTH = {"text": 1000, "long_text": 3000}
# Hard ceiling for any typed answer (also guards the types that have no length rule).
ABSOLUTE_MAX_LENGTH = 3000

# Which rules each step type accepts.
RULES_BY_TYPE: dict[str, frozenset[str]] = {
    "text": frozenset({"min_length", "max_length", "pattern"}),
    "long_text": frozenset({"min_length", "max_length", "pattern"}),
    "number": frozenset({"min", "max"}),
    "date": frozenset({"min_date", "max_date"}),
    "photos": frozenset({"max_files"}),
}

# The messages each step type may need; each must exist in the form's `messages` or the step's own.
MESSAGES_BY_TYPE: dict[str, tuple[str, ...]] = {
    "text": ("too_long",),
    "long_text": ("too_long",),
    "number": ("number_invalid", "unit_missing"),
    "phone": ("phone_invalid",),
    "tax_code": ("tax_code_invalid",),
    "date": ("date_invalid",),
    "choice": ("choice_invalid",),
    "multi": ("choice_invalid", "multi_empty"),
    "yes_no": ("yes_no_invalid",),
    "commune": ("commune_not_found",),
    "group": ("choice_invalid",),
    "photo": ("photo_expected", "file_type", "file_too_large"),
    "document": ("document_expected", "file_type", "file_too_large"),
    "photos": ("photo_expected", "photos_empty", "file_type", "file_too_large", "too_many_files"),
}
COMMON_MESSAGES = ("required", "not_skippable", "stale", "at_review", "file_unexpected", "not_relevant")
DISPLAY_KEYS = ("commune_current", "commune_mapped", "commune_unknown", "group", "files", "photos")

STEP_KEYS = frozenset(
    {
        "id",
        "type",
        "label",
        "question",
        "help",
        "required",
        "rules",
        "relevant",
        "choices",
        "messages",
        "unit",
    }
)
ID_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
DATE_RULE_RE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


class FormError(Exception):
    """The form definition is broken; `problems` lists each one, naming the step."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class Choice:
    """One option of a choice/multi/yes_no/group step (a group option may have sub-options)."""

    id: str
    label: str
    sub: tuple[Choice, ...] = ()
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rule:
    """A validation rule: its kind (min_length, max, max_date...), its value and the message to show."""

    kind: str
    value: Any
    message: str


@dataclass(frozen=True)
class Condition:
    """A relevance condition: a comparison on an earlier step, or all/any/not of conditions.

    `op` is one of equals, not_equals, in, answered, all, any, not. Evaluated by `evaluate`, never eval().
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

    @property
    def is_file(self) -> bool:
        return self.type in FILE_TYPES

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


def parse_rule_date(value: object) -> date | str | None:
    """A date rule value: 'today' or dd/mm/yyyy (also a YAML date). None when unreadable."""
    if isinstance(value, date):
        return value
    if value == "today":
        return "today"
    match = DATE_RULE_RE.match(str(value))
    if not match:
        return None
    day, month, year = (int(g) for g in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        return None


# ----------------------------------------------------------------------------------------- loading


def load_form(path: Path = FORM_FILE) -> Form:
    """Read and validate the form file; raise FormError naming every broken step."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except (OSError, yaml.YAMLError) as exc:
        raise FormError([f"cannot read {path}: {exc}"]) from None
    return build_form(data)


@lru_cache(maxsize=1)
def default_form() -> Form:
    """The shipped form, loaded once."""
    return load_form()


def build_form(data: object) -> Form:
    """Build a Form from the parsed YAML mapping; every problem is collected before raising."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise FormError(["the form file must be a mapping with 'title', 'messages' and 'sections'"])
    messages = {str(k): str(v) for k, v in (data.get("messages") or {}).items()}
    display = {str(k): str(v) for k, v in (data.get("display") or {}).items()}
    for key in COMMON_MESSAGES:
        if key not in messages:
            problems.append(f"messages: '{key}' is missing")
    for key in DISPLAY_KEYS:
        if key not in display:
            problems.append(f"display: '{key}' is missing")
    yes_no = _choices(data.get("yes_no"), "yes_no", problems, allow_sub=False)
    if sorted(c.id for c in yes_no) != ["no", "yes"]:
        problems.append("yes_no: needs exactly the choices 'yes' and 'no'")

    sections: list[Section] = []
    seen_steps: dict[str, Step] = {}
    section_ids: set[str] = set()
    index = 0
    raw_sections = data.get("sections")
    if not isinstance(raw_sections, list) or not raw_sections:
        problems.append("sections: at least one section is needed")
        raw_sections = []
    for s_pos, raw_section in enumerate(raw_sections):
        if not isinstance(raw_section, dict):
            problems.append(f"section #{s_pos + 1}: must be a mapping")
            continue
        section_id = str(raw_section.get("id") or f"#{s_pos + 1}")
        if section_id in section_ids:
            problems.append(f"section {section_id}: duplicate section id")
        section_ids.add(section_id)
        if not raw_section.get("title"):
            problems.append(f"section {section_id}: 'title' is missing")
        steps: list[Step] = []
        raw_steps = raw_section.get("steps")
        if not isinstance(raw_steps, list) or not raw_steps:
            problems.append(f"section {section_id}: has no steps")
            raw_steps = []
        for raw_step in raw_steps:
            step = _step(raw_step, section_id, index, seen_steps, messages, yes_no, problems)
            if step is None:
                continue
            if step.id in seen_steps:
                problems.append(f"step {step.id}: duplicate step id")
                continue
            seen_steps[step.id] = step
            steps.append(step)
            index += 1
        sections.append(Section(section_id, str(raw_section.get("title") or ""), tuple(steps)))
    if problems:
        raise FormError(problems)
    return Form(str(data.get("title") or ""), tuple(sections), messages, display)


def _step(
    raw: object,
    section_id: str,
    index: int,
    earlier: dict[str, Step],
    messages: dict[str, str],
    yes_no: tuple[Choice, ...],
    problems: list[str],
) -> Step | None:
    if not isinstance(raw, dict):
        problems.append(f"section {section_id}: a step is not a mapping")
        return None
    step_id = str(raw.get("id") or "")
    name = f"step {step_id or '(no id)'}"
    if not ID_RE.match(step_id):
        problems.append(f"{name}: id must be lowercase letters, digits and _ (at most 40)")
    unknown = set(raw) - STEP_KEYS
    if unknown:
        problems.append(f"{name}: unknown keys {sorted(unknown)}")
    step_type = str(raw.get("type") or "")
    if step_type not in STEP_TYPES:
        problems.append(f"{name}: unknown type '{step_type}' (use one of {', '.join(sorted(STEP_TYPES))})")
        return None
    for key in ("question", "label"):
        if not str(raw.get(key) or "").strip():
            problems.append(f"{name}: '{key}' is missing")
    required = raw.get("required", False)
    if not isinstance(required, bool):
        problems.append(f"{name}: 'required' must be true or false")
        required = bool(required)
    own_messages = {str(k): str(v) for k, v in (raw.get("messages") or {}).items()}
    for key in MESSAGES_BY_TYPE.get(step_type, ()):
        if key not in own_messages and key not in messages:
            problems.append(f"{name}: message '{key}' is missing (in messages: or the step's messages:)")

    choices: tuple[Choice, ...] = ()
    if step_type == "yes_no":
        if raw.get("choices"):
            problems.append(f"{name}: yes_no steps take their choices from the form's 'yes_no' list")
        choices = yes_no
    elif step_type in CHOICE_TYPES:
        choices = _choices(raw.get("choices"), name, problems, allow_sub=step_type == "group")
        if not choices:
            problems.append(f"{name}: a {step_type} step needs choices")
    elif raw.get("choices"):
        problems.append(f"{name}: only choice, multi and group steps have choices")

    rules = _rules(raw.get("rules"), step_type, name, problems)
    relevant = None
    if raw.get("relevant") is not None:
        relevant = _condition(raw["relevant"], name, earlier, problems)
    return Step(
        id=step_id,
        type=step_type,
        label=str(raw.get("label") or "").strip(),
        question=str(raw.get("question") or "").strip(),
        section_id=section_id,
        index=index,
        required=required,
        help=(str(raw["help"]).strip() if raw.get("help") else None),
        rules=rules,
        relevant=relevant,
        choices=choices,
        messages=own_messages,
    )


def _choices(raw: object, name: str, problems: list[str], *, allow_sub: bool) -> tuple[Choice, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.append(f"{name}: 'choices' must be a list")
        return ()
    out: list[Choice] = []
    ids: set[str] = set()
    for item in raw:
        if not isinstance(item, dict) or not item.get("id") or not str(item.get("label") or "").strip():
            problems.append(f"{name}: every choice needs an 'id' and a 'label'")
            continue
        choice_id = str(item["id"])
        if choice_id in ids:
            problems.append(f"{name}: duplicate choice id '{choice_id}'")
        ids.add(choice_id)
        sub: tuple[Choice, ...] = ()
        if item.get("sub") is not None:
            if not allow_sub:
                problems.append(
                    f"{name}: choice '{choice_id}' has sub-choices but only group steps allow them"
                )
            else:
                sub = _choices(item["sub"], f"{name} › {choice_id}", problems, allow_sub=False)
        aliases = item.get("aliases") or []
        if not isinstance(aliases, list):
            problems.append(f"{name}: 'aliases' of choice '{choice_id}' must be a list")
            aliases = []
        out.append(Choice(choice_id, str(item["label"]).strip(), sub, tuple(str(a) for a in aliases)))
    return tuple(out)


def _rules(raw: object, step_type: str, name: str, problems: list[str]) -> tuple[Rule, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.append(f"{name}: 'rules' must be a list")
        return ()
    allowed = RULES_BY_TYPE.get(step_type, frozenset())
    out: list[Rule] = []
    for item in raw:
        if not isinstance(item, dict):
            problems.append(f"{name}: a rule must be a mapping like {{max_length: 100, message: ...}}")
            continue
        kinds = [k for k in item if k != "message"]
        if len(kinds) != 1:
            problems.append(f"{name}: each rule has exactly one kind plus 'message' (got {sorted(item)})")
            continue
        kind = kinds[0]
        value = item[kind]
        message = str(item.get("message") or "").strip()
        if kind not in allowed:
            problems.append(f"{name}: rule '{kind}' does not apply to a {step_type} step")
            continue
        if not message:
            problems.append(f"{name}: rule '{kind}' has no message")
        if kind in ("min_length", "max_length", "max_files"):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                problems.append(f"{name}: rule '{kind}' needs a positive whole number")
                continue
            if kind == "max_length" and value > ABSOLUTE_MAX_LENGTH:
                problems.append(f"{name}: max_length is at most {ABSOLUTE_MAX_LENGTH}")
        elif kind in ("min", "max"):
            if not isinstance(value, int | float) or isinstance(value, bool):
                problems.append(f"{name}: rule '{kind}' needs a number")
                continue
        elif kind == "pattern":
            try:
                value = re.compile(str(value))
            except re.error as exc:
                problems.append(f"{name}: pattern does not compile: {exc}")
                continue
        elif kind in ("min_date", "max_date"):
            parsed = parse_rule_date(value)
            if parsed is None:
                problems.append(f"{name}: rule '{kind}' needs 'today' or a date dd/mm/yyyy")
                continue
            value = parsed
        out.append(Rule(kind, value, message))
    return tuple(out)


_COMPARISONS = ("equals", "not_equals", "in", "answered")


def _condition(raw: object, name: str, earlier: dict[str, Step], problems: list[str]) -> Condition | None:
    if not isinstance(raw, dict):
        problems.append(f"{name}: 'relevant' must be a mapping like {{step: kind, equals: new}}")
        return None
    for combinator in ("all", "any"):
        if combinator in raw:
            items = raw[combinator]
            if len(raw) != 1 or not isinstance(items, list) or not items:
                problems.append(f"{name}: '{combinator}' takes a non-empty list of conditions, alone")
                return None
            children = [_condition(item, name, earlier, problems) for item in items]
            if any(c is None for c in children):
                return None
            return Condition(combinator, children=tuple(c for c in children if c is not None))
    if "not" in raw:
        if len(raw) != 1:
            problems.append(f"{name}: 'not' takes one condition, alone")
            return None
        child = _condition(raw["not"], name, earlier, problems)
        return None if child is None else Condition("not", children=(child,))
    ops = [k for k in raw if k in _COMPARISONS]
    extra = set(raw) - {"step", *_COMPARISONS}
    if "step" not in raw or len(ops) != 1 or extra:
        problems.append(
            f"{name}: a condition is {{step: X, equals|not_equals|in|answered: value}} "
            f"or all/any/not (got {sorted(raw)})"
        )
        return None
    target_id = str(raw["step"])
    op = ops[0]
    value = raw[op]
    target = earlier.get(target_id)
    if target is None:
        problems.append(f"{name}: condition refers to '{target_id}', which is not an earlier step")
        return None
    if op == "in":
        if not isinstance(value, list) or not value:
            problems.append(f"{name}: 'in' needs a non-empty list")
            return None
        value = tuple(_condition_value(v) for v in value)
        values = value
    elif op == "answered":
        if not isinstance(value, bool):
            problems.append(f"{name}: 'answered' needs true or false")
            return None
        values = ()
    else:
        value = _condition_value(value)
        values = (value,)
    if target.choices and values:
        known = {c.id for c in target.choices}
        for v in values:
            if v not in known:
                problems.append(f"{name}: condition value '{v}' is not a choice of step {target_id}")
    return Condition(op, step=target_id, value=value)


def _condition_value(value: object) -> str:
    # YAML reads a bare yes/no as a boolean; the yes_no choices are the ids 'yes' and 'no'.
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return str(value)


# ----------------------------------------------------------------------------------------- relevance


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
        return (raw is not None and raw != [] and raw != "") == condition.value
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
        for field_name in ("group", "unit", "value"):
            if raw.get(field_name) is not None:
                keys.add(str(raw[field_name]))
        return keys
    return {str(raw)}


# ----------------------------------------------------------------------------------------- CLI


def form_check_main(argv: Sequence[str]) -> int:
    """`python bot.py form check [path]`: print OK with counts, or every problem; non-zero on errors."""
    args = [a for a in argv if a != "check"]
    path = Path(args[0]) if args else FORM_FILE
    try:
        form = load_form(path)
    except FormError as exc:
        print(f"Form {path} has {len(exc.problems)} problem(s):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    steps = form.steps
    required = sum(1 for s in steps if s.required)
    conditional = sum(1 for s in steps if s.relevant is not None)
    files = sum(1 for s in steps if s.is_file)
    print(
        f"Form OK: {len(form.sections)} sections, {len(steps)} steps "
        f"({required} required, {conditional} conditional, {files} attachments)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(form_check_main(sys.argv[1:]))
