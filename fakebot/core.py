"""An in-memory Bot API server: keeps chats, messages and files, and refuses what Telegram refuses.

`FakeTelegram.call(method, params, files)` answers like the Bot API (a dict with `ok` and `result`, or
an error with `error_code` and `description`). The request adapter (fakebot.request) puts it behind
python-telegram-bot's HTTP layer; the HTTP server (fakebot.server) puts it on a loopback port.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html import unescape
from typing import Any

from fakebot.faults import Faults

MAX_TEXT = 4096
MAX_CAPTION = 1024
COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
ALLOWED_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "a",
    "code",
    "pre",
    "blockquote",
    "tg-emoji",
}
NAMED_ENTITIES = {"lt", "gt", "amp", "quot"}
BOT_ID = 7000000001


class BotAPIError(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


def bad(description: str) -> BotAPIError:
    return BotAPIError(400, f"Bad Request: {description}")


def parse_html(text: str) -> str:
    """Validate Telegram-HTML and return the plain text it shows; raise like Telegram on bad markup."""
    out: list[str] = []
    stack: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "<":
            end = text.find(">", i)
            if end == -1:
                raise bad(f"can't parse entities: unclosed start tag at byte offset {i}")
            raw = text[i + 1 : end]
            m = re.fullmatch(r"(/?)([a-zA-Z][a-zA-Z0-9-]*)(\s[^<>]*)?", raw.strip())
            if not m:
                raise bad(f'can\'t parse entities: unsupported start tag "{raw[:20]}" at byte offset {i}')
            closing, tag, attrs = m.group(1), m.group(2).lower(), m.group(3) or ""
            if tag not in ALLOWED_TAGS:
                raise bad(f'can\'t parse entities: unsupported start tag "{tag}" at byte offset {i}')
            if closing:
                if not stack or stack[-1] != tag:
                    raise bad(
                        f"can't parse entities: can't find end tag corresponding to start tag \"{tag}\""
                    )
                stack.pop()
            else:
                if tag == "a" and "href" not in attrs:
                    raise bad("can't parse entities: a tag without href")
                if tag == "span" and "tg-spoiler" not in attrs:
                    raise bad('can\'t parse entities: tag "span" must have class "tg-spoiler"')
                stack.append(tag)
            i = end + 1
        elif ch == "&":
            m = re.match(r"&(#[0-9]+|#x[0-9a-fA-F]+|[a-zA-Z]+);", text[i:])
            if not m or (not m.group(1).startswith("#") and m.group(1) not in NAMED_ENTITIES):
                raise bad(f"can't parse entities: unsupported entity at byte offset {i}")
            out.append(unescape(m.group(0)))
            i += len(m.group(0))
        elif ch == ">":
            out.append(">")
            i += 1
        else:
            out.append(ch)
            i += 1
    if stack:
        raise bad(f"can't parse entities: can't find end tag corresponding to start tag \"{stack[-1]}\"")
    return "".join(out)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass(eq=False)
class SentMessage:
    """A message in a chat as the fake keeps it (bot's or user's)."""

    chat_id: int
    message_id: int
    from_bot: bool
    text: str = ""  # plain text as the user sees it (HTML resolved)
    html: str | None = None  # raw text the bot sent, with markup
    buttons: list[list[dict[str, Any]]] = field(default_factory=list)
    document: dict[str, Any] | None = None  # file_name, mime_type, content, file_id
    photo: dict[str, Any] | None = None
    edits: int = 0
    deleted: bool = False
    reply_to: int | None = None
    media: str | None = None  # a user's message that is not text: "voice", "video", "audio"…
    at: float = 0.0  # when the fake accepted it (FakeTelegram.now: injectable, simulated in tests)

    @property
    def labels(self) -> list[str]:
        return [b["text"] for row in self.buttons for b in row]


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    content: bytes
    file_name: str | None = None
    mime_type: str | None = None


class SimulatedTime:
    """Seconds as the fake's users live them: every update a user sends advances it by `per_update`
    (a person needs a moment to type or tap), so flood control sees a human pace in tests."""

    def __init__(self, per_update: float = 1.0) -> None:
        self.per_update = per_update
        self.seconds = 0.0

    def now(self) -> float:
        return self.seconds

    def tick(self) -> None:
        self.seconds += self.per_update


class FakeTelegram:
    """The state of one fake Bot API: the bot, chats, messages, files, commands and queued updates."""

    def __init__(self, bot_username: str = "ocop_test_bot", now: Callable[[], float] = time.time) -> None:
        self.bot_username = bot_username
        self.now = now  # the time source of SentMessage.at (tests give a simulated clock)
        self.lock = threading.RLock()
        self.messages: dict[int, dict[int, SentMessage]] = {}
        self.next_message_id: dict[int, int] = {}
        self.files: dict[str, StoredFile] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.commands: dict[str, list[dict[str, str]]] = {}
        self.callback_answers: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []
        self.next_update_id = 1
        self.unknown_methods: list[str] = []
        self.refusals: list[str] = []
        self.blocked_chats: set[int] = set()
        self.faults = Faults()  # 5xx, timeouts and 429 on demand (fakebot/faults.py)
        self.time = SimulatedTime()  # the users' pace: each update they send takes them a moment
        self.log: list[SentMessage] = []  # every bot message sent or edited, in order
        self._file_counter = 0

    # ---- helpers used by the driver -----------------------------------------------------------
    def new_message_id(self, chat_id: int) -> int:
        with self.lock:
            mid = self.next_message_id.get(chat_id, 1)
            self.next_message_id[chat_id] = mid + 1
            return mid

    def store_file(self, content: bytes, file_name: str | None = None, mime: str | None = None) -> StoredFile:
        with self.lock:
            self._file_counter += 1
            n = self._file_counter
            f = StoredFile(f"FILE{n:06d}x{len(content)}", f"U{n:06d}", content, file_name, mime)
            self.files[f.file_id] = f
            return f

    def record_user_message(self, chat_id: int, message_id: int, text: str, media: str | None = None) -> None:
        """Remember a message a user sent (what copyMessage can copy); `media`: its kind when not text."""
        with self.lock:
            self.messages.setdefault(chat_id, {})[message_id] = SentMessage(
                chat_id, message_id, from_bot=False, text=text, media=media
            )

    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update for getUpdates (long polling through the HTTP server)."""
        with self.lock:
            update["update_id"] = self.next_update_id
            self.next_update_id += 1
            self.updates.append(update)
            return update

    def assign_update_id(self, update: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            update["update_id"] = self.next_update_id
            self.next_update_id += 1
            return update

    def bot_messages(self, chat_id: int) -> list[SentMessage]:
        with self.lock:
            return [m for m in self.messages.get(chat_id, {}).values() if m.from_bot and not m.deleted]

    # ---- the API ------------------------------------------------------------------------------
    def call(
        self, method: str, params: dict[str, Any], files: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Answer one Bot API call as a JSON-ready dict."""
        with self.lock:
            self.calls.append((method, params))
            handler = getattr(self, f"api_{method.lower()}", None)
            if handler is None:
                self.unknown_methods.append(method)
                return {
                    "ok": False,
                    "error_code": 404,
                    "description": f"Not Found: method {method} not faked",
                }
            try:
                return {"ok": True, "result": handler(params, files or {})}
            except BotAPIError as exc:
                if exc.code == 400:  # the bot's fault; a 403 (blocked, removed from a chat) is the world's
                    self.refusals.append(f"{method}: {exc.description}")
                return {"ok": False, "error_code": exc.code, "description": exc.description}

    def bot_user(self) -> dict[str, Any]:
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "Trợ lý OCOP",
            "username": self.bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def api_getme(self, p: dict[str, Any], f: dict[str, Any]) -> dict[str, Any]:
        return self.bot_user()

    def api_logout(self, p: dict[str, Any], f: dict[str, Any]) -> bool:
        return True

    api_close = api_logout

    def api_deletewebhook(self, p: dict[str, Any], f: dict[str, Any]) -> bool:
        return True

    def api_getupdates(self, p: dict[str, Any], f: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(p.get("offset") or 0)
        self.updates = [u for u in self.updates if u["update_id"] >= offset]
        limit = int(p.get("limit") or 100)
        return self.updates[:limit]

    def api_setmycommands(self, p: dict[str, Any], f: dict[str, Any]) -> bool:
        commands = _as_json(p.get("commands"))
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad("commands must be a list of at most 100")
        for c in commands:
            name = str(c.get("command", ""))
            if not COMMAND_RE.match(name):
                raise bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(c.get("description", ""))) <= 256:
                raise bad("BOT_COMMAND_DESCRIPTION_INVALID")
        scope = _as_json(p.get("scope")) or {"type": "default"}
        key = json.dumps(scope, sort_keys=True)
        self.commands[key] = commands
        return True

    def api_deletemycommands(self, p: dict[str, Any], f: dict[str, Any]) -> bool:
        scope = _as_json(p.get("scope")) or {"type": "default"}
        self.commands.pop(json.dumps(scope, sort_keys=True), None)
        return True

    def api_sendchataction(self, p: dict[str, Any], f: dict[str, Any]) -> bool:
        return True

    def _chat_id(self, p: dict[str, Any]) -> int:
        try:
            chat_id = int(p["chat_id"])
        except (KeyError, ValueError, TypeError):
            raise bad("chat not found") from None
        if chat_id in self.blocked_chats:
            raise BotAPIError(403, "Forbidden: bot was blocked by the user")
        return chat_id

    def _buttons(self, p: dict[str, Any]) -> list[list[dict[str, Any]]]:
        markup = _as_json(p.get("reply_markup"))
        if not markup:
            return []
        rows = markup.get("inline_keyboard")
        if rows is None:
            return []
        for row in rows:
            for b in row:
                if not str(b.get("text", "")).strip():
                    raise bad("BUTTON_TEXT_EMPTY")
                data = b.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= 64:
                    raise bad("BUTTON_DATA_INVALID")
                if data is None and not b.get("url"):
                    raise bad("can't parse inline keyboard button: a button has no action")
                url = b.get("url")
                if url is not None and not re.match(r"^(https?|tg)://\S+$", str(url)):
                    raise bad("BUTTON_URL_INVALID")
        return rows

    def _text(self, raw: Any, parse_mode: Any, limit: int, what: str) -> tuple[str, str]:
        raw = "" if raw is None else str(raw)
        plain = parse_html(raw) if parse_mode == "HTML" else raw
        if parse_mode not in (None, "HTML"):
            raise bad(f"unsupported parse_mode in fake: {parse_mode}")
        if what == "text" and not plain.strip():
            raise bad("message text is empty")
        if utf16_len(plain) > limit:
            raise bad("message is too long" if what == "text" else "message caption is too long")
        return raw, plain

    def _message_json(self, m: SentMessage) -> dict[str, Any]:
        chat_type = "private" if m.chat_id > 0 else "supergroup"
        chat: dict[str, Any] = {"id": m.chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = "User"
        else:
            chat["title"] = "Staff"
        out: dict[str, Any] = {
            "message_id": m.message_id,
            "date": int(time.time()),
            "chat": chat,
            "from": self.bot_user(),
        }
        if m.document:
            out["document"] = {
                k: m.document[k] for k in ("file_id", "file_unique_id", "file_name", "mime_type")
            }
            if m.text:
                out["caption"] = m.text
        elif m.photo:
            out["photo"] = [
                {
                    "file_id": m.photo["file_id"],
                    "file_unique_id": m.photo["file_unique_id"],
                    "width": 100,
                    "height": 100,
                }
            ]
            if m.text:
                out["caption"] = m.text
        else:
            out["text"] = m.text
        if m.buttons:
            out["reply_markup"] = {"inline_keyboard": m.buttons}
        return out

    def _new_bot_message(self, chat_id: int, **kwargs: Any) -> SentMessage:
        m = SentMessage(chat_id, self.new_message_id(chat_id), from_bot=True, at=self.now(), **kwargs)
        self.messages.setdefault(chat_id, {})[m.message_id] = m
        self.log.append(m)
        return m

    def api_sendmessage(self, p: dict[str, Any], f: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._chat_id(p)
        raw, plain = self._text(p.get("text"), p.get("parse_mode"), MAX_TEXT, "text")
        buttons = self._buttons(p)
        reply_to = _reply_to(p)
        m = self._new_bot_message(chat_id, text=plain, html=raw, buttons=buttons, reply_to=reply_to)
        return self._message_json(m)

    def _upload(self, p: dict[str, Any], files: dict[str, Any], field: str) -> StoredFile:
        if field in files:
            name, content, mime = files[field]
            if hasattr(content, "read"):
                content = content.read()
            return self.store_file(bytes(content), name, mime)
        file_id = p.get(field)
        if isinstance(file_id, str) and file_id in self.files:
            return self.files[file_id]
        raise bad(f"wrong file identifier/HTTP URL specified for {field}")

    def api_senddocument(self, p: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._chat_id(p)
        stored = self._upload(p, files, "document")
        raw, plain = self._text(p.get("caption"), p.get("parse_mode"), MAX_CAPTION, "caption")
        doc = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_name": stored.file_name or "file",
            "mime_type": stored.mime_type or "application/octet-stream",
            "content": stored.content,
        }
        m = self._new_bot_message(chat_id, text=plain, html=raw, buttons=self._buttons(p), document=doc)
        return self._message_json(m)

    def api_sendphoto(self, p: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._chat_id(p)
        stored = self._upload(p, files, "photo")
        raw, plain = self._text(p.get("caption"), p.get("parse_mode"), MAX_CAPTION, "caption")
        photo = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "content": stored.content,
        }
        m = self._new_bot_message(chat_id, text=plain, html=raw, buttons=self._buttons(p), photo=photo)
        return self._message_json(m)

    def api_copymessage(self, p: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
        """A copy of a stored message, its caption replaced when given (as Telegram does for any message
        that is not text: photo, document, video, voice, audio, animation)."""
        chat_id = self._chat_id(p)
        try:
            source = self.messages[int(p["from_chat_id"])][int(p["message_id"])]
        except (KeyError, ValueError, TypeError):
            raise bad("message to copy not found") from None
        if "caption" in p and (source.photo or source.document or source.media):
            raw, plain = self._text(p.get("caption"), p.get("parse_mode"), MAX_CAPTION, "caption")
        else:
            raw, plain = source.html or source.text, source.text
        m = self._new_bot_message(
            chat_id, text=plain, html=raw, buttons=self._buttons(p), photo=source.photo,
            document=source.document,
        )
        m.media = source.media
        return {"message_id": m.message_id}

    def _existing(self, p: dict[str, Any]) -> SentMessage:
        chat_id = self._chat_id(p)
        try:
            m = self.messages[chat_id][int(p["message_id"])]
        except (KeyError, ValueError, TypeError):
            raise bad("message to edit not found") from None
        if m.deleted:
            raise bad("message to edit not found")
        if not m.from_bot:
            raise bad("message can't be edited")
        return m

    def api_editmessagetext(self, p: dict[str, Any], f: dict[str, Any]) -> dict[str, Any]:
        m = self._existing(p)
        if m.document or m.photo:
            raise bad("there is no text in the message to edit")
        raw, plain = self._text(p.get("text"), p.get("parse_mode"), MAX_TEXT, "text")
        buttons = self._buttons(p)
        if plain == m.text and raw == m.html and buttons == m.buttons:
            raise bad(
                "message is not modified: specified new message content and reply markup are exactly "
                "the same as a current content and reply markup of the message"
            )
        m.text, m.html, m.buttons = plain, raw, buttons
        m.edits += 1
        self.log.append(m)
        return self._message_json(m)

    def api_editmessagereplymarkup(self, p: dict[str, Any], f: dict[str, Any]) -> dict[str, Any]:
        m = self._existing(p)
        buttons = self._buttons(p)
        if buttons == m.buttons:
            raise bad(
                "message is not modified: specified new message content and reply markup are exactly "
                "the same as a current content and reply markup of the message"
            )
        m.buttons = buttons
        m.edits += 1
        self.log.append(m)
        return self._message_json(m)

    def api_deletemessage(self, p: dict[str, Any], f: dict[str, Any]) -> bool:
        m = self._existing(p)
        m.deleted = True
        return True

    def api_answercallbackquery(self, p: dict[str, Any], f: dict[str, Any]) -> bool:
        text = p.get("text")
        if text is not None and utf16_len(str(text)) > 200:
            raise bad("MESSAGE_TOO_LONG")
        query_id = str(p.get("callback_query_id"))
        if any(str(a.get("callback_query_id")) == query_id for a in self.callback_answers):
            raise bad("query is too old and response timeout expired or query ID is invalid")
        self.callback_answers.append(dict(p))
        return True

    def api_getfile(self, p: dict[str, Any], f: dict[str, Any]) -> dict[str, Any]:
        stored = self.files.get(str(p.get("file_id")))
        if stored is None:
            raise bad("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
            "file_path": f"files/{stored.file_id}",
        }

    def download(self, path: str) -> bytes | None:
        """Content for a file URL path ending in files/<file_id>."""
        file_id = path.rsplit("/", 1)[-1]
        stored = self.files.get(file_id)
        return stored.content if stored else None


def _as_json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _reply_to(p: dict[str, Any]) -> int | None:
    params = _as_json(p.get("reply_parameters"))
    if isinstance(params, dict) and "message_id" in params:
        return int(params["message_id"])
    if p.get("reply_to_message_id") is not None:
        return int(p["reply_to_message_id"])
    return None
