"""Long messages: a producer often tells a story before the question. Their sentences, which of them
read as questions, and the parts of a message the matcher also scores alone.
"""

from __future__ import annotations

import re
from functools import lru_cache

from knowledge.normalize import clean, fold_text

LONG_MESSAGE_WORDS = 22
SENTENCE_MIN_WORDS = 4
STORY_PART_FACTOR = 0.8  # a sentence that does not read as a question counts this share of itself
MAX_PARTS = 3  # the last ones: a question usually ends the message
# A sentence ends at . ? ! ; or a line break, and after "ạ" — the polite particle closes what was said:
# "cho em hỏi nộp online được không ạ, xưởng nhà em ở Hòa Phú…" asks first and tells after.
_SENTENCE_END_RE = re.compile(r"(?<=[.?!;\n])|(?<=\sạ[, ])")
# A sentence is a question when it has "?", a question phrase anywhere (a reported one too: "mấy hộ hỏi
# là nộp ở xã nào"), or ends with a question word (not "3 sao", a number of stars), maybe followed by
# particles and whom it addresses ("… ko a/c", "… không hả bác"). Matched on folded text.
_QUESTION_ANYWHERE_RE = re.compile(
    r"\b(?:bao nhieu|the nao|nhu nao|ra sao|o dau|cho nao|nhung gi|cai gi|la gi|khi nao|bao gio|"
    r"bao lau|phai khong|dung khong|duoc khong|co khong|hay khong|nhu the nao|tai sao|vi sao|thang may|"
    r"luc nao|ngay nao|dot nao|hoi la|hoi xem|hoi rang)\b"
)
# A sentence that only asks the bot for help (folded): a helper word and "help", "tell", "answer"…
REQUEST_MAX_WORDS = 8
_REQUEST_RE = re.compile(
    r"^(?:nho|mong|xin|bot|ad|admin|tro ly|anh chi|a chi|ban)\b.*\b(?:giup|chi|tu van|tra loi|noi)\b"
)
# "…được không ạ", "…với nhé" closing a request for help (folded).
_POLITE_ASK_END_RE = re.compile(r"(?:\s+(?:duoc|dc) (?:khong|ko|k|hok))?(?:\s+(?:voi|nhe|nha|a|ah|ad))*\s*$")
# A sentence that opens as a question asked by the way (folded).
_SIDE_QUESTION_RE = re.compile(
    r"^(?:con |a con |va )?(?:cau phu|phu them|cau sau|cau thu hai|viec thu hai|ngoai ra|nhan tien|"
    r"hoi them|them nua|con nua|tien the)\b"
)
_QUESTION_END_RE = re.compile(
    r"(?<!\d )\b(khong|chua|gi|nao|dau|sao|ai|ntn|j|ko|k|hok|hem)"
    r"(?:\s+(?:a|ah|vay|the|nhi|nhe|ha|z|v|ad|admin|a c|ac|anh chi|anh|chi|bac|oi))*\s*$"
)

# A sentence that says it asks ("Em hỏi phí tham gia OCOP ạ.", "cho em hỏi về mẫu"; folded).
_ASKS_RE = re.compile(
    r"^(?:(?:da|vang|chao \w+|a|ad|bot) )*(?:(?:cho|xin) (?:em |e |toi |minh |chau |con |bac |co |chu )?hoi|"
    r"(?:em|e|toi|minh|chau|con|bac) (?:muon |can |xin |dang )?hoi)\b(?! vi\b| la vi\b)"
)

# A run-on sentence says where its question starts ("… em muốn hỏi là …", "… cho tôi hỏi …"; folded):
# the words that open the ask, and the story it needs before it to be split there (`_split_at_ask`).
ASK_SPLIT_MIN_WORDS = 6
_ASK_VERBS = frozenset({"muon", "can", "xin", "cho"})
_ASK_PRONOUNS = frozenset({"em", "e", "toi", "minh", "chau", "con", "bac", "co", "chu", "anh", "chi"})
_ASK_OPENERS = _ASK_VERBS | _ASK_PRONOUNS  # the word before "hỏi"
_ASK_WORDS = frozenset({"hỏi", "hoi", "hoỉ"})  # "hỏi" as typed, not "hội" or "hơi"
_ASK_CLOSERS = frozenset({"cho dung", "cho chac", "cho ro", "cho ky", "cho ki"})  # "hỏi cho chắc"

# A short question made only of these words (folded) names nothing: it asks about what came before it.
CONTENTLESS_MAX_WORDS = 7
_CONTENTLESS_WORDS = frozenset(
    """co dung khong ko k vay the thi sao a ah u ha nhi phai that hay chua roi duoc dc nhu nao la gi j ad
    anh chi em ban bot oi nhe nha sai vang da z v""".split()
)

# The closing question words as they are written with accents.
_ACCENTED_QUESTION_WORDS = frozenset({"không", "chưa", "gì", "nào", "đâu", "sao", "ai", "hông"})


def is_question(text: str) -> bool:
    """Whether a sentence asks something: "?", a question phrase anywhere, or a closing question word —
    unless it is a side question ("Còn câu phụ là…", "Ngoài ra…"): that is context for the main one."""
    folded = fold_text(text)
    if _SIDE_QUESTION_RE.search(folded):
        return False
    if "?" in text or _QUESTION_ANYWHERE_RE.search(folded) or _ASKS_RE.search(folded):
        return True
    end = _QUESTION_END_RE.search(folded)
    return end is not None and _accents_agree(clean(text).split(), folded.split(), end.group(1))


def _accents_agree(tokens: list[str], folded: list[str], word: str) -> bool:
    """Whether the closing question word, typed with accents, is that word ("đâu", not "tinh dầu"; "nào",
    not "nạo"): typed without accents it may be either."""
    if len(tokens) != len(folded):
        return True
    for tok, fold_tok in zip(reversed(tokens), reversed(folded), strict=True):
        if fold_tok == word:
            return tok == fold_tok or tok in _ACCENTED_QUESTION_WORDS
    return True


def without_requests(text: str) -> str:
    """A long message without its sentences that only ask for help ("Nhờ bot chỉ giúp chị.", "Bot nói
    giúp em với."): they name no topic, and their "bot" would pull towards the entry about the bot."""
    if len(text.split()) < LONG_MESSAGE_WORDS:
        return text
    sentences = [p for p in _SENTENCE_END_RE.split(text) if p.strip()]
    kept = [p for p in sentences if not _is_request(p)]
    return "".join(kept).strip() if kept and len(kept) < len(sentences) else text


def _is_request(sentence: str) -> bool:
    """Whether a sentence only asks for help — "Nhờ bot chỉ giúp chị.", and asked as a question too:
    "Bot nói giúp tôi được không?" (what it asks is the help itself)."""
    folded = " ".join(fold_text(sentence).split())
    core = _POLITE_ASK_END_RE.sub("", folded).strip()
    return (
        len(folded.split()) <= REQUEST_MAX_WORDS
        and bool(_REQUEST_RE.search(core))
        and not _QUESTION_ANYWHERE_RE.search(core)
        and not _QUESTION_END_RE.search(core)
        and ("?" not in sentence or core != folded)
    )


def sentence_split(text: str) -> list[tuple[str, bool]]:
    """The sentences of a message, each with whether it reads as a question."""
    return list(_split(text))


@lru_cache(maxsize=256)
def _split(text: str) -> tuple[tuple[str, bool], ...]:
    """`sentence_split`, remembered: one question is split four times (requests, scoring, its parts, the
    classifier's view)."""
    sentences = [p.strip() for p in _SENTENCE_END_RE.split(text) if p.strip()]
    sentences = [part for sentence in sentences for part in _split_at_ask(sentence)]
    split = [(sentence, is_question(sentence)) for sentence in sentences]
    # A question that names nothing ("Có đúng vậy không?", "Thế thì sao ạ?") asks about the sentence
    # before it: the two are one question.
    merged: list[tuple[str, bool]] = []
    for sentence, asks in split:
        if asks and merged and _names_nothing(sentence):
            merged[-1] = (f"{merged[-1][0]} {sentence}", True)
        else:
            merged.append((sentence, asks))
    return tuple(merged)


def _names_nothing(sentence: str) -> bool:
    """Whether a sentence is only question and function words ("có đúng vậy không", "thế thì sao ạ")."""
    words = fold_text(sentence).split()
    return len(words) <= CONTENTLESS_MAX_WORDS and all(w in _CONTENTLESS_WORDS for w in words)


def _split_at_ask(sentence: str) -> list[str]:
    """A run-on sentence split where it says it asks ("… bận không ngóc đầu lên được em muốn hỏi là nộp
    hồ sơ thì vào tháng mấy"): what comes before is the story, from there on the question. Only a present
    ask ("em muốn hỏi", "cần hỏi", "cho em hỏi", "xin hỏi") after ASK_SPLIT_MIN_WORDS words of story:
    "hôm trước tôi hỏi xã" tells what happened, "… tôi muốn hỏi cho đúng chỗ" closes what was asked."""
    tokens = sentence.split()
    folded = [fold_text(t) for t in tokens]
    for i in range(ASK_SPLIT_MIN_WORDS, len(tokens) - 1):
        if folded[i] not in _ASK_OPENERS or clean(tokens[i + 1]) not in _ASK_WORDS:
            continue
        if " ".join(folded[i + 2 : i + 4]) in _ASK_CLOSERS:
            continue
        start = i
        if folded[i] in _ASK_PRONOUNS:
            if folded[i - 1] not in _ASK_OPENERS:
                continue  # "tôi hỏi": told, not asked
            start = i - 1
        if start > 0 and folded[start] in _ASK_VERBS and folded[start - 1] in _ASK_PRONOUNS:
            start -= 1  # "em muốn hỏi": the ask opens at who asks
        if start >= ASK_SPLIT_MIN_WORDS:
            return [" ".join(tokens[:start]), " ".join(tokens[start:])]
    return [sentence]


def message_parts(text: str) -> list[tuple[str, float]]:
    """The parts of a long message scored alone, with their factor; [] for a short message.

    Its sentences (at least SENTENCE_MIN_WORDS words), the last MAX_PARTS of them. (The last two
    sentences together were a part too until 2026-12-01: the whole message scored with its story
    weighing less already reads a question with the sentence before it, and without that part 2 more
    of the 7,628 benchmark questions are right, none fewer, and a long message costs one scoring less.)
    """
    if len(text.split()) < LONG_MESSAGE_WORDS:
        return []
    sentences = sentence_split(text)
    parts = [(s, 1.0 if q else STORY_PART_FACTOR) for s, q in sentences]
    return [(s, f) for s, f in parts if len(s.split()) >= SENTENCE_MIN_WORDS][-MAX_PARTS:]
