"""The eligibility check: a short questionnaire (data: `data/eligibility.yaml`) and its verdict.

The engine is stateless: the conversation state is a plain dict (`{"answers": {question_id: choice_id}}`)
that the handler keeps in the database (users.flow_data) and hands back with each answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ELIGIBILITY_FILE = Path(__file__).resolve().parent / "data" / "eligibility.yaml"
OUTCOME_KINDS = frozenset({"ok", "fix", "block"})

READY = "ready"
AFTER_FIXES = "after_fixes"
NOT_ELIGIBLE = "not_eligible"


class EligibilityDataError(ValueError):
    """The eligibility file is malformed (message names the question and choice)."""


@dataclass(frozen=True)
class ChoiceEffect:
    """What picking a choice means: `kind` ok / fix / block, with the text, rule and source it cites."""

    kind: str
    text: str = ""
    rule: str = ""
    source: str = ""


@dataclass(frozen=True)
class EligibilityChoice:
    """One answer button of a question."""

    id: str
    label: str
    outcome: ChoiceEffect


@dataclass(frozen=True)
class EligibilityQuestion:
    """One question of the check, asked only `when` the earlier answers match."""

    id: str
    text: str
    choices: tuple[EligibilityChoice, ...]
    when: dict[str, frozenset[str]] = field(default_factory=dict)

    def choice(self, choice_id: str) -> EligibilityChoice | None:
        return next((c for c in self.choices if c.id == choice_id), None)




@dataclass(frozen=True)
class Verdict:
    """`kind` is ready / after_fixes / not_eligible; reasons are (text, rule, source key) triples."""

    kind: str
    reasons: list[tuple[str, str, str]]
    fixes: list[tuple[str, str, str]]


@dataclass(frozen=True)
class Step:
    """What follows an answer: the new state and either the next question or the verdict."""

    state: dict[str, Any]
    question: EligibilityQuestion | None = None
    verdict: Verdict | None = None


class EligibilityCheck:
    """Runs the questionnaire: `first_question()`, then `answer()` until it returns a verdict."""

    def __init__(self, questions: list[EligibilityQuestion]) -> None:
        if not questions:
            raise EligibilityDataError("no questions")
        self.questions = questions
        self._by_id = {q.id: q for q in questions}

    @classmethod
    def load(cls, path: Path | str | None = None) -> EligibilityCheck:
        with open(Path(path) if path else ELIGIBILITY_FILE, encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
        return cls(_parse(data))

    def question(self, question_id: str) -> EligibilityQuestion | None:
        return self._by_id.get(question_id)

    def first_question(self) -> EligibilityQuestion:
        question = self.next_question({})
        assert question is not None
        return question

    @staticmethod
    def new_state() -> dict[str, Any]:
        return {"answers": {}}

    def _relevant(self, question: EligibilityQuestion, answers: dict[str, str]) -> bool:
        return all(answers.get(qid) in allowed for qid, allowed in question.when.items())

    def next_question(self, state: dict[str, Any]) -> EligibilityQuestion | None:
        """The first relevant question not answered yet (None: the check is complete)."""
        answers = dict(state.get("answers") or {})
        for question in self.questions:
            if question.id not in answers and self._relevant(question, answers):
                return question
        return None

    def answer(self, state: dict[str, Any], question_id: str, choice_id: str) -> Step:
        """Record an answer (a new state dict; the given one is not changed) and say what comes next.

        Raises ValueError for an unknown question or choice (e.g. a stale button).
        """
        question = self._by_id.get(question_id)
        if question is None:
            raise ValueError(f"unknown question {question_id!r}")
        if question.choice(choice_id) is None:
            raise ValueError(f"unknown choice {choice_id!r} for question {question_id!r}")
        answers = dict(state.get("answers") or {})
        answers[question_id] = choice_id
        # An earlier answer changed: forget answers to questions that no longer apply.
        answers = {qid: cid for qid, cid in answers.items() if self._applies(qid, answers)}
        new_state = {**state, "answers": answers}
        following = self.next_question(new_state)
        if following is not None:
            return Step(new_state, question=following)
        return Step(new_state, verdict=self.verdict(new_state))

    def back(self, state: dict[str, Any]) -> Step:
        """Undo the last answer and ask that question again."""
        answers = dict(state.get("answers") or {})
        if answers:
            answers.pop(next(reversed(answers)))
        new_state = {**state, "answers": answers}
        return Step(new_state, question=self.next_question(new_state))

    def _applies(self, question_id: str, answers: dict[str, str]) -> bool:
        question = self._by_id.get(question_id)
        return question is not None and self._relevant(question, answers)

    def verdict(self, state: dict[str, Any]) -> Verdict:
        """Blocked by any answer → not_eligible; anything to fix → after_fixes; else ready."""
        answers = state.get("answers") or {}
        reasons: list[tuple[str, str, str]] = []
        fixes: list[tuple[str, str, str]] = []
        for question in self.questions:
            choice = question.choice(answers.get(question.id, ""))
            if choice is None or not self._relevant(question, answers):
                continue
            outcome = choice.outcome
            if outcome.kind == "block":
                reasons.append((outcome.text, outcome.rule, outcome.source))
            elif outcome.kind == "fix":
                fixes.append((outcome.text, outcome.rule, outcome.source))
        if reasons:
            kind = NOT_ELIGIBLE
        elif fixes:
            kind = AFTER_FIXES
        else:
            kind = READY
        return Verdict(kind=kind, reasons=reasons, fixes=fixes)

    def source_keys(self) -> set[str]:
        """Every source key the outcomes cite (kb check verifies they exist)."""
        return {c.outcome.source for q in self.questions for c in q.choices if c.outcome.source}


def _parse(data: dict[str, Any]) -> list[EligibilityQuestion]:
    raw_questions = data.get("questions")
    if not isinstance(raw_questions, list):
        raise EligibilityDataError("top level must have a 'questions' list")
    questions: list[EligibilityQuestion] = []
    seen: set[str] = set()
    for raw in raw_questions:
        qid = str(raw.get("id") or "")
        if not qid or qid in seen:
            raise EligibilityDataError(f"question id missing or duplicated: {qid!r}")
        if not str(raw.get("text") or "").strip():
            raise EligibilityDataError(f"question {qid}: text is empty")
        choices: list[EligibilityChoice] = []
        for rc in raw.get("choices") or []:
            cid = str(rc.get("id") or "")
            out = rc.get("outcome") or {"kind": "ok"}
            kind = out.get("kind")
            if not cid or not str(rc.get("label") or "").strip():
                raise EligibilityDataError(f"question {qid}: a choice lacks id or label")
            if kind not in OUTCOME_KINDS:
                raise EligibilityDataError(f"question {qid}, choice {cid}: outcome kind must be ok/fix/block")
            if kind != "ok" and not (out.get("text") and out.get("rule") and out.get("source")):
                raise EligibilityDataError(
                    f"question {qid}, choice {cid}: a {kind} needs text, rule and source"
                )
            choices.append(
                EligibilityChoice(
                    cid,
                    str(rc["label"]),
                    ChoiceEffect(
                        kind,
                        str(out.get("text") or ""),
                        str(out.get("rule") or ""),
                        str(out.get("source") or ""),
                    ),
                )
            )
        if len(choices) < 2:
            raise EligibilityDataError(f"question {qid}: needs at least two choices")
        when = {str(k): frozenset(str(v) for v in vals) for k, vals in (raw.get("when") or {}).items()}
        for dep in when:
            if dep not in seen:
                raise EligibilityDataError(
                    f"question {qid}: 'when' refers to {dep!r}, not an earlier question"
                )
        questions.append(EligibilityQuestion(qid, str(raw["text"]).strip(), tuple(choices), when))
        seen.add(qid)
    return questions
