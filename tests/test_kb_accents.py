"""Accents help when present: over the evaluation questions typed with diacritics, the matcher is right
at least as often as on the same questions with the diacritics stripped."""

from __future__ import annotations

from pathlib import Path

import yaml

from knowledge.decision import Decision
from knowledge.index import KnowledgeIndex
from knowledge.normalize import fold

EVAL = Path(__file__).resolve().parent.parent / "bench" / "data" / "kb_eval.yaml"


def test_accented_questions_match_at_least_as_well_as_their_folded_form(real_index: KnowledgeIndex) -> None:
    matcher = real_index.matcher
    questions = yaml.safe_load(EVAL.read_text(encoding="utf-8"))["in_scope"]
    accented = [x for x in questions if fold(x["q"]) != x["q"].lower()]
    assert len(accented) >= 100

    def right(text: str, entry: str) -> bool:
        match = matcher.match(text)
        return match.decision is Decision.ANSWER and match.entry_id == entry

    with_accents = sum(right(x["q"], x["entry"]) for x in accented)
    folded = sum(right(fold(x["q"]), x["entry"]) for x in accented)
    assert with_accents >= folded
