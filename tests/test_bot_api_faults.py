"""Passing Bot API faults never cost a user their answer: 5xx, timeouts and 429 are retried."""

from __future__ import annotations

from fakebot.driver import Harness

APOLOGY = "tôi vừa gặp lỗi"


def _retried(bot: Harness) -> int:
    return bot.app.bot.rate_limiter.retried  # type: ignore[union-attr]


async def test_a_502_then_a_timeout_then_a_429_still_deliver_the_welcome_once(bot: Harness) -> None:
    lan = bot.user(301, "Lan")
    bot.fake.faults.fail_next("sendMessage", "502")
    bot.fake.faults.fail_next("sendMessage", "timeout")
    bot.fake.faults.fail_next("sendMessage", "429")
    replies = await lan.send("/start")
    assert len(replies) == 1 and "Xin chào Lan" in replies[0].text
    assert _retried(bot) == 3


async def test_a_timeout_after_delivery_may_repeat_but_never_loses(bot: Harness) -> None:
    lan = bot.user(302, "Lan")
    bot.fake.faults.fail_next("sendMessage", "timeout_after")
    replies = await lan.send("/start")
    assert 1 <= len(replies) <= 2 and all("Xin chào Lan" in r.text for r in replies)


async def test_persistent_failure_ends_in_the_error_handler_not_a_crash(bot: Harness) -> None:
    lan = bot.user(303, "Lan")
    bot.fake.faults.fail_next("sendMessage", "502", times=4)  # every attempt of the reply fails
    with bot.expect_error() as errors:
        replies = await lan.send("/start")
    assert errors and APOLOGY in replies[-1].text  # the apology, sent once the API answers again


async def test_five_percent_of_calls_failing_costs_nobody_an_answer(bot: Harness) -> None:
    bot.fake.faults.rate = 0.05
    bot.fake.faults.kinds = ("500", "502", "timeout", "429")
    for n in range(40):
        user = bot.user(400 + n, f"Người {n}")
        assert "Xin chào" in (await user.send("/start"))[-1].text
        reply = (await user.send("ocop la gi"))[-1]
        assert "OCOP" in reply.text and APOLOGY not in reply.text
        pressed = await user.press("❓ Hỏi đáp OCOP")
        assert pressed and APOLOGY not in pressed[-1].text
    assert sum(bot.fake.faults.injected.values()) >= 5
    assert _retried(bot) == sum(bot.fake.faults.injected.values())
