"""What every handler is given: python-telegram-bot's CallbackContext with the bot's services, the
route tables and the current user, all typed (`ContextTypes(context=BotContext)`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from telegram import Update
from telegram.ext import Application, CallbackContext, ContextTypes, ExtBot

from compose import AppContext
from storage.staff import STAFF_ROLES

if TYPE_CHECKING:
    from storage.models import User

__all__ = ["AppContext", "BotContext", "Context", "DeepLink", "Flow", "Handler", "Router"]


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """PTB's context for one update, plus the bot's services and the user as stored (set by the
    first handler every update meets, `basic.track_user`)."""

    def __init__(
        self, application: Application[Any, Any, Any, Any, Any, Any], chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application, chat_id=chat_id, user_id=user_id)
        self.db_user: User | None = None
        self.is_new_user = False

    @property
    def is_staff(self) -> bool:
        """Whether the user of this update is staff or admin (their stored role, read this update)."""
        return self.db_user is not None and self.db_user.role in STAFF_ROLES

    @property
    def app_ctx(self) -> AppContext:
        return self.application.bot_data["ctx"]

    @property
    def router(self) -> Router:
        return self.application.bot_data["router"]


Context = BotContext
CONTEXT_TYPES = ContextTypes(context=BotContext)
Handler = Callable[[Update, BotContext], Awaitable[None]]
FlowCallback = Callable[[Update, BotContext, "User"], Awaitable[None]]
DeepLink = Callable[[Update, BotContext, str], Awaitable[None]]


@dataclass(frozen=True)
class Flow:
    """A guided flow that owns the user's free text (and media) while `users.flow` names it."""

    on_text: FlowCallback
    on_media: FlowCallback | None = None
    # The flow checks the length of what is typed itself (a broadcast's text may be up to Telegram's
    # 4,096 characters); otherwise text over basic.MAX_TEXT_CHARS gets the general "too long" reply.
    any_length: bool = False


@dataclass(frozen=True)
class Router:
    """Where free text, deep links and main-menu buttons go (see handlers/routes.py)."""

    flows: Mapping[str, Flow] = field(default_factory=dict)
    deep_links: Mapping[str, DeepLink] = field(default_factory=dict)
    menu_actions: Mapping[str, Handler] = field(default_factory=dict)
