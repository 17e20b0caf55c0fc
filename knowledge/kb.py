"""The curated knowledge base: loads and validates entries, sources and out-of-scope topics.

Entries live in `knowledge/data/entries/*.yaml`, sources in `knowledge/data/sources.yaml`, and the
subjects the bot does not answer (each with its example questions and where to ask instead) in
`knowledge/data/out_of_scope.yaml`. Loading never
raises on bad content: every problem is collected with its file and entry id, bad entries are left out,
and `check()` adds the cross-entry problems (unknown sources and related ids, the eligibility file, the
product lexicon).
`knowledge.check` (`python bot.py kb check`) adds the sample questions the matcher would answer with a
different entry.
Beside the curated sample questions, `knowledge/data/paraphrases/*.yaml` (entry id → questions) holds
more ways people ask the same thing — long messages with a story first, chat abbreviations, no accents,
typos — written from each entry's answer. They are training data for the matcher's classifier only: never
shown, never the lexical index's samples, and not part of `kb check`'s collision count (which is about
the curated samples).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from knowledge.eligibility import EligibilityCheck
from knowledge.normalize import fold_text
from knowledge.products import ProductDirectory, lexicon_file

DATA_DIR = Path(__file__).resolve().parent / "data"
CONTACTS_FILE = DATA_DIR / "contacts.yaml"
OUT_OF_SCOPE_FILE = "out_of_scope.yaml"
PARAPHRASES_DIR = "paraphrases"
ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
DYNAMIC_KINDS = frozenset({"contacts", "reminders"})  # filled in by knowledge.service
REQUIRED = ("id", "title", "questions", "answer", "tags", "sources", "rule", "valid_from", "reviewed")
OPTIONAL = ("related", "unverified", "dynamic", "detail")

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the knowledge base, located by file and entry id."""

    level: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.level.upper()}: {self.where}: {self.message}"


@dataclass(frozen=True)
class Source:
    """A reference an answer is based on (sources.yaml)."""

    key: str
    title: str
    publisher: str = ""
    url: str = ""


@dataclass(frozen=True)
class Entry:
    """One curated question-and-answer entry."""

    id: str
    title: str
    questions: tuple[str, ...]
    answer: str
    tags: tuple[str, ...]
    sources: tuple[str, ...]
    rule: str
    valid_from: date | None
    reviewed: date | None
    related: tuple[str, ...] = ()
    unverified: bool = False
    dynamic: str | None = None
    file: str = ""
    # Shown after the answer unless the reply already carries a card about the commune the question named
    # (the full table of old and new communes, say, for someone who did not name theirs).
    detail: str = ""

    @property
    def paragraphs(self) -> list[str]:
        """The answer split on blank lines, each paragraph stripped."""
        return _paragraphs(self.answer)

    @property
    def detail_paragraphs(self) -> list[str]:
        """The detail split on blank lines."""
        return _paragraphs(self.detail)

    @property
    def short_answer(self) -> str:
        """The first paragraph (the short answer)."""
        paragraphs = self.paragraphs
        return paragraphs[0] if paragraphs else ""


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]


@dataclass(frozen=True)
class OutOfScopeTopic:
    """A subject the bot does not answer (out_of_scope.yaml): its questions teach the matcher to decline."""

    id: str
    title: str
    where: str
    questions: tuple[str, ...]


@dataclass
class KnowledgeBase:
    """Entries, sources and out-of-scope topics as loaded, plus the problems met while loading them."""

    entries: dict[str, Entry]
    sources: dict[str, Source]
    problems: list[Problem] = field(default_factory=list)
    data_dir: Path = DATA_DIR
    out_of_scope: dict[str, OutOfScopeTopic] = field(default_factory=dict)
    paraphrases: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Old entry id → the entry that answers it now (`merged.yaml`, read once with the rest).
    merged: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, data_dir: Path | str | None = None) -> KnowledgeBase:
        """Read `entries/*.yaml` and `sources.yaml` under `data_dir`; never raises on bad content."""
        data_dir = Path(data_dir) if data_dir is not None else DATA_DIR
        problems: list[Problem] = []
        sources = _load_sources(data_dir / "sources.yaml", problems)
        entries: dict[str, Entry] = {}
        entry_dir = data_dir / "entries"
        files = sorted(entry_dir.glob("*.yaml")) if entry_dir.is_dir() else []
        if not files:
            problems.append(Problem(ERROR, str(entry_dir), "no entry files (*.yaml) found"))
        for path in files:
            for entry in _load_entry_file(path, problems):
                if entry.id in entries:
                    first = entries[entry.id].file
                    problems.append(
                        Problem(ERROR, f"{path.name}: {entry.id}", f"duplicate id (first defined in {first})")
                    )
                    continue
                entries[entry.id] = entry
        out_of_scope = _load_out_of_scope(data_dir / OUT_OF_SCOPE_FILE, entries, problems)
        try:
            merged = load_merged(data_dir)
        except (ValueError, yaml.YAMLError, AttributeError) as exc:
            problems.append(Problem(ERROR, MERGED_FILE, str(exc)))
            merged = {}
        paraphrases = _load_paraphrases(data_dir, entries, out_of_scope, merged, problems)
        return cls(entries, sources, problems, data_dir, out_of_scope, paraphrases, merged)

    def get(self, entry_id: str) -> Entry | None:
        return self.entries.get(entry_id)

    def sources_of(self, entry: Entry) -> list[Source]:
        """The entry's sources in the order it cites them (unknown keys left out)."""
        return [self.sources[key] for key in entry.sources if key in self.sources]

    def check(self) -> list[Problem]:
        """The problems found without the matcher: loading/schema, unknown sources and related ids, the
        eligibility questionnaire. `knowledge.check` adds the sample-question collisions."""
        problems = list(self.problems)
        for entry in self.entries.values():
            where = f"{entry.file}: {entry.id}"
            for key in entry.sources:
                if key not in self.sources:
                    problems.append(Problem(ERROR, where, f"unknown source {key!r} (not in sources.yaml)"))
            for rel in entry.related:
                if rel not in self.entries:
                    problems.append(Problem(ERROR, where, f"related id {rel!r} does not exist"))
                elif rel == entry.id:
                    problems.append(Problem(WARNING, where, "related lists the entry itself"))
            if entry.dynamic == "contacts" and not CONTACTS_FILE.exists():
                problems.append(
                    Problem(WARNING, where, f"dynamic contacts but {CONTACTS_FILE.name} is missing")
                )
        problems.extend(self._eligibility_problems())
        problems.extend(self._merged_problems())
        problems.extend(self._product_problems())
        return problems

    def _product_problems(self) -> list[Problem]:
        """The product lexicon the matcher will use (`products.lexicon_file`) must load: sets 1–26, no
        name given to two products."""
        path = lexicon_file(self.data_dir)
        try:
            ProductDirectory.load(path)
        except (ValueError, yaml.YAMLError) as exc:  # ProductDataError is a ValueError
            return [Problem(ERROR, path.name, str(exc))]
        return []

    def _merged_problems(self) -> list[Problem]:
        """`merged.yaml` must send each old id to a live entry, and an old id must not be live again."""
        found: list[Problem] = []  # a file that does not load is among the loading problems
        for old, new in self.merged.items():
            if old in self.entries:
                found.append(Problem(ERROR, MERGED_FILE, f"{old!r} is merged into {new!r} but is an entry"))
            elif new not in self.entries:
                found.append(Problem(ERROR, MERGED_FILE, f"{old!r} is merged into {new!r}, not an entry"))
        return found

    def _eligibility_problems(self) -> list[Problem]:
        """The eligibility questionnaire beside the entries must load and cite known sources."""
        path = self.data_dir / "eligibility.yaml"
        if not path.exists():
            return []
        try:
            check = EligibilityCheck.load(path)
        except (ValueError, yaml.YAMLError) as exc:
            return [Problem(ERROR, path.name, str(exc))]
        return [
            Problem(ERROR, path.name, f"unknown source {key!r} (not in sources.yaml)")
            for key in sorted(check.source_keys() - set(self.sources))
        ]


def _as_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return date.fromisoformat(value.strip())
    raise ValueError(f"not a date (YYYY-MM-DD): {value!r}")


def _str_list(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise ValueError(f"{name} must be a list of strings")
    return tuple(str(v).strip() for v in value)


def _parse_entry(raw: Any, file: str) -> Entry:
    """Build an Entry from one YAML mapping; raise ValueError with a readable message."""
    if not isinstance(raw, dict):
        raise ValueError("an entry must be a mapping (id, title, questions, answer, ...)")
    missing = [k for k in REQUIRED if k not in raw or raw[k] in (None, "")]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    unknown = sorted(set(raw) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(map(str, unknown))}")
    entry_id = str(raw["id"])
    if not ID_RE.match(entry_id):
        raise ValueError(f"id {entry_id!r} must be a slug (a-z, 0-9 and dashes)")
    questions = _str_list(raw["questions"], "questions")
    if not questions or any(not q for q in questions):
        raise ValueError("questions must be a non-empty list of non-empty strings")
    for name in ("title", "answer", "rule"):
        if not isinstance(raw[name], str) or not raw[name].strip():
            raise ValueError(f"{name} must be a non-empty string")
    sources = _str_list(raw["sources"], "sources")
    if not sources:
        raise ValueError("sources must list at least one key of sources.yaml")
    dynamic = raw.get("dynamic")
    if dynamic is not None and dynamic not in DYNAMIC_KINDS:
        raise ValueError(f"dynamic must be one of {', '.join(sorted(DYNAMIC_KINDS))}")
    unverified = raw.get("unverified", False)
    if not isinstance(unverified, bool):
        raise ValueError("unverified must be true or false")
    detail = raw.get("detail") or ""
    if not isinstance(detail, str):
        raise ValueError("detail must be a string")
    try:
        valid_from = _as_date(raw["valid_from"])
        reviewed = _as_date(raw["reviewed"])
    except ValueError as exc:
        raise ValueError(f"valid_from/reviewed: {exc}") from None
    return Entry(
        id=entry_id,
        title=raw["title"].strip(),
        questions=questions,
        answer=raw["answer"].strip(),
        tags=_str_list(raw["tags"], "tags"),
        sources=sources,
        rule=raw["rule"].strip(),
        valid_from=valid_from,
        reviewed=reviewed,
        related=_str_list(raw.get("related"), "related"),
        unverified=unverified,
        dynamic=dynamic,
        file=file,
        detail=detail.strip(),
    )


def _read_yaml(path: Path, problems: list[Problem]) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except FileNotFoundError:
        problems.append(Problem(ERROR, path.name, "file not found"))
    except yaml.YAMLError as exc:
        problems.append(Problem(ERROR, path.name, f"invalid YAML: {exc}".replace("\n", " ")))
    return None


def _load_entry_file(path: Path, problems: list[Problem]) -> list[Entry]:
    data = _read_yaml(path, problems)
    if data is None:
        return []
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        problems.append(Problem(ERROR, path.name, "top level must be a mapping with an 'entries' list"))
        return []
    entries: list[Entry] = []
    for index, raw in enumerate(data["entries"], start=1):
        label = raw.get("id") if isinstance(raw, dict) and raw.get("id") else f"entry #{index}"
        try:
            entries.append(_parse_entry(raw, path.name))
        except ValueError as exc:
            problems.append(Problem(ERROR, f"{path.name}: {label}", str(exc)))
    return entries


def _load_sources(path: Path, problems: list[Problem]) -> dict[str, Source]:
    data = _read_yaml(path, problems)
    if data is None:
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("sources"), dict):
        problems.append(Problem(ERROR, path.name, "top level must be a mapping with a 'sources' mapping"))
        return {}
    sources: dict[str, Source] = {}
    for key, raw in data["sources"].items():
        key = str(key)
        if not isinstance(raw, dict) or not str(raw.get("title") or "").strip():
            problems.append(Problem(ERROR, f"{path.name}: {key}", "a source needs at least a title"))
            continue
        sources[key] = Source(
            key=key,
            title=str(raw["title"]).strip(),
            publisher=str(raw.get("publisher") or "").strip(),
            url=str(raw.get("url") or "").strip(),
        )
    return sources


def _load_out_of_scope(
    path: Path, entries: dict[str, Entry], problems: list[Problem]
) -> dict[str, OutOfScopeTopic]:
    """The out-of-scope topics (optional file). A question that is also an entry's sample is an error."""
    if not path.exists():
        return {}
    data = _read_yaml(path, problems)
    if data is None:
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("topics"), list):
        problems.append(Problem(ERROR, path.name, "top level must be a mapping with a 'topics' list"))
        return {}
    samples = {fold_text(q): e.id for e in entries.values() for q in (*e.questions, e.title)}
    topics: dict[str, OutOfScopeTopic] = {}
    for index, raw in enumerate(data["topics"], start=1):
        label = raw.get("id") if isinstance(raw, dict) and raw.get("id") else f"topic #{index}"
        where = f"{path.name}: {label}"
        try:
            if not isinstance(raw, dict):
                raise ValueError("a topic must be a mapping (id, title, where, questions)")
            unknown = sorted(set(raw) - {"id", "title", "where", "questions"})
            if unknown:
                raise ValueError(f"unknown field(s) {', '.join(map(str, unknown))}")
            topic_id = str(raw.get("id") or "")
            if not ID_RE.match(topic_id):
                raise ValueError(f"id {topic_id!r} must be a slug (a-z, 0-9 and dashes)")
            if topic_id in topics or topic_id in entries:
                raise ValueError(
                    f"duplicate id {topic_id!r} (topic ids must differ from each other and entries)"
                )
            title = raw.get("title")
            if not isinstance(title, str) or not title.strip():
                raise ValueError("title must be a non-empty string")
            questions = _str_list(raw.get("questions"), "questions")
            if not questions or any(not q for q in questions):
                raise ValueError("questions must be a non-empty list of non-empty strings")
        except ValueError as exc:
            problems.append(Problem(ERROR, where, str(exc)))
            continue
        for question in questions:
            owner = samples.get(fold_text(question))
            if owner is not None:
                problems.append(
                    Problem(ERROR, where, f"question {question!r} is also a sample of entry {owner!r}")
                )
        topics[topic_id] = OutOfScopeTopic(
            topic_id, title.strip(), str(raw.get("where") or "").strip(), questions
        )
    return topics


def load_contacts(path: Path | str | None = None) -> dict[str, Any]:
    """The contacts file (Settings.contacts_file) that `dynamic: contacts` answers are filled from.

    Returns the parsed mapping ({} when the file is missing or empty); the template decides the layout.
    """
    path = Path(path) if path is not None else CONTACTS_FILE
    if not path.exists():
        return {}
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path.name}: top level must be a mapping")
    return data


def load_knowledge_base(data_dir: Path | str | None = None) -> KnowledgeBase:
    """Load the knowledge base from disk as it is, problems collected (`kb check`, benchmarks); the bot
    itself goes through the checked path, `knowledge.index.load_checked`."""
    return KnowledgeBase.load(data_dir)


MERGED_FILE = "merged.yaml"


def _load_paraphrases(
    data_dir: Path,
    entries: dict[str, Entry],
    out_of_scope: dict[str, OutOfScopeTopic],
    merged: dict[str, str],
    problems: list[Problem],
) -> dict[str, tuple[str, ...]]:
    """Entry id → its paraphrases from `paraphrases/*.yaml` (ids of merged entries followed; a paraphrase
    of an unknown entry, or one that is also an out-of-scope question, is an error; duplicates dropped)."""
    folder = data_dir / PARAPHRASES_DIR
    if not folder.is_dir():
        return {}
    declined = {fold_text(q): t.id for t in out_of_scope.values() for q in t.questions}
    found: dict[str, dict[str, str]] = {}
    for path in sorted(folder.glob("*.yaml")):
        data = _read_yaml(path, problems)
        if data is None:
            continue
        if not isinstance(data, dict):
            problems.append(Problem(ERROR, path.name, "top level must map entry ids to lists of questions"))
            continue
        for raw_id, questions in data.items():
            entry_id = merged.get(str(raw_id), str(raw_id))
            where = f"{path.name}: {raw_id}"
            if entry_id not in entries:
                problems.append(Problem(ERROR, where, "no such entry"))
                continue
            try:
                texts = _str_list(questions, "paraphrases")
            except ValueError as exc:
                problems.append(Problem(ERROR, where, str(exc)))
                continue
            bucket = found.setdefault(entry_id, {})
            for text in texts:
                key = fold_text(text)
                if not key:
                    continue
                if key in declined:
                    message = f"{text!r} is also a question of out-of-scope topic {declined[key]!r}"
                    problems.append(Problem(ERROR, where, message))
                    continue
                bucket.setdefault(key, text)
    return {entry_id: tuple(texts.values()) for entry_id, texts in found.items()}


def load_merged(data_dir: Path | str | None = None) -> dict[str, str]:
    """Old entry id → the id that answers it now (`data/merged.yaml`: entries merged or renamed); {} when
    the file is missing. Chains are followed ("a" → "b" → "c" gives "a" → "c")."""
    path = Path(data_dir or DATA_DIR) / MERGED_FILE
    if not path.exists():
        return {}
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    raw = {str(k): str(v) for k, v in (data.get("merged") or {}).items()}
    resolved: dict[str, str] = {}
    for old in raw:
        new, seen = raw[old], {old}
        while new in raw and new not in seen:
            seen.add(new)
            new = raw[new]
        resolved[old] = new
    return resolved
