"""The door every update passes first: flood control, group chats, edits and update kinds the bot
does not handle."""

from __future__ import annotations

import time

from fakebot.driver import Harness
from tests.conftest import STAFF_CHAT_ID, STAFF_ID

SLOW_DOWN = "gửi nhanh quá"
OTHER_GROUP = -1009999


async def test_a_flood_gets_one_slow_down_and_the_rest_is_dropped(bot: Harness) -> None:
    bot.fake.time.per_update = 2 / 60  # 60 messages in 2 seconds
    lan, minh = bot.user(601, "Lan"), bot.user(602, "Minh")
    replies = []
    for n in range(60):
        replies.extend(await lan.send(f"ocop la gi {n}"))
    answered = [r for r in replies if SLOW_DOWN not in r.text]
    assert len(answered) == 20
    assert sum(SLOW_DOWN in r.text for r in replies) == 1
    # Another user is served as usual, and a press by the flooding user is still answered.
    assert "OCOP" in (await minh.send("ocop là gì"))[-1].text
    await lan.press_data("m:menu")  # the driver checks the press was answered
    # Once the window has passed, the user is served again.
    bot.fake.time.seconds += 11
    assert "OCOP" in (await lan.send("ocop là gì"))[-1].text


async def test_a_person_typing_at_a_human_pace_is_never_slowed(bot: Harness) -> None:
    lan = bot.user(603, "Lan")
    for n in range(40):  # one message a second
        assert SLOW_DOWN not in (await lan.send(f"ocop la gi {n}"))[-1].text


async def test_in_a_group_only_commands_addressed_to_the_bot_get_an_invitation(bot: Harness) -> None:
    lan = bot.user(604, "Lan")
    replies = await lan.send("/hoso", chat_id=OTHER_GROUP)
    assert len(replies) == 1 and "nhắn riêng" in replies[0].text
    assert replies[0].buttons[0][0]["url"] == f"https://t.me/{bot.fake.bot_username}"
    assert await lan.send("/menu@another_bot", chat_id=OTHER_GROUP) == []
    assert await lan.send("ocop là gì", chat_id=OTHER_GROUP) == []
    assert len(await lan.send(f"/start@{bot.fake.bot_username}", chat_id=OTHER_GROUP)) == 1
    assert bot.fake.bot_messages(604) == []  # nothing was said in private, nothing private in the group


async def test_the_staff_chat_keeps_staff_commands_but_no_producer_flows(bot: Harness) -> None:
    staff = bot.user(STAFF_ID, "Cán bộ")
    assert "câu hỏi" in (await staff.send("/cauhoi", chat_id=STAFF_CHAT_ID))[-1].text.lower()
    replies = await staff.send("/hoso", chat_id=STAFF_CHAT_ID)
    assert len(replies) == 1 and "nhắn riêng" in replies[0].text
    assert await staff.send("họp lúc 2 giờ nhé", chat_id=STAFF_CHAT_ID) == []


async def test_edits_channel_posts_inline_queries_and_member_updates_are_handled_safely(bot: Harness) -> None:
    lan = bot.user(605, "Lan")
    sent = await lan.send("ocop là gì")
    assert sent
    base = {"date": int(time.time()), "chat": {"id": 605, "type": "private", "first_name": "Lan"}}
    edited = {
        "edited_message": {
            **base,
            "message_id": 1,
            "edit_date": int(time.time()),
            "text": "x",
            "from": {"id": 605, "is_bot": False, "first_name": "Lan"},
        }
    }
    replies = await bot.process(edited)
    assert len(replies) == 1 and "tin đã sửa" in replies[0].text
    channel = {
        "channel_post": {
            "message_id": 3,
            "date": 0,
            "chat": {"id": -100777, "type": "channel"},
            "text": "/hoso",
        }
    }
    assert await bot.process(channel) == []
    inline = {
        "inline_query": {
            "id": "iq1",
            "from": {"id": 605, "is_bot": False, "first_name": "Lan"},
            "query": "ocop",
            "offset": "",
        }
    }
    assert await bot.process(inline) == []
    member = {
        "my_chat_member": {
            "chat": {"id": 605, "type": "private", "first_name": "Lan"},
            "from": {"id": 605, "is_bot": False, "first_name": "Lan"},
            "date": 0,
            "old_chat_member": {"status": "member", "user": {"id": 1, "is_bot": True, "first_name": "B"}},
            "new_chat_member": {
                "status": "kicked",
                "until_date": 0,
                "user": {"id": 1, "is_bot": True, "first_name": "B"},
            },
        }
    }
    assert await bot.process(member) == []
