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


def test_star_counts_spoken_as_words_are_the_numbers(real_index: KnowledgeIndex) -> None:
    """Voice-to-text writes "bốn sao" where a typist writes "4 sao": both ask the same."""
    matcher = real_index.matcher
    assert matcher.prepare_query("muốn lên bốn sao thì làm gì").folded == "muon len 4 sao thi lam gi"
    spoken = (
        "nhà tôi ở thôn Phú Vinh làm mây tre đan hơn bốn chục năm rồi được ba sao từ năm hai mốt giờ "
        "thằng con trai nó muốn lên bốn sao cho bằng người ta thì phải làm những gì"
    )
    match = matcher.match(spoken)
    assert match.decision is Decision.ANSWER and match.entry_id == "nang-hang-sao", match
