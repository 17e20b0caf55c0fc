"""Whether a text typed at a step that expects a free-text answer looks like a question instead
("hồ sơ ocop gồm những gì?" at the producer's name): then the producer is asked which it is."""

from __future__ import annotations

from knowledge.normalize import fold_text

FREE_TEXT_TYPES = frozenset({"text", "name", "long_text"})
# Folded (no diacritics, lower case) words that open or close a Vietnamese question.
QUESTION_OPENINGS = ("tai sao", "vi sao", "lam sao", "lam the nao", "cho hoi", "xin hoi", "hoi ", "co phai")
QUESTION_ENDINGS = (" gi", " nao", " dau", " bao nhieu", " khong", " chua", " sao", " bao gio", " ai")


def looks_like_question(text: str, step_type: str) -> bool:
    """True for a question mark or a question word at either end, at a free-text step only."""
    if step_type not in FREE_TEXT_TYPES:
        return False
    if "?" in text:
        return True
    folded = " " + " ".join(fold_text(text).split())
    return folded.strip().startswith(QUESTION_OPENINGS) or folded.endswith(QUESTION_ENDINGS)
