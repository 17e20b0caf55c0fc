"""The supervised half of the matcher: a text classifier trained on the knowledge base's own questions.

Every sample question (and title) is a training example for its entry, and every question of
`data/out_of_scope.yaml` one for its out-of-scope topic. Features are TF-IDF weights of character
n-grams (2–5 letters inside word boundaries: robust to typos, missing accents and glued words) and of
words and word pairs (a single digit is a word: "lên 4 sao" is not "lên 5 sao"), all on the folded,
normalised text the lexical matcher also sees; the model is a multinomial logistic regression
(scikit-learn). It gives, for a question, a probability per class: the
lexical matcher (`knowledge.retrieval`) uses it to rank the entries and to recognise questions about
something else.

Training takes several seconds for the real knowledge base (with its paraphrases), so trained models
are cached by a digest of their training data and settings: in the process (building a matcher again
on the same data — tests, `/napkb` without changes — costs nothing) and on disk (`model_cache_dir`: a
restart or another process loads the model instead of training it).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import pickle
import tempfile
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import sklearn
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

# Inverse regularisation strength (tuned on bench/data/kb_eval.yaml with `python -m bench kb`).
REGULARISATION_C = 20.0
CHAR_NGRAMS = (2, 5)
WORD_NGRAMS = (1, 2)
# Words of two letters or more, and single digits (scikit-learn's default drops them: the star counts).
WORD_PATTERN = r"(?u)\b(?:\w\w+|\d)\b"
MAX_ITERATIONS = 3000
# Newton-CG reaches the same optimum as the default L-BFGS in less than half the time, without L-BFGS's
# history of ten weight-sized vectors (about 220 MB at the real size, gigabytes at 10×).
SOLVER = "newton-cg"
# Stopping tolerance, tight enough that the model is the optimum and not wherever the solver stopped:
# at 1e-3 the answers depended on the machine (OpenBLAS picks its kernels by CPU, and the rounding of
# another kernel moved 27 of the 5,813 benchmark answers) and on the order of the training data
# (probabilities differed by up to 0.94). At 1e-6 both move probabilities by less than 1e-4, for about
# twice the training time.
TOLERANCE = 1e-6
CACHE_SIZE = 8
# Trained models are also kept on disk between processes (`model_cache_dir`): a restart, a reload of the
# same data, another worker of the same bot load the model instead of training it again (seconds).
MODEL_CACHE_ENV = "OCOP_MODEL_CACHE"
MODEL_SUFFIX = ".model.pickle"
MODEL_CACHE_FILES = 16  # the most recently used; a test run's small models must not evict the real one
MODEL_CACHE_MAX_BYTES = 64 * 2**20  # the real model's weights are about 9 MB
MODEL_FORMAT = 3  # bumped when QuestionClassifier's attributes change: older files are not loaded
# Words whose character n-gram columns a classifier remembers (the vocabulary of questions is small).
WORD_CACHE_SIZE = 50_000

log = logging.getLogger(__name__)
_cache: OrderedDict[str, QuestionClassifier] = OrderedDict()
_cache_lock = threading.Lock()


class QuestionClassifier:
    """A trained classifier: `probabilities(text)` gives one probability per class index."""

    def __init__(self, texts: Sequence[str], labels: Sequence[int], n_classes: int) -> None:
        if len(texts) != len(labels):
            raise ValueError("texts and labels differ in length")
        if len(set(labels)) < 2:
            raise ValueError("a classifier needs at least two classes")
        self.n_classes = n_classes
        self._vectorizers = (
            TfidfVectorizer(analyzer="char_wb", ngram_range=CHAR_NGRAMS, sublinear_tf=True, dtype=np.float32),
            TfidfVectorizer(
                analyzer="word",
                ngram_range=WORD_NGRAMS,
                sublinear_tf=True,
                dtype=np.float32,
                token_pattern=WORD_PATTERN,
            ),
        )
        features = hstack([v.fit_transform(texts) for v in self._vectorizers]).tocsr()
        model = LogisticRegression(C=REGULARISATION_C, solver=SOLVER, max_iter=MAX_ITERATIONS, tol=TOLERANCE)
        model.fit(features, np.asarray(labels))
        # Kept as plain arrays: a prediction sums the weight rows of the question's few features and
        # takes a softmax, which for one question is several times faster than sklearn's transform.
        self._coef = np.ascontiguousarray(model.coef_.T, dtype=np.float32)
        self._intercept = model.intercept_.astype(np.float64)
        self._classes = model.classes_.astype(np.int64)
        # Per vectorizer: its analyzer (None for char_wb, whose n-grams `_char_columns` finds word by word),
        # vocabulary, IDF and first column.
        self._parts: list[tuple[Callable[[str], list[str]] | None, dict[str, int], np.ndarray, int]] = []
        offset = 0
        self._char_ngrams: tuple[int, int] = CHAR_NGRAMS
        for vectorizer in self._vectorizers:
            vocabulary = {str(k): int(v) for k, v in vectorizer.vocabulary_.items()}
            by_word = vectorizer.analyzer == "char_wb"
            if by_word:
                self._char_ngrams = vectorizer.ngram_range
            analyzer = None if by_word else vectorizer.build_analyzer()
            self._parts.append((analyzer, vocabulary, vectorizer.idf_.astype(np.float64), offset))
            offset += len(vocabulary)
        self._word_columns: dict[str, np.ndarray] = {}

    @property
    def nbytes(self) -> int:
        """The size of the model's weights (what a stored model mostly is)."""
        return int(self._coef.nbytes)

    def _char_columns(self, text: str, vocabulary: dict[str, int]) -> np.ndarray:
        """The columns of the known character n-grams of `text`, once per occurrence: what the char_wb
        analyzer gives, word by word — each word's n-grams looked up once (`_word_columns`), since the
        words of questions recur far more than the questions do."""
        cache = self._word_columns
        parts: list[np.ndarray] = []
        for word in text.lower().split():
            columns = cache.get(word)
            if columns is None:
                grams = word_ngrams(word, *self._char_ngrams)
                columns = np.fromiter((vocabulary[g] for g in grams if g in vocabulary), dtype=np.int64)
                if len(cache) < WORD_CACHE_SIZE:
                    cache[word] = columns
            parts.append(columns)
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def features(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The question's non-zero features (column indices, TF-IDF values): what
        `TfidfVectorizer.transform` gives (sublinear tf × idf, L2-normalised per vectorizer)."""
        columns: list[np.ndarray] = []
        values: list[np.ndarray] = []
        for analyzer, vocabulary, idf, offset in self._parts:
            if analyzer is None:  # the char_wb vectorizer: its n-grams word by word, counted in numpy
                index, counts = np.unique(self._char_columns(text, vocabulary), return_counts=True)
            else:
                found = Counter(vocabulary[g] for g in analyzer(text) if g in vocabulary)
                index = np.fromiter(found.keys(), dtype=np.int64, count=len(found))
                counts = np.fromiter(found.values(), dtype=np.int64, count=len(found))
            if not len(index):
                continue
            weight = (1.0 + np.log(counts)) * idf[index]
            weight /= np.sqrt(np.dot(weight, weight))
            columns.append(index + offset)
            values.append(weight)
        if not columns:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        return np.concatenate(columns), np.concatenate(values)

    def probabilities(self, text: str) -> np.ndarray:
        """Probability per class index (0..n_classes-1; a class without training data gets 0)."""
        columns, values = self.features(text)
        # In float32, like the weights: a float64 product would first copy the weight rows to float64
        # (four times slower at 10×); logits move by about 1e-6, below the solver's own tolerance.
        logits = values.astype(np.float32) @ self._coef[columns] + self._intercept
        if len(self._classes) == 2:  # a binary model has one weight vector: class 1 against class 0
            logits = np.array([0.0, float(logits[0])])
        logits = logits - logits.max()
        exp = np.exp(logits)
        out = np.zeros(self.n_classes, dtype=np.float64)
        out[self._classes] = exp / exp.sum()
        return out

    def sklearn_features(self, text: str) -> csr_matrix:
        """The same features through scikit-learn's own transform (tests compare the two)."""
        return hstack([v.transform([text]) for v in self._vectorizers]).tocsr()


def word_ngrams(word: str, min_n: int, max_n: int) -> list[str]:
    """The character n-grams of one word padded with spaces, as scikit-learn's char_wb analyzer makes
    them (a word shorter than an n gives itself once)."""
    padded = f" {word} "
    size = len(padded)
    grams: list[str] = []
    for n in range(min_n, max_n + 1):
        if size <= n:
            grams.append(padded)
            break
        grams.extend(padded[i : i + n] for i in range(size - n + 1))
    return grams


def model_cache_dir() -> Path | None:
    """Where trained models are kept between processes: MODEL_CACHE_ENV if set ("off" or empty: nowhere),
    else the user's cache directory (XDG_CACHE_HOME or ~/.cache) under tro-ly-ocop/models."""
    configured = os.environ.get(MODEL_CACHE_ENV)
    if configured is not None:
        return None if configured.strip().lower() in ("", "off") else Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tro-ly-ocop" / "models"


def _model_key(texts: Sequence[str], labels: Sequence[int], n_classes: int) -> str:
    """A digest of the training data, the settings and the libraries that make the model."""
    digest = hashlib.sha256()
    settings = (
        MODEL_FORMAT,
        REGULARISATION_C,
        CHAR_NGRAMS,
        WORD_NGRAMS,
        WORD_PATTERN,
        SOLVER,
        TOLERANCE,
        MAX_ITERATIONS,
        n_classes,
        sklearn.__version__,
        np.__version__,
    )
    digest.update(repr(settings).encode())
    for text, label in zip(texts, labels, strict=True):
        digest.update(f"{label}\x1f{text}\x1e".encode())
    return digest.hexdigest()


def _load_model(directory: Path, key: str, n_classes: int) -> QuestionClassifier | None:
    """The model stored under `key`, or None (absent, unreadable or not what was asked for)."""
    path = directory / f"{key}{MODEL_SUFFIX}"
    try:
        with path.open("rb") as fh:
            model = pickle.load(fh)  # written by this module into the user's own cache: trusted
    except FileNotFoundError:
        return None
    except Exception:  # a truncated or foreign file: trained again and replaced
        log.warning("model cache: %s unreadable, training again", path, exc_info=True)
        return None
    if not isinstance(model, QuestionClassifier) or model.n_classes != n_classes:
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # recently used: kept longest
    return model


def _store_model(directory: Path, key: str, model: QuestionClassifier) -> None:
    """Keep `model` for the next process (written whole, then renamed: readers never see half a file);
    the MODEL_CACHE_FILES most recently used models are kept. A model too big to be worth it
    (MODEL_CACHE_MAX_BYTES: the benchmark's 10× one) or a directory that cannot be written is skipped."""
    if model.nbytes > MODEL_CACHE_MAX_BYTES:
        return
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)  # only its user writes what it loads
        with tempfile.NamedTemporaryFile(dir=directory, suffix=".tmp", delete=False) as fh:
            pickle.dump(model, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(fh.name, directory / f"{key}{MODEL_SUFFIX}")
        kept = sorted(directory.glob(f"*{MODEL_SUFFIX}"), key=lambda p: p.stat().st_mtime, reverse=True)
        for stale in kept[MODEL_CACHE_FILES:]:
            stale.unlink(missing_ok=True)
    except OSError:
        log.warning("model cache: cannot write in %s", directory, exc_info=True)


def trained_classifier(texts: Sequence[str], labels: Sequence[int], n_classes: int) -> QuestionClassifier:
    """A classifier for this training data: from the per-process cache, from the model cache on disk
    (`model_cache_dir`: a restart does not train again), or trained now (and stored there)."""
    key = _model_key(texts, labels, n_classes)
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache.move_to_end(key)
            return cached
    directory = model_cache_dir()
    classifier = _load_model(directory, key, n_classes) if directory is not None else None
    if classifier is None:
        classifier = QuestionClassifier(texts, labels, n_classes)
        if directory is not None:
            _store_model(directory, key, classifier)
    with _cache_lock:
        _cache[key] = classifier
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return classifier
