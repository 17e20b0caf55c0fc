"""Vietnamese text normalisation for matching: NFC, lowercase, chat abbreviations, fillers, folding.

`normalize(text)` returns two aligned token sequences: the accented form (diacritics kept, so they help
when the user typed them) and the folded form (diacritics removed, đ→d, so text typed without accents
still matches). The abbreviation, phrase and filler tables are data: `knowledge/data/abbreviations.yaml`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

DATA_DIR = Path(__file__).resolve().parent / "data"
ABBREVIATIONS_FILE = DATA_DIR / "abbreviations.yaml"

# Old-style tone placement (hoà, khoẻ, uỷ) mapped to one style (hòa, khỏe, ủy) at a syllable's end.
_TONE_PLACEMENT = {
    "oà": "òa", "oá": "óa", "oả": "ỏa", "oã": "õa", "oạ": "ọa",
    "oè": "òe", "oé": "óe", "oẻ": "ỏe", "oẽ": "õe", "oẹ": "ọe",
    "uỳ": "ùy", "uý": "úy", "uỷ": "ủy", "uỹ": "ũy", "uỵ": "ụy",
}  # fmt: skip
_TONE_RE = re.compile(r"(?<!q)(" + "|".join(_TONE_PLACEMENT) + r")(?!\w)")
_STARS_RE = re.compile(r"(\d)\s*(?:\*|★|⭐|sao\b|s\b)")
# A star sign standing alone ("72 điểm là mấy * ạ") is the word.
_STAR_SIGN_RE = re.compile(r"(?:^|(?<=\s))(?:\*|★|⭐)+(?=\s|$)")
_SPLIT_DIGITS_RE = re.compile(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_]{3,})")
_NON_WORD_RE = re.compile(r"[\W_]+")


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Remove Vietnamese diacritics (đ→d) from lowercase or mixed text."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def has_diacritics(token: str) -> bool:
    """True when folding changes the token (the user typed accents)."""
    return fold(token) != token


def clean(text: str) -> str:
    """NFC, lowercase, one tone-placement style, punctuation to spaces, single spaces."""
    text = unicodedata.normalize("NFC", text).lower()
    text = _TONE_RE.sub(lambda m: _TONE_PLACEMENT[m.group(1)], text)
    return " ".join(_NON_WORD_RE.sub(" ", text).split())


@dataclass(frozen=True)
class Normalized:
    """A normalised text: aligned accented and folded tokens (same length, same order)."""

    tokens: tuple[str, ...]
    folded_tokens: tuple[str, ...]
    repaired: frozenset[str] = frozenset()  # folded words guessed by typo repair (matcher)

    @property
    def text(self) -> str:
        return " ".join(self.tokens)

    @property
    def folded(self) -> str:
        return " ".join(self.folded_tokens)

    def __bool__(self) -> bool:
        return bool(self.tokens)


# Greetings and thanks run to a dozen words at most ("dạ vâng cảm ơn anh chị ạ, chào bot").
SMALL_TALK_MAX_WORDS = 12


def _token_matches(token: str, folded_token: str, pattern: str, folded_pattern: str) -> bool:
    """A pattern word matches a typed word with the same accents, or any word typed without accents."""
    if token == pattern:
        return True
    return token == folded_token and folded_token == folded_pattern


class Normalizer:
    """Applies the abbreviation, phrase and filler tables; build once, call `normalize` per text."""

    def __init__(
        self,
        abbreviations: dict[str, str],
        phrases: dict[str, str] | None = None,
        fillers: Iterable[str] = (),
        trailing: Iterable[str] = (),
    ) -> None:
        self.abbreviations = {clean(k) if clean(k) else k: clean(v) for k, v in abbreviations.items()}
        self.phrases = sorted(
            ((unicodedata.normalize("NFC", k).lower(), v) for k, v in (phrases or {}).items()),
            key=lambda kv: -len(kv[0]),
        )
        self.fillers: dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]] = {}
        for pattern in sorted((self._pattern(f) for f in fillers if clean(f)), key=lambda p: -len(p[0])):
            self.fillers.setdefault(pattern[1][0], []).append(pattern)
        self.trailing = [self._pattern(t) for t in trailing if clean(t)]

    @classmethod
    def from_file(cls, path: Path = ABBREVIATIONS_FILE) -> Normalizer:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
        return cls(
            {str(k): str(v) for k, v in (data.get("abbreviations") or {}).items()},
            {str(k): str(v) for k, v in (data.get("phrases") or {}).items()},
            [str(f) for f in data.get("fillers") or []],
            [str(t) for t in data.get("trailing") or []],
        )

    @staticmethod
    def _pattern(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        tokens = tuple(clean(text).split())
        return tokens, tuple(fold(t) for t in tokens)

    def tokenize(self, text: str) -> list[str]:
        """Clean the text and expand abbreviations; returns accented tokens (fillers still in)."""
        text = unicodedata.normalize("NFC", text).lower()
        for phrase, replacement in self.phrases:
            if phrase in text:
                text = text.replace(phrase, f" {replacement} ")
        text = _STARS_RE.sub(r"\1 sao ", text)
        text = _STAR_SIGN_RE.sub(" sao ", text)
        text = _SPLIT_DIGITS_RE.sub(" ", text)
        tokens: list[str] = []
        for token in clean(text).split():
            expansion = self.abbreviations.get(token)
            if expansion is None:
                tokens.append(token)
            else:
                tokens.extend(expansion.split())
        return tokens

    def normalize(self, text: str) -> Normalized:
        """The accented and folded token sequences of `text`, without greetings and filler words."""
        tokens, folded = self._content(text, keep_if_empty=True)
        return Normalized(tuple(tokens), tuple(folded))

    def is_small_talk(self, text: str) -> bool:
        """True when the text is nothing but greetings, thanks and politeness words ("alo", "cảm ơn ạ").
        A message of more than SMALL_TALK_MAX_WORDS words says something (and is not tokenised again)."""
        if len(text.split()) > SMALL_TALK_MAX_WORDS:
            return False
        return not self._content(text, keep_if_empty=False)[0]

    def _content(self, text: str, *, keep_if_empty: bool) -> tuple[list[str], list[str]]:
        """Tokens (accented, folded) without fillers and trailing politeness words."""
        tokens = self.tokenize(text)
        tokens, folded = self._drop_fillers(tokens, [fold(t) for t in tokens], keep_if_empty=keep_if_empty)
        while tokens and any(_token_matches(tokens[-1], folded[-1], p[0], fp[0]) for p, fp in self.trailing):
            tokens.pop()
            folded.pop()
        return tokens, folded

    def _drop_fillers(
        self, tokens: list[str], folded: list[str], *, keep_if_empty: bool
    ) -> tuple[list[str], list[str]]:
        if not self.fillers:
            return tokens, folded
        keep_tokens: list[str] = []
        keep_folded: list[str] = []
        i = 0
        n = len(tokens)
        while i < n:
            for pattern, folded_pattern in self.fillers.get(folded[i], ()):
                size = len(pattern)
                if i + size <= n and all(
                    _token_matches(tokens[i + j], folded[i + j], pattern[j], folded_pattern[j])
                    for j in range(size)
                ):
                    i += size
                    break
            else:
                keep_tokens.append(tokens[i])
                keep_folded.append(folded[i])
                i += 1
        if not keep_tokens and keep_if_empty:  # a text made only of politeness words: keep it as typed
            return tokens, folded
        return keep_tokens, keep_folded


@lru_cache(maxsize=1)
def default_normalizer() -> Normalizer:
    """The normaliser built from knowledge/data/abbreviations.yaml (loaded once)."""
    return Normalizer.from_file()


def normalize(text: str) -> Normalized:
    """Normalise `text` with the default tables (see `Normalizer.normalize`)."""
    return default_normalizer().normalize(text)


def fold_text(text: str) -> str:
    """Clean and fold a whole text (no abbreviation or filler handling): for names and labels."""
    return fold(clean(text))


class PhraseTable:
    """Rewrites token phrases to a canonical phrase (synonyms), on folded tokens, keeping alignment."""

    def __init__(self, groups: Sequence[Sequence[str]], normalizer: Normalizer | None = None) -> None:
        norm = normalizer or default_normalizer()
        self._rules: dict[str, list[tuple[tuple[str, ...], tuple[str, ...], Normalized]]] = {}
        for group in groups:
            variants = [norm.normalize(v) for v in group if clean(v)]
            variants = [v for v in variants if v]
            if len(variants) < 2:
                continue
            canonical = variants[0]
            for variant in variants[1:]:
                key = variant.folded_tokens
                if key == canonical.folded_tokens:
                    continue
                self._rules.setdefault(key[0], []).append((key, variant.tokens, canonical))
        for rules in self._rules.values():
            rules.sort(key=lambda r: -len(r[0]))
        self.words: frozenset[str] = frozenset(
            word
            for rules in self._rules.values()
            for key, _, canon in rules
            for word in key + canon.folded_tokens
        )  # every folded word of the phrases: known words, never "repaired" into others

    def apply(self, text: Normalized) -> Normalized:
        """Replace every variant phrase (longest first, left to right) by its canonical phrase.

        A variant word matches a typed word with the same accents, or a word typed without accents
        (so "nhãn" never matches "nhận", but "nhan" typed bare matches both).
        """
        if not self._rules:
            return text
        tokens, folded = text.tokens, text.folded_tokens
        out_tokens: list[str] = []
        out_folded: list[str] = []
        i = 0
        n = len(folded)
        changed = False
        while i < n:
            for key, accented, canonical in self._rules.get(folded[i], ()):
                size = len(key)
                if folded[i : i + size] == key and all(
                    _token_matches(tokens[i + j], folded[i + j], accented[j], key[j]) for j in range(size)
                ):
                    out_tokens.extend(canonical.tokens)
                    out_folded.extend(canonical.folded_tokens)
                    i += size
                    changed = True
                    break
            else:
                out_tokens.append(tokens[i])
                out_folded.append(folded[i])
                i += 1
        if not changed:
            return text
        return Normalized(tuple(out_tokens), tuple(out_folded), text.repaired)
