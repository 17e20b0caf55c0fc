"""`python bot.py console`: chat with the full bot in a terminal. Buttons are numbered; type the number
to press one; `/file PATH` sends a photo (jpg/png) or a document (pdf…). Every file the bot sends is
saved under <storage_dir>/console/ and its path printed, so the PDF can be opened; a message the bot
sends to another user (a staff answer to a producer, say) is shown as going to them, not as received."""

from __future__ import annotations

import asyncio
import mimetypes
import re
from collections.abc import Mapping
from pathlib import Path

from common.config import Settings
from fakebot.core import SentMessage
from fakebot.driver import FakeUser, Harness
from fakebot.session import start_session

BOLD, DIM, RESET = "\033[1m", "\033[2m", "\033[0m"


def photo_name(photo: Mapping[str, object]) -> str:
    """A file name for a photo the bot sent (photos have none): its id and the type its bytes show."""
    content = photo.get("content")
    data = content if isinstance(content, bytes) else b""
    suffix = ".png" if data.startswith(b"\x89PNG") else ".jpg"
    return f"anh-{photo.get('file_unique_id') or 'bot'}{suffix}"


class Console:
    def __init__(self, harness: Harness, user: FakeUser, color: bool, files_dir: Path | None = None) -> None:
        self.h = harness
        self.user = user
        self.color = color
        self.files_dir = files_dir or Path("console-files")
        self.buttons: list[tuple[str, SentMessage]] = []
        self.shown: dict[tuple[int, int], str] = {}  # what each message last looked like here
        self.mark = 0  # how much of the fake's log this console has gone through

    @classmethod
    async def start(cls, settings: Settings, *, user_id: int, name: str, staff: bool) -> Console:
        if staff and user_id not in settings.staff_set:
            settings = settings.model_copy(update={"staff_ids": [*settings.staff_ids, user_id]})
        harness, _ctx = await start_session(settings)
        harness.tolerate_errors = True  # a console user sees the apology, like on Telegram
        import sys

        console = cls(
            harness,
            harness.user(user_id, name),
            color=sys.stdout.isatty(),
            files_dir=Path(settings.storage_dir) / "console",
        )
        console.say(f"Trợ lý OCOP — console. Database: {settings.database_url}")
        console.say(
            "Gõ tin nhắn như trong Telegram. Số = bấm nút. /file ĐƯỜNG_DẪN gửi ảnh/tệp. "
            "Enter (dòng trống) xem tin mới. Ctrl-D để thoát."
        )
        await console.show(
            await harness.process(
                console.user._message(
                    text="/start", entities=[{"type": "bot_command", "offset": 0, "length": 6}]
                )
            )
        )
        console.mark = len(harness.fake.log)
        return console

    async def stop(self) -> None:
        await self.h.stop()

    def say(self, text: str) -> None:
        print(f"{DIM}{text}{RESET}" if self.color else text)

    async def show(self, messages: list[SentMessage]) -> None:
        self.buttons = []
        for m in messages:
            key = (m.chat_id, m.message_id)
            if m.edits and self.shown.get(key) == m.text and not m.buttons:
                continue  # only its buttons were removed: nothing new to read
            self.shown[key] = m.text
            print()
            elsewhere = m.chat_id != self.user.id
            head = "🤖 (sửa)" if m.edits else "🤖"
            if elsewhere:
                head = f"📤 bot gửi tới người dùng {m.chat_id} (không phải tới anh/chị)"
            print(f"{BOLD}{head}{RESET}" if self.color else head)
            if m.document:
                saved = await self.save_file(m.document)
                print(
                    f"[tệp: {m.document['file_name']}, {len(m.document['content'])} byte — đã lưu: {saved}]"
                )
            if m.photo:
                saved = await self.save_file({**m.photo, "file_name": photo_name(m.photo)})
                print(f"[ảnh: {len(m.photo['content'])} byte — đã lưu: {saved}]")
            print(m.text)
            if elsewhere:
                continue  # its buttons are the other user's to press
            for row in m.buttons:
                for b in row:
                    self.buttons.append((b["text"], m))
                    print(f"  [{len(self.buttons)}] {b['text']}")
        print()

    async def show_pending(self) -> None:
        """Messages the bot sent since the last action by itself (the outbox worker: a reminder, a
        staff answer to a producer), shown before the next one (an empty line shows them now)."""
        log = self.h.fake.log
        pending = [m for m in log[self.mark :] if m.from_bot]
        self.mark = len(log)
        if pending:
            await self.show(pending)

    async def loop(self) -> None:
        while True:
            line = (await asyncio.to_thread(input, "> ")).strip()
            pick = int(line) if line.isdigit() else 0
            pressed = self.buttons[pick - 1] if 1 <= pick <= len(self.buttons) else None
            await self.show_pending()
            if not line:
                continue
            if pressed is not None:
                label, msg = pressed
                seen = len(self.h.fake.callback_answers)
                replies = await self.user.press(label, message=msg)
                for alert in self.h.fake.callback_answers[seen:]:
                    if alert.get("text"):
                        self.say(f"💬 {alert['text']}")
                if replies:
                    await self.show(replies)
            elif line.startswith("/file "):
                await self.show(await self.send_file(Path(line[6:].strip())))
            else:
                await self.show(await self.user.send(line))
            self.mark = len(self.h.fake.log)

    async def save_file(self, document: Mapping[str, object]) -> Path:
        """Write a file the bot sent into the console folder (never overwriting an earlier one)."""
        name = re.sub(r"[^A-Za-z0-9._-]", "_", str(document.get("file_name") or "tep")) or "tep"
        content = document.get("content")
        data = content if isinstance(content, bytes) else b""
        target = self.files_dir / name
        stem, suffix = target.stem, target.suffix
        n = 1
        while await asyncio.to_thread(target.exists):
            n += 1
            target = self.files_dir / f"{stem}-{n}{suffix}"
        await asyncio.to_thread(self.files_dir.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(target.write_bytes, data)
        return target.resolve()

    async def send_file(self, path: Path) -> list[SentMessage]:
        try:
            content = await asyncio.to_thread(path.read_bytes)
        except OSError:
            self.say(f"Không tìm thấy tệp: {path}")
            return []
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if mime in {"image/jpeg", "image/png"}:
            return await self.user.send_photo(content)
        return await self.user.send_document(content, path.name, mime)
