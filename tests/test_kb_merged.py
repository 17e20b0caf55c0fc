"""Entries merged into another (`knowledge/data/merged.yaml`): `kb check` validates the mapping, staff-linked
questions stored under an old id follow it, and the benchmark's labels are mapped through it; the two
entries written for topics that had none (filing online, who manages a product set)."""

from pathlib import Path

import pytest
import yaml

from bench.kb import EVAL_FILE, HELDOUT_FILES, load_eval
from knowledge.decision import Decision
from knowledge.index import KnowledgeIndex, build_index
from knowledge.kb import ERROR, KnowledgeBase, load_merged


def _entry(entry_id: str, questions: list[str]) -> dict[str, object]:
    return {
        "id": entry_id,
        "title": f"Tiêu đề {entry_id}",
        "questions": questions,
        "answer": "Câu trả lời.",
        "tags": ["t"],
        "sources": ["S1"],
        "rule": "QĐ 26/2026/QĐ-TTg",
        "valid_from": "2026-05-22",
        "reviewed": "2026-11-30",
    }


def _write(root: Path, entries: list[dict[str, object]], merged: dict[str, str]) -> Path:
    (root / "entries").mkdir(parents=True)
    (root / "entries" / "a.yaml").write_text(
        yaml.safe_dump({"entries": entries}, allow_unicode=True), "utf-8"
    )
    (root / "sources.yaml").write_text(
        yaml.safe_dump({"sources": {"S1": {"title": "Nguồn", "publisher": "p", "url": "u"}}}), "utf-8"
    )
    (root / "merged.yaml").write_text(yaml.safe_dump({"merged": merged}), "utf-8")
    return root


def test_merged_ids_follow_chains_and_are_checked(tmp_path: Path) -> None:
    entries = [
        _entry("nop-ho-so", ["nộp hồ sơ ocop ở đâu", "hồ sơ gửi cho ai"]),
        _entry("ocop-la-gi", ["ocop là gì", "ocop nghĩa là gì"]),
    ]
    _write(tmp_path, entries, {"noi-nop": "noi-nop-cu", "noi-nop-cu": "nop-ho-so", "ocop-la-gi": "nop-ho-so"})
    assert load_merged(tmp_path) == {
        "noi-nop": "nop-ho-so",
        "noi-nop-cu": "nop-ho-so",
        "ocop-la-gi": "nop-ho-so",
    }
    errors = [str(p) for p in KnowledgeBase.load(tmp_path).check() if p.level == ERROR]
    assert len(errors) == 1 and "'ocop-la-gi'" in errors[0]  # merged, yet still an entry

    (tmp_path / "merged.yaml").write_text(yaml.safe_dump({"merged": {"noi-nop": "khong-co"}}), "utf-8")
    errors = [str(p) for p in KnowledgeBase.load(tmp_path).check() if p.level == ERROR]
    assert len(errors) == 1 and "'khong-co'" in errors[0]


def test_staff_linked_questions_follow_a_merged_entry(tmp_path: Path) -> None:
    entries = [
        _entry("nop-ho-so", ["nộp hồ sơ ocop ở đâu", "hồ sơ gửi cho ai"]),
        _entry("ocop-la-gi", ["ocop là gì", "ocop nghĩa là gì"]),
    ]
    _write(tmp_path, entries, {"noi-nop": "nop-ho-so"})
    linked = "bộ phận một cửa phường nhận giấy tờ ocop"
    index = build_index(tmp_path, {"noi-nop": [linked]}, 1)
    match = index.matcher.match(linked)
    assert match.decision is Decision.ANSWER and match.entry_id == "nop-ho-so"
    assert "noi-nop" not in index.kb.entries


def test_benchmark_labels_name_live_entries_after_merging(tmp_path: Path, real_index: KnowledgeIndex) -> None:
    merged = load_merged()
    assert merged["ubnd-xa-lam-gi"] == "cap-nao-danh-gia-hien-nay"
    path = tmp_path / "set.yaml"
    path.write_text(
        yaml.safe_dump({"in_scope": [{"q": "xã làm gì", "entry": "ubnd-xa-lam-gi", "kind": "plain"}]}),
        "utf-8",
    )
    assert load_eval(path)[0][0]["entry"] == "cap-nao-danh-gia-hien-nay"
    for question_set in (EVAL_FILE, *HELDOUT_FILES):
        in_scope, _ = load_eval(question_set)
        assert {item["entry"] for item in in_scope} <= set(real_index.kb.entries), question_set.name


@pytest.mark.parametrize(
    ("question", "entry"),
    [
        ("nộp hồ sơ ocop online được không", "nop-ho-so-truc-tuyen"),
        ("hs ocop nop qua cong dich vu cong dc ko", "nop-ho-so-truc-tuyen"),
        ("bộ sản phẩm rượu của tôi do cơ quan nào quản lý", "co-quan-quan-ly-bo-san-pham"),
    ],
)
def test_new_topics_are_answered(real_index: KnowledgeIndex, question: str, entry: str) -> None:
    match = real_index.matcher.match(question)
    assert match.decision is Decision.ANSWER and match.entry_id == entry, match


@pytest.mark.parametrize("question", ["cơ quan nào quản lý chợ", "nộp hồ sơ xin học bổng online"])
def test_near_misses_of_the_new_topics_are_declined(real_index: KnowledgeIndex, question: str) -> None:
    assert real_index.matcher.match(question).decision is not Decision.ANSWER


def test_new_entries_say_which_rule_applies(real_index: KnowledgeIndex) -> None:
    for entry_id in ("nop-ho-so-truc-tuyen", "co-quan-quan-ly-bo-san-pham"):
        entry = real_index.kb.entries[entry_id]
        assert "26/2026" in entry.rule and "148/2023" in entry.rule and "1489/2025" in entry.rule
        assert "26/2026" in entry.answer and "148/2023" in entry.answer
        assert entry.unverified and set(entry.sources) <= {"S51", "S52"}
