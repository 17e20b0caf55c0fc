"""Vietnamese normalisation: folding, abbreviations, fillers, aligned accented/folded tokens."""

from knowledge.normalize import Normalizer, PhraseTable, clean, fold, fold_text, has_diacritics, normalize


def test_fold_removes_diacritics_and_d_stroke() -> None:
    assert fold("đăng ký sản phẩm OCOP") == "dang ky san pham OCOP"
    assert fold("Đồng Phú") == "Dong Phu"
    assert fold_text("Thủy Xuân Tiên!") == "thuy xuan tien"


def test_clean_is_nfc_lowercase_single_tone_style() -> None:
    decomposed = "ho\u0300a"  # "hòa" typed with a combining grave accent
    assert clean(decomposed) == "hòa"
    assert clean("Hoà  Phú,  KHOẺ?") == "hòa phú khỏe"
    assert clean("quý") == "quý"  # "qu" + ý keeps its tone on y


def test_abbreviations_expand() -> None:
    n = normalize("sp đạt 3* thì dc hỗ trợ bn tiền")
    assert n.text == "sản phẩm đạt 3 sao thì được hỗ trợ bao nhiêu tiền"
    assert normalize("hs nop o dau").text.startswith("hồ sơ")
    assert normalize("htx co dc tham gia ko").folded == "hop tac xa co duoc tham gia khong"
    assert normalize("a/c ơi").tokens[:2] == ("anh", "chị")
    assert normalize("ocop la j z").folded == "ocop la gi"


def test_greetings_and_fillers_removed() -> None:
    assert normalize("Xin chào, cho em hỏi OCOP là gì vậy ạ?").text == "ocop là gì"
    assert normalize("ad ơi, hồ sơ gồm những gì nhé").text == "hồ sơ gồm những gì"
    assert normalize("ocop la gi a").folded == "ocop la gi"


def test_filler_with_accents_does_not_eat_real_words() -> None:
    # "nha" (filler) must not remove "nhà" (house) when the user typed accents.
    assert "nhà" in normalize("nhà em làm miến").tokens


def test_only_politeness_is_kept_or_empty() -> None:
    assert not normalize("ạ")
    assert normalize("xin chào").folded in {"xin chao", ""}


def test_accented_and_folded_tokens_are_aligned() -> None:
    n = normalize("Hồ sơ đăng ký OCOP nộp ở đâu")
    assert len(n.tokens) == len(n.folded_tokens)
    assert [fold(t) for t in n.tokens] == list(n.folded_tokens)
    assert has_diacritics("sơ") and not has_diacritics("ocop")


def test_custom_tables() -> None:
    norm = Normalizer({"bt": "biết"}, {"x/y": "xê y"}, ["alo"], ["nha"])
    n = norm.normalize("Alo bt x/y nha")
    assert n.text == "biết xê y"


def test_phrase_table_rewrites_to_canonical() -> None:
    table = PhraseTable([["hạng sao", "mấy sao", "bao nhiêu sao"], ["nơi nộp", "nộp ở đâu"]])
    n = table.apply(normalize("sản phẩm được mấy sao"))
    assert n.folded == "san pham duoc hang sao"
    assert n.tokens[-2:] == ("hạng", "sao")
    assert table.apply(normalize("ho so nop o dau")).folded == "ho so noi nop"


def test_small_talk_is_only_greetings_thanks_and_politeness() -> None:
    from knowledge.normalize import default_normalizer

    n = default_normalizer()
    for text in ("alo", "Cảm ơn bot nhé!", "chào anh chị ạ", "ạ", "", "hello"):
        assert n.is_small_talk(text), text
    for text in ("cảm ơn, hồ sơ gồm gì", "ocop", "chào, giá lúa bao nhiêu"):
        assert not n.is_small_talk(text), text
    assert n.normalize("cảm ơn").folded == "cam on"  # normalize still keeps a text made only of them
    assert n.is_small_talk("dạ vâng cảm ơn anh chị ạ, chào bot")
    # A long message says something: it is not tokenised again to find out.
    long_message = "cảm ơn bot, nhà em ở Hòa Phú làm bánh chưng lâu rồi, giờ muốn làm ocop thì sao"
    assert not n.is_small_talk(long_message)


def test_a_star_sign_and_group_abbreviations_read_as_words() -> None:
    from knowledge.normalize import default_normalizer

    n = default_normalizer()
    assert n.normalize("72 điểm là mấy * ạ").tokens[-1] == "sao"
    assert "sinh vật cảnh" in " ".join(n.normalize("nhóm svc gồm gì").tokens)
    assert "thủ công mỹ nghệ" in " ".join(n.normalize("đồ gốm vào nhóm tcmn").tokens)
    assert "sao" not in n.normalize("*gấp* cho em hỏi").tokens  # emphasis is not a star
