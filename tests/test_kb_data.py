"""The real knowledge base passes its own check: no schema errors and no sample-question collisions.

A collision error means a sample question of one entry is answered, with high confidence, by another
entry (see `KnowledgeBase.collisions`): the two entries overlap or the sample is misfiled.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from knowledge.kb import ERROR, KnowledgeBase

ROOT = Path(__file__).resolve().parent.parent


def test_real_knowledge_base_check_has_no_errors() -> None:
    problems = KnowledgeBase.load().check()
    errors = [str(p) for p in problems if p.level == ERROR]
    assert errors == []


def test_kb_check_command_exits_zero() -> None:
    result = subprocess.run(
        [sys.executable, "bot.py", "kb", "check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 error(s)" in result.stdout
