"""Every outgoing text is measured as Telegram measures it (UTF-16 units of the visible text):
the shared measure, the fitting of HTML, and emoji-heavy messages through the real bot."""

from __future__ import annotations

from html import escape

from hypothesis import given, settings
from hypothesis import strategies as st

from common.render import Renderer
from common.text import CAPTION_LIMIT, MESSAGE_LIMIT, clip, fit_html, utf16_len, visible_text
from fakebot.core import parse_html
from fakebot.driver import Harness
from tests.conftest import STAFF_CHAT_ID, STAFF_ID

EMOJI = "😀"


def test_utf16_len_counts_an_emoji_as_two() -> None:
    assert utf16_len("abc") == 3
    assert utf16_len(EMOJI) == 2
    assert utf16_len("Trợ lý") == 6


def test_clip_never_exceeds_and_never_splits_a_pair() -> None:
    text = EMOJI * 100
    out = clip(text, 11)
    assert utf16_len(out) <= 11 and out.endswith("…")
    assert "\ud83d" not in out.encode("utf-16-le", "surrogatepass").decode("utf-16-le")


def test_fit_html_keeps_short_text_and_closes_tags_of_long_text() -> None:
    assert fit_html("<b>xin chào</b>", 100) == "<b>xin chào</b>"
    out = fit_html("<b>" + "a &amp; b " * 1000 + "</b>", 100)
    assert utf16_len(visible_text(out)) <= 100
    assert out.endswith("</b>") and "&am…" not in out
    parse_html(out)  # the fake's Telegram-HTML parser accepts it


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=0, max_size=3000), st.integers(min_value=1, max_value=MESSAGE_LIMIT))
def test_fit_html_of_any_escaped_text_fits_and_parses(text: str, limit: int) -> None:
    html = f"<b>Tiêu đề</b>\n<i>{escape(text)}</i> <a href=\"https://example.org\">x</a>"
    out = fit_html(html, limit)
    assert utf16_len(visible_text(out)) <= max(limit, 1)
    assert parse_html(out) == visible_text(out)


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=0, max_size=2000), st.integers(min_value=0, max_value=CAPTION_LIMIT))
def test_truncate_filter_measures_utf16(text: str, length: int) -> None:
    out = Renderer().env.from_string("{{ t | truncate(n) }}").render(t=text, n=length)
    assert utf16_len(out) <= max(length, 1) or out == text


async def test_emoji_question_reaches_staff_and_emoji_answer_reaches_producer(bot: Harness) -> None:
    """2,000 emoji are 4,000 UTF-16 units: with the template around them, over Telegram's limit."""
    lan = bot.user(231, "Lan")
    await lan.send("/lienhe")
    await lan.press("✍️ Gửi câu hỏi cho cán bộ")
    await lan.send("Cho em hỏi " + EMOJI * 2000)  # the driver fails on any call Telegram refuses
    forwarded = bot.fake.bot_messages(STAFF_CHAT_ID)[-1]
    assert "Cho em hỏi" in forwarded.text and utf16_len(forwarded.text) <= MESSAGE_LIMIT
    staff = bot.user(STAFF_ID, "Cán bộ")
    await staff.send("Trả lời " + EMOJI * 2040, chat_id=STAFF_CHAT_ID, reply_to=forwarded.message_id)
    assert "Trả lời" in lan.last.text and utf16_len(lan.last.text) <= MESSAGE_LIMIT


async def test_error_apology_and_a_forged_button_are_answered_once(bot: Harness) -> None:
    lan = bot.user(232, "Lan")
    await lan.send("/start")
    for data in ("m", "zz:1", "m:" + "x" * 60, "m:ask:1", "el:99999999999:1", "el:1:<b>"):
        replies = await lan.press_data(data)  # the driver also checks the press was answered
        assert "Nút này đã cũ" in replies[-1].text
