"""The knowledge index: the knowledge base and the matcher built over it (with the staff-linked
questions) as one immutable value, so a question is always answered by a matcher and entries that
belong together.

`build_index` is blocking (loading the files takes about half a second, training the classifier a
second or two): callers run it in a worker thread and swap the result in with one assignment. It goes
through the checked path: files with errors raise `IndexRejected` and the caller keeps its old index.
Builds are shared within a process by what they are built from (a fingerprint of the data files and
the staff-linked questions), so several Applications in one process (tests, benchmarks) and a reload
of unchanged files cost nothing.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from knowledge.kb import DATA_DIR, ERROR, KnowledgeBase, Problem
from knowledge.retrieval import Matcher

CACHE_SIZE = 4  # built matchers kept per process (the real one, plus a few with staff-linked questions)
Extras = Mapping[str, Sequence[str]]


class IndexRejected(ValueError):
    """The knowledge files have errors (or no entries): the index was not built."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        errors = [p for p in problems if p.level == ERROR]
        first = f": {errors[0]}" if errors else ""
        super().__init__(f"{len(errors)} error(s) in the knowledge base{first}")
        self.problems = list(problems)


@dataclass(frozen=True)
class KnowledgeIndex:
    """Entries and the matcher over them, built for one knowledge version of the database."""

    kb: KnowledgeBase
    matcher: Matcher
    version: int  # the database's knowledge version this process has caught up with
    problems: tuple[Problem, ...] = ()  # warnings met while loading (errors reject the build)


_lock = threading.Lock()
_loaded: OrderedDict[str, tuple[KnowledgeBase, list[Problem]]] = OrderedDict()
_built: OrderedDict[tuple[str, tuple[tuple[str, tuple[str, ...]], ...]], Matcher] = OrderedDict()


def fingerprint(data_dir: Path | str | None = None) -> str:
    """A digest of every data file the index is built from (`data_dir` and the shared data folder)."""
    digest = hashlib.sha256()
    folders = {DATA_DIR.resolve(), Path(data_dir).resolve() if data_dir is not None else DATA_DIR.resolve()}
    for folder in sorted(folders):
        for path in sorted(folder.rglob("*.yaml")):
            digest.update(str(path).encode())
            digest.update(b"\0")
            digest.update(path.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()


def load_checked(data_dir: Path | str | None = None) -> tuple[str, KnowledgeBase, list[Problem]]:
    """(fingerprint, knowledge base, warnings) for the files as they are now; raises `IndexRejected`
    when they have errors or no entries. Blocking."""
    key = fingerprint(data_dir)
    with _lock:
        cached = _loaded.get(key)
    if cached is None:
        kb = KnowledgeBase.load(data_dir)
        cached = (kb, kb.check())
        with _lock:
            _remember(_loaded, key, cached)
    kb, problems = cached
    if any(p.level == ERROR for p in problems) or not kb.entries:
        raise IndexRejected(problems)
    return key, kb, problems


def build_index(data_dir: Path | str | None, extras: Extras, version: int) -> KnowledgeIndex:
    """The index of the files under `data_dir` plus the staff-linked `extras` (entry id → questions),
    labelled with the database `version` it was built for. Blocking; raises `IndexRejected`."""
    key, kb, problems = load_checked(data_dir)
    merged = kb.merged  # questions linked to an entry since merged into another follow it
    moved: dict[str, list[str]] = {}
    for entry_id, questions in extras.items():
        moved.setdefault(merged.get(entry_id, entry_id), []).extend(questions)
    wanted = {entry_id: tuple(questions) for entry_id, questions in moved.items() if questions}
    build_key = (key, tuple(sorted(wanted.items())))
    with _lock:
        matcher = _built.get(build_key)
    if matcher is None:
        matcher = Matcher(kb, wanted)
        with _lock:
            _remember(_built, build_key, matcher)
    return KnowledgeIndex(kb, matcher, version, tuple(problems))


def _remember(cache: OrderedDict[Any, Any], key: Any, value: Any) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > CACHE_SIZE:
        cache.popitem(last=False)
