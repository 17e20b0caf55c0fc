"""A name typed all in small letters is offered back with capitals for the producer to confirm or keep
as typed (never forced); the stored value is what is printed.

- a person ("nguyễn văn an" → "Nguyễn Văn An"): every word;
- an organisation ("hợp tác xã nông nghiệp phú nghĩa" → "Hợp tác xã Nông Nghiệp Phú Nghĩa"): its legal
  form as registrations write it ("Hợp tác xã", "Công ty TNHH", "HTX"), every other word capitalised;
- a product ("trứng gà sạch cường hương" → "Trứng gà sạch cường hương"): the first letter only — the
  bot cannot tell a place or a brand, so the question asks to type those with capitals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from dossier.steps.base import (
    Current,
    Pending,
    PromptChoice,
    Question,
    Refuse,
    Result,
    Stay,
    StepContext,
    Store,
)
from dossier.steps.typed import TextKind
from dossier.validators import Invalid

USE_TITLE = "tc"
AS_TYPED = "asis"


def title_case(text: str) -> str:
    """Each word with a capital first letter, the rest as typed ("nguyễn văn an" → "Nguyễn Văn An")."""
    return " ".join(word[:1].upper() + word[1:] for word in text.split(" "))


def sentence_case(text: str) -> str:
    """The first letter a capital, the rest as typed ("trứng gà sạch" → "Trứng gà sạch")."""
    return text[:1].upper() + text[1:]


# Legal forms at the head of an organisation's name, as registrations write them (longest first).
LEGAL_FORMS = (
    "công ty trách nhiệm hữu hạn",
    "công ty cổ phần",
    "công ty tnhh",
    "công ty cp",
    "doanh nghiệp tư nhân",
    "liên hiệp hợp tác xã",
    "hợp tác xã",
    "tổ hợp tác",
    "hộ kinh doanh",
    "cơ sở",
    "công ty",
    "htx",
    "tht",
    "hkd",
    "dntn",
)
ACRONYMS = frozenset({"tnhh", "cp", "htx", "tht", "hkd", "dntn", "mtv", "ocop"})


def organisation_case(text: str) -> str:
    """The legal form as registrations write it, acronyms in capitals, every other word capitalised
    ("htx nông nghiệp phú nghĩa" → "HTX Nông Nghiệp Phú Nghĩa")."""
    words = text.split(" ")
    lowered = text.lower()
    head = next((f for f in LEGAL_FORMS if lowered == f or lowered.startswith(f + " ")), "")
    n = len(head.split()) if head else 0
    out = []
    for i, word in enumerate(words):
        if word.lower() in ACRONYMS:
            out.append(word.upper())
        elif i < n:
            out.append(sentence_case(word) if i == 0 else word)
        else:
            out.append(word[:1].upper() + word[1:])
    return " ".join(out)


@dataclass(frozen=True)
class TitleCaseOffer(Pending):
    """A name typed without capitals, waiting for «use the capitalised form» or «keep as typed»."""

    typed: str = ""

    tag = "title_case"

    def _fields(self) -> dict[str, Any]:
        return {"typed": self.typed}

    @classmethod
    def _read(cls, step: str, data: dict[str, Any]) -> Pending:
        return cls(step, str(data["typed"]))


class NameKind(TextKind):
    """A person's name: text, offered back with capitals when typed all in small letters."""

    type = "name"

    @staticmethod
    def capitalised(text: str) -> str:
        return title_case(text)

    def read_text(self, ctx: StepContext, cur: Current, text: str, today: date) -> Result:
        result = self.validate(ctx, cur.step, text, today)
        if isinstance(result, Invalid):
            return Refuse(result.message)
        value = str(result.value)
        if value == value.lower() and self.capitalised(value) != value:
            return Stay(TitleCaseOffer(cur.step.id, value))
        return Store(value)

    def press(self, ctx: StepContext, cur: Current, value: str) -> Result:
        if isinstance(cur.pending, TitleCaseOffer):
            if value == USE_TITLE:
                return Store(self.capitalised(cur.pending.typed))
            if value == AS_TYPED:
                return Store(cur.pending.typed)
        return ctx.stale()

    def question(self, ctx: StepContext, cur: Current, keep: tuple[PromptChoice, ...]) -> Question:
        if not isinstance(cur.pending, TitleCaseOffer):
            return super().question(ctx, cur, keep)
        suggested = self.capitalised(cur.pending.typed)
        return Question(
            (
                PromptChoice(ctx.label("use_title", name=suggested[:28]), USE_TITLE),
                PromptChoice(ctx.label("as_typed"), AS_TYPED),
            ),
            "text",
            "title_case",
            detail={"typed": cur.pending.typed, "suggested": suggested, "kind": self.type},
        )


class OrganisationNameKind(NameKind):
    """An organisation's name (its legal form kept as registrations write it)."""

    type = "org_name"

    @staticmethod
    def capitalised(text: str) -> str:
        return organisation_case(text)


class ProductNameKind(NameKind):
    """A product's name: only its first letter is offered as a capital."""

    type = "product_name"

    @staticmethod
    def capitalised(text: str) -> str:
        return sentence_case(text)
