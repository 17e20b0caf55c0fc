"""Telegram adapters: read an Update, call the core, render a template, reply. Only bot.py imports this."""
