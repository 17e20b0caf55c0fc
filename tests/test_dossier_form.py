"""The dossier form definition: the shipped form loads, and broken definitions are refused by name."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from dossier.form import FORM_FILE, STEP_TYPES, FormError, build_form, form_check_main, load_form


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    with open(FORM_FILE, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _broken(raw: dict[str, Any], change: Any) -> list[str]:
    data = copy.deepcopy(raw)
    change(data)
    with pytest.raises(FormError) as info:
        build_form(data)
    return info.value.problems


def _step(data: dict[str, Any], step_id: str) -> dict[str, Any]:
    for section in data["sections"]:
        for step in section["steps"]:
            if step["id"] == step_id:
                return step
    raise KeyError(step_id)


def test_shipped_form_loads_with_every_promised_part() -> None:
    form = load_form()
    ids = [s.id for s in form.steps]
    assert len(ids) == len(set(ids)) == 63
    for needed in (
        "kind",
        "cert_number",
        "cert_stars",
        "cert_date",
        "producer_type",
        "phone",
        "tax_code",
        "commune",
        "product_name",
        "product_group",
        "yearly_output",
        "food_safety",
        "quality_announcement",
        "test_results",
        "trademark",
        "traceability",
        "story",
        "product_photos",
        "label_photo",
        "business_registration",
    ):
        assert needed in ids
    types = {s.type for s in form.steps}
    assert types == STEP_TYPES  # every step type is used at least once
    group = form.step("product_group")
    assert [c.label for c in group.choices] == [
        "Thực phẩm",
        "Đồ uống",
        "Dược liệu và sản phẩm từ dược liệu",
        "Hàng thủ công mỹ nghệ",
        "Sinh vật cảnh",
        "Dịch vụ du lịch cộng đồng, du lịch sinh thái và điểm du lịch",
    ]
    assert all(c.sub for c in group.choices[:5]) and not group.choices[5].sub
    # the 26 product sets of QĐ 26/2026, numbered in order, each with its official name
    sets = [s for c in group.choices for s in (c.sub or (c,))]
    assert [s.number for s in sets] == list(range(1, 27))
    assert sets[8].label == "Tương, nước mắm, gia vị dạng lỏng khác" and sets[25].number == 26
    assert all(len(s.button_label) <= 31 for s in sets), [s.button_label for s in sets]
    assert form.step("cert_number").relevant is not None
    assert form.step("cert_number").relevant.steps() == {"kind"}


def test_every_question_is_polite_vietnamese_with_diacritics() -> None:
    form = load_form()
    for step in form.steps:
        assert step.question and step.label
        assert any(ord(ch) > 127 for ch in step.question), step.id
    assert "10 chữ số" in form.messages["phone_invalid"] and "0912345678" in form.messages["phone_invalid"]


def test_unknown_type_is_named(raw: dict[str, Any]) -> None:
    problems = _broken(raw, lambda d: _step(d, "phone").update(type="telephone"))
    assert any("step phone" in p and "unknown type 'telephone'" in p for p in problems)


def test_duplicate_id_is_named(raw: dict[str, Any]) -> None:
    def change(d: dict[str, Any]) -> None:
        d["sections"][1]["steps"].append(copy.deepcopy(_step(d, "email")))

    problems = _broken(raw, change)
    assert any("step email: duplicate step id" in p for p in problems)


def test_condition_on_a_later_or_unknown_step_is_refused(raw: dict[str, Any]) -> None:
    later = _broken(raw, lambda d: _step(d, "phone").update(relevant={"step": "story", "answered": True}))
    assert any("step phone" in p and "'story'" in p and "earlier step" in p for p in later)
    unknown = _broken(raw, lambda d: _step(d, "phone").update(relevant={"step": "nope", "equals": "x"}))
    assert any("step phone" in p and "'nope'" in p for p in unknown)
    itself = _broken(raw, lambda d: _step(d, "phone").update(relevant={"step": "phone", "answered": True}))
    assert any("step phone" in p for p in itself)


def test_condition_value_must_be_a_choice(raw: dict[str, Any]) -> None:
    problems = _broken(
        raw, lambda d: _step(d, "cert_number").update(relevant={"step": "kind", "equals": "old"})
    )
    assert any("step cert_number" in p and "'old'" in p for p in problems)


def test_choices_missing_is_named(raw: dict[str, Any]) -> None:
    problems = _broken(raw, lambda d: _step(d, "trademark").pop("choices"))
    assert any("step trademark: a choice step needs choices" in p for p in problems)


def test_messages_missing_are_named(raw: dict[str, Any]) -> None:
    problems = _broken(raw, lambda d: d["messages"].pop("phone_invalid"))
    assert any("step phone" in p and "phone_invalid" in p for p in problems)
    rule = _broken(raw, lambda d: _step(d, "producer_name")["rules"][0].pop("message"))
    assert any("step producer_name: rule 'min_length' has no message" in p for p in rule)


def test_bad_rules_are_named(raw: dict[str, Any]) -> None:
    pattern = _broken(raw, lambda d: _step(d, "email")["rules"].append({"pattern": "([", "message": "x"}))
    assert any("step email: pattern does not compile" in p for p in pattern)
    wrong_type = _broken(raw, lambda d: _step(d, "phone").update(rules=[{"max_length": 5, "message": "x"}]))
    assert any("step phone: rule 'max_length' does not apply" in p for p in wrong_type)
    date_rule = _broken(
        raw, lambda d: _step(d, "cert_date")["rules"].append({"max_date": "soon", "message": "x"})
    )
    assert any("step cert_date" in p and "max_date" in p for p in date_rule)


def test_several_problems_are_reported_together(raw: dict[str, Any]) -> None:
    def change(d: dict[str, Any]) -> None:
        _step(d, "phone")["type"] = "telephone"
        _step(d, "trademark").pop("choices")

    assert len(_broken(raw, change)) >= 2


def test_form_check_command(tmp_path: Path, raw: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert form_check_main(["check"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Form OK: 6 sections, 63 steps")
    bad = copy.deepcopy(raw)
    _step(bad, "phone")["type"] = "telephone"
    path = tmp_path / "form.yaml"
    path.write_text(yaml.safe_dump(bad, allow_unicode=True), encoding="utf-8")
    assert form_check_main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "step phone" in err and "telephone" in err
    assert form_check_main([str(tmp_path / "missing.yaml")]) == 1
