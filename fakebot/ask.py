"""`python bot.py ask`: the reply a new user gets to a question, as text or as a JSON line."""

from __future__ import annotations

from typing import Any

from common.config import Settings
from fakebot.driver import Harness
from fakebot.session import start_session
from handlers.context import AppContext


class Asker:
    def __init__(self, harness: Harness, ctx: AppContext) -> None:
        self.h = harness
        self.ctx = ctx

    @classmethod
    async def start(cls, settings: Settings) -> Asker:
        harness, ctx = await start_session(settings)
        return cls(harness, ctx)

    async def stop(self) -> None:
        await self.h.stop()

    async def ask(self, question: str, *, user_id: int) -> dict[str, Any]:
        """Send `question` as a new user; report the reply and what the knowledge base decided."""
        replies = await self.h.user(user_id, "Khách").send(question)
        text = "\n\n".join(m.text for m in replies)
        record = await self.ctx.knowledge.last_question(user_id)
        answered = bool(record and record.outcome == "answered")
        return {
            "question": question,
            "answered": answered,
            "outcome": record.outcome if record else None,
            "entry": record.entry_id if answered and record else None,
            "confidence": round(record.confidence, 3) if record else None,
            "text": text,
        }
