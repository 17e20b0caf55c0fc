"""The fake Bot API refuses what Telegram refuses (it is the referee for every conversation test)."""

from __future__ import annotations

import json

import pytest

from fakebot.core import BotAPIError, FakeTelegram, parse_html


@pytest.mark.parametrize(
    ("html", "plain"),
    [
        ("<b>Xin chào</b> &amp; <i>anh/chị</i>", "Xin chào & anh/chị"),
        ('<a href="https://ocop.gov.vn">link</a> &lt;3 &#128512;', "link <3 😀"),
        ("<blockquote>trích</blockquote><code>x</code><pre>y</pre>", "tríchxy"),
        ("a > b", "a > b"),
    ],
)
def test_telegram_html_subset_is_accepted(html: str, plain: str) -> None:
    assert parse_html(html) == plain


@pytest.mark.parametrize(
    "html",
    [
        "<script>x</script>",
        "a < b",
        "Tom & Jerry",
        "<b>unclosed",
        "<b><i>x</b></i>",
        "&nbsp;",
        "<div>x</div>",
        '<span class="x">s</span>',
        "<a>no href</a>",
    ],
)
def test_markup_telegram_refuses_is_refused(html: str) -> None:
    with pytest.raises(BotAPIError):
        parse_html(html)


def send(fake: FakeTelegram, **params: object) -> dict[str, object]:
    return fake.call("sendMessage", {"chat_id": 1, "parse_mode": "HTML", **params})


def test_message_length_limits() -> None:
    fake = FakeTelegram()
    assert send(fake, text="x" * 4096)["ok"]
    assert not send(fake, text="x" * 4097)["ok"]
    assert send(fake, text="<b>" + "x" * 4096 + "</b>")["ok"]  # markup does not count
    assert not send(fake, text="   ")["ok"]
    doc = {"document": ("a.pdf", b"%PDF", "application/pdf")}
    assert fake.call("sendDocument", {"chat_id": 1, "caption": "c" * 1024}, doc)["ok"]
    assert not fake.call("sendDocument", {"chat_id": 1, "caption": "c" * 1025}, doc)["ok"]


def test_callback_data_must_be_1_to_64_bytes() -> None:
    fake = FakeTelegram()

    def markup(data: str) -> str:
        return json.dumps({"inline_keyboard": [[{"text": "Nút", "callback_data": data}]]})

    assert send(fake, text="a", reply_markup=markup("x" * 64))["ok"]
    assert not send(fake, text="a", reply_markup=markup("x" * 65))["ok"]
    assert not send(fake, text="a", reply_markup=markup("ế" * 22))["ok"]  # 66 bytes
    assert not send(fake, text="a", reply_markup=markup(""))["ok"]


def test_command_names() -> None:
    fake = FakeTelegram()

    def set_commands(name: str) -> bool:
        return bool(fake.call("setMyCommands", {"commands": [{"command": name, "description": "d"}]})["ok"])

    assert set_commands("hoso") and set_commands("a_1") and set_commands("x" * 32)
    assert not set_commands("HoSo") and not set_commands("hồsơ") and not set_commands("x" * 33)
    assert not set_commands("ho-so")


def test_an_edit_that_changes_nothing_is_refused() -> None:
    fake = FakeTelegram()
    sent = send(fake, text="<b>a</b>")["result"]
    mid = sent["message_id"]  # type: ignore[index]
    edit = {"chat_id": 1, "message_id": mid, "parse_mode": "HTML"}
    assert not fake.call("editMessageText", {**edit, "text": "<b>a</b>"})["ok"]
    assert fake.call("editMessageText", {**edit, "text": "<b>b</b>"})["ok"]
    assert not fake.call("editMessageText", {**edit, "message_id": 999, "text": "c"})["ok"]


def test_unknown_methods_fail_loudly() -> None:
    fake = FakeTelegram()
    assert not fake.call("sendCarrierPigeon", {})["ok"]
    assert fake.unknown_methods == ["sendCarrierPigeon"]


def test_blocked_user_gives_forbidden() -> None:
    fake = FakeTelegram()
    fake.blocked_chats.add(1)
    answer = send(fake, text="x")
    assert answer["error_code"] == 403
