"""A fake Telegram Bot API for tests, the console, `ask` and benchmarks: in-process or on a loopback port."""
