"""Pure parsers of typed answers: Vietnamese phone numbers, tax codes, dates, numbers with units, text.

Each parser turns what the user typed into the value stored in the dossier's answers, or None. The step
kinds (dossier.steps.typed) apply them with the step's rules and answer `Valid` or `Invalid` with the
form's message. Emoji and HTML are stored as typed; escaping happens when rendering.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any


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


_DATE_RE = re.compile(r"^(\d{1,2})\s*[/\-.]\s*(\d{1,2})\s*[/\-.]\s*(\d{4}|\d{2})$")


def parse_date(text: str, today: date | None = None) -> date | None:
    """dd/mm/yyyy, d/m/yyyy, dd-mm-yyyy, dd.mm.yyyy, or with a two-digit year (15.3.23); None for a
    malformed or impossible date. A two-digit year is this century's unless that lies after `today`'s
    year (then the last century's: 15.3.98 is 1998)."""
    match = _DATE_RE.match(text.strip())
    if not match:
        return None
    day, month, year = (int(g) for g in match.groups())
    if len(match.group(3)) == 2:
        year += 2000
        if today is not None and year > today.year:
            year -= 100
    try:
        return date(year, month, day)
    except ValueError:
        return None


_RELATIVE_RE = re.compile(r"^today-(\d{1,3})m$")


def date_bound(value: date | str, today: date) -> date:
    """The date a date rule names: a fixed date, 'today', or 'today-36m' (36 months before today)."""
    if isinstance(value, date):
        return value
    match = _RELATIVE_RE.match(value)
    if value == "today" or not match:
        return today
    months = today.year * 12 + today.month - 1 - int(match.group(1))
    year, month = divmod(months, 12)
    month += 1
    for day in (today.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    return date(year, month, 28)


_NUMBER_RE = re.compile(r"(?<![\d.,])(\d[\d.,]*)")


_NUMBER_CHARS = re.compile(r"[0-9][0-9.,]*")


def parse_decimal(token: str) -> float | None:
    """A Vietnamese-style number: '.' groups thousands, ',' is the decimal mark ('1.500,5' = 1500.5).

    Also reads '1,500.5' (English), '2,5' (= 2.5), '1.5' (one dot not followed by 3 digits = 1.5).
    """
    token = token.strip().rstrip(".,")
    if not token or not _NUMBER_CHARS.fullmatch(token):
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


def normalise_unit(unit: str, spellings: Mapping[str, str]) -> str:
    """A unit as it should be printed: each word typed without diacritics that the form's `units`
    list knows gets them back ('tan' → 'tấn', 'kg/ngay' → 'kg/ngày'); words typed with diacritics, and
    unknown words, stay as typed."""

    def fix(match: re.Match[str]) -> str:
        word = match.group(0)
        if not word.isascii():
            return word
        return spellings.get(word.lower(), word)

    return re.sub(r"[^\W\d_]+", fix, unit)


def clean_text(text: str) -> str:
    """NFC and trimmed; inner content (emoji, HTML, line breaks) kept as typed."""
    text = unicodedata.normalize("NFC", text)
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return "\n".join(lines)
