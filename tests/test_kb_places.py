"""A producer who names an old commune in a question about where to go is told the new unit by name;
a split commune gets both units and how to tell."""

from __future__ import annotations

from fakebot.driver import Harness
from knowledge.communes import CommuneDirectory
from knowledge.decision import Decision
from knowledge.index import KnowledgeIndex


def test_old_communes_that_were_unknown_are_placed() -> None:
    directory = CommuneDirectory.load()
    expected = {
        "Hòa Chính": "xã Hòa Phú",
        "Phú Nam An": "xã Hòa Phú",
        "Hồng Phong": "xã Hòa Phú",
        "Đồng Phú": "xã Hòa Phú",
        "Tốt Động": "xã Quảng Bị",
        "Hợp Đồng": "xã Quảng Bị",
        "Hoàng Diệu": "xã Quảng Bị",
        "Lam Điền": "xã Quảng Bị",
        "Tân Tiến": "xã Xuân Mai",
    }
    for old, new in expected.items():
        match = directory.resolve(f"xã {old}")
        assert match is not None and match.new_unit_label == new, old
    assert directory.resolve("xã Lam Điền").also == ("Bình Minh",)
    assert directory.resolve("xã Tân Tiến").also == ("Trần Phú",)
    assert not directory.resolve("phường Chương Mỹ").provisional


def test_a_long_message_names_the_old_commune_not_the_old_district() -> None:
    directory = CommuneDirectory.load()
    named = directory.mentioned("Nhà tôi ở xã Văn Võ cũ, huyện Chương Mỹ cũ, làm chè búp lâu năm.")
    assert named is not None and named.old_name == "Văn Võ" and named.new_unit == "Hòa Phú"
    assert directory.mentioned("tôi muốn hỏi về OCOP") is None


async def test_where_to_submit_from_an_old_commune_names_the_new_one(bot: Harness) -> None:
    lan = bot.user(501, "Lan")
    reply = (await lan.send("tôi ở Tốt Động thì nộp hồ sơ ở đâu"))[-1]
    assert "Xã Tốt Động cũ nay thuộc xã Quảng Bị" in reply.text, reply.text
    table_row = "Quảng Bị, Tốt Động, Hợp Đồng, Hoàng Diệu → xã Quảng Bị"
    assert table_row not in reply.text  # the card says it: no table of every commune on a phone screen
    general = (await lan.send("nộp hồ sơ ocop ở đâu"))[-1]
    assert table_row in general.text and "📍" not in general.text  # no commune named: the whole table
    split = (await lan.send("nhà tôi ở Lam Điền cũ thì nộp hồ sơ ocop ở đâu"))[-1]
    assert "xã Quảng Bị" in split.text and "xã Bình Minh" in split.text and "thôn" in split.text
    other = (await lan.send("OCOP là gì"))[-1]
    assert "📍" not in other.text
    # A current unit: what it is made of, its size, and where to submit; the old district's name alone
    # ("ở Chương Mỹ") is not the ward.
    current = (await lan.send("xã phú nghĩa mới gồm những xã cũ nào"))[-1]
    assert "📍 <b>Xã Phú Nghĩa</b> (từ 1/7/2025) gồm Đông Sơn" in current.html, current.html
    assert "40,25 km²" in current.text and "71.048 người" in current.text
    assert "nộp hồ sơ tại UBND xã Phú Nghĩa" in current.text
    district = (await lan.send("ở chương mỹ thì nộp hồ sơ ocop ở đâu"))[-1]
    assert "📍" not in district.text, district.text


def test_a_place_in_the_story_steers_only_a_question_about_a_place(real_index: KnowledgeIndex) -> None:
    matcher = real_index.matcher
    # The question is not about the place: the entry about where to submit (and the communes) does not
    # answer it.
    for text, entry_id in (
        (
            "Nhà tôi ở Thủy Xuân Tiên, giờ là xã Xuân Mai, làm chè búp khô. Con tôi bảo nên làm OCOP. "
            "Hồ sơ OCOP gồm những giấy tờ gì ạ?",
            "ho-so-gom-nhung-gi",
        ),
        (
            "Chào bot, nhà tôi ở xã Quảng Bị, làm bánh gai đã lâu. Tôi đang tính làm OCOP. "
            "Ai là người chấm điểm sản phẩm bây giờ?",
            "cap-nao-danh-gia-hien-nay",
        ),
    ):
        match = matcher.match(text)
        assert (match.decision, match.entry_id) == (Decision.ANSWER, entry_id), match
    # Asked where: the place steers, and the new commune's entries are offered.
    match = matcher.match(
        "Nhà tôi ở xã Hợp Đồng cũ, làm nhãn sấy đã hơn mười năm, bán cho khách quen ở chợ. "
        "Năm nay tôi muốn đưa nhãn sấy đi đánh giá. Vậy tôi phải nộp hồ sơ ở đâu?"
    )
    assert match.decision is Decision.ANSWER and match.entry_id == "nop-ho-so-o-dau", match


async def test_a_named_product_hears_it_can_take_part_and_how_to_start(bot: Harness) -> None:
    farmer = bot.user(502, "Hoa")
    reply = (await farmer.send("mat ong nha e co dc lam ocop ko"))[-1]
    assert "bộ 4" in reply.text, reply.text
    assert "được tham gia OCOP" in reply.text and "/dieukien" in reply.text and "/hoso" in reply.text
    # A source named twice (two articles of one site) is listed once.
    rule = (await farmer.send("qd 148 con hieu luc ko"))[-1]
    names = rule.text.split("Nguồn: ")[1].split("; ")
    assert len(names) == len(set(names)), names
