"""Property tests: any Unicode into the normaliser, the validators and the templates — no crash, user
text always escaped, every message within Telegram's limits once it leaves through the bot."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from common.render import Renderer
from common.text import MESSAGE_LIMIT, fit_html, utf16_len, visible_text
from dossier import validators
from fakebot.core import parse_html
from knowledge.normalize import clean, fold, normalize

ANY_TEXT = st.text(min_size=0, max_size=600)
LETTERS = "aăâbcdđeêghiklmnoôơpqrstuưvxyàảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵ"
VIETNAMESE = st.text(alphabet=LETTERS + " 0123456789?.,!ĐƯỮỸẬẶỖ", max_size=300)
RENDERER = Renderer()


@settings(max_examples=300, deadline=None)
@given(st.one_of(ANY_TEXT, VIETNAMESE))
def test_normaliser_takes_any_text(text: str) -> None:
    result = normalize(text)
    assert isinstance(fold(text), str) and isinstance(clean(text), str)
    assert result is not None
    assert normalize(text) == result  # deterministic


@settings(max_examples=300, deadline=None)
@given(st.one_of(ANY_TEXT, VIETNAMESE, st.from_regex(r"[0-9 .,\-/]{0,30}", fullmatch=True)))
def test_validators_take_any_text(text: str) -> None:
    phone = validators.parse_phone(text)
    assert phone is None or phone.isdigit()
    tax = validators.parse_tax_code(text)
    assert tax is None or tax.replace("-", "").isdigit()
    validators.parse_date(text)
    number = validators.parse_decimal(text)
    assert number is None or number == number  # never NaN
    validators.parse_quantity(text)
    assert isinstance(validators.clean_text(text), str)


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=0, max_size=5000))
def test_user_text_in_a_template_stays_text_and_fits(text: str) -> None:
    for html in (
        RENDERER.render("common/unknown_command", command=text),
        RENDERER.render("common/welcome", name=text, is_new=True),
    ):
        sent = fit_html(html, MESSAGE_LIMIT)
        shown = parse_html(sent)  # Telegram's HTML subset: no stray tag or entity from user text
        assert shown == visible_text(sent)
        assert utf16_len(shown) <= MESSAGE_LIMIT
