"""The dossier state machine: order, relevance, back/skip/jump, choices, communes, files, review."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest

from dossier.engine import DossierEngine, DossierState
from dossier.form import default_form
from dossier.steps.base import CLEAR, DONE, KEEP, RETYPE, UP, FileRef
from dossier.steps.choice import MultiSelection
from knowledge.communes import CommuneDirectory

TODAY = date(2026, 3, 2)


@dataclass(frozen=True)
class FakeMatch:
    old_name: str
    kind: str
    new_unit: str | None
    partial: bool = False
    also: tuple[str, ...] = ()
    provisional: bool = False
    note: str = ""
    is_current: bool = False


@dataclass(frozen=True)
class FakeUnit:
    name: str
    kind: str


@dataclass
class FakeCommunes:
    """A tiny stand-in for knowledge.communes.CommuneDirectory."""

    matches: dict[str, FakeMatch] = field(
        default_factory=lambda: {
            "phú nghĩa": FakeMatch("Phú Nghĩa", "xã", "Phú Nghĩa", is_current=True),
            "đông sơn": FakeMatch("Đông Sơn", "xã", "Phú Nghĩa"),
            "tân tiến": FakeMatch("Tân Tiến", "xã", "Xuân Mai", partial=True, also=("Trần Phú",)),
            "tốt động": FakeMatch("Tốt Động", "xã", None, provisional=True),
        }
    )

    def resolve(self, text: str) -> FakeMatch | None:
        return self.matches.get(text.strip().lower())

    def current_units(self) -> list[FakeUnit]:
        return [
            FakeUnit("Chương Mỹ", "phường"),
            FakeUnit("Phú Nghĩa", "xã"),
            FakeUnit("Trần Phú", "xã"),
            FakeUnit("Xuân Mai", "xã"),
        ]


def label(key: str, **context: Any) -> str:
    return f"[{key}{':' + context['label'] if context else ''}]"


@pytest.fixture
def engine() -> DossierEngine:
    return DossierEngine(default_form(), FakeCommunes(), label)


def photo(n: int) -> FileRef:
    return FileRef(n, "photo", f"p{n}.jpg")


def pdf(n: int) -> FileRef:
    return FileRef(n, "document", f"d{n}.pdf")


def ok(outcome: Any) -> None:
    assert outcome.ok, outcome.error


def fill_new_food_product(engine: DossierEngine, state: DossierState) -> None:
    """Answer every required step of a new food product, by step id, whatever the order."""
    typed = {
        "producer_name": "HTX Nông nghiệp Phú Nghĩa",
        "representative": "Nguyễn Văn An",
        "phone": "0912 345 678",
        "tax_code": "0101234567",
        "address": "Thôn Phú Vinh",
        "commune": "phú nghĩa",
        "product_name": "Trứng gà sạch Cường Hương",
        "description": "Trứng gà ta nuôi thả vườn, cho ăn ngô và thóc.",
        "raw_materials": "Ngô, thóc của xã",
        "yearly_output": "1.500 kg",
        "packaging": "Hộp giấy 10 quả",
        "business_reg_number": "01G8001234",
        "business_reg_date": "15/03/2018",
        "start_year": "2015",
        "capacity": "500 kg/ngày",
        "workers": "12 người",
        "local_workers": "10 người",
        "local_identity": "Giống gà ta của xã, nuôi theo cách truyền thống",
    }
    chosen = {
        "kind": "0",
        "producer_type": "0",
        "raw_origin": "0",
        "food_safety": "0",
        "quality_announcement": "1",
        "test_results": "1",
        "trademark": "2",
        "traceability": "1",
        "raw_local_share": "0",
        "idea_origin": "0",
        "gap_organic": "1",
        "raw_contract": "1",
        "awards": "1",
        "samples": "0",
        "self_assessment_mode": "1",
        "business_plan_mode": "1",
    }
    n = 100
    while state.current is not None:
        step = engine.current_step(state)
        assert step is not None
        if step.id in typed:
            ok(engine.answer(state, step.id, typed[step.id], TODAY))
        elif step.id in chosen:
            ok(engine.choose(state, step.id, chosen[step.id]))
        elif step.id == "product_group":
            ok(engine.choose(state, step.id, "0"))
            ok(engine.choose(state, step.id, "7"))
        elif step.type == "multi":
            ok(engine.choose(state, step.id, "0"))
            ok(engine.done(state, step.id))
        elif step.type in ("photo", "photos"):
            n += 1
            _, dropped = engine.attach(state, photo(n))
            assert dropped == []
            if step.type == "photos":
                ok(engine.done(state, step.id))
        elif step.type == "document":
            n += 1
            engine.attach(state, pdf(n))
        else:
            assert not step.required, step.id
            ok(engine.skip(state))


def test_starts_at_the_first_step_with_progress(engine: DossierEngine) -> None:
    state = engine.start()
    prompt = engine.prompt(state)
    assert state.current == "kind"
    assert (prompt.kind, prompt.position, prompt.expects) == ("question", 1, "choice")
    assert [c.label for c in prompt.choices] == ["Phân hạng lần đầu", "Nâng hạng", "Phân hạng lại"]
    assert not prompt.can_back and not prompt.can_skip


def test_reevaluation_adds_certificate_steps(engine: DossierEngine) -> None:
    new_total = len(engine.relevant_steps({"kind": "new"}))
    re_steps = [s.id for s in engine.relevant_steps({"kind": "reevaluation"})]
    assert len(re_steps) == new_total + 4
    assert re_steps[:4] == ["kind", "cert_number", "cert_stars", "cert_date"]
    state = engine.start()
    ok(engine.choose(state, "kind", "1"))
    assert state.current == "cert_number"
    assert engine.prompt(state).total == len(re_steps)
    ok(engine.answer(state, None, "1234/QĐ-UBND", TODAY))
    ok(engine.answer(state, None, "4", TODAY))  # typed instead of the button
    assert state.answers["cert_stars"] == "4"
    future = engine.answer(state, None, "01/01/2027", TODAY)
    assert not future.ok and "tương lai" in (future.error or "")
    assert state.current == "cert_date"
    ok(engine.answer(state, None, "15/03/2023", TODAY))
    assert state.answers["cert_date"] == "2023-03-15"
    assert state.current == "producer_type"


def test_new_product_skips_certificate_steps(engine: DossierEngine) -> None:
    state = engine.start()
    ok(engine.answer(state, None, "Phân hạng lần đầu", TODAY))
    assert state.current == "producer_type"


def test_nested_relevance_ignores_answers_of_hidden_steps(engine: DossierEngine) -> None:
    answers = {"kind": "new", "product_group": {"group": "craft", "sub": "household"}, "food_safety": "yes"}
    ids = [s.id for s in engine.relevant_steps(answers)]
    assert "food_safety" not in ids
    assert "food_safety_no" not in ids  # depends on a hidden step's stale answer
    assert "food_safety_doc" not in ids
    food = {**answers, "product_group": {"group": "food", "sub": "tea"}}
    assert {"food_safety", "food_safety_no", "food_safety_doc"} <= {s.id for s in engine.relevant_steps(food)}


def test_wrong_answer_keeps_the_step_and_earlier_answers(engine: DossierEngine) -> None:
    state = engine.start()
    ok(engine.choose(state, "kind", "0"))
    ok(engine.choose(state, "producer_type", "1"))
    ok(engine.answer(state, None, "Công ty TNHH Việt Quang", TODAY))
    ok(engine.answer(state, None, "Nguyễn Văn Tĩnh", TODAY))
    ok(engine.skip(state))
    bad = engine.answer(state, None, "12345", TODAY)
    assert not bad.ok and "0912345678" in (bad.error or "")
    assert state.current == "phone"
    assert state.answers["producer_name"] == "Công ty TNHH Việt Quang"


def test_back_and_keep(engine: DossierEngine) -> None:
    state = engine.start()
    ok(engine.choose(state, "kind", "0"))
    ok(engine.choose(state, "producer_type", "2"))
    assert state.current == "producer_name"
    ok(engine.back(state))
    assert state.current == "producer_type"
    prompt = engine.prompt(state)
    assert prompt.current_answer == "Hộ kinh doanh"
    assert [c.value for c in prompt.choices][-1] == KEEP
    assert [c.selected for c in prompt.choices][:4] == [False, False, True, False]
    ok(engine.choose(state, "producer_type", KEEP))
    assert state.current == "producer_name"
    assert state.answers["producer_type"] == "household"
    ok(engine.back(state))
    ok(engine.back(state))
    assert state.current == "kind"
    ok(engine.back(state))  # nothing before the first step
    assert state.current == "kind"


def test_skip_only_optional_steps(engine: DossierEngine) -> None:
    state = engine.start()
    refused = engine.skip(state)
    assert not refused.ok and refused.error == engine.form.messages["not_skippable"]
    state.current = "representative_title"
    state.answers["representative_title"] = "Giám đốc"
    ok(engine.skip(state))
    assert "representative_title" not in state.answers
    assert "representative_title" in state.skipped
    assert state.current == "phone"


def test_stale_button_is_refused(engine: DossierEngine) -> None:
    state = engine.start()
    ok(engine.choose(state, "kind", "0"))
    stale = engine.choose(state, "kind", "1")
    assert not stale.ok and stale.error == engine.form.messages["stale"]
    assert state.answers["kind"] == "new"
    assert not engine.choose(state, "producer_type", "9").ok  # no such button


def test_multi_choice_toggles_and_done(engine: DossierEngine) -> None:
    state = DossierState(answers={"kind": "new"}, current="sales_channels")
    prompt = engine.prompt(state)
    assert prompt.choices[-1].value == DONE
    ok(engine.choose(state, "sales_channels", "0"))
    ok(engine.choose(state, "sales_channels", "4"))
    ok(engine.choose(state, "sales_channels", "1"))
    ok(engine.choose(state, "sales_channels", "1"))  # untick
    labels = [c.label for c in engine.prompt(state).choices]
    assert labels[0] == "[selected:Chợ, cửa hàng]" and labels[1] == "Siêu thị"
    assert state.current == "sales_channels" and "sales_channels" not in state.answers
    ok(engine.done(state, "sales_channels"))
    assert state.answers["sales_channels"] == ["market", "social"]
    assert state.current == "story" and state.pending is None


def test_multi_choice_typed_list(engine: DossierEngine) -> None:
    state = DossierState(answers={"kind": "new"}, current="sales_channels")
    ok(engine.answer(state, None, "mạng xã hội, Siêu thị", TODAY))
    assert state.answers["sales_channels"] == ["supermarket", "social"]


def test_multi_choice_done_with_nothing_skips_an_optional_step(engine: DossierEngine) -> None:
    state = DossierState(answers={"kind": "new"}, current="sales_channels")
    ok(engine.done(state, None))
    assert state.current == "story" and "sales_channels" in state.skipped


def test_group_is_two_levels(engine: DossierEngine) -> None:
    state = DossierState(answers={"kind": "new"}, current="product_group")
    assert len(engine.prompt(state).choices) == 6
    ok(engine.choose(state, "product_group", "1"))  # Đồ uống
    prompt = engine.prompt(state)
    assert prompt.kind == "subgroup" and prompt.detail["group"] == "Đồ uống"
    assert [c.label for c in prompt.choices] == [
        "14. Rượu trắng",
        "15. Đồ uống có cồn khác",
        "16. Nước khoáng, nước đóng chai",
        "17. Đồ uống không cồn khác",
        "[up]",
    ]
    groups = prompt.detail["groups"]  # the sets under their group (nhóm)
    assert [(g["name"], [s["number"] for s in g["sets"]]) for g in groups] == [
        ("Đồ uống có cồn", [14, 15]),
        ("Đồ uống không cồn", [16, 17]),
    ]
    ok(engine.choose(state, "product_group", UP))
    assert engine.prompt(state).kind == "question"
    ok(engine.choose(state, "product_group", "0"))
    ok(engine.back(state))  # back leaves the sub-level first
    assert state.current == "product_group" and state.pending is None
    ok(engine.choose(state, "product_group", "0"))
    ok(engine.choose(state, "product_group", "10"))  # set 11: Chè tươi, chè chế biến
    assert state.answers["product_group"] == {"group": "food", "sub": "tea_leaf"}
    assert (
        engine.display(engine.form.step("product_group"), state.answers["product_group"])
        == "Bộ số 11: Chè tươi, chè chế biến (nhóm Chè, ngành Thực phẩm)"
    )
    assert state.current == "description"


def test_group_without_subgroups_and_typed_subgroup(engine: DossierEngine) -> None:
    state = DossierState(answers={"kind": "new"}, current="product_group")
    ok(engine.choose(state, "product_group", "5"))
    assert state.answers["product_group"] == {"group": "tourism", "sub": None}
    assert engine.display(engine.form.step("product_group"), state.answers["product_group"]) == (
        "Bộ số 26: Dịch vụ du lịch cộng đồng, du lịch sinh thái và điểm du lịch"
    )
    state = DossierState(answers={"kind": "new"}, current="product_group")
    ok(engine.answer(state, None, "my pham tu duoc lieu", TODAY))  # the button's words, no accents
    assert state.answers["product_group"] == {"group": "herbal", "sub": "cosmetic"}


def test_commune_current_name_is_taken_directly(engine: DossierEngine) -> None:
    state = DossierState(answers={"kind": "new"}, current="commune")
    prompt = engine.prompt(state)
    assert [c.label for c in prompt.choices] == [
        "phường Chương Mỹ",
        "xã Phú Nghĩa",
        "xã Trần Phú",
        "xã Xuân Mai",
    ]
    ok(engine.answer(state, None, "Phú Nghĩa", TODAY))
    assert state.answers["commune"]["unit"] == "Phú Nghĩa"
    assert state.current == "production_site"


def test_commune_button(engine: DossierEngine) -> None:
    state = DossierState(answers={"kind": "new"}, current="commune")
    ok(engine.choose(state, "commune", "0"))
    assert state.answers["commune"]["unit"] == "Chương Mỹ"
    assert engine.display(engine.form.step("commune"), state.answers["commune"]) == "phường Chương Mỹ"


def test_old_commune_is_mapped_and_confirmed(engine: DossierEngine) -> None:
    state = DossierState(answers={"kind": "new"}, current="commune")
    ok(engine.answer(state, None, "Đông Sơn", TODAY))
    prompt = engine.prompt(state)
    assert prompt.kind == "commune_confirm"
    assert prompt.detail["old"] == "Đông Sơn" and prompt.detail["candidates"] == ["Phú Nghĩa"]
    assert [c.value for c in prompt.choices] == ["0", RETYPE]
    assert "commune" not in state.answers  # nothing stored before the user confirms
    ok(engine.choose(state, "commune", "0"))
    value = state.answers["commune"]
    assert (value["unit"], value["kind"], value["old"]) == ("Phú Nghĩa", "xã", "Đông Sơn")
    assert engine.display(engine.form.step("commune"), value) == "xã Phú Nghĩa (trước đây là xã Đông Sơn)"


def test_split_commune_offers_each_part_and_retype(engine: DossierEngine) -> None:
    state = DossierState(answers={"kind": "new"}, current="commune")
    ok(engine.answer(state, None, "Tân Tiến", TODAY))
    prompt = engine.prompt(state)
    assert [c.label for c in prompt.choices] == ["xã Xuân Mai", "xã Trần Phú", "[retype]"]
    ok(engine.choose(state, "commune", RETYPE))
    assert state.pending is None and state.current == "commune"
    ok(engine.answer(state, None, "Tân Tiến", TODAY))
    ok(engine.choose(state, "commune", "1"))
    assert state.answers["commune"]["unit"] == "Trần Phú"


def test_unmapped_commune_offers_every_current_unit(engine: DossierEngine) -> None:
    state = DossierState(answers={"kind": "new"}, current="commune")
    ok(engine.answer(state, None, "Tốt Động", TODAY))
    prompt = engine.prompt(state)
    assert prompt.detail["unknown"] is True
    assert len(prompt.choices) == 5  # four units + retype
    unknown = engine.answer(DossierState(answers={"kind": "new"}, current="commune"), None, "Paris", TODAY)
    assert not unknown.ok and unknown.error == engine.form.messages["commune_not_found"]


def test_real_commune_directory_maps_old_names() -> None:
    engine = DossierEngine(default_form(), CommuneDirectory.load(), label)
    state = DossierState(answers={"kind": "new"}, current="commune")
    ok(engine.answer(state, None, "xa phung chau", TODAY))
    prompt = engine.prompt(state)
    assert prompt.kind == "commune_confirm" and prompt.detail["candidate_labels"] == ["phường Chương Mỹ"]
    ok(engine.choose(state, "commune", "0"))
    assert state.answers["commune"]["unit"] == "Chương Mỹ"
    assert state.answers["commune"]["old"] == "Phụng Châu"


def test_photos_collect_until_done(engine: DossierEngine) -> None:
    state = DossierState(answers={"kind": "new"}, current="product_photos")
    empty = engine.done(state, None)
    assert not empty.ok and empty.error == engine.form.messages["photos_empty"]
    refused = engine.accepts_file(state, "document")
    assert not refused.ok and refused.error == engine.form.messages["photo_expected"]
    for n in range(1, 11):
        outcome, _ = engine.attach(state, photo(n))
        ok(outcome)
    full, _ = engine.attach(state, photo(11))
    assert not full.ok and "10" in (full.error or "")
    prompt = engine.prompt(state)
    assert prompt.files == 10 and [c.value for c in prompt.choices] == [DONE, CLEAR]
    ok(engine.choose(state, "product_photos", CLEAR))
    assert "product_photos" not in state.answers
    engine.attach(state, photo(12))
    ok(engine.done(state, None))
    assert state.current == "label_photo"
    assert engine.display(engine.form.step("product_photos"), state.answers["product_photos"]) == "1 ảnh"


def test_single_file_step_replaces_and_reports_the_dropped_file(engine: DossierEngine) -> None:
    state = DossierState(answers={"kind": "new"}, current="business_registration")
    outcome, dropped = engine.attach(state, pdf(1))
    ok(outcome)
    assert dropped == []
    ok(engine.back(state))
    assert state.current == "business_registration"
    outcome, dropped = engine.attach(state, photo(2))  # a photo of the paper is fine for a document
    ok(outcome)
    assert dropped == [1]
    assert state.answers["business_registration"]["attachment_id"] == 2


def test_text_or_file_in_the_wrong_place(engine: DossierEngine) -> None:
    state = DossierState(answers={"kind": "new"}, current="label_photo")
    text = engine.answer(state, None, "đây ạ", TODAY)
    assert not text.ok and text.error == engine.form.messages["photo_expected"]
    state = DossierState(answers={"kind": "new"}, current="phone")
    outcome, _ = engine.attach(state, photo(1))
    assert not outcome.ok and outcome.error == engine.form.messages["file_unexpected"]


def test_full_flow_reaches_review_and_can_submit(engine: DossierEngine) -> None:
    state = engine.start()
    assert not engine.can_submit(state)
    fill_new_food_product(engine, state)
    assert state.current is None and state.review_mode
    assert engine.prompt(state).kind == "review"
    assert engine.missing(state) == []
    assert engine.can_submit(state)
    review = engine.review(state)
    assert [s.title for s in review] == [
        "Loại đăng ký",
        "Chủ thể sản xuất",
        "Sản phẩm",
        "Nội dung xã đánh giá",
        "Chất lượng và pháp lý",
        "Tài liệu đính kèm",
    ]
    items = {i.step_id: i for s in review for i in s.items}
    assert "cert_number" not in items
    assert items["phone"].value == "0912345678"
    assert items["yearly_output"].value == "1.500 kg"
    assert items["product_group"].value == (
        "Bộ số 8: Chế biến từ thịt, thủy sản, trứng, sữa, mật ong (nhóm Chế biến, ngành Thực phẩm)"
    )
    assert items["story"].value is None and items["story"].skipped and not items["story"].missing


def test_jump_edits_then_returns_to_review(engine: DossierEngine) -> None:
    state = engine.start()
    fill_new_food_product(engine, state)
    ok(engine.jump_to(state, "phone"))
    assert state.current == "phone"
    ok(engine.answer(state, None, "0987654321", TODAY))
    assert state.current is None and state.answers["phone"] == "0987654321"
    ok(engine.jump_to(state, "address"))
    ok(engine.back(state))  # back while editing: return to the review unchanged
    assert state.current is None
    assert not engine.jump_to(state, "cert_number").ok  # not relevant for a new product


def test_changing_kind_in_review_asks_the_new_steps_then_returns(engine: DossierEngine) -> None:
    state = engine.start()
    fill_new_food_product(engine, state)
    ok(engine.jump_to(state, "kind"))
    ok(engine.choose(state, "kind", "1"))
    assert state.current == "cert_number"
    assert [m.step_id for m in engine.missing(state)] == [
        "cert_number",
        "cert_stars",
        "cert_date",
        "certificate_doc",
    ]
    ok(engine.answer(state, None, "99/QĐ-UBND", TODAY))
    ok(engine.choose(state, "cert_stars", "0"))
    ok(engine.answer(state, None, "01/04/2023", TODAY))
    # The next new, unanswered step; steps answered before are not asked again.
    assert state.current == "certificate_doc"
    engine.attach(state, pdf(999))
    assert state.current is None and engine.can_submit(state)


def test_missing_lists_required_answers_and_attachments(engine: DossierEngine) -> None:
    state = DossierState(answers={"kind": "new"}, current="producer_type")
    missing = engine.missing(state)
    ids = [m.step_id for m in missing]
    assert "producer_type" in ids and "product_photos" in ids and "story" not in ids
    assert {m.step_id for m in missing if m.is_file} == {
        "product_photos",
        "label_photo",
        "business_registration",
    }


def test_state_round_trips_through_json(engine: DossierEngine) -> None:
    state = DossierState(answers={"kind": "new"}, current="sales_channels")
    ok(engine.choose(state, "sales_channels", "2"))
    copy = DossierState.from_parts(state.answers, state.current, state.review_mode, state.extra_json())
    ok(engine.done(copy, None))
    assert copy.answers["sales_channels"] == ["fair"]


def test_attachment_ids(engine: DossierEngine) -> None:
    answers = {
        "kind": "reevaluation",
        "product_photos": [photo(1).as_json(), photo(2).as_json()],
        "certificate_doc": pdf(3).as_json(),
    }
    assert engine.attachment_ids(answers) == {1, 2, 3}
    assert engine.attachment_ids({**answers, "kind": "new"}, relevant_only=True) == {1, 2}


def test_typed_text_at_the_review_is_explained(engine: DossierEngine) -> None:
    state = engine.start()
    fill_new_food_product(engine, state)
    outcome = engine.answer(state, None, "xong rồi", TODAY)
    assert not outcome.ok and outcome.error == engine.form.messages["at_review"]
    ok(engine.back(state))  # back from the review: the last step
    assert state.current == engine.relevant_steps(state.answers)[-1].id


def test_resume_from_review_goes_to_first_missing(engine: DossierEngine) -> None:
    state = engine.start()
    fill_new_food_product(engine, state)
    ok(engine.resume(state))
    assert state.current is None  # nothing missing: stays on the review
    del state.answers["phone"]
    ok(engine.resume(state))
    assert state.current == "phone"
    ok(engine.answer(state, None, "0912345678", TODAY))
    assert state.current is None


def test_repair_after_the_form_changed(engine: DossierEngine) -> None:
    state = DossierState(
        answers={"kind": "new"}, current="removed_step", pending=MultiSelection("removed_step")
    )
    engine.repair(state)
    assert state.current == "producer_type" and state.pending is None
    hidden = DossierState(answers={"kind": "new"}, current="cert_number")
    engine.repair(hidden)
    assert hidden.current == "producer_type"
