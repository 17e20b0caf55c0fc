"""The product lexicon: which OCOP product set (bộ sản phẩm, QĐ 26/2026) a product a producer names
belongs to.

The data (`knowledge/data/products.yaml`) lists the 26 sets with their sector, and everyday products with
the ways people write them. `mentioned(text)` finds the product a question names anywhere in a longer
message: a name of two words or more with or without diacritics; a one-word name ("gạo", "cá") only as
typed with them, since without them it is often another word ("ca" is also "cả"). The answer to "can my
product take part" then says which set it falls in (`knowledge.service`, entries tagged PRODUCT_ENTRY_TAG).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from knowledge.normalize import clean, fold

PRODUCTS_FILE = Path(__file__).resolve().parent / "data" / "products.yaml"
N_SETS = 26
# The tag of the entries that answer "can my product take part": their answers carry the named product's
# card (`knowledge.service`), and a message that is nothing but a product's name is about them
# (`knowledge.retrieval`).
PRODUCT_ENTRY_TAG = "loai-san-pham"
# Entries whose answers also carry the card of a product the question names: the sectors and sets
# ("rượu trắng có thuộc nhóm đồ uống không" is told rượu trắng's set too).
PRODUCT_CARD_TAGS = frozenset({PRODUCT_ENTRY_TAG, "nhom-san-pham"})


class ProductDataError(ValueError):
    """products.yaml is malformed (the message names the product)."""


@dataclass(frozen=True)
class ProductSet:
    """One of the 26 product sets."""

    number: int
    sector: str
    name: str


@dataclass(frozen=True)
class ProductMatch:
    """A product a question names, its set, and a note when the set depends on something."""

    name: str
    product_set: ProductSet
    note: str = ""


class ProductDirectory:
    """Products and their sets; `mentioned` finds one in a message."""

    def __init__(self, data: dict[str, Any]) -> None:
        raw_sets = data.get("sets") or {}
        self.sets: dict[int, ProductSet] = {}
        if not isinstance(raw_sets, dict):
            raise ProductDataError("sets: a mapping of set number → sector and name")
        for number, item in raw_sets.items():
            n = int(number)
            if not 1 <= n <= N_SETS or not isinstance(item, dict):
                raise ProductDataError(f"set {number!r}: a number 1–{N_SETS} with sector and name")
            self.sets[n] = ProductSet(n, str(item.get("sector") or ""), str(item.get("name") or ""))
        self._aliases: dict[str, ProductMatch] = {}
        for item in data.get("products") or []:
            if not isinstance(item, dict):
                raise ProductDataError(f"product {item!r}: a mapping with name, set and aliases")
            name = str(item.get("name") or "")
            number = item.get("set")
            if not name or number not in self.sets:
                raise ProductDataError(f"product {name!r}: needs a name and a set of the list")
            match = ProductMatch(name, self.sets[number], str(item.get("note") or "").strip())
            for alias in [name, *(item.get("aliases") or [])]:
                written = clean(str(alias))
                # A name of one word is looked for as written (with its diacritics), longer ones folded.
                key = written if len(written.split()) == 1 else fold(written)
                other = self._aliases.get(key)
                if other is not None and other.name != name:
                    raise ProductDataError(f"product {name!r}: alias {alias!r} is also {other.name!r}'s")
                if key:
                    self._aliases[key] = match
        # Longest first: "chè búp khô" before "chè".
        self._order = sorted(self._aliases, key=lambda a: (-len(a.split()), -len(a)))
        # By first word, for `positions`: one-word names as typed, longer ones folded.
        self._by_first: dict[tuple[bool, str], list[tuple[str, ...]]] = {}
        for alias in self._order:
            words = tuple(alias.split())
            self._by_first.setdefault((len(words) == 1, words[0]), []).append(words)

    @classmethod
    def load(cls, path: Path | str | None = None) -> ProductDirectory:
        """Read products.yaml (default: knowledge/data/products.yaml)."""
        with open(Path(path) if path else PRODUCTS_FILE, encoding="utf-8") as fh:
            return cls(yaml.safe_load(fh) or {})

    @property
    def words(self) -> frozenset[str]:
        """Every folded word of every product name."""
        return frozenset(w for alias in self._aliases for w in fold(alias).split())

    def __len__(self) -> int:
        return len({m.name for m in self._aliases.values()})

    def mentioned(self, text: str) -> ProductMatch | None:
        """The product `text` names (the longest name found; the first in the text among equals), or None."""
        written = clean(text)
        padded = {False: f" {fold(written)} ", True: f" {written} "}
        best: tuple[int, int, ProductMatch] | None = None
        for alias in self._order:
            at = padded[" " not in alias].find(f" {alias} ")
            if at < 0:
                continue
            key = (-len(alias.split()), at)
            if best is None or key < best[:2]:
                best = (*key, self._aliases[alias])
        return best[2] if best else None

    def positions(self, tokens: Sequence[str], folded: Sequence[str]) -> frozenset[int]:
        """Positions of the words of product names in a tokenised text (`tokens` as typed, lowercase;
        `folded` the same without diacritics): what a story says about what the producer makes."""
        found: set[int] = set()
        for start in range(len(folded)):
            if (True, tokens[start]) in self._by_first:
                found.add(start)
            for words in self._by_first.get((False, folded[start]), ()):
                if tuple(folded[start : start + len(words)]) == words:
                    found.update(range(start, start + len(words)))
                    break
        return frozenset(found)


def lexicon_file(data_dir: Path) -> Path:
    """The lexicon a knowledge base in `data_dir` uses: its own products.yaml, else the shared one."""
    own = data_dir / PRODUCTS_FILE.name
    return own if own.exists() else PRODUCTS_FILE
