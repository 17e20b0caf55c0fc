"""A text typed during the dossier that may be a question rather than the answer (dossier.intent):
the words' own sign, the knowledge base's match, and whether the step could take it as its answer."""

from __future__ import annotations

import pytest

from dossier.intent import (
    KB_CERTAIN,
    KB_STRONG,
    Cue,
    KnowledgeMatch,
    Verdict,
    looks_like_question,
    question_cue,
    verdict,
)
from knowledge.index import KnowledgeIndex, build_index


@pytest.mark.parametrize(
    "text",
    [
        "hồ sơ ocop gồm những gì?",
        "ho so ocop gom nhung gi",
        "cần những giấy tờ gì",
        "Tại sao phải có mã số thuế",
        "cho hỏi nộp ở đâu",
        "phải ghi như thế nào",
    ],
)
def test_questions(text: str) -> None:
    assert question_cue(text) is Cue.STRONG
    assert looks_like_question(text, "text") and looks_like_question(text, "long_text")


@pytest.mark.parametrize(
    "text",
    [
        "Hợp tác xã Nông nghiệp Phú Nghĩa",
        "Nguyễn Văn Tĩnh",
        "Hội Nông dân xã Phú Nghĩa",
        "Thôn Phú Vinh",
        "Trứng gà sạch Cường Hương",
    ],
)
def test_answers(text: str) -> None:
    assert not looks_like_question(text, "text", kb_match=0.99)  # even what the knowledge base knows


def test_a_weak_sign_needs_a_strong_match() -> None:
    description = "Gạo nếp cái hoa vàng, đóng gói hút chân không"
    assert question_cue(description) is Cue.WEAK
    assert not looks_like_question(description, "long_text", kb_match=KB_STRONG - 0.01)
    assert looks_like_question("sản phẩm của tôi có được tham gia không", "text", kb_match=KB_STRONG)


def test_other_steps_answer_a_refused_question_when_the_knowledge_base_has_something() -> None:
    q = "cần những giấy tờ gì"
    assert not looks_like_question("bao nhiêu?", "number")  # the ask-which buttons: free text only
    assert verdict(q, "number", refused=True, kb_match=0.5) is Verdict.QUESTION
    assert verdict(q, "number", refused=True, kb_match=0.0) is Verdict.ANSWER  # the step's own hint
    assert verdict("không", "yes_no", refused=False, kb_match=0.9) is Verdict.ANSWER  # its answer
    assert verdict("hồ sơ gồm giấy tờ", "date", refused=True, kb_match=KB_CERTAIN) is Verdict.QUESTION
    assert verdict("Hợp tác xã Phú Nghĩa", "choice", refused=True, kb_match=0.7) is Verdict.ANSWER
    assert verdict(q, "text", refused=False, kb_match=0.0) is Verdict.ASK


@pytest.fixture(scope="module")
def index() -> KnowledgeIndex:
    return build_index(None, {}, 0)


class _Knowledge:
    def __init__(self, index: KnowledgeIndex) -> None:
        self._index = index

    async def index(self) -> KnowledgeIndex:
        return self._index


async def test_the_knowledge_base_match_tells_a_question_from_a_description(index: KnowledgeIndex) -> None:
    match = KnowledgeMatch(_Knowledge(index))  # type: ignore[arg-type]
    assert await match("cần những giấy tờ gì") >= KB_STRONG
    description = "Sản phẩm được làm từ gạo nếp cái hoa vàng, đóng gói hút chân không"
    assert not looks_like_question(description, "long_text", await match(description))
    assert not looks_like_question("Nguyễn Thị Nhi", "name", await match("Nguyễn Thị Nhi"))
    assert await match("cảm ơn") == 0.0  # small talk is nothing to answer
