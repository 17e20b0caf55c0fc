"""The real knowledge base passes its own check: no schema errors and no sample-question collisions.

A collision error means a sample question of one entry is answered, with high confidence, by another
entry (see `knowledge.check.collisions`): the two entries overlap or the sample is misfiled.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from knowledge.check import problems as kb_problems
from knowledge.decision import Decision
from knowledge.index import KnowledgeIndex
from knowledge.kb import ERROR, KnowledgeBase

ROOT = Path(__file__).resolve().parent.parent


def test_real_knowledge_base_check_has_no_errors() -> None:
    errors = [str(p) for p in kb_problems(KnowledgeBase.load()) if p.level == ERROR]
    assert errors == []


def test_kb_check_command_exits_zero() -> None:
    result = subprocess.run(
        [sys.executable, "bot.py", "kb", "check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 error(s)" in result.stdout


# Questions written for this test (not in the benchmark sets): about OCOP, and about other subjects that
# share its words or place names. The real data must keep telling them apart.
IN_SCOPE = [
    ("giấy tờ cần nộp khi đăng ký ocop là những gì", "ho-so-gom-nhung-gi"),
    ("bao nhieu diem thi dc 4 sao", "cac-hang-sao"),
    ("xã thủy xuân tiên cũ bây giờ là xã nào", "nop-ho-so-o-dau"),
]
OTHER_SUBJECTS = [
    ("xin giấy phép xây nhà ở xã trần phú cần gì", "dat-dai"),
    ("giá lợn hơi ở chương mỹ hôm nay", "gia-ca-thi-truong"),
    ("tối nay phú nghĩa có mưa to không", "thoi-tiet"),
    ("gà nhà em bị khò khè chữa thế nào", "chan-nuoi-thu-y"),
]


def test_real_matcher_answers_ocop_and_declines_other_subjects(real_index: KnowledgeIndex) -> None:
    matcher = real_index.matcher
    for question, entry_id in IN_SCOPE:
        match = matcher.match(question)
        assert (match.decision, match.entry_id) == (Decision.ANSWER, entry_id), (question, match)
    for question, topic in OTHER_SUBJECTS:
        match = matcher.match(question)
        assert match.decision is Decision.UNKNOWN and match.out_of_scope == topic, (question, match)
