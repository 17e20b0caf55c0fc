"""Step kinds: the typed pending sub-state reads the JSON earlier releases stored, writes the same JSON
back, refuses what it cannot read; every form type has its class; a new type is one class."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest
import yaml

from dossier.engine import DossierEngine, DossierState
from dossier.form import FORM_FILE, STEP_TYPES, build_form, default_form
from dossier.schema import Step
from dossier.steps import KINDS, kind_of
from dossier.steps.base import Pending, StepContext
from dossier.steps.choice import MultiSelection, SubgroupChoice
from dossier.steps.commune import CommuneConfirm
from dossier.steps.typed import TypedKind
from dossier.validators import Invalid, Valid
from tests.test_dossier_engine import FakeCommunes, label, ok

TODAY = date(2026, 3, 2)

# Exactly what the engine of the previous release wrote into Dossier.flow_state["pending"].
OLD_PENDING = [
    ({"kind": "multi", "step": "sales_channels", "selected": ["market", "social"]}, MultiSelection),
    ({"kind": "subgroup", "step": "product_group", "group": "drink"}, SubgroupChoice),
    (
        {
            "kind": "commune",
            "step": "commune",
            "typed": "xa Dong Son",
            "old": "Đông Sơn",
            "old_kind": "xã",
            "candidates": ["Phú Nghĩa"],
            "unknown": False,
            "partial": False,
            "provisional": False,
            "note": None,
        },
        CommuneConfirm,
    ),
]


@pytest.mark.parametrize(("stored", "cls"), OLD_PENDING)
def test_old_pending_json_is_read_typed_and_written_back_unchanged(stored: dict[str, Any], cls: type) -> None:
    pending = Pending.from_json(copy.deepcopy(stored))
    assert isinstance(pending, cls) and pending.step == stored["step"]
    assert pending.to_json() == stored
    state = DossierState.from_parts({}, stored["step"], False, {"pending": stored, "skipped": ["story"]})
    assert state.pending == pending
    assert state.extra_json() == {"pending": stored, "skipped": ["story"]}


@pytest.mark.parametrize(
    "stored",
    [
        None,
        "multi",
        [],
        {"step": "sales_channels"},  # no kind
        {"kind": "nope", "step": "x"},
        {"kind": "multi"},  # no step
        {"kind": "multi", "step": "sales_channels", "selected": "market"},
        {"kind": "multi", "step": "sales_channels", "selected": [1, 2]},
        {"kind": "subgroup", "step": "product_group"},  # no group
        {"kind": "commune", "step": "commune", "candidates": "Phú Nghĩa"},
    ],
)
def test_unreadable_pending_is_dropped(stored: object) -> None:
    assert Pending.from_json(stored) is None
    state = DossierState.from_parts({}, "sales_channels", False, {"pending": stored})
    assert state.pending is None


def test_an_old_half_made_multi_choice_continues_after_the_upgrade() -> None:
    engine = DossierEngine(default_form(), FakeCommunes(), label)
    stored = {"kind": "multi", "step": "sales_channels", "selected": ["market", "social"]}
    state = DossierState.from_parts({"kind": "new"}, "sales_channels", False, {"pending": stored})
    engine.repair(state)
    ticked = [c.value for c in engine.prompt(state).choices if c.selected]
    assert ticked == ["0", "4"]
    ok(engine.choose(state, "sales_channels", "1"))
    ok(engine.done(state, None))
    assert state.answers["sales_channels"] == ["market", "supermarket", "social"]


def test_an_old_commune_confirmation_continues_after_the_upgrade() -> None:
    engine = DossierEngine(default_form(), FakeCommunes(), label)
    stored = copy.deepcopy(OLD_PENDING[2][0])
    state = DossierState.from_parts({"kind": "new"}, "commune", False, {"pending": stored})
    prompt = engine.prompt(state)
    assert prompt.kind == "commune_confirm" and prompt.detail["candidate_labels"] == ["xã Phú Nghĩa"]
    ok(engine.choose(state, "commune", "0"))
    assert state.answers["commune"]["old"] == "Đông Sơn" and state.answers["commune"]["unit"] == "Phú Nghĩa"


def test_every_form_type_has_one_kind_with_its_messages() -> None:
    form = default_form()
    assert set(KINDS) == STEP_TYPES
    for step in form.steps:
        kind = kind_of(step)
        assert kind.type == step.type
        for key in kind.messages:
            assert form.message(key, step)


class EmailKind(TypedKind):
    """A step type the shipped form does not have, added as one class."""

    type = "email"
    messages = ("email_invalid",)

    def parse(self, ctx: StepContext, step: Step, text: str, today: date) -> Valid | Invalid:
        ok_ = "@" in text and "." in text.rsplit("@", 1)[-1]
        return Valid(text.lower()) if ok_ else Invalid(ctx.form.message("email_invalid", step))


def test_a_new_step_type_is_one_class(monkeypatch: pytest.MonkeyPatch) -> None:
    with open(FORM_FILE, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    section = data["sections"][0]
    email = {"id": "contact_email", "type": "email", "label": "Email", "question": "Địa chỉ email?"}
    section["steps"].insert(1, email)
    data["messages"]["email_invalid"] = "Email cần có dạng ten@mien.vn."
    monkeypatch.setitem(KINDS, "email", EmailKind())
    form = build_form(data)
    engine = DossierEngine(form, FakeCommunes(), label)
    state = engine.start()
    ok(engine.choose(state, None, "0"))
    assert state.current == "contact_email"
    refused = engine.answer(state, None, "không có", TODAY)
    assert not refused.ok and refused.error == "Email cần có dạng ten@mien.vn."
    ok(engine.answer(state, None, "HTX@Gmail.com", TODAY))
    assert state.answers["contact_email"] == "htx@gmail.com"
    assert engine.display(form.step("contact_email"), "htx@gmail.com") == "htx@gmail.com"


@pytest.mark.parametrize(
    ("step_id", "typed", "offered"),
    [
        ("producer_name", "hợp tác xã nông nghiệp phú nghĩa", "Hợp tác xã Nông Nghiệp Phú Nghĩa"),
        ("producer_name", "htx mây tre đan phú vinh", "HTX Mây Tre Đan Phú Vinh"),
        ("producer_name", "công ty tnhh thực phẩm an phú", "Công ty TNHH Thực Phẩm An Phú"),
        ("product_name", "trứng gà sạch cường hương", "Trứng gà sạch cường hương"),
        ("representative", "nguyen van an", "Nguyen Van An"),
    ],
)
def test_names_typed_in_small_letters_are_offered_with_capitals_never_forced(
    step_id: str, typed: str, offered: str
) -> None:
    from dossier.steps.name import AS_TYPED, USE_TITLE

    engine = DossierEngine(default_form(), FakeCommunes())
    for press, stored in ((USE_TITLE, offered), (AS_TYPED, typed)):
        state = DossierState(answers={"kind": "new", "producer_type": "cooperative"}, current=step_id)
        ok(engine.answer(state, None, typed, date(2026, 11, 30)))
        prompt = engine.prompt(state)
        assert prompt.kind == "title_case" and prompt.detail["suggested"] == offered
        assert step_id not in state.answers  # nothing stored until the producer says which
        ok(engine.choose(state, step_id, press))
        assert state.answers[step_id] == stored
    state = DossierState(answers={"kind": "new"}, current=step_id)
    ok(engine.answer(state, None, offered, date(2026, 11, 30)))  # typed with capitals: stored at once
    assert state.answers[step_id] == offered
