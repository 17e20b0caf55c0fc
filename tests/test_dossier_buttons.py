"""Forged and malformed dossier buttons through the fake Bot API: each press is answered once, gets the
"button expired" (or "not found") reply, raises nothing in a handler and changes nothing stored."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from dossier.models import Dossier, DossierStatusHistory
from fakebot.driver import FakeUser, Harness
from storage.models import User
from tests.test_dossier_chat import dossier_id

EXPIRED = "Nút này đã cũ hoặc không hợp lệ"
NOT_FOUND = "Không tìm thấy hồ sơ này"


async def snapshot(bot: Harness) -> list[Any]:
    """Everything a press could change: every dossier row, the history, every user's flow."""
    async with bot.app.bot_data["ctx"].db.session() as s:
        dossiers = (await s.scalars(select(Dossier).order_by(Dossier.id))).all()
        history = (await s.scalars(select(DossierStatusHistory).order_by(DossierStatusHistory.id))).all()
        users = (await s.scalars(select(User).order_by(User.id))).all()
        return [
            [
                (
                    d.id,
                    d.status,
                    d.answers,
                    d.current_step,
                    d.flow_state,
                    d.review_mode,
                    d.version,
                    d.updated_at,
                )
                for d in dossiers
            ],
            [(h.dossier_id, h.from_status, h.to_status) for h in history],
            [(u.id, u.flow, u.flow_data) for u in users],
        ]


async def press_forged(bot: Harness, u: FakeUser, data: str) -> str:
    """Press `data`; check it was answered exactly once; return the text of the reply."""
    answers_before = len(bot.fake.callback_answers)
    replies = await u.press_data(data)
    answered = bot.fake.callback_answers[answers_before:]
    assert len(answered) == 1, (data, answered)
    assert replies, data
    return replies[-1].text


async def started_dossier(u: FakeUser) -> int:
    await u.send("/hoso")
    await u.press("Phân hạng lần đầu")
    await u.press("Hợp tác xã")
    return dossier_id(u.last)


@pytest.mark.parametrize(
    "data",
    [
        "dos:o:9223372036854775808",  # beyond int64
        "dos:o:2147483648",  # beyond PostgreSQL's INTEGER
        "dos:a:1:99999999999:x",
        "dos:a:{d}:99999999999:x",
        "dos:a:{d}:1",  # a value missing
        "dos:a:{d}:1:0:extra",
        "dos:a:{d}:1:<b>",
        "dos:",
        "dos",
        "dos:del:-1",
        "dos:pdf:0",
        "dos:o:007",
        "dos:j:{d}",
        "dos:j:{d}:x",
        "dos:b:{d}:1",
        "dos:n:1",
        "dos:zz:{d}",
        "dos:o:" + "9" * 60,
    ],
)
async def test_forged_data_gets_the_expired_answer_and_changes_nothing(bot: Harness, data: str) -> None:
    u = bot.user(601, "Tĩnh")
    d = await started_dossier(u)
    before = await snapshot(bot)
    text = await press_forged(bot, u, data.format(d=d))
    assert EXPIRED in text
    assert await snapshot(bot) == before


async def test_another_producers_dossier_is_not_found_and_untouched(bot: Harness) -> None:
    owner = bot.user(602, "Tĩnh")
    d = await started_dossier(owner)
    mallory = bot.user(603, "Mallory")
    await mallory.send("/start")
    before = await snapshot(bot)
    for data in (
        f"dos:o:{d}",
        f"dos:a:{d}:1:0",
        f"dos:del:{d}",
        f"dos:delok:{d}",
        f"dos:x:{d}",
        f"dos:j:{d}:3",
    ):
        assert NOT_FOUND in await press_forged(bot, mallory, data), data
    assert await snapshot(bot) == before
    # the owner's next answer still lands where it was
    await owner.send("HTX Mây tre đan Phú Vinh")
    assert "người đại diện" in owner.last.text


async def test_an_unknown_step_number_within_bounds_is_a_stale_button_of_the_flow(bot: Harness) -> None:
    u = bot.user(604, "Tĩnh")
    d = await started_dossier(u)
    before = await snapshot(bot)
    text = await press_forged(bot, u, f"dos:a:{d}:9999:0")
    assert "⚠️" in text  # the form's "stale" message above the same question
    after = await snapshot(bot)
    assert after[0][0][2:6] == before[0][0][2:6]  # answers, step, pending, review mode unchanged
