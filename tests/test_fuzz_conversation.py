"""A random conversation with the whole bot: many users (staff among them) pressing buttons shown,
stale and forged, typing Vietnamese, junk, emoji, HTML-like text and very long messages, sending
commands, deep links and files, filling dossiers — thousands of updates through the fake Bot API.

Asserted on every step: no handler raises (the driver fails the step), Telegram would refuse no call
(the fake records refusals), every press is answered (the driver checks), every private message gets
a reply, and no producer is ever shown another producer's words (each producer's texts carry a
marker of their own; a marker may reach staff, never another producer).

FUZZ_UPDATES and FUZZ_SEED change the size and the run: `FUZZ_UPDATES=20000 python -m pytest
tests/test_fuzz_conversation.py`.
"""

from __future__ import annotations

import os
import random
import re

from fakebot.core import SentMessage
from fakebot.driver import FakeUser, Harness
from tests.conftest import ADMIN_ID, STAFF_CHAT_ID, STAFF_ID

UPDATES = int(os.environ.get("FUZZ_UPDATES", "2000"))
SEED = int(os.environ.get("FUZZ_SEED", "20261130"))
PRODUCERS = 36
MARKER_RE = re.compile(r"MK(\d{4})Z")

QUESTIONS = [
    "ocop là gì", "ho so ocop gom nhung gi", "e mun dki ocop thi lm ntn a", "nộp hồ sơ ở đâu",
    "sp cua toi la gao nep cai hoa vang, co dk ocop dc ko", "chứng nhận ocop có hạn bao lâu",
    "hộ kinh doanh có tham gia được không", "mai troi co mua khong", "giá lúa hôm nay bao nhiêu",
    "tôi ở Tốt Động thì nộp hồ sơ ở đâu", "cam on bot nhe", "alo", "hỗ trợ gì khi được 4 sao",
]
JUNK = [
    "<b>đậm</b> & <script>alert(1)</script>", "a < b && c > d", "&amp; &lt; &#x1F600;", "😀" * 700,
    "🐝🌾" * 1100, "x" * 4090, "Nhà em ở Phú Nghĩa. " * 150, "\u200b\u200d\ufeff", "   ", "/", "@", "ạ",
    "ĐƯỜNG QUỐC LỘ 6 ỮỸẬẶỖ", "1e309", "-1", "9" * 40, "null", "None", "' OR 1=1 --", "\\x00",
]
COMMANDS = [
    "/start", "/menu", "/hoso", "/dieukien", "/lienhe", "/trogiup", "/help", "/huy", "/cauhoi", "/napkb",
    "/start hoso", "/start dieukien", "/start lienhe", "/start zalo_2026", "/start <b>", "/khongco",
    "/START", "/hoso@ocop_test_bot", "/hoso@other_bot",
    "/trangthai", "/trangthai OCOP-2026-0001", "/caidat", "/lich", "/start ev_1", "/start ev_x",
    "/start claim_abc", "/start claim_" + "A" * 40,
    # staff commands a producer tries: exactly the unknown-command reply
    "/duyet", "/xuat", "/thongke", "/thongbao", "/sukien", "/nhaphoso", "/canbo", "/nhatky",
]
FORGED = [
    "dos:o:9223372036854775808", "dos:o:1", "dos:a:1:99999999999:x", "dos:", "dos:del:-1", "dos:pdf:2",
    "kb:p:9223372036854775808:x", "kb:up:", "kb:dn:1", "kb:e:1:khong-co", "sd:new:", "sd:ga:1",
    "sd:rp:1", "sd:gle:1:x", "sd:dr:99", "el:1:x", "el:back", "m:zz", "m", "zz", ":", "a:b:c:d:e:f",
    "x" * 64, "é" * 32,
    "rv:o:1", "rv:q:-", "dsk:xg:-:-:-", "dsk:zz", "bc:x:1", "bc:go:99", "set:t:general", "set:t:zz",
    "ev:r:1", "ev:ics:1", "evs:new", "evs:qr:1", "st:rmok:1", "st:e:99999999999999999999", "dos:rerate:1",
]
FILES = ("photo", "pdf", "fake_pdf", "empty", "sticker", "voice", "location", "contact")


def _marker(user_id: int, n: int) -> str:
    return f"MK{user_id % 10000:04d}Z{n}"


class Fuzzer:
    def __init__(self, bot: Harness, rng: random.Random) -> None:
        self.bot = bot
        self.rng = rng
        self.producers = [bot.user(10_000 + i, f"Người{i}") for i in range(PRODUCERS)]
        self.staff = [bot.user(STAFF_ID, "Cán bộ Hùng"), bot.user(ADMIN_ID, "Quản trị")]
        self.sent = 0
        self.counter = 0
        self.actions: dict[str, int] = {}

    async def step(self) -> None:
        if self.rng.random() < 0.12:
            await self.staff_step(self.rng.choice(self.staff))
        else:
            await self.producer_step(self.rng.choice(self.producers))

    def _count(self, action: str) -> None:
        self.actions[action] = self.actions.get(action, 0) + 1

    async def producer_step(self, u: FakeUser) -> None:
        roll = self.rng.random()
        shown = [m for m in u.messages[-6:] if any("callback_data" in b for row in m.buttons for b in row)]
        if roll < 0.38 and shown:
            message = shown[-1] if self.rng.random() < 0.75 else self.rng.choice(shown)
            data = [b["callback_data"] for row in message.buttons for b in row if "callback_data" in b]
            self._count("press")
            await self.expect_answer(u, u.press_data(self.rng.choice(data), message=message))
        elif roll < 0.44 and u.messages:
            self._count("forged")
            await u.press_data(self.rng.choice(FORGED), message=self.rng.choice(u.messages))
        elif roll < 0.70:
            self._count("text")
            await self.expect_reply(u, u.send(self.text_for(u)))
        elif roll < 0.84:
            self._count("command")
            await self.expect_reply(u, u.send(self.rng.choice(COMMANDS)))
        elif roll < 0.94:
            self._count("file")
            await self.expect_reply(u, self.send_file(u))
        else:
            self._count("group")
            await u.send(self.rng.choice([*COMMANDS, *QUESTIONS]), chat_id=-100_555)

    async def staff_step(self, staff: FakeUser) -> None:
        roll = self.rng.random()
        in_chat = [m for m in self.bot.fake.bot_messages(STAFF_CHAT_ID)[-5:]]
        private = [m for m in staff.messages[-5:] if m.buttons]
        if roll < 0.3 and in_chat:
            self._count("staff_reply")
            target = self.rng.choice(in_chat)
            await staff.send(self.staff_text(), chat_id=STAFF_CHAT_ID, reply_to=target.message_id)
        elif roll < 0.65 and (private or in_chat):
            message = self.rng.choice(private or in_chat)
            data = [b["callback_data"] for row in message.buttons for b in row if "callback_data" in b]
            if data:
                self._count("staff_press")
                await staff.press_data(self.rng.choice(data), message=message)
        elif roll < 0.8:
            self._count("staff_command")
            await staff.send(self.rng.choice(
                ["/cauhoi", "/napkb", "/trogiup", "/duyet", "/thongke", "/xuat", "/thongbao", "/sukien",
                 "/nhaphoso", "/trangthai", "/lich", "/caidat"]
            ))
        else:
            self._count("staff_text")
            await staff.send(self.staff_text())

    def text_for(self, u: FakeUser) -> str:
        self.counter += 1
        base = self.rng.choice(QUESTIONS if self.rng.random() < 0.6 else JUNK)
        # Every producer text carries the producer's own marker, where Telegram's 4,096 allow it.
        marker = _marker(u.id, self.counter)
        return base if len(base) > 4000 else f"{base} {marker}"

    def staff_text(self) -> str:
        texts = ["Anh/chị mang 5 mẫu đến UBND xã.", "Đã nhận.", "😀" * 2100, "<i>ok</i> & xong"]
        return self.rng.choice(texts)

    async def send_file(self, u: FakeUser) -> list[SentMessage]:
        kind = self.rng.choice(FILES)
        if kind == "photo":
            return await u.send_photo()
        if kind == "pdf":
            return await u.send_document(b"%PDF-1.4\n% fuzz\n", "giay-phep.pdf", "application/pdf")
        if kind == "fake_pdf":
            return await u.send_document(b"MZ\x90\x00not a pdf", "virus.pdf", "application/pdf")
        if kind == "empty":
            return await u.send_document(b"", "rong.pdf", "application/pdf")
        if kind == "sticker":
            return await u.send_sticker()
        if kind == "voice":
            return await u.send_voice()
        if kind == "location":
            return await u.send_location()
        return await u.send_contact()

    async def expect_reply(self, u: FakeUser, action: object) -> None:
        touched = await action  # type: ignore[misc]
        mine = [m for m in touched if m.chat_id == u.id]
        assert mine, f"user {u.id} got no reply"

    async def expect_answer(self, u: FakeUser, action: object) -> None:
        await action  # type: ignore[misc]  # the driver asserts the press was answered


def _check_privacy(bot: Harness, producers: list[FakeUser]) -> None:
    for u in producers:
        for m in bot.fake.bot_messages(u.id):
            for other in MARKER_RE.findall(m.text):
                shown = f"user {u.id} was shown another producer's words: {m.text!r}"
                assert int(other) == u.id % 10000, shown


async def test_random_conversation_with_many_users(bot: Harness) -> None:
    rng = random.Random(SEED)
    fuzzer = Fuzzer(bot, rng)
    for u in fuzzer.producers:
        await u.send("/start")
    for _ in range(UPDATES):
        await fuzzer.step()
    _check_privacy(bot, fuzzer.producers)
    assert not bot.fake.refusals
    # The run really exercised what it claims to.
    assert fuzzer.actions.get("press", 0) > UPDATES // 10
    assert fuzzer.actions.get("forged", 0) > UPDATES // 50
    assert fuzzer.actions.get("staff_reply", 0) > 0
