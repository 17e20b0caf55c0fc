"""A text that looks like a question at a free-text answer step (dossier.intent)."""

from __future__ import annotations

import pytest

from dossier.intent import looks_like_question


@pytest.mark.parametrize(
    "text",
    [
        "hồ sơ ocop gồm những gì?",
        "ho so ocop gom nhung gi",
        "Tại sao phải có mã số thuế",
        "cho hỏi nộp ở đâu",
    ],
)
def test_questions(text: str) -> None:
    assert looks_like_question(text, "text") and looks_like_question(text, "long_text")


@pytest.mark.parametrize(
    "text",
    ["Hợp tác xã Nông nghiệp Phú Nghĩa", "Nguyễn Văn Tĩnh", "Thôn Phú Vinh", "Trứng gà sạch Cường Hương"],
)
def test_answers(text: str) -> None:
    assert not looks_like_question(text, "text")


def test_only_free_text_steps() -> None:
    assert not looks_like_question("bao nhiêu?", "number")
    assert not looks_like_question("có không?", "yes_no")
