"""`python bot.py kb check`: every problem of the knowledge base — loading and schema, references, the
eligibility file, and sample questions the matcher (without that very question) answers with another
entry."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from knowledge.decision import Decision
from knowledge.kb import ERROR, WARNING, KnowledgeBase, Problem, load_knowledge_base
from knowledge.retrieval import Matcher

# A sample question answered by another entry with this confidence is an error.
COLLISION_CONFIDENCE = 0.7
# The share of sample questions that may be closer to another entry before the entries need sharpening.
MAX_COLLISION_SHARE = 0.05


def problems(kb: KnowledgeBase, *, with_collisions: bool = True) -> list[Problem]:
    """Everything `kb check` reports: `KnowledgeBase.check()` plus, unless told not to, the collisions."""
    found = kb.check()
    if with_collisions and kb.entries:
        found.extend(collisions(kb))
    return found


def collisions(kb: KnowledgeBase) -> list[Problem]:
    """Sample questions that the matcher (without that very question) answers with another entry.

    An error when the other entry wins with `COLLISION_CONFIDENCE` or more (the two entries say the
    same thing, or the sample is misfiled); a warning when it would merely be answered.
    """
    matcher = Matcher(kb, classifier=False)  # leave-one-out: the lexical half decides alone
    found: list[Problem] = []
    for entry_id, question, sample_index in matcher.own_samples():
        match = matcher.match(question, exclude_sample=sample_index)
        if match.decision is Decision.ANSWER and match.entry_id != entry_id:
            entry = kb.entries[entry_id]
            level = ERROR if match.confidence >= COLLISION_CONFIDENCE else WARNING
            found.append(
                Problem(
                    level,
                    f"{entry.file}: {entry_id}",
                    f"sample question {question!r} is answered by {match.entry_id!r} "
                    f"(confidence {match.confidence:.2f}); reword it or the other entry's samples",
                )
            )
    return found


def main(argv: Sequence[str]) -> int:
    """`python bot.py kb check [--data-dir DIR] [--no-collisions] [-v]`: print problems; 1 on any error."""
    parser = argparse.ArgumentParser(prog="bot.py kb check", description="Check the knowledge base files.")
    parser.add_argument("--data-dir", type=Path, default=None, help="folder with entries/ and sources.yaml")
    parser.add_argument(
        "--no-collisions", action="store_true", help="skip the sample-question collision check"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="print warnings too, not only errors")
    args = parser.parse_args(list(argv))
    kb = load_knowledge_base(args.data_dir)
    colliding = collisions(kb) if not args.no_collisions and kb.entries else []
    found = problems(kb, with_collisions=False) + colliding
    for problem in found:
        if args.verbose or problem.level == ERROR:
            print(problem)
    errors = sum(1 for p in found if p.level == ERROR)
    warnings = len(found) - errors
    samples = sum(len(e.questions) for e in kb.entries.values())
    hint = " (-v lists the warnings)" if warnings and not args.verbose else ""
    declined = sum(len(t.questions) for t in kb.out_of_scope.values())
    if not args.no_collisions and samples:
        print(
            f"colliding sample questions (closer to another entry): {len(colliding)} of {samples} "
            f"({100.0 * len(colliding) / samples:.1f}%; target under {MAX_COLLISION_SHARE:.0%})"
        )
    print(
        f"{len(kb.entries)} entries, {samples} sample questions, {len(kb.sources)} sources, "
        f"{len(kb.out_of_scope)} out-of-scope topics ({declined} questions): "
        f"{errors} error(s), {warnings} warning(s){hint}",
        file=sys.stderr if errors else sys.stdout,
    )
    return 1 if errors else 0
