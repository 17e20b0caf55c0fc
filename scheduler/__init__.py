"""Messages nobody just asked for leave through the outbox: `enqueue` in the caller's transaction,
the worker (`scheduler.worker`) sends them paced, retried and once, through a sending port
(`scheduler.port`) the Telegram side implements. Nothing here imports `telegram`."""
