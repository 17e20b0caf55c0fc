"""The matcher: finds the knowledge-base entry a producer's question is about, with a confidence.

Every entry is indexed by its title and sample questions (plus the ones staff linked later). A question
is scored against each sample by
- weighted token overlap: IDF over entries of folded unigrams, folded bigrams and accented unigrams
  (`knowledge.features`; accents help when typed, never hurt when left out), as a mix of how much of the
  question is covered and how much of the sample is covered (long questions: the sample's side counts
  more);
- character similarity (rapidfuzz token_set_ratio) of the folded texts, for the best candidates;
and per entry: its best sample, plus how much of the question the entry's samples and its answer text
cover as a whole. Before that: normalisation (abbreviations, fillers), synonym phrases
(`knowledge.phrases`) and typo repair (an unknown word is mapped to the closest known word, or split in
two known words). Long messages are also scored with their story sentences weighing less than the
sentences that ask something, and each question sentence alone (`knowledge.sentences`); a product
named only in the story (`knowledge.products`) is left out of all that (and of what the classifier
reads), as is one named in a run-on question (voice-to-text: its story inside) that does not ask about it,
and so is a place unless the question is about a place (names one, or asks where / which
commune): the story's commune or product does not choose the entry.
Out-of-scope guard: a word the knowledge base has never seen weighs more than its rarest word (and so
does a word typed with accents that only matches another word once folded: "kết hôn" is not "hơn"),
so a question about something else covers little and scores low; with no known content word at all the
confidence is capped.
Then the supervised half (`knowledge.classifier`, trained on the same sample questions, the entries'
paraphrases (`data/paraphrases/`) and the questions of `data/out_of_scope.yaml`; blended in
`knowledge.decision.blend`): the entries are ranked by a mix of the lexical confidence and the
classifier's probability (`CLASSIFIER_WEIGHT`), and a question the classifier puts among the
out-of-scope topics with `OUT_OF_SCOPE_THRESHOLD` or more (`OUT_OF_SCOPE_THRESHOLD_NAMING_OCOP` when it
names the programme) is declined, naming the topic when one stands out.
Place names (old and current communes of `data/communes.yaml`) are tagged with the current unit they
belong to (`place_phrases`), so an old commune meets the samples that name its neighbours.
The decision: ANSWER when the lexical confidence (how well the knowledge base covers the question) is
`ANSWER_THRESHOLD` or above and the best entry leads the next by `MIN_MARGIN`; SUGGEST in the middle
band; UNKNOWN below (with the closest topics, if any) or out of scope.
All weights and thresholds are named constants (here, in `knowledge.decision` and `knowledge.features`),
chosen with `python -m bench kb` on bench/data/kb_eval.yaml and the dev set (never on a held-out set).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from rapidfuzz import fuzz, process

from knowledge.classifier import QuestionClassifier, trained_classifier
from knowledge.decision import PROGRAMME_WORD, Decision, Match, blend, decide
from knowledge.features import STOPWORDS, accumulate, bm25_idf, text_features
from knowledge.kb import KnowledgeBase
from knowledge.normalize import Normalized, PhraseTable, default_normalizer
from knowledge.phrases import PLACE_TAG_PREFIX, UNTAGGED_PLACES, load_synonyms, place_phrases
from knowledge.products import PRODUCT_ENTRY_TAG, ProductDirectory, lexicon_file
from knowledge.sentences import LONG_MESSAGE_WORDS, message_parts, sentence_split, without_requests

PREPARED_CACHE_SIZE = 64  # prepared texts kept (a question prepares the same text several times)

# Scoring weights.
QUERY_COVERAGE_EXPONENT = 0.6  # token score = qcov^e * scov^(1-e)
SHORT_QUERY_WORDS = 8  # above this many content words the exponent shrinks in proportion
LONG_QUERY_MIN_EXPONENT = 0.2
ENTRY_COVERAGE_WEIGHT = 0.35  # share of the entry-wide coverage of the question
ANSWER_WEIGHT = 0.05  # share of how much of the question the entry's answer text covers
CHAR_WEIGHT = 0.5  # share of the character similarity
PRESELECT = 256  # samples (most overlap) that get a full token score
CHAR_CANDIDATES = 24  # samples (best by tokens) that get a character score
CHAR_SCORER = fuzz.token_set_ratio
ACCENT_MISMATCH_FACTOR = 0.35  # a folded match whose typed accents the index never saw on that word
TYPO_MIN_LENGTH = 4  # unknown words typed without accents, this long or longer, are repaired
TYPO_MIN_SCORE = 80.0
TYPO_SHORT_MIN_SCORE = 85.0  # for words of exactly TYPO_MIN_LENGTH letters
TYPO_FACTOR = 0.7  # a repaired word matches with this share of its weight
# A long message (LONG_MESSAGE_WORDS or more) is scored whole counting LONG_WHOLE_FACTOR of itself (its
# story words pull towards other topics), whole again with its story sentences' words weighing
# STORY_WEIGHT of the question sentences', and its question parts alone
# (`knowledge.sentences.message_parts`); each entry keeps its best confidence.
LONG_WHOLE_FACTOR = 0.85
STORY_WEIGHT = 0.25
# A question is about a place (so places named in the story before it may steer) when it names one or
# asks where / which commune (folded, after synonyms: "nộp ở đâu" reads "noi nop").
PLACE_QUESTION_RE = re.compile(
    r"\b(?:o dau|noi nop|cho nao|xa nao|phuong nao|xa moi|thuoc xa|thuoc phuong)\b"
)
# Likewise a question about a product (names one, or asks about "the product", its set, whether it can
# take part): the story's product steers.
PRODUCT_QUESTION_RE = re.compile(
    r"\b(?:san pham (?:nay|do|cua|nha)|sp|mat hang|thuoc (?:nhom|bo|nganh|loai)|(?:nhom|bo|nganh|loai) nao|"
    r"(?:tham gia|lam ocop|dang ky ocop|di cham|cham sao|vao ocop) (?:duoc|dc))\b"
)
# A run-on question (voice-to-text, no full stop: its story is inside the question sentence) asks about
# the product it names only with these words (folded, after synonyms) or PRODUCT_QUESTION_RE's: "có được
# tham gia không", "làm OCOP được không".
RUNON_PRODUCT_CUE_RE = re.compile(
    r"\b(?:duoc tham gia|co tham gia|(?:tham gia|lam|dang ky|vao) ocop (?:duoc|khong)|"
    r"co duoc (?:lam|dang ky|tham gia|cham|di cham)|(?:nhom|bo) (?:gi|nao)|duoc (?:di )?ocop|"
    r"(?:la|phai) san pham ocop)\b"
)
RUNON_WORDS = 30  # a question sentence this long holds its story
# A question that asks who may take part ("những ai được", "ai thì được", "đối tượng nào") asks about the
# applicant, whatever product its asker names ("mẹ cháu nấu rượu nếp thì những ai được đăng ký"): the
# product's name does not steer it (folded, after synonyms).
ASKS_WHO_RE = re.compile(
    r"\b(?:nhung ai|ai (?:thi |moi |la )?(?:duoc|co the|co duoc)|doi tuong (?:nao|gi|duoc|tham gia)|"
    r"chu the (?:nao|gi|duoc))\b"
)
# Nor does one that asks how to register ("đk ocop ntn ạ, e mún đăng ký cho sp mật ong"): how to start is
# the same for every product (folded, after abbreviations).
ASKS_HOW_TO_REGISTER_RE = re.compile(
    r"\b(?:dang ky|lam ocop|di ocop|tham gia ocop)\b.*\b(?:the nao|nhu the nao|lam sao|ra sao|"
    r"bat dau tu dau)\b"
)
# Names a sector by its name ("nhóm dược liệu", "ngành đồ uống"; folded).
SECTOR_NAMED_RE = re.compile(
    r"\b(?:nhom|nganh)(?: hang| san pham)? (?:thuc pham|do uong|duoc lieu|thao duoc|thu cong my nghe|"
    r"sinh vat canh|dich vu du lich)\b"
)
# Says the producer is not registered as a business yet ("chưa đăng ký gì", "chưa có giấy phép kinh
# doanh", "chưa lập hộ kinh doanh", "không có giấy tờ gì"; folded, after synonyms) — not a trademark or a
# dossier not yet sent.
UNREGISTERED_RE = re.compile(
    r"\bchua (?:bao gio |co |lam |lap |di |he |tung |ra )*(?:dang ky(?! (?:nhan hieu|ocop|ho so|du thi|cham|"
    r"danh gia|tham gia|san pham|nop|ma|thuong hieu|tem|bao bi|mau|lich|tap huan))|giay dang ky kinh doanh|"
    r"giay phep|giay to(?! (?:moi truong|an toan|ve sinh|kiem nghiem|chat luong))|ho kinh doanh|dkkd)"
    r"|\bkhong co (?:giay to(?! (?:moi truong|an toan|ve sinh|kiem nghiem|chat luong))|giay phep|"
    r"giay dang ky|dang ky kinh doanh)"
)
UNREGISTERED_TAG = "tchuadangky"  # a token no Vietnamese word is: the feature and the classifier's word
UNREGISTERED_FEATURE = f"t:{UNREGISTERED_TAG}"
# The classifier reads a long message whole and its question sentences alone: the latter's share.
QUESTION_CLASSIFIER_SHARE = 0.5
# Words besides function words that a message naming only a product may hold ("nấm linh chi nhà em ạ").
ONLY_A_PRODUCT_WORDS = 8  # longer messages say more than a product's name
PRODUCT_FILLERS = frozenset({"nha", "e", "mk", "sao", "ad", "bot", "oi", "san", "pham", "sp"})
# A word found in no sample question and no answer weighs this many times the rarest known word.
UNKNOWN_WORD_FACTOR = 1.5
# A word typed with accents that neither the samples nor the answers have (only its folded form matches
# another word) adds this many times the rarest word's weight to the question.
FOREIGN_ACCENTED_WEIGHT = 1.5
# Without any known content word the confidence is capped here (out-of-scope guard).
NO_DOMAIN_CAP = 0.15


def _sound_variants(token: str) -> list[str]:
    """What an unknown folded word may be, typed the way it sounds or with texting letters: f → ph,
    j → gi, z → d/gi, w → qu at the start; a final g without its n ("khog", "nag"); s and x, l and n
    swapped at the start (a regional pronunciation)."""
    variants: list[str] = []
    if len(token) < 2 or not token.isalpha():
        return variants
    head, rest = token[0], token[1:]
    texting = {"f": ["ph" + rest], "j": ["gi" + rest], "z": ["d" + rest, "gi" + rest], "w": ["qu" + rest]}
    variants += texting.get(head, [])
    if token.endswith("g") and not token.endswith("ng") and len(token) >= 3:
        variants.append(token[:-1] + "ng")
    variants += {"x": ["s" + rest], "s": ["x" + rest], "l": ["n" + rest], "n": ["l" + rest]}.get(head, [])
    return variants


# A feature's IDF and postings among the samples, its IDF and postings among the answers (None where it
# has none), and its words (`Matcher._feature_records`; entry and answer postings shifted after the
# samples' indices).
_Postings = dict[str, list[int]]  # feature → the indices (samples or entries) that have it
_FeatureRecord = tuple[
    float | None, float | None, np.ndarray | None, np.ndarray | None, np.ndarray | None, tuple[str, ...]
]


@dataclass(frozen=True)
class _Sample:
    entry: int
    text: str
    folded: str
    is_question: bool
    compared: str  # what the character similarity reads: the folded text without its place names


class Matcher:
    """An index over a knowledge base's sample questions; `match(text)` answers one question.

    Built once per knowledge version (`knowledge.index`) and never changed afterwards, except for its
    caches of prepared texts and repaired words."""

    def __init__(
        self,
        kb: KnowledgeBase,
        extra_questions: Mapping[str, Sequence[str]] | None = None,
        *,
        classifier: bool = True,
    ) -> None:
        self.kb = kb
        self.normalizer = default_normalizer()
        places = place_phrases()
        self.phrases = PhraseTable([*load_synonyms(), *places], self.normalizer)
        self._tagged_places: list[tuple[str, str]] = []
        for canonical, _name in places:
            folded = " ".join(self.normalizer.normalize(canonical).folded_tokens)
            tags = " ".join(t for t in folded.split() if t.startswith(PLACE_TAG_PREFIX))
            self._tagged_places.append((f" {folded} ", f" {tags} "))
        self._tagged_places.sort(key=lambda pair: -len(pair[0]))
        # Place names as folded token sequences (tagged names with their tags, and the old district's
        # name): what a story sentence says about where the producer is.
        self._place_sequences: dict[str, list[tuple[str, ...]]] = {}
        for seq in sorted(
            {tuple(tagged.split()) for tagged, _ in self._tagged_places}
            | {tuple(name.split()) for name in UNTAGGED_PLACES},
            key=lambda seq: -len(seq),
        ):
            self._place_sequences.setdefault(seq[0], []).append(seq)  # by first word, longest first
        # Product names: they weigh less, and a long message's story's are left out (see `_told`). Read
        # with every build, like the synonyms and places: `/napkb` picks up an edited lexicon.
        lexicon = lexicon_file(kb.data_dir)
        self.products: ProductDirectory | None = ProductDirectory.load(lexicon) if lexicon.exists() else None
        self._positions: dict[tuple[tuple[str, ...], tuple[str, ...]], frozenset[int]] = {}
        self.entry_ids: list[str] = list(kb.entries)
        self._product_entry = next((e.id for e in kb.entries.values() if PRODUCT_ENTRY_TAG in e.tags), None)
        extra = extra_questions or {}
        samples: list[_Sample] = []
        features: list[dict[str, float]] = []
        starts: list[int] = []
        for e_index, entry_id in enumerate(self.entry_ids):
            entry = kb.entries[entry_id]
            starts.append(len(samples))
            texts = [(entry.title, False)] + [(q, True) for q in entry.questions]
            texts += [(q, True) for q in extra.get(entry_id, ())]
            for text, is_question in texts:
                norm = self._prepare(text)
                if not norm:
                    continue
                samples.append(_Sample(e_index, text, norm.folded, is_question, self._char_text(norm)))
                features.append(self._features(norm))
        self.samples = samples
        self._compared = [s.compared for s in samples]  # what the character similarity reads
        self._sample_features = features
        self.sample_entry = np.array([s.entry for s in samples], dtype=np.int64)
        # Per entry, where its samples start and end (entries are contiguous; an entry whose texts all
        # normalise to nothing has none).
        ends = [*starts[1:], len(samples)]
        self._entry_ranges = list(zip(starts, ends, strict=True))
        postings, entry_postings = self._build_weights(features)
        self._build_feature_records(postings, entry_postings, self._build_answer_index())
        self.vocabulary = sorted({t for s in samples for t in s.folded.split()} | self.phrases.words)
        self._vocab_set = frozenset(self.vocabulary)
        self._product_words = self.products.words if self.products is not None else frozenset()
        self._typo_cache: dict[str, tuple[str, ...]] = {}
        self._prepared: dict[str, Normalized] = {}
        self.entry_index = {entry_id: i for i, entry_id in enumerate(self.entry_ids)}
        self.out_of_scope_ids: list[str] = list(kb.out_of_scope)
        self.classifier = self._train_classifier() if classifier else None

    def _classifier_text(self, folded: str) -> str:
        """What the classifier reads: a tagged place name is replaced by its tags alone, so it learns the
        unit ("dvxuanmai") rather than the letters of each commune's name (which other names share:
        "Nam Phương Tiến" and "Tiên Phương" belong to different units). Name and tag together would
        weigh a place twice and pull any question naming it towards that place's entry."""
        if UNREGISTERED_RE.search(folded):
            folded = f"{folded} {UNREGISTERED_TAG}"
        if PLACE_TAG_PREFIX not in folded:
            return folded
        text = f" {folded} "
        for tagged, tags in self._tagged_places:
            if tagged in text:
                text = text.replace(tagged, tags)
        return text.strip()

    def _train_classifier(self) -> QuestionClassifier | None:
        """The classifier over the entries' samples and the out-of-scope questions (None: too few)."""
        texts, labels, n_classes = self.training_data()
        if len(set(labels)) < 2:
            return None
        return trained_classifier(texts, labels, n_classes)

    def training_data(self) -> tuple[list[str], list[int], int]:
        """The classifier's training texts (as it reads them), their class indices and the number of
        classes: one per entry, then one per out-of-scope topic."""
        texts = [self._classifier_text(sample.folded) for sample in self.samples]
        labels = [sample.entry for sample in self.samples]
        n_entries = len(self.entry_ids)
        for entry_id, paraphrases in self.kb.paraphrases.items():
            e_index = self.entry_index.get(entry_id)
            if e_index is None:
                continue
            for text in paraphrases:
                folded = self._classifier_text(self._prepare(text).folded)
                if folded:
                    texts.append(folded)
                    labels.append(e_index)
        for k, topic_id in enumerate(self.out_of_scope_ids):
            for question in self.kb.out_of_scope[topic_id].questions:
                folded = self._classifier_text(self._prepare(question).folded)
                # A producer asking about something else often says they have OCOP stars: naming the
                # programme must never become a sign of another subject.
                folded = " ".join(t for t in folded.split() if t != PROGRAMME_WORD)
                if folded:
                    texts.append(folded)
                    labels.append(n_entries + k)
        return texts, labels, n_entries + len(self.out_of_scope_ids)

    # ----------------------------------------------------------------- index
    def _prepare(self, text: str) -> Normalized:
        return self.phrases.apply(self.normalizer.normalize(text))

    def _build_weights(self, features: list[dict[str, float]]) -> tuple[_Postings, _Postings]:
        """The samples' IDF and norms; returns each feature's samples and entries (its postings)."""
        n_entries = max(len(self.entry_ids), 1)
        entry_sets: list[set[str]] = [set() for _ in self.entry_ids]
        for sample, feats in zip(self.samples, features, strict=True):
            entry_sets[sample.entry].update(feats)
        df: dict[str, int] = {}
        for feats in entry_sets:
            for f in feats:
                df[f] = df.get(f, 0) + 1
        self.idf = {f: bm25_idf(n_entries, d) for f, d in df.items()}
        self.max_idf = bm25_idf(n_entries, 0)
        postings: dict[str, list[int]] = {}
        norms = np.zeros(len(self.samples), dtype=np.float64)
        for index, feats in enumerate(features):
            total = 0.0
            for f, factor in feats.items():
                total += self.idf[f] * factor
                postings.setdefault(f, []).append(index)
            norms[index] = total
        self.sample_norm = np.maximum(norms, 1e-9)
        self.sample_norm_sqrt = np.sqrt(self.sample_norm)
        entry_postings: _Postings = {}
        for e_index, feats in enumerate(entry_sets):
            for f in feats:
                entry_postings.setdefault(f, []).append(e_index)
        return postings, entry_postings

    def _build_answer_index(self) -> _Postings:
        """Features of each entry's answer text, with their own IDF (a weak extra signal); returns each
        feature's entries."""
        answer_feats: list[set[str]] = []
        self._answer_words: set[str] = set()  # accented words of the answers
        for entry_id in self.entry_ids:
            entry = self.kb.entries[entry_id]
            norm = self.phrases.apply(self.normalizer.normalize(f"{entry.answer}\n\n{entry.detail}"))
            answer_feats.append({f for f in self._features(norm) if not f.startswith("a:")})
            self._answer_words.update(norm.tokens)
        n_entries = max(len(self.entry_ids), 1)
        df: dict[str, int] = {}
        postings: dict[str, list[int]] = {}
        for e_index, feats in enumerate(answer_feats):
            for f in feats:
                df[f] = df.get(f, 0) + 1
                postings.setdefault(f, []).append(e_index)
        self.answer_idf = {f: math.log(1.0 + (n_entries - d + 0.5) / (d + 0.5)) for f, d in df.items()}
        return postings

    def _build_feature_records(
        self, postings: _Postings, entry_postings: _Postings, answer_postings: _Postings
    ) -> None:
        """Per feature, all that scoring a question looks up (one dictionary lookup per feature instead of
        five): its IDF and postings in the samples, its IDF and postings in the answers, its words. The
        postings are in one index space — samples, then entries, then answers — summed in one bincount."""
        n_samples, n_entries = len(self.samples), len(self.entry_ids)
        self._feature_records: dict[str, _FeatureRecord] = {}

        def shifted(indices: list[int] | None, by: int) -> np.ndarray | None:
            return None if indices is None else np.array(indices, dtype=np.int64) + by

        for f in self.idf.keys() | self.answer_idf.keys():
            self._feature_records[f] = (
                self.idf.get(f),
                self.answer_idf.get(f),
                shifted(postings.get(f), 0),
                shifted(entry_postings.get(f), n_samples),
                shifted(answer_postings.get(f), n_samples + n_entries),
                tuple(f[2:].split(" ")),
            )

    def _entry_overlap_without(self, qfeats: dict[str, float], excluded: int) -> float:
        """The query weight covered by the excluded sample's entry, not counting that sample."""
        entry = self.samples[excluded].entry
        start, end = self._entry_ranges[entry]
        covered: set[str] = set()
        for index in range(start, end):
            if index != excluded:
                covered.update(self._sample_features[index])
        return sum(self.idf[f] * factor for f, factor in qfeats.items() if f in covered and f in self.idf)

    def own_samples(self) -> Iterator[tuple[str, str, int]]:
        """(entry_id, question, sample index) for every sample question (titles excluded)."""
        for index, sample in enumerate(self.samples):
            if sample.is_question:
                yield self.entry_ids[sample.entry], sample.text, index

    # ----------------------------------------------------------------- query
    def _repair(self, token: str) -> tuple[str, ...]:
        """An unknown folded word: split into two known words, or the closest known word, or itself."""
        cached = self._typo_cache.get(token)
        if cached is not None:
            return cached
        result: tuple[str, ...] = (token,)
        spoken = None
        if token not in self._product_words:  # "linh" of "nấm linh chi" is not "ninh"
            spoken = next((v for v in _sound_variants(token) if v in self._vocab_set), None)
        if spoken is not None:  # "fí" phí, "ja" gia, "khôg" không, "nâg" nâng
            result = (spoken,)
        elif token.isalpha() and len(token) >= 3:
            for cut in range(1, len(token)):
                left, right = token[:cut], token[cut:]
                if left in self._vocab_set and right in self._vocab_set and min(len(left), len(right)) >= 2:
                    result = (left, right)
                    break
            else:
                if len(token) >= TYPO_MIN_LENGTH and self.vocabulary:
                    cutoff = TYPO_MIN_SCORE if len(token) > TYPO_MIN_LENGTH else TYPO_SHORT_MIN_SCORE
                    best = process.extractOne(
                        token, self.vocabulary, scorer=fuzz.ratio, processor=None, score_cutoff=cutoff
                    )
                    if best is not None:
                        result = (best[0],)
        if len(self._typo_cache) < 100_000:
            self._typo_cache[token] = result
        return result

    def prepare_query(self, text: str) -> Normalized:
        """Normalise, repair unknown words, then apply synonyms: the form a question is matched in.

        The last few results are kept: one question prepares the same texts several times (whole,
        sentences, classifier)."""
        cached = self._prepared.get(text)
        if cached is not None:
            return cached
        prepared = self._prepare_query(text)
        if len(self._prepared) >= PREPARED_CACHE_SIZE:
            self._prepared.pop(next(iter(self._prepared)))
        self._prepared[text] = prepared
        return prepared

    def _prepare_query(self, text: str) -> Normalized:
        norm = self.normalizer.normalize(text)
        tokens: list[str] = []
        folded: list[str] = []
        guessed: set[str] = set()
        for acc, fold_tok in zip(norm.tokens, norm.folded_tokens, strict=True):
            # Known (in a sample or an answer): kept as it is. An unknown word is repaired, also when
            # typed with accents ("trìn" for "trình"), only by a close known word.
            if fold_tok in self._vocab_set or f"u:{fold_tok}" in self.answer_idf:
                tokens.append(acc)
                folded.append(fold_tok)
                continue
            repaired = self._repair(fold_tok)
            if repaired == (fold_tok,):
                tokens.append(acc)
                folded.append(fold_tok)
            else:
                tokens.extend(repaired)
                folded.extend(repaired)
                guessed.update(repaired)
        return self.phrases.apply(Normalized(tuple(tokens), tuple(folded), frozenset(guessed)))

    def scores(self, text: str, *, exclude_sample: int | None = None) -> tuple[list[tuple[str, float]], bool]:
        """The best entries (up to 10) with their confidence, and whether the question has domain words.

        A long message is also scored with its story sentences weighing less than its question
        sentences, and its question sentences alone (see LONG_MESSAGE_WORDS): the question is usually one
        of them and the rest is context; each entry keeps its best confidence.
        """
        parts = message_parts(text)
        if not parts:
            return self._score(self._asked(text), exclude_sample)
        # A message of one sentence is its own only part: scored once, with that part's factor.
        whole = next((f for p, f in parts if p == text.strip()), LONG_WHOLE_FACTOR)
        sentences = sentence_split(text)
        question = " ".join(p for p, is_q in sentences if is_q)
        story = " ".join(p for p, is_q in sentences if not is_q)
        # A place named only in the story steers nothing unless the question is about a place (names one,
        # or asks where): "nhà tôi ở Thụy Hương…, ai chấm sao?" is not a question about Thụy Hương.
        # Nor does a product named only in the story ("nhà em làm mật ong…, nộp ở đâu?") unless the
        # question is about a product ("… sản phẩm này thuộc bộ nào?").
        scored: tuple[list[tuple[str, float]], bool] | None = None
        if question and story:
            q_norm, told = self._asked_and_told(question, story)
            if told != self.prepare_query(story) or q_norm != self.prepare_query(question):
                joined = Normalized(
                    told.tokens + q_norm.tokens,
                    told.folded_tokens + q_norm.folded_tokens,
                    told.repaired | q_norm.repaired,
                )
                scored = self._score(joined, exclude_sample)
        elif question:
            q_norm = self._asked(question)
            if q_norm != self.prepare_query(question):
                scored = self._score(q_norm, exclude_sample)
        ranked, has_domain = scored or self._score(self.prepare_query(text), exclude_sample)
        best = {entry_id: confidence * whole for entry_id, confidence in ranked}
        if question and story:
            # The whole message again, its story sentences weighing STORY_WEIGHT of the question's.
            for entry_id, confidence in self._score_with_story(question, story, exclude_sample):
                best[entry_id] = max(best.get(entry_id, 0.0), confidence)
        for part, factor in parts:
            # A one-sentence message was scored whole; a story sentence alone never decided anything that
            # the whole message and its question sentences did not (kb_eval and the dev set, 2026-11-30),
            # and skipping it saves a third of a long message's time.
            if part == text.strip() or factor < 1.0:
                continue
            part_ranked, _ = self._score(self._asked(part), exclude_sample)
            for entry_id, confidence in part_ranked:
                if confidence * factor > best.get(entry_id, 0.0):
                    best[entry_id] = confidence * factor
        merged = sorted(best.items(), key=lambda kv: -kv[1])[:10]
        return merged, has_domain

    def _place_positions(self, folded: Sequence[str], *, district: bool = False) -> frozenset[int]:
        """Positions of the words that belong to a commune's name (with its unit tags); the old district's
        name is a subject of its own ("Chương Mỹ có bao nhiêu sản phẩm OCOP") and counts only with
        `district`."""
        found: set[int] = set()
        for start, token in enumerate(folded):
            for seq in self._place_sequences.get(token, ()):
                if not district and " ".join(seq) in UNTAGGED_PLACES:
                    continue
                if tuple(folded[start : start + len(seq)]) == seq:
                    found.update(range(start, start + len(seq)))
                    break
        return frozenset(found)

    def _char_text(self, norm: Normalized) -> str:
        """The folded text the character similarity compares: without place names (two questions about
        one commune look alike letter by letter whatever they ask), unless it is nothing but a place."""
        positions = self._place_positions(norm.folded_tokens)
        if not positions:
            return norm.folded
        kept = " ".join(t for i, t in enumerate(norm.folded_tokens) if i not in positions)
        return kept or norm.folded

    def _features(self, norm: Normalized) -> dict[str, float]:
        """`text_features` with the words of place and product names weighing less (PLACE_NAME_FACTOR,
        PRODUCT_NAME_FACTOR), and UNREGISTERED_FEATURE when the text says its producer is not registered."""
        feats = text_features(norm, self._place_positions(norm.folded_tokens), self._product_positions(norm))
        if UNREGISTERED_RE.search(norm.folded):
            feats[UNREGISTERED_FEATURE] = 1.0
        return feats

    def _has_place(self, norm: Normalized) -> bool:
        return any(t.startswith(PLACE_TAG_PREFIX) for t in norm.folded_tokens) or any(
            name in norm.folded for name in UNTAGGED_PLACES
        )

    def _about_place(self, norm: Normalized) -> bool:
        """Whether a question is about a place: names one, or asks where or which commune."""
        return self._has_place(norm) or bool(PLACE_QUESTION_RE.search(norm.folded))

    def _about_product(self, norm: Normalized) -> bool:
        """Whether a question is about a product: names one, or asks about "the product", its set…"""
        return bool(self._product_positions(norm)) or bool(PRODUCT_QUESTION_RE.search(norm.folded))

    def _asked(self, question: str) -> Normalized:
        """The question sentences prepared, without the product names they mention when they ask who may
        take part or how to register (`ASKS_WHO_RE`, `ASKS_HOW_TO_REGISTER_RE`); and a run-on question
        (RUNON_WORDS words or more in one sentence: the story is inside it) without them unless it asks
        about the product (`RUNON_PRODUCT_CUE_RE`, `PRODUCT_QUESTION_RE`): "giấy ô cốp của ông … cho chai
        rượu nếp … có hạn bao lâu" asks about the certificate."""
        norm = self.prepare_query(question)
        if not self._product_positions(norm):
            return norm
        if ASKS_WHO_RE.search(norm.folded) or ASKS_HOW_TO_REGISTER_RE.search(norm.folded):
            return self._told(norm, True, False)
        if len(question.split()) < RUNON_WORDS:
            return norm
        if PRODUCT_QUESTION_RE.search(norm.folded) or RUNON_PRODUCT_CUE_RE.search(norm.folded):
            return norm
        return self._told(norm, True, False)

    def _asked_and_told(self, question: str, story: str) -> tuple[Normalized, Normalized]:
        """The question prepared (`_asked`), and what of the story counts for it (`_told`): its places
        only when the question is about a place, its products only when it is about a product."""
        q_norm = self._asked(question)
        told = self._told(self.prepare_query(story), self._about_place(q_norm), self._about_product(q_norm))
        return q_norm, told

    def _told(self, story: Normalized, places_steer: bool, products_steer: bool) -> Normalized:
        """What of a story (the sentences before or around the question) counts: without the product
        names it mentions unless `products_steer`, and without its place names unless `places_steer`."""
        drop = set() if products_steer else set(self._product_positions(story))
        if not places_steer and self._has_place(story):
            drop.update(self._place_positions(story.folded_tokens, district=True))
            drop.update(i for i, tok in enumerate(story.folded_tokens) if tok.startswith(PLACE_TAG_PREFIX))
        if not drop:
            return story
        keep = [i for i in range(len(story.folded_tokens)) if i not in drop]
        return Normalized(
            tuple(story.tokens[i] for i in keep), tuple(story.folded_tokens[i] for i in keep), story.repaired
        )

    def _score_with_story(
        self, question: str, story: str, exclude_sample: int | None
    ) -> list[tuple[str, float]]:
        """The ranking of `question` told after `story`, the story's words weighing STORY_WEIGHT (what of
        the story counts: `_asked_and_told`)."""
        q_norm, s_norm = self._asked_and_told(question, story)
        feats = {f: v * STORY_WEIGHT for f, v in self._features(s_norm).items()}
        if UNREGISTERED_FEATURE in feats:  # who asks (not registered yet) is part of the question
            feats[UNREGISTERED_FEATURE] = 1.0
        for f, v in self._features(q_norm).items():
            feats[f] = max(feats.get(f, 0.0), v)
        joined = Normalized(
            s_norm.tokens + q_norm.tokens, s_norm.folded_tokens + q_norm.folded_tokens, q_norm.repaired
        )
        return self._score(joined, exclude_sample, feats)[0]

    def _score(
        self,
        query: Normalized,
        exclude_sample: int | None,
        qfeats: dict[str, float] | None = None,
    ) -> tuple[list[tuple[str, float]], bool]:
        if not query or not self.samples:
            return [], False
        if qfeats is None:
            qfeats = self._features(query)
        # A word typed with accents the index never saw on that folded word ("sổ" where the index only
        # has "sơ") is probably another word: its folded match counts for less.
        mismatched = {
            fold_tok
            for acc_tok, fold_tok in zip(query.tokens, query.folded_tokens, strict=True)
            if acc_tok != fold_tok and f"a:{acc_tok}" not in self.idf and f"u:{fold_tok}" in self.idf
        }
        # Words guessed by typo repair may be wrong guesses: they count for less too.
        discounted = {t: ACCENT_MISMATCH_FACTOR for t in mismatched}
        discounted.update({t: TYPO_FACTOR for t in query.repaired})
        # And when no answer has that accented word either, it is a word from another subject
        # ("kết hôn" typed where the index only has "hơn"): it weighs in the question like an unknown word.
        q_total = (
            FOREIGN_ACCENTED_WEIGHT
            * self.max_idf
            * sum(
                1
                for acc_tok, fold_tok in zip(query.tokens, query.folded_tokens, strict=True)
                if fold_tok in mismatched and fold_tok not in STOPWORDS and acc_tok not in self._answer_words
            )
        )
        # The postings hit and their weights, in one index space: samples, then entries, then answers
        # (`_feature_records`), so that one bincount sums all three.
        hits: list[np.ndarray] = []
        weights: list[float] = []
        # The answers' words count too (a weak extra signal, ANSWER_WEIGHT): accents aside, their coverage
        # of the question by the answers' own IDF, in the same pass over the question's features.
        answer_total = 0.0
        max_idf = self.max_idf
        for f, factor in qfeats.items():
            record = self._feature_records.get(f)
            if record is None:  # in no sample and no answer
                if f[0] == "a":
                    continue  # an accent the index never saw neither helps nor hurts
                answer_total += max_idf * factor
                q_total += max_idf * factor * (UNKNOWN_WORD_FACTOR if f[0] == "u" else 1.0)
                continue
            idf, answer_idf, postings, entry_postings, answer_postings, words = record
            if answer_idf is not None:
                answer_total += answer_idf * factor
                hits.append(answer_postings)
                weights.append(answer_idf * factor)
            elif f[0] != "a":
                answer_total += max_idf * factor
            if idf is None:  # in an answer only
                q_total += max_idf * factor
                continue
            w = idf * factor
            q_total += w
            if discounted:
                for t in words:
                    w *= discounted.get(t, 1.0)
            hits.append(postings)
            weights.append(w)
            hits.append(entry_postings)
            weights.append(w)
        n_samples, n_entries = len(self.samples), len(self.entry_ids)
        summed = accumulate(hits, weights, n_samples + 2 * n_entries)
        acc = summed[:n_samples]
        entry_acc = summed[n_samples : n_samples + n_entries]
        answer_cov = summed[n_samples + n_entries :]
        if exclude_sample is not None:
            acc[exclude_sample] = 0.0
            entry_acc[self.samples[exclude_sample].entry] = self._entry_overlap_without(
                qfeats, exclude_sample
            )
        has_domain = any(t not in STOPWORDS and f"u:{t}" in self.idf for t in query.folded_tokens)
        if q_total <= 0 or not acc.any():
            return [], has_domain
        # Only the samples with the most overlap can score well: the rest of the work is on those.
        if len(self.samples) > PRESELECT:
            pre = np.argpartition(-(acc / self.sample_norm_sqrt), PRESELECT - 1)[:PRESELECT]
        else:
            pre = np.arange(len(self.samples))
        overlap = acc[pre]
        qcov = overlap / q_total
        scov = overlap / self.sample_norm[pre]
        # Long questions carry context (who, where, why) beyond the topic: weigh their coverage less.
        content_words = len({t for t in query.folded_tokens if t not in STOPWORDS}) or 1
        exponent = max(
            LONG_QUERY_MIN_EXPONENT, QUERY_COVERAGE_EXPONENT * min(1.0, SHORT_QUERY_WORDS / content_words)
        )
        token_score = qcov**exponent * scov ** (1.0 - exponent)
        pre_combined = token_score * (1.0 - CHAR_WEIGHT)
        k = min(CHAR_CANDIDATES, len(pre))
        candidates = np.argpartition(-token_score, k - 1)[:k] if k < len(pre) else np.arange(k)
        qtext = self._char_text(query)
        keep = token_score[candidates] > 0
        if exclude_sample is not None:
            keep &= pre[candidates] != exclude_sample
        candidates = candidates[keep]
        if len(candidates):
            compared = [self._compared[i] for i in pre[candidates].tolist()]
            char = process.cdist([qtext], compared, scorer=CHAR_SCORER, processor=None, dtype=np.float64)[0]
            ramp = np.minimum(1.0, token_score[candidates] * 4)
            pre_combined[candidates] += CHAR_WEIGHT * (char / 100.0) * ramp
        # Each entry's best sample: only the preselected samples score above 0 (scores are never negative).
        entry_best = np.zeros(len(self.entry_ids), dtype=np.float64)
        np.maximum.at(entry_best, self.sample_entry[pre], pre_combined)
        entry_cov = entry_acc / q_total
        confidence = (
            1.0 - ENTRY_COVERAGE_WEIGHT - ANSWER_WEIGHT
        ) * entry_best + ENTRY_COVERAGE_WEIGHT * entry_cov
        confidence += ANSWER_WEIGHT * (answer_cov / answer_total if answer_total > 0 else answer_cov)
        if not has_domain:
            confidence = np.minimum(confidence, NO_DOMAIN_CAP)
        order = np.argsort(-confidence)
        ranked = [
            (self.entry_ids[i], float(min(1.0, confidence[i]))) for i in order[:10] if confidence[i] > 0
        ]
        return ranked, has_domain

    def match(self, text: str, *, exclude_sample: int | None = None) -> Match:
        """The decision for one question (see module docstring).

        With `exclude_sample` (leave-one-out, `kb check`) only the lexical half decides: the classifier
        was trained on that very sample.
        """
        text = without_requests(text)
        normalized = self.prepare_query(text).folded
        if not normalized or self.normalizer.is_small_talk(text):  # nothing to match: greetings, thanks…
            return Match(None, 0.0, Decision.UNKNOWN, normalized=normalized, small_talk=True)
        if exclude_sample is None and self._product_entry is not None and self._only_a_product(text):
            # "giò chả", "nấm linh chi nhà em": a product's name and nothing else asks whether it can take
            # part and in which set — the entry that answers that, with the product's card.
            return Match(self._product_entry, 1.0, Decision.ANSWER, normalized=normalized, evidence=1.0)
        ranked, has_domain = self.scores(text, exclude_sample=exclude_sample)
        long_message = len(text.split()) >= LONG_MESSAGE_WORDS
        if self.classifier is None or exclude_sample is not None:
            result = decide(ranked, has_domain=has_domain, long_message=long_message)
        else:
            probabilities = self._class_probabilities(text)
            names_programme = PROGRAMME_WORD in normalized.split()
            result = blend(
                ranked,
                probabilities,
                self.entry_ids,
                self.out_of_scope_ids,
                position=self.entry_index,
                has_domain=has_domain,
                names_programme=names_programme,
                long_message=long_message,
            )
        return replace(result, normalized=normalized)

    def _product_positions(self, norm: Normalized) -> frozenset[int]:
        """Positions of the words of product names in a prepared text (remembered: a long message's parts
        are looked at several times)."""
        if self.products is None:
            return frozenset()
        key = (norm.tokens, norm.folded_tokens)
        found = self._positions.get(key)
        if found is None:
            if len(self._positions) >= PREPARED_CACHE_SIZE:
                self._positions.pop(next(iter(self._positions)))
            found = self._positions[key] = self.products.positions(norm.tokens, norm.folded_tokens)
        return found

    def _only_a_product(self, text: str) -> bool:
        """Whether a message names a product and says nothing else (function words and "nhà em" aside)."""
        if self.products is None or len(text.split()) > ONLY_A_PRODUCT_WORDS:
            return False
        norm = self.prepare_query(text)
        named = self._product_positions(norm)
        rest = (tok for i, tok in enumerate(norm.folded_tokens) if i not in named)
        return bool(named) and all(tok in STOPWORDS or tok in PRODUCT_FILLERS for tok in rest)

    def _sector_view(self, norm: Normalized) -> str:
        """The folded text the classifier reads; when it names a sector ("nhóm dược liệu gồm những gì,
        trà có vào không") the products it names are examples of that sector, left out — the classifier
        learnt "a product's name asks whether it can take part"."""
        match = SECTOR_NAMED_RE.search(norm.folded)
        if match is None:
            return norm.folded
        products = self._product_positions(norm)
        if not products:
            return norm.folded
        start = norm.folded[: match.start()].count(" ")
        end = start + match.group(0).count(" ")
        return " ".join(
            tok for i, tok in enumerate(norm.folded_tokens) if i not in products or start <= i <= end
        )

    def _class_probabilities(self, text: str) -> np.ndarray:
        """The classifier's probabilities; for a long message, the mean of the whole message's and its
        question sentences' (the story around a question should neither hide it nor make it look like
        another subject)."""
        assert self.classifier is not None
        if len(text.split()) < LONG_MESSAGE_WORDS:
            view = self._sector_view(self._asked(text))
            return self.classifier.probabilities(self._classifier_text(view))
        sentences = sentence_split(text)
        question = " ".join(p for p, is_q in sentences if is_q) or (sentences[-1][0] if sentences else "")
        story = " ".join(p for p, is_q in sentences if not is_q)
        whole = self.prepare_query(text).folded
        if question and not story:
            whole = self._asked(question).folded
        if story and question:
            # As in `scores`: a product, or a place, named only in the story does not steer (unless the
            # question is about one).
            q_norm, told = self._asked_and_told(question, story)
            if told != self.prepare_query(story) or q_norm != self.prepare_query(question):
                whole = f"{told.folded} {q_norm.folded}"
        if SECTOR_NAMED_RE.search(whole):  # only then: preparing an already prepared text again changes it
            whole = self._sector_view(self.prepare_query(whole))
        probabilities = self.classifier.probabilities(self._classifier_text(whole))
        folded = self._sector_view(self._asked(question))
        if not folded or question == text.strip():
            return probabilities
        if UNREGISTERED_RE.search(whole) and not UNREGISTERED_RE.search(folded):
            folded = f"{folded} {UNREGISTERED_TAG}"  # who asks, told in the story, is part of the question
        asked = self.classifier.probabilities(self._classifier_text(folded))
        return (1.0 - QUESTION_CLASSIFIER_SHARE) * probabilities + QUESTION_CLASSIFIER_SHARE * asked
