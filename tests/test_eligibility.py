"""The eligibility questionnaire: order, relevance, verdicts, state as a plain dict."""

import json

import pytest

from knowledge.eligibility import AFTER_FIXES, NOT_ELIGIBLE, READY, EligibilityCheck, EligibilityDataError
from knowledge.kb import KnowledgeBase


@pytest.fixture(scope="module")
def check() -> EligibilityCheck:
    return EligibilityCheck.load()


def run(check: EligibilityCheck, answers: list[tuple[str, str]]):
    state = check.new_state()
    step = None
    for question_id, choice_id in answers:
        step = check.answer(state, question_id, choice_id)
        state = step.state
    return step


def test_first_question_is_the_kind_of_producer(check: EligibilityCheck) -> None:
    question = check.first_question()
    assert question.id == "producer"
    assert {c.id for c in question.choices} == {"htx", "dn", "hkd", "tht", "unregistered"}


def test_ready_cooperative_with_food(check: EligibilityCheck) -> None:
    step = run(
        check,
        [
            ("producer", "htx"),
            ("registration", "valid"),
            ("group", "food"),
            ("local", "both"),
            ("food_safety", "done"),
            ("label", "done"),
        ],
    )
    assert step.verdict is not None and step.question is None
    assert step.verdict.kind == READY and step.verdict.fixes == [] and step.verdict.reasons == []


def test_unregistered_household_must_register_first(check: EligibilityCheck) -> None:
    step = check.answer(check.new_state(), "producer", "unregistered")
    assert step.question is not None and step.question.id == "group"  # registration question skipped
    step = run(
        check, [("producer", "unregistered"), ("group", "craft"), ("local", "both"), ("label", "done")]
    )
    verdict = step.verdict
    assert verdict.kind == AFTER_FIXES
    text, rule, source = verdict.fixes[0]
    assert "đăng ký" in text.lower() and "919" in rule and source


def test_food_safety_only_for_food_and_drink(check: EligibilityCheck) -> None:
    asked = []
    state = check.new_state()
    for qid, cid in [("producer", "dn"), ("registration", "valid"), ("group", "tourism"), ("local", "both")]:
        step = check.answer(state, qid, cid)
        state = step.state
        if step.question:
            asked.append(step.question.id)
    assert "food_safety" not in asked and "label" not in asked
    assert step.verdict is not None and step.verdict.kind == READY


def test_bought_in_product_is_not_eligible(check: EligibilityCheck) -> None:
    step = run(
        check,
        [
            ("producer", "hkd"),
            ("registration", "valid"),
            ("group", "drink"),
            ("local", "not_local"),
            ("food_safety", "missing"),
            ("label", "none"),
        ],
    )
    verdict = step.verdict
    assert verdict.kind == NOT_ELIGIBLE
    assert len(verdict.reasons) == 1 and len(verdict.fixes) == 2


def test_unconfirmed_conditions_are_phrased_softly(check: EligibilityCheck) -> None:
    for question in check.questions:
        if question.id in {"food_safety", "label"}:
            for choice in question.choices:
                if choice.outcome.kind == "fix":
                    assert "nên" in choice.outcome.text.lower() or "thường" in choice.outcome.text.lower()
                assert choice.outcome.kind != "block"


def test_state_is_plain_json_and_input_not_mutated(check: EligibilityCheck) -> None:
    state = check.new_state()
    step = check.answer(state, "producer", "htx")
    assert state == {"answers": {}}
    assert json.loads(json.dumps(step.state)) == step.state


def test_changing_an_answer_drops_answers_that_no_longer_apply(check: EligibilityCheck) -> None:
    step = run(check, [("producer", "htx"), ("registration", "valid"), ("group", "food")])
    step = check.answer(step.state, "producer", "unregistered")
    assert "registration" not in step.state["answers"]
    assert step.state["answers"]["group"] == "food"


def test_back_undoes_the_last_answer(check: EligibilityCheck) -> None:
    step = run(check, [("producer", "htx"), ("registration", "valid")])
    back = check.back(step.state)
    assert back.question is not None and back.question.id == "registration"


def test_bad_answers_raise(check: EligibilityCheck) -> None:
    with pytest.raises(ValueError):
        check.answer(check.new_state(), "producer", "alien")
    with pytest.raises(ValueError):
        check.answer(check.new_state(), "nope", "htx")


def test_sources_exist_in_the_knowledge_base(check: EligibilityCheck) -> None:
    assert check.source_keys() <= set(KnowledgeBase.load().sources)


def test_malformed_data_is_rejected(tmp_path) -> None:
    path = tmp_path / "e.yaml"
    path.write_text(
        "questions:\n  - id: a\n    text: 'A?'\n    choices:\n"
        "      - {id: x, label: X, outcome: {kind: fix}}\n      - {id: y, label: Y}\n",
        "utf-8",
    )
    with pytest.raises(EligibilityDataError, match="needs text, rule and source"):
        EligibilityCheck.load(path)
