"""Paraphrases (`knowledge/data/paraphrases/*.yaml`): loaded per entry (merged ids followed, duplicates
dropped), checked (an unknown entry, a question that is also another subject's), used to train the
classifier only; and an entry's `detail`."""

from pathlib import Path

import yaml

from knowledge.kb import ERROR, KnowledgeBase
from knowledge.retrieval import Matcher
from tests.test_kb_merged import _entry, _write

OUT_OF_SCOPE = {
    "topics": [
        {
            "id": "thoi-tiet",
            "title": "Thời tiết",
            "where": "Bản tin thời tiết",
            "questions": ["mai có mưa không", "thời tiết tuần này thế nào", "bao giờ hết rét"],
        }
    ]
}


def _kb(root: Path, paraphrases: dict[str, list[str]], merged: dict[str, str] | None = None) -> Path:
    entries = [
        _entry("nop-ho-so", ["nộp hồ sơ ocop ở đâu", "hồ sơ gửi cho ai"]),
        _entry("ocop-la-gi", ["ocop là gì", "ocop nghĩa là gì"]),
    ]
    _write(root, entries, merged or {})
    (root / "out_of_scope.yaml").write_text(yaml.safe_dump(OUT_OF_SCOPE, allow_unicode=True), "utf-8")
    (root / "paraphrases").mkdir()
    (root / "paraphrases" / "a.yaml").write_text(yaml.safe_dump(paraphrases, allow_unicode=True), "utf-8")
    return root


def test_paraphrases_are_loaded_per_entry_following_merged_ids(tmp_path: Path) -> None:
    root = _kb(
        tmp_path,
        {
            "nop-ho-so": ["mang giấy tờ đi đâu nộp", "Mang giấy tờ đi đâu nộp"],  # the same once folded
            "noi-nop-cu": ["đem hồ sơ tới chỗ nào"],  # an old id: follows merged.yaml
        },
        merged={"noi-nop-cu": "nop-ho-so"},
    )
    kb = KnowledgeBase.load(root)
    assert set(kb.paraphrases) == {"nop-ho-so"}
    assert sorted(kb.paraphrases["nop-ho-so"]) == ["mang giấy tờ đi đâu nộp", "đem hồ sơ tới chỗ nào"]
    assert not [p for p in kb.check() if p.level == ERROR]


def test_a_paraphrase_of_no_entry_or_of_another_subject_is_an_error(tmp_path: Path) -> None:
    root = _kb(tmp_path, {"khong-co": ["câu hỏi"], "ocop-la-gi": ["mai có mưa không", "chữ ocop là gì"]})
    kb = KnowledgeBase.load(root)
    errors = [str(p) for p in kb.check() if p.level == ERROR]
    assert any("khong-co" in e and "no such entry" in e for e in errors), errors
    assert any("mai có mưa không" in e and "thoi-tiet" in e for e in errors), errors
    assert kb.paraphrases == {"ocop-la-gi": ("chữ ocop là gì",)}  # the good one is kept


def test_paraphrases_teach_the_classifier_not_the_lexical_index(tmp_path: Path) -> None:
    taught = ["ra xã bộ phận một cửa mang giấy tờ", "mang giấy tờ ra một cửa của xã", "bộ phận một cửa xã"]
    root = _kb(tmp_path, {"nop-ho-so": taught})
    kb = KnowledgeBase.load(root)
    matcher = Matcher(kb)
    assert all(sample.text not in taught for sample in matcher.samples)  # never a sample, never shown
    without = Matcher(KnowledgeBase.load(_kb(tmp_path / "plain", {})))
    question = "mang giấy tờ ra bộ phận một cửa"
    entry = matcher.entry_index["nop-ho-so"]
    assert matcher._class_probabilities(question)[entry] > without._class_probabilities(question)[entry]


def test_detail_is_a_string_and_splits_into_paragraphs(tmp_path: Path) -> None:
    entry = _entry("nop-ho-so", ["nộp hồ sơ ocop ở đâu"])
    entry["detail"] = "Bảng thứ nhất.\n\nBảng thứ hai."
    _write(tmp_path, [entry], {})
    kb = KnowledgeBase.load(tmp_path)
    assert kb.entries["nop-ho-so"].detail_paragraphs == ["Bảng thứ nhất.", "Bảng thứ hai."]

    entry["detail"] = ["không phải chuỗi"]
    other = tmp_path / "bad"
    _write(other, [entry], {})
    errors = [str(p) for p in KnowledgeBase.load(other).check() if p.level == ERROR]
    assert any("detail must be a string" in e for e in errors), errors
