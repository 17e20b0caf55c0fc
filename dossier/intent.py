"""Whether a text typed during the dossier is a question rather than the answer to the current step
("hồ sơ ocop gồm những gì?" at the producer's name, "cần những giấy tờ gì" at the number of workers).

Three signs are weighed: the words (a question mark or an unmistakable question word — strong; a word
that ends questions but also ordinary answers, such as «không» in «hút chân không» — weak), how
strongly the knowledge base matches the text (`QuestionMatcher`, given to the dossier service by the
composition root), and whether the text could be the answer at all (the step's own check).

- At a free-text step (a name, a description) anything may be the answer: a strong sign, or a weak
  one with a strong knowledge-base match, makes the bot ask which it is (two buttons).
- At any other step (a number, a date, a button) a text the step refuses is a question when the
  knowledge base has something for it — anything with a strong sign, a strong match with a weak sign,
  a very strong match without: it is answered and the step waits. Otherwise the step's own message
  (what to type, with an example) is the better reply.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from knowledge.normalize import fold_text

if TYPE_CHECKING:
    from knowledge.service import KnowledgeService

FREE_TEXT_TYPES = frozenset({"text", "name", "org_name", "product_name", "long_text"})
# Folded (no diacritics, lower case) words that open a Vietnamese question.
QUESTION_OPENINGS = (
    "tai sao",
    "vi sao",
    "lam sao",
    "lam the nao",
    "the nao",
    "cho hoi",
    "xin hoi",
    "co phai",
    "bao gio",
    "bao nhieu",
    "o dau",
)
# Endings that only questions have.
STRONG_ENDINGS = (
    " gi",
    " bao nhieu",
    " bao gio",
    " the nao",
    " nhu nao",
    " o dau",
    " lam sao",
    " duoc khong",
    " hay khong",
    " phai khong",
    " dung khong",
    " khong a",
    " chua a",
    " sao a",
    " the a",
)
# Endings of questions that ordinary answers also have ("đóng gói hút chân không", "hàng nào cũng").
WEAK_ENDINGS = (" khong", " chua", " nao", " sao", " dau", " ai", " nhi", " ko", " k")
# The knowledge base's confidence (lexical evidence, 0..1) that counts as a strong match: with a weak
# sign at a free-text step, or with a sign at another step, the text is taken for a question.
KB_STRONG = 0.6
# Without any sign, a text another step refuses is a question only when the match is this strong.
KB_CERTAIN = 0.85


class Cue(StrEnum):
    NONE = "none"
    WEAK = "weak"
    STRONG = "strong"


class Verdict(StrEnum):
    """What to do with a typed text: take it as the answer, ask which it is, or answer it."""

    ANSWER = "answer"
    ASK = "ask"
    QUESTION = "question"


class QuestionMatcher(Protocol):
    """How strongly the knowledge base matches a text: its confidence when it would answer or offer
    entries, 0.0 when it would not (small talk, another subject, nothing close)."""

    async def __call__(self, text: str) -> float: ...


def question_cue(text: str) -> Cue:
    """The words' own sign: strong (a question mark, a question opening or ending), weak, or none."""
    if "?" in text:
        return Cue.STRONG
    folded = " " + " ".join(fold_text(text).split())
    if not folded.strip():
        return Cue.NONE
    if folded.strip().startswith(QUESTION_OPENINGS) or folded.endswith(STRONG_ENDINGS):
        return Cue.STRONG
    if folded.endswith(WEAK_ENDINGS):
        return Cue.WEAK
    return Cue.NONE


def looks_like_question(text: str, step_type: str, kb_match: float = 0.0) -> bool:
    """At a free-text step: whether to ask "answer or question?" (a strong sign, or a weak sign with
    a strong knowledge-base match). Always False at other step types (see `verdict`)."""
    if step_type not in FREE_TEXT_TYPES:
        return False
    cue = question_cue(text)
    return cue is Cue.STRONG or (cue is Cue.WEAK and kb_match >= KB_STRONG)


def verdict(text: str, step_type: str, *, refused: bool, kb_match: float) -> Verdict:
    """The decision for a text typed at a step of `step_type`; `refused`: the step's check refused it
    as an answer (only meaningful at other than free-text steps)."""
    if step_type in FREE_TEXT_TYPES:
        return Verdict.ASK if looks_like_question(text, step_type, kb_match) else Verdict.ANSWER
    if not refused:
        return Verdict.ANSWER  # «không» at a yes/no step is its answer
    needed = {Cue.STRONG: 0.0, Cue.WEAK: KB_STRONG, Cue.NONE: KB_CERTAIN}[question_cue(text)]
    return Verdict.QUESTION if kb_match > 0.0 and kb_match >= needed else Verdict.ANSWER


def needs_match(text: str, step_type: str | None, *, refused: bool) -> bool:
    """Whether the knowledge base's match could change the verdict (it is only asked then)."""
    if step_type in FREE_TEXT_TYPES:
        return question_cue(text) is Cue.WEAK
    return refused


class KnowledgeMatch:
    """`QuestionMatcher` over the knowledge service: the matcher's lexical evidence when it would
    answer or suggest; nothing is stored (the question is stored if the producer asks it)."""

    def __init__(self, knowledge: KnowledgeService) -> None:
        self.knowledge = knowledge

    async def __call__(self, text: str) -> float:
        from knowledge.decision import Decision

        index = await self.knowledge.index()
        match = index.matcher.match(text)
        if match.small_talk or match.out_of_scope is not None or match.decision is Decision.UNKNOWN:
            return 0.0
        return float(match.evidence)
