"""A producer who names a product is told which of the 26 product sets it belongs to (QĐ 26/2026), that it
can take part, and how to start; the product lexicon is checked like the rest of the knowledge base."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fakebot.driver import Harness
from knowledge.decision import Decision
from knowledge.index import KnowledgeIndex
from knowledge.kb import ERROR, KnowledgeBase
from knowledge.products import ProductDataError, ProductDirectory
from knowledge.retrieval import Matcher
from tests.test_kb_index import copy_data

SETS = {
    4: {"sector": "Thực phẩm", "name": "Mật ong, mật khác và nông sản thực phẩm khác"},
    8: {"sector": "Thực phẩm", "name": "Chế biến từ thịt, thủy sản, trứng, sữa, mật ong…"},
    11: {"sector": "Thực phẩm", "name": "Chè tươi, chè chế biến"},
    12: {"sector": "Thực phẩm", "name": "Sản phẩm trà từ thực vật khác"},
}


def directory(*products: dict[str, object]) -> ProductDirectory:
    return ProductDirectory({"sets": SETS, "products": list(products)})


def test_a_product_is_found_with_or_without_accents_and_the_longest_name_wins() -> None:
    found = directory(
        {"name": "Mật ong", "set": 4, "aliases": ["mật ong", "mật ong rừng"]},
        {"name": "Kẹo mật ong", "set": 8, "aliases": ["kẹo mật ong"]},
        {"name": "Chè búp", "set": 11, "aliases": ["chè"]},
        {"name": "Trà hoa", "set": 12, "aliases": ["trà hoa"], "note": "Thực phẩm chức năng: bộ 18."},
    )
    match = found.mentioned("Nhà em nuôi ong ở Xuân Mai, mat ong rung co tham gia ocop dc k")
    assert match is not None and match.name == "Mật ong" and match.product_set.number == 4
    assert found.mentioned("keo mat ong nha em thuoc bo nao").name == "Kẹo mật ong"  # type: ignore[union-attr]
    # A one-word name counts only as typed with its accents: "che" without them is also "che" (to cover).
    assert found.mentioned("chè nhà em có làm ocop được không").name == "Chè búp"  # type: ignore[union-attr]
    assert found.mentioned("che nha em co lam ocop duoc khong") is None
    tea = found.mentioned("tra hoa nha em")
    assert tea is not None and tea.note == "Thực phẩm chức năng: bộ 18."
    assert found.mentioned("hồ sơ ocop gồm những gì") is None
    assert len(found) == 4


def test_a_name_given_to_two_products_or_an_unknown_set_is_refused() -> None:
    with pytest.raises(ProductDataError, match="also"):
        directory(
            {"name": "Mật ong", "set": 4, "aliases": ["mật ong"]},
            {"name": "Mật ong ngâm", "set": 8, "aliases": ["Mật Ong"]},
        )
    with pytest.raises(ProductDataError, match="set"):
        directory({"name": "Rượu", "set": 99})


def test_the_real_lexicon_loads_and_places_everyday_products() -> None:
    real = ProductDirectory.load()
    assert len(real.sets) == 26
    for text, number in [
        ("mật ong nhà em", 4),
        ("giò chả nhà em", 8),
        ("bánh chưng nhà tôi", 6),
        ("mây tre đan", 21),
        ("homestay nhà tôi", 26),
    ]:
        match = real.mentioned(text)
        assert match is not None and match.product_set.number == number, text


async def test_a_named_product_gets_its_set_and_how_to_start(bot: Harness) -> None:
    lan = bot.user(601, "Lan")
    reply = (await lan.send("mat ong nha e co tham gia ocop dc ko a"))[-1]
    assert "Sản phẩm nào được tham gia OCOP" in reply.text, reply.text
    assert "🏷 Mật ong: ngành Thực phẩm, bộ 4" in reply.text
    assert "✅ Mật ong được tham gia OCOP khi chủ thể là" in reply.text and "/dieukien" in reply.text
    assert "Theo QĐ 26/2026/QĐ-TTg, mỗi sản phẩm thuộc một trong 26 bộ" not in reply.text  # the card says it
    # A product's name and nothing else asks the same.
    bare = (await lan.send("nấm linh chi"))[-1]
    assert "🏷 Nấm linh chi: ngành Dược liệu và sản phẩm từ dược liệu, bộ 20" in bare.text, bare.text
    # An answer about a sector names the product's set too.
    sector = (await lan.send("nhóm đồ uống gồm những gì, có rượu trắng không"))[-1]
    assert "Nhóm Đồ uống" in sector.text and "🏷 Rượu trắng: ngành Đồ uống, bộ 14" in sector.text, sector.text
    general = (await lan.send("sản phẩm nào được tham gia ocop"))[-1]
    assert "🏷" not in general.text and "mỗi sản phẩm thuộc một trong 26 bộ" in general.text
    assert "✅ Sản phẩm được tham gia OCOP" in general.text


def test_positions_mark_the_words_of_product_names() -> None:
    found = directory(
        {"name": "Mật ong", "set": 4, "aliases": ["mật ong", "mật ong rừng"]},
        {"name": "Chè búp", "set": 11, "aliases": ["chè"]},
    )
    tokens = ("nhà", "em", "làm", "mật", "ong", "rừng", "và", "chè")
    folded = ("nha", "em", "lam", "mat", "ong", "rung", "va", "che")
    assert found.positions(tokens, folded) == frozenset({3, 4, 5, 7})
    unaccented = ("che", "mat", "ong")
    assert found.positions(unaccented, unaccented) == frozenset({1, 2})  # "che" typed without accents: no


@pytest.mark.parametrize(
    ("question", "entry"),
    [
        # The question is about the product its story names: the product steers.
        (
            "Tôi mua một hộp đông trùng hạ thảo Thiên Phúc ở hội chợ, người bán nói là hàng của Chương Mỹ. "
            "Sản phẩm này được mấy sao rồi ạ?",
            "dong-trung-ha-thao-thien-phuc",
        ),
        (
            "Hôm trước đi chợ phiên tôi thấy bán cà gai leo SaDu, nghe nói là hàng của Chương Mỹ cũ. "
            "Sản phẩm đó được đánh giá thế nào ạ?",
            "ca-gai-leo-sadu",
        ),
        # The question is about something else: the story's product does not.
        (
            "Nhà em làm mật ong rừng đã năm năm, khách quen khen lắm, bán khắp nơi. "
            "Vậy em nộp hồ sơ ở đâu ạ?",
            "nop-ho-so-o-dau",
        ),
        # A run-on voice message: the story is inside the one sentence, and its product is not the subject.
        (
            "cháu ơi giấy ô cốp của ông cấp tháng mười năm hai không hai ba cho chai rượu nếp cái hoa "
            "vàng ông lồng khung treo ở phòng khách cạnh ảnh bà nó có hạn bao lâu hả cháu ông sợ hết hạn "
            "rồi mà không biết",
            "thoi-han-chung-nhan",
        ),
        (
            "con ơi mẹ nói vào máy con nghe nhé mẹ sắp nộp hồ sơ cho ruốc thịt lợn với giò lụa mà không "
            "biết phải mang mấy hộp mẫu mẹ định mang hai hộp thôi vì một hộp cũng trăm rưỡi nghìn rồi có "
            "phải nộp nhiều hơn không",
            "mau-san-pham",
        ),
        # Unless it asks about the product.
        (
            "nhà tôi ở Trung Hòa làm mật ong hoa nhãn đã hơn hai mươi năm nay bán cho khách quen khắp "
            "nơi con cháu cứ giục đi làm giấy tờ thì cho tôi hỏi mật ong như nhà tôi có tham gia ocop "
            "được không",
            "san-pham-nao-duoc-tham-gia",
        ),
        # "ạ," closes the question: what follows is the story.
        (
            "cho e hỏi nộp hồ sơ online được không ạ, e làm ở bên Long Biên mà xưởng bánh đa nhà e ở "
            "Hòa Phú. Bố mẹ e không biết dùng máy tính",
            "nop-ho-so-truc-tuyen",
        ),
    ],
)
def test_a_story_product_steers_only_a_question_about_it(
    real_index: KnowledgeIndex, question: str, entry: str
) -> None:
    match = real_index.matcher.match(question)
    assert match.decision is Decision.ANSWER and match.entry_id == entry, match


@pytest.mark.parametrize(
    ("question", "entry"),
    [
        # A question naming a sector asks about the sector: the products it names are its examples.
        (
            "ông nhà tôi nấu rượu ngô rượu nếp còn con dâu làm nước ép chanh leo đóng chai bán trên mạng "
            "cho tôi hỏi nhóm đồ uống gồm những cái gì",
            "nhom-do-uong",
        ),
        (
            "Nhóm dược liệu gồm những loại sản phẩm nào, cao xoa bóp và trà thảo dược có vào không",
            "nhom-duoc-lieu",
        ),
        # Without the sector, a product's name still asks whether it can take part.
        ("rượu nếp có làm ocop được không", "san-pham-nao-duoc-tham-gia"),
    ],
)
def test_a_named_sector_is_asked_about_with_its_products_as_examples(
    real_index: KnowledgeIndex, question: str, entry: str
) -> None:
    match = real_index.matcher.match(question)
    assert match.decision is Decision.ANSWER and match.entry_id == entry, match


@pytest.mark.parametrize(
    ("question", "entry"),
    [
        # Asked who may take part, a producer naming what they make asks about the applicant.
        ("mẹ cháu nấu rượu nếp bán ở chợ thì những ai được đăng ký tham gia OCOP ạ", "ai-duoc-tham-gia"),
        ("bố em làm mật ong thì những ai được đăng ký ocop ạ", "ai-duoc-tham-gia"),
        # Asked how to register, it is about the dossier, whatever the product.
        ("đk ocop ntn ạ, e mún đăng ký cho sp mật ong", "ho-so-gom-nhung-gi"),
        # Asked whether the product can take part, it is about the product.
        ("mẹ cháu nấu rượu nếp bán ở chợ thì có đăng ký OCOP được không ạ", "san-pham-nao-duoc-tham-gia"),
    ],
)
def test_a_question_asking_who_or_how_is_not_steered_by_the_product_it_names(
    real_index: KnowledgeIndex, question: str, entry: str
) -> None:
    match = real_index.matcher.match(question)
    assert match.decision is Decision.ANSWER and match.entry_id == entry, match


def test_the_lexicon_is_the_knowledge_base_own_and_read_with_every_build(tmp_path: Path) -> None:
    data = copy_data(tmp_path)
    # Without a lexicon of its own, a knowledge base uses the shared one.
    assert Matcher(KnowledgeBase.load(data), classifier=False).products.mentioned("giò chả") is not None
    own = {"sets": SETS, "products": [{"name": "Chè búp", "set": 11, "aliases": ["chè búp"]}]}
    (data / "products.yaml").write_text(yaml.safe_dump(own, allow_unicode=True), "utf-8")
    rebuilt = Matcher(KnowledgeBase.load(data), classifier=False).products
    assert rebuilt.mentioned("giò chả") is None and rebuilt.mentioned("chè búp").name == "Chè búp"  # type: ignore[union-attr]
    # A broken lexicon is an error of `kb check` (so /napkb keeps the old index).
    own["products"].append({"name": "Chè xanh", "set": 11, "aliases": ["Chè Búp"]})
    (data / "products.yaml").write_text(yaml.safe_dump(own, allow_unicode=True), "utf-8")
    errors = [p for p in KnowledgeBase.load(data).check() if p.level == ERROR]
    assert [p.where for p in errors] == ["products.yaml"] and "also" in errors[0].message
