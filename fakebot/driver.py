"""Drive a real python-telegram-bot Application through the fake Bot API, as a user would.

    harness = await Harness.start(app, fake)
    lan = harness.user(101, "Lan")
    await lan.send("/start")
    await lan.press("Hỏi đáp OCOP")
    assert "OCOP" in lan.last.text

Every update goes through `Application.process_update`, the same path as long polling. A handler
exception reaches the bot's error handler *and* fails the step (see `Harness.expect_error`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from telegram import Update
from telegram.ext import Application

from fakebot.core import FakeTelegram, SentMessage

ERROR_SINK = "error_sink"


class HandlerFailed(AssertionError):
    """A handler raised while the test did not expect it."""


class Harness:
    """Owns an initialised Application wired to a FakeTelegram, and the users talking to it."""

    def __init__(self, app: Application, fake: FakeTelegram) -> None:
        self.app = app
        self.fake = fake
        self.errors: list[BaseException] = []
        self._expect_errors = False
        # True where a handler error should only reach the user as the apology (the console), not raise.
        self.tolerate_errors = False
        app.bot_data[ERROR_SINK] = self.errors

    @classmethod
    async def start(cls, app: Application, fake: FakeTelegram) -> Harness:
        harness = cls(app, fake)
        await app.initialize()
        if app.post_init:
            await app.post_init(app)
        return harness

    async def stop(self) -> None:
        if self.app.post_shutdown:
            await self.app.post_shutdown(self.app)
        await self.app.shutdown()

    def user(
        self,
        user_id: int,
        first_name: str = "Lan",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "vi",
    ) -> FakeUser:
        return FakeUser(self, user_id, first_name, last_name, username, language_code)

    @contextmanager
    def expect_error(self) -> Iterator[list[BaseException]]:
        """Within this block handler exceptions are allowed; they are yielded for inspection."""
        before = len(self.errors)
        self._expect_errors = True
        seen: list[BaseException] = []
        try:
            yield seen
        finally:
            self._expect_errors = False
            seen.extend(self.errors[before:])

    async def process(self, update: dict[str, Any]) -> list[SentMessage]:
        """Feed one update; return the bot messages sent or edited while handling it."""
        mark = len(self.fake.log)
        errors_before = len(self.errors)
        self.fake.assign_update_id(update)
        self.fake.time.tick()
        parsed = Update.de_json(update, self.app.bot)
        # The production path: the Application's update processor, then its handlers.
        await self.app.update_processor.process_update(parsed, self.app.process_update(parsed))
        new_errors = self.errors[errors_before:]
        if new_errors and not (self._expect_errors or self.tolerate_errors):
            raise HandlerFailed(f"handler raised: {new_errors[0]!r}") from new_errors[0]
        refusals = list(self.fake.refusals)
        if refusals:
            self.fake.refusals.clear()
            raise AssertionError(f"the bot made calls Telegram would refuse: {refusals}")
        if self.fake.unknown_methods:
            raise AssertionError(
                f"the bot called methods the fake does not know: {self.fake.unknown_methods}"
            )
        return self._touched(mark)

    async def deliver_outbox(self) -> list[SentMessage]:
        """Send everything the outbox holds, as the bot's worker would (its pacing on), on a clock of
        its own that moves instead of sleeping; return the messages it sent. The bot's own clock does
        not move."""
        from common.clock import FakeClock
        from handlers.outbox_sender import TelegramSender

        ctx = self.app.bot_data["ctx"]
        clock = FakeClock(ctx.clock.now())

        async def sleep(seconds: float) -> None:
            clock.advance(seconds=max(seconds, 0.001))

        mark = len(self.fake.log)
        worker = ctx.outbox.worker(TelegramSender(self.app.bot), clock=clock, sleep=sleep)
        await worker.run_until_drained()
        refusals = list(self.fake.refusals)
        if refusals:
            self.fake.refusals.clear()
            raise AssertionError(f"the outbox made calls Telegram would refuse: {refusals}")
        return self._touched(mark)

    def _touched(self, mark: int) -> list[SentMessage]:
        seen: set[int] = set()
        out: list[SentMessage] = []
        for m in self.fake.log[mark:]:
            if id(m) not in seen:
                seen.add(id(m))
                out.append(m)
        return out


# Message contents that are not text (copyMessage keeps them and takes a new caption).
MEDIA_KINDS = ("photo", "document", "video", "voice", "audio", "animation", "video_note", "sticker")


class FakeUser:
    """A Telegram user in a private chat with the bot (chat id = user id), or writing in a group."""

    def __init__(
        self,
        harness: Harness,
        user_id: int,
        first_name: str,
        last_name: str | None,
        username: str | None,
        language_code: str | None,
    ) -> None:
        self.h = harness
        self.id = user_id
        self.first_name = first_name
        self.last_name = last_name
        self.username = username
        self.language_code = language_code
        self.replies: list[SentMessage] = []

    # ---- what the user sees --------------------------------------------------------------------
    @property
    def chat_id(self) -> int:
        return self.id

    @property
    def messages(self) -> list[SentMessage]:
        """Every bot message in this user's private chat, oldest first."""
        return self.h.fake.bot_messages(self.id)

    @property
    def last(self) -> SentMessage:
        msgs = self.messages
        if not msgs:
            raise AssertionError(f"the bot has sent nothing to user {self.id}")
        return msgs[-1]

    @property
    def alerts(self) -> list[str]:
        return [str(a.get("text")) for a in self.h.fake.callback_answers if a.get("text")]

    def _from(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            d["last_name"] = self.last_name
        if self.username:
            d["username"] = self.username
        if self.language_code:
            d["language_code"] = self.language_code
        return d

    def _message(
        self, chat_id: int | None = None, reply_to: int | None = None, **content: Any
    ) -> dict[str, Any]:
        chat_id = self.id if chat_id is None else chat_id
        mid = self.h.fake.new_message_id(chat_id)
        text = content.get("text") or content.get("caption") or ""
        media = next((k for k in MEDIA_KINDS if k in content), None)
        self.h.fake.record_user_message(chat_id, mid, text, media)
        if chat_id == self.id:
            chat = {"id": chat_id, "type": "private", "first_name": self.first_name}
        else:
            chat = {"id": chat_id, "type": "supergroup", "title": "Staff"}
        msg: dict[str, Any] = {
            "message_id": mid,
            "date": int(time.time()),
            "chat": chat,
            "from": self._from(),
        }
        if reply_to is not None:
            original = self.h.fake.messages.get(chat_id, {}).get(reply_to)
            if original is not None:
                msg["reply_to_message"] = self.h.fake._message_json(original)
        msg.update(content)
        return {"message": msg}

    # ---- what the user does -------------------------------------------------------------------
    async def send(
        self, text: str, *, chat_id: int | None = None, reply_to: int | None = None
    ) -> list[SentMessage]:
        """Type `text` (a /command gets its bot_command entity, as Telegram adds it)."""
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split()[0]
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return await self.h.process(self._message(chat_id, reply_to, **content))

    async def press(self, label: str, *, message: SentMessage | None = None) -> list[SentMessage]:
        """Press the inline button whose text is `label` on the newest bot message that has one."""
        candidates = [message] if message else list(reversed(self.messages))
        for m in candidates:
            for row in m.buttons:
                for b in row:
                    if b["text"] == label:
                        if "callback_data" not in b:
                            raise AssertionError(f"button {label!r} is a link, not a callback")
                        return await self.press_data(b["callback_data"], message=m)
        shown = self.messages[-1].labels if self.messages else []
        raise AssertionError(f"no button {label!r}; the last message shows {shown}")

    async def press_data(self, data: str, *, message: SentMessage | None = None) -> list[SentMessage]:
        """Send a callback query with arbitrary data (also forged data) from a bot message."""
        m = message or self.last
        query_id = f"cq{self.h.fake.next_update_id}"
        query = {
            "id": query_id,
            "from": self._from(),
            "chat_instance": f"ci{m.chat_id}",
            "data": data,
            "message": self.h.fake._message_json(m),
        }
        touched = await self.h.process({"callback_query": query})
        if not any(a.get("callback_query_id") == query_id for a in self.h.fake.callback_answers):
            raise AssertionError(f"the press {data!r} was not answered (its spinner never stops)")
        return touched

    async def send_photo(
        self,
        content: bytes = b"\xff\xd8\xff\xe0fakejpeg",
        *,
        caption: str | None = None,
        size: int | None = None,
    ) -> list[SentMessage]:
        stored = self.h.fake.store_file(content, None, "image/jpeg")
        photo = [
            {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "width": 800,
                "height": 600,
                "file_size": size or len(content),
            }
        ]
        body: dict[str, Any] = {"photo": photo}
        if caption:
            body["caption"] = caption
        return await self.h.process(self._message(**body))

    async def send_document(
        self, content: bytes, file_name: str, mime_type: str, *, size: int | None = None
    ) -> list[SentMessage]:
        stored = self.h.fake.store_file(content, file_name, mime_type)
        doc = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": size or len(content),
        }
        return await self.h.process(self._message(document=doc))

    async def send_sticker(self) -> list[SentMessage]:
        sticker = {
            "file_id": "STK1",
            "file_unique_id": "STKU1",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "type": "regular",
        }
        return await self.h.process(self._message(sticker=sticker))

    async def send_voice(self) -> list[SentMessage]:
        return await self.h.process(
            self._message(voice={"file_id": "VOI1", "file_unique_id": "VU1", "duration": 3})
        )

    async def send_location(self, lat: float = 20.92, lon: float = 105.70) -> list[SentMessage]:
        return await self.h.process(self._message(location={"latitude": lat, "longitude": lon}))

    async def send_contact(self) -> list[SentMessage]:
        contact = {"phone_number": "0912345678", "first_name": self.first_name, "user_id": self.id}
        return await self.h.process(self._message(contact=contact))
