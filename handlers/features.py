"""Registers each feature's handlers (knowledge base, dossier, …) between the basic ones."""

from __future__ import annotations

from telegram.ext import Application

from handlers.context import AppContext


def register(app: Application, ctx: AppContext) -> None:
    """Feature modules add their commands, callback patterns, flows, deep links and menu actions."""
    return None
