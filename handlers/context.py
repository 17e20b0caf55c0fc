"""The services every handler reaches through `context.bot_data["ctx"]` (wired once in bot.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from telegram import Update
from telegram.ext import ContextTypes

from common.clock import Clock
from common.config import Settings
from common.flood import FloodGuard
from common.render import Renderer
from storage.db import Database
from storage.users import Users

if TYPE_CHECKING:
    from storage.models import User

Context = ContextTypes.DEFAULT_TYPE
FlowCallback = Callable[[Update, Context, "User"], Awaitable[None]]
DeepLink = Callable[[Update, Context, str], Awaitable[None]]


@dataclass
class Flow:
    """A guided flow that owns the user's free text (and media) while `users.flow` names it."""

    on_text: FlowCallback
    on_media: FlowCallback | None = None


@dataclass
class AppContext:
    """Configuration, database, clock, renderer and the core services, shared by all handlers."""

    settings: Settings
    db: Database
    clock: Clock
    renderer: Renderer
    users: Users
    flood: FloodGuard
    services: dict[str, Any] = field(default_factory=dict)
    flows: dict[str, Flow] = field(default_factory=dict)
    deep_links: dict[str, DeepLink] = field(default_factory=dict)
    menu_actions: dict[str, Callable[[Update, Context], Awaitable[None]]] = field(default_factory=dict)


def app_ctx(context: Context) -> AppContext:
    return context.application.bot_data["ctx"]
