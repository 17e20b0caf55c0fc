"""What the matcher's lexical half counts in a text: folded words, folded bigrams and accented words,
each with a factor its IDF is multiplied by; and the IDF and posting-list sums over them."""

from __future__ import annotations

import itertools
import math

import numpy as np

from knowledge.normalize import Normalized
from knowledge.phrases import PLACE_TAG_PREFIX

BIGRAM_STOP_FACTOR = 0.5  # a bigram with one function word
ACCENT_FACTOR = 0.5
STOPWORD_FACTOR = 0.25
PLACE_TAG_FACTOR = 0.5  # a place tag weighs this share of a word
STOPWORDS = frozenset(
    """
    la thi co khong cua va de cho toi em minh anh chi ban nay do voi ve ma neu hay hoac roi da se dang bi
    vi gi nao muon hoi biet cung oi nhe chua ra vao tu den nua thoi luon ah a u day kia the nhu vay duoc
    can phai nhung cac mot nhi ha ho oi ca nguoi chung ta ho cai con nhieu lam
    """.split()
)


def bm25_idf(n_entries: int, df: int) -> float:
    """BM25-style IDF of a feature found in `df` of `n_entries` entries."""
    return math.log(1.0 + (n_entries - df + 0.5) / (df + 0.5))


def accumulate(postings: list[np.ndarray], weights: list[float], size: int) -> np.ndarray:
    """Sum of weights per index over several posting lists (one bincount instead of many adds)."""
    if not postings:
        return np.zeros(size, dtype=np.float64)
    lengths = [len(p) for p in postings]
    return np.bincount(np.concatenate(postings), weights=np.repeat(weights, lengths), minlength=size)


def text_features(norm: Normalized) -> dict[str, float]:
    """Feature → factor (multiplied by the feature's IDF): folded words, folded bigrams, accented words."""
    feats: dict[str, float] = {}
    folded = norm.folded_tokens
    for acc, tok in zip(norm.tokens, folded, strict=True):
        factor = STOPWORD_FACTOR if tok in STOPWORDS else 1.0
        if tok.startswith(PLACE_TAG_PREFIX):  # no Vietnamese word starts with "dv"
            factor = PLACE_TAG_FACTOR
        feats[f"u:{tok}"] = factor
        if acc != tok:
            feats[f"a:{acc}"] = factor * ACCENT_FACTOR
    for left, right in itertools.pairwise(folded):
        stops = (left in STOPWORDS) + (right in STOPWORDS)
        factor = (1.0, BIGRAM_STOP_FACTOR, STOPWORD_FACTOR)[stops]
        feats[f"b:{left} {right}"] = factor
    return feats
