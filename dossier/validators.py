"""Parses and checks one typed answer for a step: phone, tax code, date, number with unit, text.

Each parser turns what the user typed into the value stored in the dossier's answers (a JSON-able value)
or an `Invalid` carrying the message from the form data. No Vietnamese text lives here: the messages
come from dossier/form.yaml. Emoji and HTML are stored as typed; escaping happens when rendering.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

from dossier.form import ABSOLUTE_MAX_LENGTH, DEFAULT_MAX_LENGTH, Form, Rule, Step, fill


@dataclass(frozen=True)
class Valid:
    value: Any


@dataclass(frozen=True)
class Invalid:
    message: str


Result = Valid | Invalid

# ------------------------------------------------------------------------------------ pure parsers

_PHONE_JUNK_RE = re.compile(r"[\s.\-()/]")
_MOBILE_RE = re.compile(r"^0[35789]\d{8}$")
_LANDLINE_RE = re.compile(r"^02\d{9}$")  # 02x area code + 8 digits = 11 digits (e.g. 024 3xxx xxxx)


def parse_phone(text: str) -> str | None:
    """A Vietnamese phone number normalised to 0xxxxxxxxx, or None.

    Accepts spaces, dots, dashes and brackets, a +84 / 84 / (+84) prefix, mobile numbers (10 digits,
    03/05/07/08/09) and landlines (11 digits starting 02).
    """
    cleaned = _PHONE_JUNK_RE.sub("", text.strip())
    if cleaned.startswith("+84"):
        cleaned = "0" + cleaned[3:]
    elif cleaned.startswith("0084"):
        cleaned = "0" + cleaned[4:]
    elif cleaned.startswith("84") and len(cleaned) in (11, 12):
        cleaned = "0" + cleaned[2:]
    if cleaned.startswith("00"):
        return None
    if _MOBILE_RE.match(cleaned) or _LANDLINE_RE.match(cleaned):
        return cleaned
    return None


_TAX_RE = re.compile(r"^(\d{10})(?:-(\d{3}))?$|^(\d{12})$")


def parse_tax_code(text: str) -> str | None:
    """A tax code: 10 digits, 10 digits + '-' + 3 (a branch), or a 12-digit personal id number.

    Since 1/7/2025 household businesses use the owner's 12-digit personal identification number as
    their tax code, so that form is accepted too. Spaces and dots are ignored.
    """
    cleaned = re.sub(r"[\s.]", "", text.strip())
    cleaned = re.sub(r"[–—]", "-", cleaned)
    if _TAX_RE.match(cleaned):
        return cleaned
    return None


_DATE_RE = re.compile(r"^(\d{1,2})\s*[/\-.]\s*(\d{1,2})\s*[/\-.]\s*(\d{4})$")


def parse_date(text: str) -> date | None:
    """dd/mm/yyyy, d/m/yyyy, dd-mm-yyyy or dd.mm.yyyy; None for a malformed or impossible date."""
    match = _DATE_RE.match(text.strip())
    if not match:
        return None
    day, month, year = (int(g) for g in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        return None


_NUMBER_RE = re.compile(r"(?<![\d.,])(\d[\d.,]*)")


def parse_decimal(token: str) -> float | None:
    """A Vietnamese-style number: '.' groups thousands, ',' is the decimal mark ('1.500,5' = 1500.5).

    Also reads '1,500.5' (English), '2,5' (= 2.5), '1.5' (one dot not followed by 3 digits = 1.5).
    """
    token = token.strip().rstrip(".,")
    if not token or not token[0].isdigit():
        return None
    dots, commas = token.count("."), token.count(",")
    if dots and commas:
        decimal_mark = "," if token.rfind(",") > token.rfind(".") else "."
        thousands = "." if decimal_mark == "," else ","
        whole, _, frac = token.rpartition(decimal_mark)
        if decimal_mark in whole or not _groups_ok(whole, thousands):
            return None
        return float(whole.replace(thousands, "") + "." + frac)
    for mark, count in ((".", dots), (",", commas)):
        if not count:
            continue
        if _groups_ok(token, mark) and (count > 1 or mark == "."):
            return float(token.replace(mark, ""))  # 1.500 / 1.500.000 / 1,500,000
        if count == 1:
            whole, frac = token.split(mark)
            return float(f"{whole}.{frac}")  # 2,5 / 1,500 (Vietnamese decimal comma) / 1.5
        return None
    return float(token)


def _groups_ok(text: str, mark: str) -> bool:
    parts = text.split(mark)
    return 1 <= len(parts[0]) <= 3 and all(len(p) == 3 and p.isdigit() for p in parts[1:]) and len(parts) > 1


def parse_quantity(text: str) -> tuple[float, str] | None:
    """'1.500 kg' → (1500.0, 'kg'); '2,5 tấn' → (2.5, 'tấn'); '1500kg' → (1500.0, 'kg').

    Words before the number ('khoảng 2 tấn') are ignored; the unit is what follows it (may be '').
    Returns None when there is no number or the number is not positive.
    """
    text = unicodedata.normalize("NFC", text.strip())
    match = _NUMBER_RE.search(text)
    if not match:
        return None
    if any(ch.isdigit() for ch in text[: match.start()]) or "-" in text[: match.start()][-2:]:
        return None
    value = parse_decimal(match.group(1))
    if value is None or value <= 0:
        return None
    unit = " ".join(text[match.end() :].split()).strip(" .,;:")
    return value, unit


def clean_text(text: str) -> str:
    """NFC and trimmed; inner content (emoji, HTML, line breaks) kept as typed."""
    text = unicodedata.normalize("NFC", text)
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------ step validation


def validate_typed(form: Form, step: Step, raw: str, today: date) -> Result:
    """Parse and check what the user typed for a typed-answer step (not choices or files)."""
    text = clean_text(raw)
    if not text:
        return Invalid(form.message("required", step))
    if step.type in ("text", "long_text"):
        return _validate_text(form, step, text)
    if len(text) > ABSOLUTE_MAX_LENGTH:
        return Invalid(form.message("too_long", step, max=ABSOLUTE_MAX_LENGTH, length=len(text)))
    if step.type == "phone":
        phone = parse_phone(text)
        return Valid(phone) if phone else Invalid(form.message("phone_invalid", step))
    if step.type == "tax_code":
        code = parse_tax_code(text)
        return Valid(code) if code else Invalid(form.message("tax_code_invalid", step))
    if step.type == "date":
        return _validate_date(form, step, text, today)
    if step.type == "number":
        return _validate_number(form, step, text)
    raise ValueError(f"step {step.id}: type {step.type} is not typed text")


def _validate_text(form: Form, step: Step, text: str) -> Result:
    length = len(text)
    max_rule = step.rule("max_length")
    limit = DEFAULT_MAX_LENGTH[step.type]
    if max_rule is not None and length > max_rule.value:
        return Invalid(_rule_message(max_rule, length=length))
    if length > limit:
        return Invalid(form.message("too_long", step, max=limit, length=length))
    min_rule = step.rule("min_length")
    if min_rule is not None and length < min_rule.value:
        return Invalid(_rule_message(min_rule, length=length))
    pattern = step.rule("pattern")
    if pattern is not None and not pattern.value.fullmatch(text):
        return Invalid(_rule_message(pattern, length=length))
    return Valid(text)


def _validate_date(form: Form, step: Step, text: str, today: date) -> Result:
    value = parse_date(text)
    if value is None:
        return Invalid(form.message("date_invalid", step))
    for kind in ("min_date", "max_date"):
        rule = step.rule(kind)
        if rule is None:
            continue
        bound = today if rule.value == "today" else rule.value
        if (kind == "max_date" and value > bound) or (kind == "min_date" and value < bound):
            return Invalid(_rule_message(rule, date=bound.strftime("%d/%m/%Y")))
    return Valid(value.isoformat())


def _validate_number(form: Form, step: Step, text: str) -> Result:
    parsed = parse_quantity(text)
    if parsed is None:
        return Invalid(form.message("number_invalid", step))
    value, unit = parsed
    if not unit:
        return Invalid(form.message("unit_missing", step))
    for kind in ("min", "max"):
        rule = step.rule(kind)
        if rule is None:
            continue
        if (kind == "min" and value < rule.value) or (kind == "max" and value > rule.value):
            return Invalid(_rule_message(rule))
    if len(unit) > 40:
        return Invalid(form.message("unit_missing", step))
    number: float | int = int(value) if value.is_integer() else value
    return Valid({"value": number, "unit": unit})


def _rule_message(rule: Rule, **values: Any) -> str:
    bound = rule.value
    if isinstance(bound, date):
        bound = bound.strftime("%d/%m/%Y")
    fields = {"min": bound, "max": bound}
    fields.update(values)
    return fill(rule.message, **fields)
