"""Knowledge-base loading and `kb check`: schema problems, references, collisions, the real data."""

from pathlib import Path

import yaml

from knowledge.check import main as kb_check_main
from knowledge.check import problems
from knowledge.kb import ERROR, KnowledgeBase, load_contacts


def entry(entry_id: str, questions: list[str], **extra: object) -> dict[str, object]:
    data: dict[str, object] = {
        "id": entry_id,
        "title": f"Tiêu đề {entry_id}",
        "questions": questions,
        "answer": "Câu trả lời ngắn.\n\n• Ý một.\n\n• Ý hai.",
        "tags": ["t"],
        "sources": ["S1"],
        "rule": "QĐ 148/QĐ-TTg ngày 24/2/2023",
        "valid_from": "2023-02-24",
        "reviewed": "2026-11-28",
    }
    data.update(extra)
    return data


def write(
    root: Path, files: dict[str, list[dict[str, object]]], sources: dict[str, object] | None = None
) -> Path:
    (root / "entries").mkdir(parents=True, exist_ok=True)
    for name, entries in files.items():
        (root / "entries" / name).write_text(
            yaml.safe_dump({"entries": entries}, allow_unicode=True), "utf-8"
        )
    sources = sources if sources is not None else {"S1": {"title": "Nguồn", "publisher": "p", "url": "u"}}
    (root / "sources.yaml").write_text(yaml.safe_dump({"sources": sources}, allow_unicode=True), "utf-8")
    return root


def messages(kb: KnowledgeBase, *, collisions: bool = True) -> list[str]:
    return [str(p) for p in problems(kb, with_collisions=collisions)]


def test_clean_kb_has_no_problems(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "a.yaml": [entry("ocop-la-gi", ["ocop là gì", "ocop nghĩa là gì"])],
            "b.yaml": [entry("noi-nop", ["nộp hồ sơ ở đâu", "hồ sơ gửi cho ai"], related=["ocop-la-gi"])],
        },
    )
    kb = KnowledgeBase.load(tmp_path)
    assert problems(kb) == []
    assert kb.entries["ocop-la-gi"].short_answer == "Câu trả lời ngắn."
    assert len(kb.entries["ocop-la-gi"].paragraphs) == 3
    assert [s.key for s in kb.sources_of(kb.entries["noi-nop"])] == ["S1"]


def test_schema_problems_name_file_and_entry(tmp_path: Path) -> None:
    bad = [
        entry("Bad Id", ["q"]),
        entry("no-answer", ["q"], answer=""),
        entry("no-questions", []),
        entry("bad-date", ["q"], valid_from="hôm qua"),
        entry("extra-field", ["q"], colour="red"),
        entry("bad-dynamic", ["q"], dynamic="weather"),
        entry("no-sources", ["q"], sources=[]),
    ]
    write(tmp_path, {"bad.yaml": bad})
    found = messages(KnowledgeBase.load(tmp_path), collisions=False)
    joined = "\n".join(found)
    for entry_id in (
        "Bad Id",
        "no-answer",
        "no-questions",
        "bad-date",
        "extra-field",
        "bad-dynamic",
        "no-sources",
    ):
        assert f"bad.yaml: {entry_id}:" in joined, entry_id
    assert all(m.startswith("ERROR") for m in found)
    assert KnowledgeBase.load(tmp_path).entries == {}


def test_references_and_duplicates(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "a.yaml": [entry("mot", ["câu một"], sources=["S1", "S9"], related=["khong-co"])],
            "b.yaml": [entry("mot", ["câu hai"])],
        },
    )
    found = "\n".join(messages(KnowledgeBase.load(tmp_path), collisions=False))
    assert "b.yaml: mot: duplicate id (first defined in a.yaml)" in found
    assert "unknown source 'S9'" in found
    assert "related id 'khong-co' does not exist" in found


def test_broken_yaml_and_layout(tmp_path: Path) -> None:
    write(tmp_path, {})
    (tmp_path / "entries" / "broken.yaml").write_text("entries: [\n", "utf-8")
    (tmp_path / "entries" / "list.yaml").write_text("- id: x\n", "utf-8")
    found = "\n".join(messages(KnowledgeBase.load(tmp_path), collisions=False))
    assert "broken.yaml: invalid YAML" in found
    assert "list.yaml: top level must be a mapping with an 'entries' list" in found


def test_collision_is_reported(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "a.yaml": [
                entry(
                    "thoi-han",
                    ["chứng nhận ocop có hiệu lực bao lâu", "giấy chứng nhận ocop hết hạn khi nào"],
                ),
                entry("noi-nop", ["nộp hồ sơ ocop ở đâu", "hồ sơ đăng ký ocop gửi cho ai"]),
                # A sample that really belongs to thoi-han:
                entry(
                    "ho-tro",
                    ["ocop được hỗ trợ gì", "chính sách hỗ trợ", "giấy chứng nhận ocop có hiệu lực bao lâu"],
                ),
            ]
        },
    )
    collisions = [p for p in problems(KnowledgeBase.load(tmp_path)) if "is answered by" in p.message]
    assert collisions, "expected a collision"
    assert all(c.level == ERROR for c in collisions)
    pairs = {(c.where.split(": ")[1], c.message.split("answered by '")[1].split("'")[0]) for c in collisions}
    assert pairs <= {("ho-tro", "thoi-han"), ("thoi-han", "ho-tro")}


def test_kb_check_main_exit_codes(tmp_path: Path, capsys) -> None:
    good = write(tmp_path / "good", {"a.yaml": [entry("mot", ["ocop là gì"])]})
    assert kb_check_main(["--data-dir", str(good)]) == 0
    bad = write(tmp_path / "bad", {"a.yaml": [entry("mot", ["q"], sources=["S7"])]})
    assert kb_check_main(["--data-dir", str(bad)]) == 1
    assert "unknown source 'S7'" in capsys.readouterr().out


def test_contacts_loader(tmp_path: Path) -> None:
    assert load_contacts(tmp_path / "missing.yaml") == {}
    path = tmp_path / "contacts.yaml"
    path.write_text("contacts:\n  - {name: 'UBND xã', phone: '024'}\n", "utf-8")
    assert load_contacts(path)["contacts"][0]["phone"] == "024"


def test_real_knowledge_base_loads_without_errors() -> None:
    kb = KnowledgeBase.load()
    errors = [str(p) for p in kb.check() if p.level == ERROR]
    assert errors == []
    assert len(kb.entries) >= 10


def test_out_of_scope_file_is_checked(tmp_path: Path) -> None:
    write(tmp_path, {"a.yaml": [entry("noi-nop", ["nộp hồ sơ ở đâu", "hồ sơ gửi cho ai"])]})
    topics = [
        {"id": "thoi-tiet", "title": "Thời tiết", "where": "Bản tin", "questions": ["mai có mưa không"]},
        {"id": "Bad Id", "title": "x", "questions": ["a"]},
        {"id": "noi-nop", "title": "Trùng id mục", "questions": ["b"]},
        {"id": "gia", "title": "Giá", "questions": []},
        {"id": "trung-mau", "title": "Trùng câu mẫu", "questions": ["Nộp hồ sơ ở ĐÂU"]},
        {"id": "la", "title": "Lạ", "questions": ["c"], "extra": 1},
    ]
    (tmp_path / "out_of_scope.yaml").write_text(
        yaml.safe_dump({"topics": topics}, allow_unicode=True), "utf-8"
    )
    kb = KnowledgeBase.load(tmp_path)
    found = "\n".join(messages(kb, collisions=False))
    assert "out_of_scope.yaml: Bad Id: id 'Bad Id' must be a slug" in found
    assert "out_of_scope.yaml: noi-nop: duplicate id 'noi-nop'" in found
    assert "out_of_scope.yaml: gia: questions must be a non-empty list" in found
    assert (
        "out_of_scope.yaml: trung-mau: question 'Nộp hồ sơ ở ĐÂU' is also a sample of entry 'noi-nop'"
        in found
    )
    assert "out_of_scope.yaml: la: unknown field(s) extra" in found
    assert set(kb.out_of_scope) == {"thoi-tiet", "trung-mau"}
    assert kb.out_of_scope["thoi-tiet"].where == "Bản tin"
    (tmp_path / "out_of_scope.yaml").write_text("topics: {}\n", "utf-8")
    assert "must be a mapping with a 'topics' list" in "\n".join(messages(KnowledgeBase.load(tmp_path)))


def test_kb_check_prints_the_share_of_colliding_samples(tmp_path: Path, capsys) -> None:
    data = write(
        tmp_path,
        {
            "a.yaml": [
                entry(
                    "thoi-han",
                    ["chứng nhận ocop có hiệu lực bao lâu", "giấy chứng nhận ocop hết hạn khi nào"],
                ),
                entry("noi-nop", ["nộp hồ sơ ocop ở đâu", "hồ sơ đăng ký ocop gửi cho ai"]),
                entry("ho-tro", ["ocop được hỗ trợ gì", "giấy chứng nhận ocop có hiệu lực bao lâu"]),
            ]
        },
    )
    kb_check_main(["--data-dir", str(data)])
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("colliding sample questions"))
    assert " of 6 (" in line and "%" in line and "target under 5%" in line
    assert not line.split(": ")[1].startswith("0 of")
    kb_check_main(["--data-dir", str(data), "--no-collisions"])
    assert "colliding sample questions" not in capsys.readouterr().out
