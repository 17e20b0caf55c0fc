"""The form follows the 2026 dossier (QĐ 26/2026): kinds, the 26 product sets, what the commune assesses,
and each condition that decides which steps a producer is asked."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from dossier.engine import DossierEngine, DossierState, Outcome
from dossier.form import default_form
from dossier.steps import validate_typed
from dossier.validators import Invalid, Valid, date_bound
from knowledge.communes import CommuneDirectory

TODAY = date(2026, 11, 30)

FOOD = {"group": "food", "sub": "proc_grain"}
TOURISM = {"group": "tourism", "sub": None}
CRAFT = {"group": "craft", "sub": "textile"}
ORNAMENTAL = {"group": "ornamental", "sub": "flower"}
COSMETIC = {"group": "herbal", "sub": "cosmetic"}
MEDICINE = {"group": "herbal", "sub": "functional"}


@pytest.fixture(scope="module")
def engine() -> DossierEngine:
    return DossierEngine(default_form(), CommuneDirectory.load())


def shown(engine: DossierEngine, **answers: Any) -> set[str]:
    return {s.id for s in engine.relevant_steps({"kind": "new", **answers})}


def test_three_kinds_and_certificate_steps_for_upgrade_and_rerating(engine: DossierEngine) -> None:
    kind = engine.form.step("kind")
    assert [c.id for c in kind.choices] == ["new", "upgrade", "reevaluation"]
    cert = {"cert_number", "cert_stars", "cert_date", "certificate_doc"}
    assert not cert & shown(engine)
    assert cert <= shown(engine, kind="upgrade")
    assert cert <= shown(engine, kind="reevaluation")


def test_tourism_is_not_asked_product_things(engine: DossierEngine) -> None:
    product_only = {
        "quality_announcement",
        "test_results",
        "raw_materials",
        "raw_origin",
        "yearly_output",
        "packaging",
        "label_photo",
        "samples",
        "raw_local_share",
        "food_safety",
    }
    assert product_only <= shown(engine, product_group=FOOD)
    assert not product_only & shown(engine, product_group=TOURISM)
    # what the commune assesses about people and the idea is asked of tourism too
    assert {"workers", "local_workers", "idea_origin", "local_identity"} <= shown(
        engine, product_group=TOURISM
    )


@pytest.mark.parametrize("group", [CRAFT, ORNAMENTAL])
def test_crafts_and_ornamentals_need_no_quality_announcement_or_tests(
    engine: DossierEngine, group: dict[str, Any]
) -> None:
    steps = shown(engine, product_group=group)
    assert not {"quality_announcement", "test_results", "food_safety"} & steps
    assert {"samples", "yearly_output", "label_photo"} <= steps


def test_food_safety_offers_the_household_commitment(engine: DossierEngine) -> None:
    step = engine.form.step("food_safety")
    assert [c.id for c in step.choices] == ["yes", "commitment", "no"]
    assert "cam kết" in step.question and "hộ sản xuất nhỏ lẻ" in step.question
    assert "food_safety_doc" in shown(engine, product_group=FOOD, food_safety="commitment")
    assert "food_safety_no" not in shown(engine, product_group=FOOD, food_safety="commitment")
    assert "food_safety_doc" not in shown(engine, product_group=FOOD, food_safety="no")


def test_cosmetics_and_medicines_are_asked_for_their_own_permit(engine: DossierEngine) -> None:
    cosmetic = shown(engine, product_group=COSMETIC)
    assert "cosmetic_permit" in cosmetic and "food_safety" not in cosmetic
    assert "permit_doc" in shown(engine, product_group=COSMETIC, cosmetic_permit="yes")
    medicine = shown(engine, product_group=MEDICINE, medicine_permit="permit")
    assert "medicine_permit" in medicine and "food_safety" not in medicine and "permit_doc" in medicine
    functional_food = shown(engine, product_group=MEDICINE, medicine_permit="food")
    assert "food_safety" in functional_food and "permit_doc" not in functional_food


def test_the_commune_assessed_items_and_producer_details_are_asked(engine: DossierEngine) -> None:
    steps = shown(engine, product_group=FOOD)
    for needed in (
        "raw_local_share",
        "workers",
        "local_workers",
        "idea_origin",
        "local_identity",
        "business_reg_number",
        "business_reg_date",
        "address",
        "production_site",
        "start_year",
        "capacity",
        "markets",
        "website",
    ):
        assert needed in steps, needed


@pytest.mark.parametrize("document", ["self_assessment", "business_plan"])
def test_self_assessment_and_business_plan_upload_or_paper(engine: DossierEngine, document: str) -> None:
    mode, doc = f"{document}_mode", f"{document}_doc"
    assert engine.form.step(mode).required and engine.form.step(doc).required
    assert doc in shown(engine, **{mode: "upload"})
    assert doc not in shown(engine, **{mode: "paper"})


@pytest.mark.parametrize(
    ("question", "answer", "document"),
    [
        ("trademark", "registered", "trademark_doc"),
        ("traceability", "yes", "traceability_doc"),
        ("gap_organic", "yes", "gap_doc"),
        ("raw_contract", "yes", "raw_contract_doc"),
        ("awards", "yes", "awards_doc"),
    ],
)
def test_evidence_that_earns_points_is_an_optional_named_upload(
    engine: DossierEngine, question: str, answer: str, document: str
) -> None:
    step = engine.form.step(document)
    assert step.type == "document" and not step.required and step.label
    assert document in shown(engine, product_group=FOOD, **{question: answer})
    assert document not in shown(engine, product_group=FOOD)


def test_certificate_date_is_checked_against_36_months() -> None:
    form = default_form()
    step = form.step("cert_date")
    assert date_bound("today-36m", TODAY) == date(2023, 11, 30)
    assert date_bound("today-36m", date(2026, 5, 31)) == date(2023, 5, 31)
    assert date_bound("today-3m", date(2026, 5, 31)) == date(2026, 2, 28)
    assert validate_typed(form, step, "30/11/2023", TODAY) == Valid("2023-11-30")
    expired = validate_typed(form, step, "29/11/2023", TODAY)
    assert isinstance(expired, Invalid) and "36 tháng" in expired.message and "30/11/2023" in expired.message


def test_an_old_dossier_still_opens_and_unclear_groups_are_asked_again(engine: DossierEngine) -> None:
    old = {
        "kind": "reevaluation",
        "product_group": {"group": "food", "sub": "proc_plant"},
        "food_safety": "yes",
        "quality_announcement": "no",
    }
    state = DossierState(answers=dict(old), current=None, review_mode=True)
    engine.repair(state)
    assert state.answers == old  # every old value still reads
    group = engine.form.step("product_group")
    assert (
        engine.display(group, old["product_group"])
        == "Bộ số 7: Chế biến từ rau, củ, quả, hạt (nhóm Chế biến, ngành Thực phẩm)"
    )
    # "Chè" of the old form is now two sets (11 and 12): the producer is asked again
    state = DossierState(
        answers={"kind": "new", "product_group": {"group": "food", "sub": "tea"}},
        current=None,
        review_mode=True,
    )
    engine.repair(state)
    assert "product_group" not in state.answers
    assert "product_group" in {m.step_id for m in engine.missing(state)}


def test_phone_buttons_are_short() -> None:
    form = default_form()
    for step in form.steps:
        for choice in step.choices:
            for option in (choice, *choice.sub):
                assert len(option.button_label) <= 31, (step.id, option.button_label)


def test_a_shortened_button_has_its_full_wording_in_the_question(engine: DossierEngine) -> None:
    for step in engine.form.steps:
        for choice in step.choices:
            if choice.button or len(choice.label) > 30:
                assert choice.label in step.question, (step.id, choice.label)
            if choice.sub:  # the set screen lists every set of the sector in full
                state = DossierState(answers={"kind": "new"}, current=step.id)
                engine.choose(state, step.id, str(step.choices.index(choice)))
                listed = [s["label"] for g in engine.prompt(state).detail["groups"] for s in g["sets"]]
                assert listed == [s.label for s in choice.sub]


def test_the_checklist_names_each_evidence_upload_still_worth_sending(engine: DossierEngine) -> None:
    answers = {"kind": "new", "product_group": FOOD, "trademark": "registered", "awards": "yes"}
    state = DossierState(answers=answers, current=None, review_mode=True)
    suggested = [m.step_id for m in engine.suggested_files(state)]
    assert "trademark_doc" in suggested and "awards_doc" in suggested
    assert "gap_doc" not in suggested  # not relevant: no VietGAP/organic certificate declared
    state.answers["trademark_doc"] = {"attachment_id": 1, "kind": "document", "name": "vb.pdf"}
    assert "trademark_doc" not in [m.step_id for m in engine.suggested_files(state)]


def test_six_sectors_seventeen_groups_twenty_six_sets(engine: DossierEngine) -> None:
    step = engine.form.step("product_group")
    sets = [s for sector in step.choices for s in (sector.sub or (sector,))]
    assert len(step.choices) == 6
    assert [s.number for s in sets] == list(range(1, 27))
    groups = {(sector.id, s.group) for sector in step.choices for s in (sector.sub or (sector,))}
    assert len(groups) == 17 and all(g for _sector, g in groups)
    food = [g for sector, g in groups if sector == "food"]
    assert sorted(food) == sorted(["Tươi sống", "Thô, sơ chế", "Chế biến", "Gia vị", "Chè", "Cà phê, ca cao"])


def test_the_set_screen_shows_each_group_with_its_sets(engine: DossierEngine) -> None:
    from common.render import Renderer

    state = DossierState(answers={"kind": "new"}, current="product_group")
    engine.choose(state, "product_group", "0")  # Thực phẩm
    prompt = engine.prompt(state)
    assert [g["name"] for g in prompt.detail["groups"]] == [
        "Tươi sống",
        "Thô, sơ chế",
        "Chế biến",
        "Gia vị",
        "Chè",
        "Cà phê, ca cao",
    ]
    assert all(len(c.label) <= 32 for c in prompt.choices)
    html = Renderer().render(
        "dossier/question",
        p={
            "error": None,
            "section_title": prompt.section_title,
            "position": 12,
            "total": 40,
            "kind": prompt.kind,
            "detail": prompt.detail,
        },
    )
    assert "<i>Nhóm Chế biến</i>\n5. Đồ ăn nhanh\n6. Chế biến từ gạo, ngũ cốc" in html


def workers(n: int) -> dict[str, Any]:
    return {"value": n, "unit": "người"}


def test_local_workers_are_not_more_than_the_workers(engine: DossierEngine) -> None:
    state = DossierState(answers={"kind": "new", "workers": workers(12)}, current="local_workers")
    outcome = engine.answer(state, None, "15 người", TODAY)
    assert not outcome.ok and outcome.error is not None
    assert "Lao động địa phương (15 người)" in outcome.error and "(12 người)" in outcome.error
    assert "local_workers" not in state.answers and state.current == "local_workers"
    assert engine.answer(state, None, "12 người", TODAY).ok  # equal is fine
    assert state.answers["local_workers"] == workers(12)


def test_lowering_the_workers_asks_the_local_workers_again(engine: DossierEngine) -> None:
    def answers() -> dict[str, Any]:
        return {"kind": "new", "workers": workers(12), "local_workers": workers(10)}

    state = DossierState(answers=answers(), current=None, review_mode=True)
    assert engine.jump_to(state, "workers").ok
    outcome = engine.answer(state, None, "8 người", TODAY)
    assert outcome.ok and outcome.error is not None and "(8 người)" in outcome.error
    assert "local_workers" not in state.answers and state.current == "local_workers"
    state = DossierState(answers=answers(), current=None, review_mode=True)
    engine.jump_to(state, "workers")
    assert engine.answer(state, None, "20 người", TODAY) == Outcome(True)  # more workers: nothing to redo
    assert state.answers["local_workers"] == workers(10) and state.current != "local_workers"


def test_the_printed_set_names_its_group_only_when_it_says_more(engine: DossierEngine) -> None:
    step = engine.form.step("product_group")
    assert engine.display(step, ORNAMENTAL) == "Bộ số 23: Hoa (ngành Sinh vật cảnh)"
    assert engine.display(step, FOOD) == "Bộ số 6: Chế biến từ gạo, ngũ cốc (nhóm Chế biến, ngành Thực phẩm)"
