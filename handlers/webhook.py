"""Webhook mode: python-telegram-bot's own webhook server receives Telegram's POSTs, plus a health route.

PTB's `Updater.start_webhook` runs a tornado server that answers only on WEBHOOK_PATH, refuses (403)
a request whose `X-Telegram-Bot-Api-Secret-Token` header is missing or wrong, parses the update and
queues it for the Application; it also calls setWebhook with WEBHOOK_URL and the secret at every
start (idempotent, so each of several instances may do it). PTB has no health endpoint, so one small
tornado handler is added to that same server: GET WEBHOOK_HEALTH_PATH answers 200 while the
Application runs and the database answers, 503 otherwise (what a load balancer needs).

The lifecycle is PTB's `run_webhook` spelled out (initialize, post_init, start_webhook, start; then
the reverse), because the health route can only be added once PTB's server exists.
"""

from __future__ import annotations

import asyncio
import json
import logging

import tornado.web
from telegram import Update
from telegram.ext import Application

from common.config import Settings
from handlers.context import AppContext
from storage.health import database_answers

log = logging.getLogger(__name__)


class HealthHandler(tornado.web.RequestHandler):
    """GET: 200 {"status": "ok"} when this instance can take updates, else 503 with the reason."""

    SUPPORTED_METHODS = ("GET",)  # type: ignore[assignment]

    def initialize(self, app: Application) -> None:
        self.app = app

    async def get(self) -> None:
        status = await health(self.app)
        self.set_status(200 if status == "ok" else 503)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps({"status": status}))


async def health(app: Application) -> str:
    """The word "ok", or why this instance should not be sent updates."""
    if not app.running or app.updater is None or not app.updater.running:
        return "not running"
    ctx: AppContext = app.bot_data["ctx"]
    if not await database_answers(ctx.db):
        return "database unavailable"
    return "ok"


def add_health_route(app: Application, path: str) -> None:
    """Add the health handler to PTB's running webhook server (a tornado Application)."""
    httpd = getattr(app.updater, "_httpd", None)
    web_app = getattr(getattr(httpd, "_http_server", None), "request_callback", None)
    if not isinstance(web_app, tornado.web.Application):
        raise RuntimeError("python-telegram-bot's webhook server is not where it was (PTB upgraded?)")
    web_app.add_handlers(r".*", [(path, HealthHandler, {"app": app})])


async def serve_webhook(app: Application, settings: Settings, stop: asyncio.Event) -> None:
    """Run `app` in webhook mode until `stop` is set, then shut it down cleanly."""
    assert app.updater is not None
    await app.initialize()
    try:
        if app.post_init:
            await app.post_init(app)
        await app.updater.start_webhook(
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            url_path=settings.webhook_local_path,
            webhook_url=settings.webhook_url,
            secret_token=settings.webhook_secret,
            allowed_updates=Update.ALL_TYPES,
            drop_pending_updates=False,
            bootstrap_retries=3,
        )
        add_health_route(app, settings.webhook_health_path)
        await app.start()
        log.info(
            "Webhook mode: listening on %s:%s%s (health %s), Telegram calls %s",
            settings.webhook_listen,
            settings.webhook_port,
            settings.webhook_local_path,
            settings.webhook_health_path,
            settings.webhook_url,
        )
        await stop.wait()
    finally:
        if app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        if app.post_stop:
            await app.post_stop(app)
        await app.shutdown()
        if app.post_shutdown:
            await app.post_shutdown(app)
