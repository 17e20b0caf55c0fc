"""The matcher on a small knowledge base: right entry, tolerance, out-of-scope guard, decisions."""

from pathlib import Path

import pytest
import yaml

from knowledge.decision import ANSWER_THRESHOLD, MIN_MARGIN, SUGGEST_THRESHOLD, Decision, decide
from knowledge.kb import KnowledgeBase
from knowledge.retrieval import Matcher

ENTRIES = [
    (
        "ocop-la-gi",
        "OCOP là gì?",
        ["ocop là gì", "chương trình mỗi xã một sản phẩm là gì", "ocop nghĩa là gì"],
    ),
    (
        "thoi-han",
        "Giấy chứng nhận OCOP có thời hạn bao lâu?",
        [
            "chứng nhận ocop có hiệu lực bao lâu",
            "giấy chứng nhận ocop hết hạn khi nào",
            "sao ocop giữ được mấy năm",
        ],
    ),
    (
        "noi-nop",
        "Nộp hồ sơ OCOP ở đâu?",
        ["nộp hồ sơ ocop ở đâu", "hồ sơ đăng ký ocop gửi cho ai", "nộp hồ sơ tại xã hay ở tỉnh"],
    ),
    (
        "ho-so",
        "Hồ sơ OCOP gồm những gì?",
        [
            "hồ sơ ocop gồm những giấy tờ gì",
            "cần chuẩn bị giấy tờ gì để đăng ký ocop",
            "thành phần hồ sơ ocop",
        ],
    ),
    (
        "hang-sao",
        "Sản phẩm OCOP có mấy hạng sao?",
        ["ocop có mấy hạng sao", "thang điểm xếp hạng sao ocop", "bao nhiêu điểm thì được 4 sao"],
    ),
    (
        "ho-tro",
        "Sản phẩm OCOP được hỗ trợ gì?",
        [
            "sản phẩm ocop được hỗ trợ những gì",
            "nhà nước có hỗ trợ kinh phí làm ocop không",
            "chính sách hỗ trợ ocop",
        ],
    ),
]


def write_kb(root: Path, entries: list[tuple[str, str, list[str]]] = ENTRIES) -> Path:
    """A small knowledge base on disk (entries/test.yaml, sources.yaml); returns its folder."""
    (root / "entries").mkdir(parents=True, exist_ok=True)
    items = [
        {
            "id": entry_id,
            "title": title,
            "questions": questions,
            "answer": f"Trả lời ngắn cho {title}\n\n• Chi tiết.",
            "tags": ["test"],
            "sources": ["S1"],
            "rule": "QĐ 148/QĐ-TTg ngày 24/2/2023",
            "valid_from": "2023-02-24",
            "reviewed": "2026-11-28",
        }
        for entry_id, title, questions in entries
    ]
    (root / "entries" / "test.yaml").write_text(
        yaml.safe_dump({"entries": items}, allow_unicode=True), "utf-8"
    )
    sources = {"sources": {"S1": {"title": "Nguồn thử", "publisher": "x", "url": "https://example.org"}}}
    (root / "sources.yaml").write_text(yaml.safe_dump(sources, allow_unicode=True), "utf-8")
    return root


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    """One matcher for the module: matching never changes it (only its caches)."""
    return Matcher(KnowledgeBase.load(write_kb(tmp_path_factory.mktemp("kb"))))


@pytest.mark.parametrize(
    ("question", "entry_id"),
    [
        ("OCOP là gì?", "ocop-la-gi"),
        ("cho em hỏi ocop la gi vay a", "ocop-la-gi"),
        ("hs ocop nop o dau", "noi-nop"),
        ("Nộp hồ sơ đăng ký OCOP ở chỗ nào ạ", "noi-nop"),
        ("giay cn ocop co hieu luc bao lau", "thoi-han"),
        ("chung nhann ocop co hieu lucc bao lau", "thoi-han"),  # typos
        ("ocop co may sao", "hang-sao"),
        ("dangky ocop can chuan bi giay to gi", "ho-so"),  # words run together
        ("sp ocop dc ho tro nhung j", "ho-tro"),
    ],
)
def test_answers_the_right_entry(matcher: Matcher, question: str, entry_id: str) -> None:
    match = matcher.match(question)
    assert match.decision is Decision.ANSWER, match
    assert match.entry_id == entry_id
    assert 0.0 <= match.confidence <= 1.0


@pytest.mark.parametrize(
    "question",
    [
        "thời tiết hôm nay thế nào",
        "giá vàng hôm nay bao nhiêu",
        "cách nấu phở bò",
        "đăng ký kết hôn ở đâu",
        "ạ",
        "",
    ],
)
def test_out_of_scope_is_not_answered(matcher: Matcher, question: str) -> None:
    match = matcher.match(question)
    assert match.decision is not Decision.ANSWER
    assert match.evidence < ANSWER_THRESHOLD


def test_confidence_orders_suggestions(matcher: Matcher) -> None:
    match = matcher.match("hồ sơ ocop")
    assert match.entry_id in {"ho-so", "noi-nop"}
    confidences = [match.confidence] + [c for _, c in match.suggestions]
    assert confidences == sorted(confidences, reverse=True)
    assert len(match.suggestions) <= 3


def test_extra_questions_are_indexed(tmp_path: Path) -> None:
    kb = KnowledgeBase.load(write_kb(tmp_path))
    question = "được thưởng bao nhiêu tiền khi có sản phẩm 3 sao"
    before = Matcher(kb).match(question)
    after = Matcher(kb, {"ho-tro": [question]}).match(question)
    assert not (before.decision is Decision.ANSWER and before.entry_id == "ho-tro")
    assert after.decision is Decision.ANSWER and after.entry_id == "ho-tro"


def test_exclude_sample_leaves_the_question_out(matcher: Matcher) -> None:
    samples = list(matcher.own_samples())
    entry_id, question, index = next(s for s in samples if s[1] == "thành phần hồ sơ ocop")
    assert entry_id == "ho-so"
    assert matcher.match(question).evidence > matcher.match(question, exclude_sample=index).evidence


def test_decide_bands() -> None:
    high = ANSWER_THRESHOLD + 0.1
    assert decide([("a", high), ("b", 0.1)]).decision is Decision.ANSWER
    close = decide([("a", high), ("b", high - MIN_MARGIN / 2)])
    assert close.decision is Decision.SUGGEST and [e for e, _ in close.choices] == ["a", "b"]
    middle = (ANSWER_THRESHOLD + SUGGEST_THRESHOLD) / 2
    assert decide([("a", middle)]).decision is Decision.SUGGEST
    low = decide([("a", 0.01)])
    assert low.decision is Decision.UNKNOWN and low.entry_id is None
    assert decide([]).decision is Decision.UNKNOWN
    # The thresholds apply to the evidence when it is given, not to the ranking score.
    assert decide([("a", high), ("b", 0.1)], evidence=middle).decision is Decision.SUGGEST
    assert decide([("a", 0.3), ("b", 0.1)], evidence=high).decision is Decision.ANSWER
    # A question recognised as another subject is declined: no entry, nothing offered.
    declined = decide([("a", high), ("b", 0.3)], evidence=high, out_of_scope="thoi-tiet")
    assert declined.decision is Decision.UNKNOWN and declined.entry_id is None and not declined.suggestions
    assert declined.out_of_scope == "thoi-tiet"


def test_entry_whose_texts_normalise_to_nothing(tmp_path: Path) -> None:
    entries = [*ENTRIES, ("chao", "ạ", ["ạ", "vâng ạ"])]  # last entry: no sample survives normalisation
    m = Matcher(KnowledgeBase.load(write_kb(tmp_path, entries)))
    assert m.match("nộp hồ sơ ocop ở đâu").entry_id == "noi-nop"
    entries = [("chao", "ạ", ["ạ"]), *ENTRIES]  # and first
    m = Matcher(KnowledgeBase.load(write_kb(tmp_path, entries)))
    assert m.match("nộp hồ sơ ocop ở đâu").entry_id == "noi-nop"


def test_long_message_is_scored_by_its_sentences(matcher: Matcher) -> None:
    text = (
        "Chào anh chị, nhà em ở thôn Đông làm miến dong đã nhiều năm nay, bán cho bà con trong xã. "
        "Năm nay em muốn làm hồ sơ đăng ký cho sản phẩm. Vậy em phải nộp hồ sơ OCOP ở đâu ạ?"
    )
    assert matcher.match(text).entry_id == "noi-nop"


def test_question_sentences_are_told_from_story_sentences() -> None:
    from knowledge.sentences import is_question

    assert is_question("Như thế tôi có nộp hồ sơ được không")
    assert is_question("vậy hồ sơ thì nộp ở đâu")
    assert is_question("Có hạn nộp không?")
    assert not is_question("Năm 2023 sản phẩm của em được công nhận 3 sao.")
    assert not is_question("Nhà em làm miến dong đã nhiều năm nay.")
    # A closing question word typed with accents must be that word: "tinh dầu" is not "đâu".
    assert not is_question("Nhà tôi làm cao, xà phòng thảo dược và tinh dầu.")
    assert is_question("Em làm thế thì nộp đâu")
    assert is_question("nha em lam tinh dau")  # without accents it may be either
    # A sentence that says it asks, asks; "I ask because…" tells why.
    assert is_question("Em hỏi phí tham gia OCOP ạ.")
    assert is_question("cho e hoi giay to can nop")
    assert not is_question("E hỏi vì nhà e mới được 3 sao cho gà ủ muối.")
    assert not is_question("Hôm trước tôi ra xã hỏi thì họ bảo chờ.")
    # A question may end by addressing whom it asks; a reported question asks too.
    assert is_question("tổ hợp tác thì có nằm trong đối tượng đc tham gia ocop ko a/c")
    assert is_question("có mất tiền không hả bác")
    assert not is_question("nhà tôi không có")
    assert is_question("Mấy hộ ở Lam Điền cũ hỏi là bây giờ họ nộp hồ sơ ở xã Quảng Bị hay xã khác.")


def test_long_message_story_does_not_outweigh_the_question(matcher: Matcher) -> None:
    text = (
        "Chào anh chị, năm ngoái sản phẩm của em được nhà nước hỗ trợ kinh phí, được cấp giấy chứng nhận "
        "3 sao và có hiệu lực mấy năm liền. Năm nay em có thêm một sản phẩm mới. "
        "Vậy hồ sơ đăng ký em phải nộp ở đâu ạ?"
    )
    match = matcher.match(text)
    assert match.entry_id == "noi-nop", match


def test_unknown_word_typed_with_accents_is_repaired(matcher: Matcher) -> None:
    match = matcher.match("chương trìn mỗi xã một sản phẩm là gì")
    assert match.decision is Decision.ANSWER and match.entry_id == "ocop-la-gi"



OUT_OF_SCOPE = {
    "topics": [
        {
            "id": "thoi-tiet",
            "title": "Thời tiết",
            "where": "Bản tin thời tiết",
            "questions": [
                "mai có mưa không",
                "thoi tiet tuan nay the nao",
                "bao giờ hết rét",
                "trời có nắng không",
            ],
        },
        {
            "id": "gia-ca",
            "title": "Giá cả",
            "where": "Chợ đầu mối",
            "questions": ["giá lợn hơi hôm nay", "gia lua bao nhieu mot can", "giá vàng tăng không"],
        },
    ]
}


def test_out_of_scope_topics_decline_with_the_topic(tmp_path: Path) -> None:
    root = write_kb(tmp_path)
    (root / "out_of_scope.yaml").write_text(yaml.safe_dump(OUT_OF_SCOPE, allow_unicode=True), "utf-8")
    kb = KnowledgeBase.load(root)
    assert not kb.problems and set(kb.out_of_scope) == {"thoi-tiet", "gia-ca"}
    m = Matcher(kb)
    weather = m.match("ngày mai trời có mưa to không")
    assert weather.decision is Decision.UNKNOWN and weather.out_of_scope == "thoi-tiet"
    assert weather.entry_id is None
    price = m.match("giá lợn hơi tuần này bao nhiêu")
    assert price.out_of_scope == "gia-ca"
    # In-scope questions are still answered, and the lexical half alone decides leave-one-out.
    assert m.match("hs ocop nop o dau").entry_id == "noi-nop"
    assert m.match("giay cn ocop co hieu luc bao lau").decision is Decision.ANSWER
    lexical_only = Matcher(kb, classifier=False)
    assert lexical_only.classifier is None and lexical_only.match("mai có mưa không").out_of_scope is None


def test_place_names_are_tagged_with_their_current_unit() -> None:
    from knowledge.phrases import place_phrases

    groups = {variant: canonical for canonical, variant in place_phrases()}
    assert groups["Nam Phương Tiến"] == "Nam Phương Tiến dvxuanmai"
    assert groups["Tân Tiến"] == "Tân Tiến dvxuanmai dvtranphu"  # split between two units
    assert "Chương Mỹ" not in groups  # the old district's name is everywhere: never tagged


def test_a_place_tag_links_communes_of_the_same_unit(tmp_path: Path) -> None:
    entries = [
        *ENTRIES,
        ("xa-xuan-mai", "Xã Xuân Mai gồm những xã cũ nào?", ["thủy xuân tiên giờ thuộc xã nào"]),
        ("xa-tran-phu", "Xã Trần Phú gồm những xã cũ nào?", ["mỹ lương giờ thuộc xã nào"]),
    ]
    m = Matcher(KnowledgeBase.load(write_kb(tmp_path, entries)))
    # "Nam Phương Tiến" is in no sample: its tag meets the one of "Thủy Xuân Tiên".
    assert m.prepare_query("xã nam phuong tien").folded == "xa nam phuong tien dvxuanmai"
    # The classifier reads the unit in place of the name.
    assert m._classifier_text("xa nam phuong tien dvxuanmai cu") == "xa dvxuanmai cu"
    assert m._classifier_text("xa tan tien dvxuanmai dvtranphu") == "xa dvxuanmai dvtranphu"
    assert m.match("nam phương tiến giờ thuộc xã nào").entry_id == "xa-xuan-mai"
    assert m.match("hữu văn giờ thuộc xã nào").entry_id == "xa-tran-phu"


def test_a_question_naming_ocop_needs_a_surer_classifier_to_be_declined(tmp_path: Path) -> None:
    import numpy as np

    from knowledge.decision import OUT_OF_SCOPE_THRESHOLD, OUT_OF_SCOPE_THRESHOLD_NAMING_OCOP

    root = write_kb(tmp_path)
    (root / "out_of_scope.yaml").write_text(yaml.safe_dump(OUT_OF_SCOPE, allow_unicode=True), "utf-8")
    m = Matcher(KnowledgeBase.load(root))
    n = len(m.entry_ids)
    between = (OUT_OF_SCOPE_THRESHOLD + OUT_OF_SCOPE_THRESHOLD_NAMING_OCOP) / 2

    class Fixed:
        """A classifier that puts `between` on the first out-of-scope topic, the rest on noi-nop."""

        def probabilities(self, text: str) -> np.ndarray:
            p = np.zeros(n + 2)
            p[m.entry_index["noi-nop"]] = 1.0 - between
            p[n] = between
            return p

    m.classifier = Fixed()  # type: ignore[assignment]
    assert m.match("nộp hồ sơ ở đâu").out_of_scope == "thoi-tiet"
    kept = m.match("nộp hồ sơ ocop ở đâu")
    assert kept.out_of_scope is None and kept.entry_id == "noi-nop"


def test_a_sure_ranking_answers_below_the_threshold_only_when_the_classifier_knows_other_subjects() -> None:
    from knowledge.decision import SURE_MIN_EVIDENCE, SURE_SCORE

    ranked = [("a", SURE_SCORE + 0.05), ("b", 0.1)]
    level = (SURE_MIN_EVIDENCE + ANSWER_THRESHOLD) / 2  # between the two: the lexical half alone suggests
    trusted = decide(ranked, evidence=level, trust_classifier=True)
    assert trusted.decision is Decision.ANSWER and trusted.entry_id == "a"
    assert decide(ranked, evidence=level).decision is not Decision.ANSWER
    too_little = SURE_MIN_EVIDENCE - 0.01
    assert decide(ranked, evidence=too_little, trust_classifier=True).decision is not Decision.ANSWER
    lower = [("a", SURE_SCORE - 0.05), ("b", 0.1)]
    assert decide(lower, evidence=level, trust_classifier=True).decision is not Decision.ANSWER
    no_domain = decide(ranked, evidence=level, trust_classifier=True, has_domain=False)
    assert no_domain.decision is not Decision.ANSWER


def test_other_subjects_spread_thin_do_not_decline_a_question_whose_best_guess_is_an_entry(
    tmp_path: Path,
) -> None:
    import numpy as np

    from knowledge.decision import OUT_OF_SCOPE_CERTAIN, OUT_OF_SCOPE_CERTAIN_LONG, OUT_OF_SCOPE_THRESHOLD

    root = write_kb(tmp_path)
    (root / "out_of_scope.yaml").write_text(yaml.safe_dump(OUT_OF_SCOPE, allow_unicode=True), "utf-8")
    m = Matcher(KnowledgeBase.load(root))
    n = len(m.entry_ids)
    share = {"value": 0.0}

    class Spread:
        """Half of `share` on each of the two out-of-scope topics, the rest on noi-nop."""

        def probabilities(self, text: str) -> np.ndarray:
            p = np.zeros(n + 2)
            p[n] = p[n + 1] = share["value"] / 2
            p[m.entry_index["noi-nop"]] = 1.0 - share["value"]
            return p

    m.classifier = Spread()  # type: ignore[assignment]
    share["value"] = (OUT_OF_SCOPE_THRESHOLD + OUT_OF_SCOPE_CERTAIN) / 2  # enough, but spread thin
    kept = m.match("nộp hồ sơ ở đâu")
    assert kept.out_of_scope is None and kept.entry_id == "noi-nop", kept
    share["value"] = OUT_OF_SCOPE_CERTAIN + 0.02  # together they are sure enough
    assert m.match("nộp hồ sơ ở đâu").out_of_scope is not None
    # …but not for a long message, whose story spreads probability over other subjects.
    story = "Nhà tôi nuôi gà, trồng rau, bán ở chợ, con cái đi làm xa, năm nay mưa nhiều nên mất mùa. "
    long_message = f"{story}Cho tôi hỏi nộp hồ sơ ở đâu?"
    share["value"] = (OUT_OF_SCOPE_CERTAIN + OUT_OF_SCOPE_CERTAIN_LONG) / 2
    assert m.match(long_message).out_of_scope is None
    assert m.match("nộp hồ sơ ở đâu").out_of_scope is not None
    share["value"] = OUT_OF_SCOPE_CERTAIN_LONG + 0.02
    assert m.match(long_message).out_of_scope is not None


def test_a_long_message_loses_only_its_requests_for_help() -> None:
    from knowledge.sentences import without_requests

    story = (
        "SP của HTX chị là trà túi lọc cà gai leo, đã xác định đăng ký vào bộ trà từ thực vật khác. "
        "Chị muốn biết bộ sản phẩm này do cơ quan nào quản lý để tìm hiểu tiêu chí chuyên ngành."
    )
    assert without_requests(f"{story} Nhờ bot chỉ giúp chị.") == story
    assert without_requests(f"{story} Bot nói giúp em với.") == story
    # Asking for the help itself, as a question, is still only a request.
    assert without_requests(f"{story} Bot nói giúp tôi được không?") == story
    # A request that asks something stays, and so does a short message or one made only of requests.
    asking = f"{story} Nhờ bot chỉ giúp chị nộp ở đâu?"
    assert without_requests(asking) == asking
    assert without_requests("Nhờ bot chỉ giúp chị.") == "Nhờ bot chỉ giúp chị."


def test_a_side_question_is_context_for_the_main_one() -> None:
    from knowledge.sentences import sentence_split

    message = (
        "Điều em muốn biết nhất là sản phẩm OCOP có được hỗ trợ đi hội chợ không? "
        "Còn câu phụ là giấy 3 sao có hạn bao lâu? Em làm nhang trầm ở Phụng Châu cũ."
    )
    asked = [sentence for sentence, is_q in sentence_split(message) if is_q]
    assert asked == ["Điều em muốn biết nhất là sản phẩm OCOP có được hỗ trợ đi hội chợ không?"]


def test_the_polite_particle_and_a_comma_close_a_sentence() -> None:
    from knowledge.sentences import sentence_split

    message = "cho e hỏi nộp online được không ạ, xưởng nhà e ở Hòa Phú. Bố mẹ e không biết dùng máy tính"
    assert [s for s, _ in sentence_split(message)] == [
        "cho e hỏi nộp online được không ạ,",
        "xưởng nhà e ở Hòa Phú.",
        "Bố mẹ e không biết dùng máy tính",
    ]
    # Only the particle, not a word ending in it ("xạ đen", "hạ thảo").
    assert len(sentence_split("Nhà em làm trà xạ đen ở Trần Phú, đông trùng hạ thảo nữa")) == 1
    # Voice-to-text without punctuation: the particle alone closes it too.
    assert [s for s, _ in sentence_split("có mất phí không ạ em hỏi cho xưởng bánh của mẹ ở Chúc Sơn")] == [
        "có mất phí không ạ",
        "em hỏi cho xưởng bánh của mẹ ở Chúc Sơn",
    ]


def test_a_question_that_names_nothing_asks_about_the_sentence_before_it() -> None:
    from knowledge.sentences import sentence_split

    told = "Hôm họp thôn có bà bảo muốn đi OCOP phải có giấy phép hộ kinh doanh đã."
    assert sentence_split(f"Nhà tôi nuôi ong ở Mỹ Lương cũ. {told} Có đúng vậy không?") == [
        ("Nhà tôi nuôi ong ở Mỹ Lương cũ.", False),
        (f"{told} Có đúng vậy không?", True),
    ]
    # A question that names something stands alone.
    assert sentence_split(f"{told} Có mất tiền không?")[-1] == ("Có mất tiền không?", True)


def test_a_run_on_message_is_split_where_it_says_it_asks() -> None:
    from knowledge.sentences import sentence_split

    run_on = (
        "anh ơi em làm bánh chưng ở Ngọc Hòa tết là mùa chính bận không ngóc đầu lên được "
        "em muốn hỏi là nộp hồ sơ ocop thì vào tháng mấy"
    )
    assert sentence_split(run_on) == [
        ("anh ơi em làm bánh chưng ở Ngọc Hòa tết là mùa chính bận không ngóc đầu lên được", False),
        ("em muốn hỏi là nộp hồ sơ ocop thì vào tháng mấy", True),
    ]
    told = "nha chau lam mien o xa Minh Phu cu cho chau hoi nop o dau"
    parts = ["nha chau lam mien o xa Minh Phu cu", "cho chau hoi nop o dau"]
    assert [s for s, _ in sentence_split(told)] == parts
    # What happened ("tôi hỏi cán bộ"), a closing remark ("hỏi cho đúng chỗ"), an association ("hội"):
    # no split.
    for whole in (
        "hôm trước tôi ra xã rồi tôi hỏi cán bộ thì họ bảo chưa có",
        "cái bộ rượu trắng do cơ quan nào quản lý tôi muốn hỏi cho đúng chỗ kẻo lại chạy lòng vòng",
        "hôm qua tôi lên xã dự họp em muốn hội viên đi cùng",
    ):
        assert len(sentence_split(whole)) == 1, whole
