"""Links into the bot (common.links)."""

from __future__ import annotations

import pytest

from common.links import bot_link


def test_a_link_opens_the_bot_with_its_start_payload() -> None:
    assert bot_link("ocop_bot") == "https://t.me/ocop_bot"
    assert bot_link("ocop_bot", "ev_12") == "https://t.me/ocop_bot?start=ev_12"
    assert bot_link("ocop_bot", "claim_" + "a-_Z9" * 6) == "https://t.me/ocop_bot?start=claim_" + "a-_Z9" * 6


@pytest.mark.parametrize("payload", ["", "ev 12", "ev:12", "x" * 65, "sự_kiện"])
def test_a_payload_telegram_would_drop_is_refused(payload: str) -> None:
    # Telegram passes on only 1–64 characters of A–Z, a–z, 0–9, "_" and "-": any other link would open
    # the bot without its payload, silently.
    with pytest.raises(ValueError):
        bot_link("ocop_bot", payload)
