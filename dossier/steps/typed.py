"""Steps answered by typing one value: text, long text, phone, tax code, date, number with unit.

Each kind parses what the user typed (dossier.validators) into the stored value, checks the step's
rules and answers with the form's own message when the value is refused.
"""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from common.render import format_number
from dossier.schema import Rule, Step, fill
from dossier.steps.base import Current, PromptChoice, Question, Refuse, Result, StepContext, StepKind, Store
from dossier.validators import (
    Invalid,
    Valid,
    clean_text,
    date_bound,
    normalise_unit,
    parse_date,
    parse_phone,
    parse_quantity,
    parse_tax_code,
)

# Hard ceiling for any typed answer (also guards the types that have no length rule).
ABSOLUTE_MAX_LENGTH = 3000


class TypedKind(StepKind):
    """A step answered by typing: `validate` turns the text into the stored value or a message."""

    def read_text(self, ctx: StepContext, cur: Current, text: str, today: date) -> Result:
        result = self.validate(ctx, cur.step, text, today)
        return Refuse(result.message) if isinstance(result, Invalid) else Store(result.value)

    def validate(self, ctx: StepContext, step: Step, raw: str, today: date) -> Valid | Invalid:
        text = clean_text(raw)
        if not text:
            return Invalid(ctx.form.message("required", step))
        if len(text) > ABSOLUTE_MAX_LENGTH:
            return Invalid(ctx.form.message("too_long", step, max=ABSOLUTE_MAX_LENGTH, length=len(text)))
        return self.parse(ctx, step, text, today)

    def parse(self, ctx: StepContext, step: Step, text: str, today: date) -> Valid | Invalid:
        raise NotImplementedError

    def question(self, ctx: StepContext, cur: Current, keep: tuple[PromptChoice, ...]) -> Question:
        return Question(keep, "text")


class TextKind(TypedKind):
    type = "text"
    rules = frozenset({"min_length", "max_length", "pattern"})
    messages = ("too_long",)
    default_max_length: ClassVar[int] = 1000

    def validate(self, ctx: StepContext, step: Step, raw: str, today: date) -> Valid | Invalid:
        text = clean_text(raw)
        if not text:
            return Invalid(ctx.form.message("required", step))
        length = len(text)
        max_rule = step.rule("max_length")
        if max_rule is not None and length > max_rule.value:
            return Invalid(rule_message(max_rule, length=length))
        if length > self.default_max_length:
            return Invalid(ctx.form.message("too_long", step, max=self.default_max_length, length=length))
        min_rule = step.rule("min_length")
        if min_rule is not None and length < min_rule.value:
            return Invalid(rule_message(min_rule, length=length))
        pattern = step.rule("pattern")
        if pattern is not None and not pattern.value.fullmatch(text):
            return Invalid(rule_message(pattern, length=length))
        return Valid(text)


class LongTextKind(TextKind):
    type = "long_text"
    default_max_length = ABSOLUTE_MAX_LENGTH


class PhoneKind(TypedKind):
    type = "phone"
    messages = ("phone_invalid",)

    def parse(self, ctx: StepContext, step: Step, text: str, today: date) -> Valid | Invalid:
        phone = parse_phone(text)
        return Valid(phone) if phone else Invalid(ctx.form.message("phone_invalid", step))


class TaxCodeKind(TypedKind):
    type = "tax_code"
    messages = ("tax_code_invalid",)

    def parse(self, ctx: StepContext, step: Step, text: str, today: date) -> Valid | Invalid:
        code = parse_tax_code(text)
        return Valid(code) if code else Invalid(ctx.form.message("tax_code_invalid", step))


class DateKind(TypedKind):
    """Stored as 'YYYY-MM-DD'; bounds 'today', 'today-36m' or a fixed date."""

    type = "date"
    rules = frozenset({"min_date", "max_date"})
    messages = ("date_invalid",)

    def parse(self, ctx: StepContext, step: Step, text: str, today: date) -> Valid | Invalid:
        value = parse_date(text, today)
        if value is None:
            return Invalid(ctx.form.message("date_invalid", step))
        for kind in ("min_date", "max_date"):
            rule = step.rule(kind)
            if rule is None:
                continue
            bound = date_bound(rule.value, today)
            if (kind == "max_date" and value > bound) or (kind == "min_date" and value < bound):
                return Invalid(rule_message(rule, date=bound.strftime("%d/%m/%Y")))
        return Valid(value.isoformat())

    def display(self, ctx: StepContext, step: Step, value: Any) -> str:
        try:
            return date.fromisoformat(value).strftime("%d/%m/%Y")
        except (TypeError, ValueError):
            return str(value)


class NumberKind(TypedKind):
    """A positive quantity with its unit, stored as {value, unit}. `not_more_than: <step>` compares it
    with an earlier number step's answer (local workers ≤ workers); the engine checks it, having all
    the answers."""

    type = "number"
    rules = frozenset({"min", "max", "not_more_than"})
    messages = ("number_invalid", "unit_missing")

    def parse(self, ctx: StepContext, step: Step, text: str, today: date) -> Valid | Invalid:
        parsed = parse_quantity(text)
        if parsed is None:
            return Invalid(ctx.form.message("number_invalid", step))
        value, unit = parsed
        if not unit:
            return Invalid(ctx.form.message("unit_missing", step))
        for kind in ("min", "max"):
            rule = step.rule(kind)
            if rule is None:
                continue
            if (kind == "min" and value < rule.value) or (kind == "max" and value > rule.value):
                return Invalid(rule_message(rule))
        if len(unit) > 40:
            return Invalid(ctx.form.message("unit_missing", step))
        number: float | int = int(value) if value.is_integer() else value
        return Valid({"value": number, "unit": normalise_unit(unit, ctx.form.units)})

    def display(self, ctx: StepContext, step: Step, value: Any) -> str:
        return f"{format_number(value['value'])} {value.get('unit') or ''}".strip()


def rule_message(rule: Rule, **values: Any) -> str:
    """A rule's own message, with {min}/{max} (the bound) and the given values filled in."""
    bound = rule.value
    if isinstance(bound, date):
        bound = bound.strftime("%d/%m/%Y")
    fields = {"min": bound, "max": bound}
    fields.update(values)
    return fill(rule.message, **fields)
