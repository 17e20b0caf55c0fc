"""Loads the dossier form (dossier/form.yaml) into the objects of dossier.schema and rejects a broken
definition at load.

The form is data in the spirit of ODK's XLSForm: sections of steps, each with a type, a question, rules
with their messages and an optional relevance condition. Which types exist, and which rules, messages and
choices each takes, is said by its class in dossier.steps. `load_form()` raises `FormError` listing every
problem by step id; `form_check_main` is the `python bot.py form check` command.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from datetime import date
from functools import lru_cache
from pathlib import Path

import yaml

from dossier.schema import Choice, Condition, Form, Rule, Section, Step
from dossier.steps import KINDS, kind_of
from dossier.steps.base import StepKind
from dossier.steps.typed import ABSOLUTE_MAX_LENGTH

FORM_FILE = Path(__file__).resolve().parent / "form.yaml"

COMMON_MESSAGES = ("required", "not_skippable", "stale", "at_review", "file_unexpected", "not_relevant")
DISPLAY_KEYS = (
    "commune_current",
    "commune_mapped",
    "commune_unknown",
    "group",
    "group_single",
    "group_same",
    "files",
    "photos",
)
# Every step type the form may use: one class each in dossier.steps.
STEP_TYPES = frozenset(KINDS)

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
    }
)
ID_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
DATE_RULE_RE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
RELATIVE_DATE_RE = re.compile(r"^today-(\d{1,3})m$")


class FormError(Exception):
    """The form definition is broken; `problems` lists each one, naming the step."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


def parse_rule_date(value: object) -> date | str | None:
    """A date rule value: 'today', 'today-36m' (months before today) or dd/mm/yyyy (also a YAML date).
    None when unreadable."""
    if isinstance(value, date):
        return value
    if value == "today" or (isinstance(value, str) and RELATIVE_DATE_RE.match(value)):
        return str(value)
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
    units = {str(k).lower(): str(v) for k, v in (data.get("units") or {}).items()}
    return Form(str(data.get("title") or ""), tuple(sections), messages, display, units)


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
    kind = KINDS.get(step_type)
    if kind is None:
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
    for key in kind.messages:
        if key not in own_messages and key not in messages:
            problems.append(f"{name}: message '{key}' is missing (in messages: or the step's messages:)")

    choices: tuple[Choice, ...] = ()
    if kind.choices == "yes_no":
        if raw.get("choices"):
            problems.append(f"{name}: {step_type} steps take their choices from the form's 'yes_no' list")
        choices = yes_no
    elif kind.choices == "own":
        choices = _choices(raw.get("choices"), name, problems, allow_sub=kind.sub_choices)
        if not choices:
            problems.append(f"{name}: a {step_type} step needs choices")
    elif raw.get("choices"):
        with_choices = sorted(k.type for k in KINDS.values() if k.choices == "own")
        problems.append(f"{name}: only {', '.join(with_choices)} steps have choices")

    rules = _rules(raw.get("rules"), kind, name, problems)
    for rule in rules:
        if rule.kind == "not_more_than":
            other = earlier.get(rule.value)
            if other is None or other.type != step_type:
                problems.append(
                    f"{name}: rule 'not_more_than' refers to '{rule.value}', which is not an earlier "
                    f"{step_type} step"
                )
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
        number = item.get("number")
        if number is not None and (not isinstance(number, int) or isinstance(number, bool) or number < 1):
            problems.append(f"{name}: 'number' of choice '{choice_id}' must be a positive whole number")
            number = None
        button = str(item["button"]).strip() if item.get("button") else None
        group = str(item["group"]).strip() if item.get("group") else None
        if group is not None and not allow_sub and number is None:
            problems.append(f"{name}: choice '{choice_id}' has a 'group' but no 'number'")
        out.append(
            Choice(
                choice_id,
                str(item["label"]).strip(),
                sub,
                tuple(str(a) for a in aliases),
                number,
                button,
                group,
            )
        )
    if allow_sub:
        sets = [s for c in out for s in (c.sub or (c,))]
        grouped = [s for s in sets if s.group]
        if grouped and len(grouped) != len(sets):
            missing = ", ".join(s.id for s in sets if not s.group)
            problems.append(f"{name}: every set needs a 'group' once one has it (missing: {missing})")
    return tuple(out)


def _rules(raw: object, step_kind: StepKind, name: str, problems: list[str]) -> tuple[Rule, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.append(f"{name}: 'rules' must be a list")
        return ()
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
        if kind not in step_kind.rules:
            problems.append(f"{name}: rule '{kind}' does not apply to a {step_kind.type} step")
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
        elif kind == "not_more_than":
            if not isinstance(value, str) or not ID_RE.match(value):
                problems.append(f"{name}: rule '{kind}' needs the id of an earlier number step")
                continue
        elif kind in ("min_date", "max_date"):
            parsed = parse_rule_date(value)
            if parsed is None:
                problems.append(f"{name}: rule '{kind}' needs 'today', 'today-Nm' or a date dd/mm/yyyy")
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
        known = {c.id for c in target.choices} | {s.id for c in target.choices for s in c.sub}
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
    files = sum(1 for s in steps if kind_of(s).is_file)
    print(
        f"Form OK: {len(form.sections)} sections, {len(steps)} steps "
        f"({required} required, {conditional} conditional, {files} attachments)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(form_check_main(sys.argv[1:]))
