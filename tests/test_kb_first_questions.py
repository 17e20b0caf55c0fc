"""The questions a new user asks first are answered by the entries that answer them, in every register,
and near misses (other procedures) are declined."""

from __future__ import annotations

import pytest

from knowledge.decision import Decision
from knowledge.index import KnowledgeIndex


@pytest.mark.parametrize(
    ("question", "entry"),
    [
        ("lam ho so o dau", "nop-ho-so-o-dau"),
        ("dang ky ocop the nao", "ho-so-gom-nhung-gi"),
        ("e mun dki ocop thi lm ntn a", "ho-so-gom-nhung-gi"),
        ("Muốn đăng ký OCOP thì làm thế nào ạ?", "ho-so-gom-nhung-gi"),
        ("sp cua toi la gao nep cai hoa vang, co dk ocop dc ko", "san-pham-nao-duoc-tham-gia"),
        ("hộ kinh doanh có đăng ký có tham gia được không", "ai-duoc-tham-gia"),
        ("can chuan bi nhung gi de lam ocop", "ho-so-gom-nhung-gi"),
        ("khi nao thi nop ho so ocop", "khi-nao-nop-ho-so"),
    ],
)
def test_first_questions_are_answered(real_index: KnowledgeIndex, question: str, entry: str) -> None:
    match = real_index.matcher.match(question)
    assert match.decision is Decision.ANSWER and match.entry_id == entry, (match.entry_id, match.confidence)


@pytest.mark.parametrize(
    "question",
    [
        "cấp giấy an toàn thực phẩm cho nhà hàng",
        "thành lập hợp tác xã cần gì",
        "lệ phí đăng ký hộ kinh doanh bao nhiêu",
        "vay ngân hàng làm trang trại",
        "chứng nhận vietgap làm thế nào",
    ],
)
def test_near_misses_are_declined(real_index: KnowledgeIndex, question: str) -> None:
    match = real_index.matcher.match(question)
    assert match.decision is not Decision.ANSWER and match.out_of_scope is not None, match.entry_id


def test_answers_carry_no_research_notes_and_promise_no_reminders(real_index: KnowledgeIndex) -> None:
    kb = real_index.kb
    banned = ("github", "độ tin cậy", "mâu thuẫn", "nhắc việc trong bot", "bật nhắc việc", "[s")
    for entry in kb.entries.values():
        shown = " ".join([entry.title, entry.answer, entry.rule]).lower()
        shown += " ".join((s.publisher or s.title).lower() for s in kb.sources_of(entry))
        for word in banned:
            assert word not in shown, (entry.id, word)


def test_current_rule_is_named_where_the_criteria_apply(real_index: KnowledgeIndex) -> None:
    kb = real_index.kb
    for entry_id in ("ho-so-gom-nhung-gi", "khi-nao-nop-ho-so", "qd-26-2026"):
        assert "26/2026" in kb.entries[entry_id].rule, entry_id
    # The earlier decisions are told as such, each with the time it applied.
    answer = kb.entries["qd-26-2026"].answer
    assert "Các văn bản trước đây" in answer
    for said in ("Áp dụng đến 23/2/2023", "QĐ 148/QĐ-TTg (24/2/2023)", "QĐ 1489/QĐ-TTg (06/7/2025)"):
        assert said in answer, said


def test_words_typed_the_way_they_sound_are_read(real_index: KnowledgeIndex) -> None:
    # f → ph, j → gi, a final g without its n, s for x and l for n at the start…
    matcher = real_index.matcher
    assert (
        matcher.prepare_query("tham ja ocop có mất fí khôg").folded == "tham gia ocop co chi phi khong"
    )  # "mất phí" reads "chi phí"
    assert matcher.prepare_query("nâg lên 4 sao").folded == "nang len 4 sao"
    match = matcher.match("muốn nâg từ 3 xao lên 4 xao thì làm thế lào")
    assert match.decision is Decision.ANSWER and match.entry_id == "nang-hang-sao", match
    # …but a word of a product's name is not turned into another word ("linh" of "nấm linh chi").
    assert "linh" in matcher.prepare_query("nấm linh chi có tham gia đc k ad").folded.split()


@pytest.mark.parametrize(
    "question",
    [
        "Chào bot, cô năm nay 58 tuổi, ở nhà làm mắm tép bán cho hàng xóm, chưa đăng ký gì với nhà nước "
        "cả. Con gái cô bảo đưa đi làm OCOP. Cô làm một mình như thế có tham gia được không, hay phải làm "
        "gì trước?",
        "E ban hang online cho nha, sp chinh la ga doi va ruoc ga, chua lap ho kinh doanh gi ca. "
        "Gio e muon dua sp vao OCOP cho khach tin hon. Vay e co tham gia duoc ko a?",
    ],
)
def test_a_producer_not_registered_yet_learns_that_first(real_index: KnowledgeIndex, question: str) -> None:
    # Told in the story, not registered as a business yet is what decides whether they can take part.
    match = real_index.matcher.match(question)
    assert match.decision is Decision.ANSWER, match
    assert match.entry_id == "ho-ca-nhan-chua-dang-ky-kinh-doanh", match


def test_a_trademark_not_registered_yet_is_not_a_business_not_registered() -> None:
    from knowledge.retrieval import UNREGISTERED_RE

    assert UNREGISTERED_RE.search("nha em chua dang ky gi ca")
    assert UNREGISTERED_RE.search("chua co giay dang ky kinh doanh")
    assert not UNREGISTERED_RE.search("san pham chua dang ky nhan hieu")
    assert not UNREGISTERED_RE.search("em chua dang ky ocop bao gio")
    # "No papers at all" is not registered either; papers of one kind missing is something else.
    assert UNREGISTERED_RE.search("me em lam bun o nha khong co giay to gi")
    assert UNREGISTERED_RE.search("nha em chua co giay to gi ca")
    assert not UNREGISTERED_RE.search("xuong chua co giay to moi truong")


def test_texting_slips_of_the_first_questions_are_read(real_index: KnowledgeIndex) -> None:
    matcher = real_index.matcher
    assert matcher.prepare_query("điu kiện là j").folded == "dieu kien la gi"
    assert matcher.prepare_query("có tg ocop dc k").folded == "co tham gia ocop duoc khong"
    assert matcher.prepare_query("ai thì đc tham ra ô cốp").folded == "ai thi duoc tham gia ocop"
    # Older users call the bot "cái máy này", and a fee "lấy tiền".
    assert (
        matcher.prepare_query("cái máy này làm được gì").folded
        == matcher.prepare_query("bot làm được gì").folded
    )
    assert (
        matcher.prepare_query("chấm có lấy tiền không").folded
        == matcher.prepare_query("chấm có mất phí không").folded
    )
    # "vây" ending a question is the particle "vậy" mistyped: dropped like it.
    typo, particle = "Đăng kí OCOP ở đâu vây?", "Đăng kí OCOP ở đâu vậy?"
    assert matcher.prepare_query(typo) == matcher.prepare_query(particle)
