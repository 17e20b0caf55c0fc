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
# A word of a place name weighs this share: where the producer is says little about what they ask (the
# question's other words choose the entry; the tag still brings the unit's samples closer).
PLACE_NAME_FACTOR = 0.5
# Likewise a product's name (`knowledge.products`): which product says little about what is asked, and
# a product the samples never named is not a sign of another subject. A text that names any product also
# has the feature PRODUCT_TAG, so an unfamiliar product meets the samples about products.
PRODUCT_NAME_FACTOR = 0.5
PRODUCT_TAG = "t:product"
PRODUCT_TAG_FACTOR = 1.0
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


def text_features(
    norm: Normalized, places: frozenset[int] = frozenset(), products: frozenset[int] = frozenset()
) -> dict[str, float]:
    """Feature → factor (multiplied by the feature's IDF): folded words, folded bigrams, accented words,
    and PRODUCT_TAG when the text names a product.

    `places`: positions of the words that are part of a place name (they weigh PLACE_NAME_FACTOR);
    `products`: those of a product's name (PRODUCT_NAME_FACTOR)."""
    feats: dict[str, float] = {}
    folded = norm.folded_tokens
    if products:
        feats[PRODUCT_TAG] = PRODUCT_TAG_FACTOR
    for index, (acc, tok) in enumerate(zip(norm.tokens, folded, strict=True)):
        factor = STOPWORD_FACTOR if tok in STOPWORDS else 1.0
        if tok.startswith(PLACE_TAG_PREFIX):  # no Vietnamese word starts with "dv"
            factor = PLACE_TAG_FACTOR
        elif index in places:
            factor *= PLACE_NAME_FACTOR
        elif index in products:
            factor *= PRODUCT_NAME_FACTOR
        feats[f"u:{tok}"] = max(feats.get(f"u:{tok}", 0.0), factor)
        if acc != tok:
            feats[f"a:{acc}"] = max(feats.get(f"a:{acc}", 0.0), factor * ACCENT_FACTOR)
    for index, (left, right) in enumerate(itertools.pairwise(folded)):
        stops = (left in STOPWORDS) + (right in STOPWORDS)
        factor = (1.0, BIGRAM_STOP_FACTOR, STOPWORD_FACTOR)[stops]
        if index in places or index + 1 in places:
            factor *= PLACE_NAME_FACTOR
        elif index in products or index + 1 in products:
            factor *= PRODUCT_NAME_FACTOR
        key = f"b:{left} {right}"
        feats[key] = max(feats.get(key, 0.0), factor)
    return feats
