"""The knowledge service over a real SQLite database: ask, feedback, staff inbox, staff threads."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from common.clock import FakeClock
from knowledge.inbox import Inbox
from knowledge.models import Feedback, KbExtraQuestion, Question
from knowledge.relay import Relay
from knowledge.service import KnowledgeService
from storage.db import Database

ENTRIES = [
    ("ocop-la-gi", "OCOP là gì?", ["ocop là gì", "chương trình mỗi xã một sản phẩm là gì"], None),
    ("noi-nop", "Nộp hồ sơ OCOP ở đâu?", ["nộp hồ sơ ocop ở đâu", "hồ sơ đăng ký ocop gửi cho ai"], None),
    ("thoi-han", "Chứng nhận OCOP có thời hạn bao lâu?", ["chứng nhận ocop có hiệu lực bao lâu"], None),
    ("ho-tro", "Sản phẩm OCOP được hỗ trợ gì?", ["sản phẩm ocop được hỗ trợ những gì"], None),
    ("lien-he", "Liên hệ cán bộ OCOP", ["số điện thoại cán bộ ocop", "liên hệ ai về ocop"], "contacts"),
]


def write_data(root: Path) -> Path:
    (root / "entries").mkdir(parents=True)
    items = []
    for entry_id, title, questions, dynamic in ENTRIES:
        item = {
            "id": entry_id,
            "title": title,
            "questions": questions,
            "answer": f"Trả lời: {title}\n\n• Chi tiết.",
            "tags": ["t"],
            "sources": ["S1"],
            "rule": "QĐ 1489/QĐ-TTg ngày 06/7/2025",
            "valid_from": "2025-07-06",
            "reviewed": "2026-11-28",
            "related": ["ocop-la-gi"] if entry_id != "ocop-la-gi" else [],
        }
        if dynamic:
            item["dynamic"] = dynamic
        items.append(item)
    (root / "entries" / "t.yaml").write_text(yaml.safe_dump({"entries": items}, allow_unicode=True), "utf-8")
    sources = {"sources": {"S1": {"title": "Nguồn", "publisher": "p", "url": "https://example.org"}}}
    (root / "sources.yaml").write_text(yaml.safe_dump(sources, allow_unicode=True), "utf-8")
    (root / "contacts.yaml").write_text("contacts:\n  - {name: 'UBND xã', phone: '0243'}\n", "utf-8")
    return root


@pytest.fixture
async def service(tmp_path: Path):
    db = Database(f"sqlite:///{tmp_path}/t.db")
    await db.upgrade()
    data = write_data(tmp_path / "data")
    clock = FakeClock(datetime(2026, 3, 2, 2, 0, tzinfo=UTC))
    svc = KnowledgeService(db, clock, data_dir=data, contacts_file=data / "contacts.yaml")
    yield svc
    await db.dispose()


@pytest.fixture
def inbox(service: KnowledgeService) -> Inbox:
    return Inbox(service.db, service.clock, service)


@pytest.fixture
def relay(service: KnowledgeService) -> Relay:
    return Relay(service.db, service.clock)


async def count(svc: KnowledgeService, model) -> int:
    async with svc.db.session() as s:
        return (await s.execute(select(func.count()).select_from(model))).scalar_one()


async def test_ask_answers_and_persists_before_returning(service: KnowledgeService) -> None:
    result = await service.ask(1, 10, "cho em hỏi hs ocop nộp ở đâu ạ")
    assert result.answered and result.entry is not None
    assert result.entry.id == "noi-nop"
    assert result.entry.valid_from_text == "06/07/2025"
    assert result.entry.sources[0].title == "Nguồn"
    assert result.entry.related == [("ocop-la-gi", "OCOP là gì?")]
    assert result.entry.short_answer.startswith("Trả lời")
    async with service.db.session() as s:
        row = await s.get(Question, result.question_id)
    assert row.outcome == "answered" and row.entry_id == "noi-nop" and row.status is None
    assert row.created_at == service.clock.now()
    assert row.normalized


async def test_dynamic_contacts_are_filled(service: KnowledgeService) -> None:
    result = await service.ask(1, 10, "số điện thoại cán bộ ocop")
    assert result.entry is not None and result.entry.contacts["contacts"][0]["phone"] == "0243"


async def test_unknown_question_goes_to_the_inbox(service: KnowledgeService, inbox: Inbox) -> None:
    result = await service.ask(2, 20, "giá lúa hôm nay bao nhiêu")
    assert result.outcome == "unknown" and result.entry is None
    groups = await inbox.groups()
    assert [g.ids for g in groups] == [[result.question_id]]


async def test_feedback_is_idempotent_and_down_marks_for_staff(
    service: KnowledgeService, inbox: Inbox
) -> None:
    result = await service.ask(1, 10, "ocop là gì")
    assert await service.record_feedback(result.question_id, 1, "up") is True
    assert await service.record_feedback(result.question_id, 1, "up") is False
    assert await count(service, Feedback) == 1
    assert await inbox.groups() == []
    assert await service.record_feedback(result.question_id, 1, "down") is True
    assert await count(service, Feedback) == 1
    groups = await inbox.groups()
    assert groups and groups[0].ids == [result.question_id]
    assert await service.record_feedback(999, 1, "down") is False
    with pytest.raises(ValueError):
        await service.record_feedback(result.question_id, 1, "meh")


async def test_groups_merge_similar_questions(service: KnowledgeService, inbox: Inbox) -> None:
    ids = []
    for user, text in [
        (1, "giá lúa hôm nay bao nhiêu"),
        (2, "gia lua hom nay bao nhieu a"),
        (1, "giá lúa hôm nay"),
    ]:
        ids.append((await service.ask(user, user * 10, text)).question_id)
        service.clock.advance(minutes=5)
    other = (await service.ask(3, 30, "cách nấu phở bò")).question_id
    groups = await inbox.groups()
    assert groups[0].ids == ids and groups[0].count == 3 and groups[0].askers == 2
    assert groups[0].first_asked < groups[0].last_asked
    assert groups[1].ids == [other]
    assert len(await inbox.groups(limit=1)) == 1


async def test_answer_group_notifies_each_asker_once(service: KnowledgeService, inbox: Inbox) -> None:
    a = (await service.ask(1, 10, "giá lúa hôm nay bao nhiêu")).question_id
    b = (await service.ask(2, 20, "gia lua hom nay bao nhieu")).question_id
    c = (await service.ask(1, 10, "giá lúa hôm nay")).question_id
    notify = await inbox.answer_group([a, b, c], staff_id=99, answer_text="Xem bản tin giá.")
    assert sorted((r.user_id, r.chat_id, r.question) for r in notify) == [
        (1, 10, "giá lúa hôm nay bao nhiêu"),
        (2, 20, "gia lua hom nay bao nhieu"),
    ]
    assert await inbox.answer_group([a, b, c], staff_id=99, answer_text="again") == []
    assert await inbox.groups() == []
    async with service.db.session() as s:
        row = await s.get(Question, a)
    assert row.status == "answered" and row.staff_answer == "Xem bản tin giá." and row.resolved_by == 99


async def test_link_group_adds_samples_the_matcher_uses(service: KnowledgeService, inbox: Inbox) -> None:
    text = "tiền thưởng khi đạt 4 sao là bao nhiêu"
    first = await service.ask(5, 50, text)
    assert not (first.answered and first.entry.id == "ho-tro")
    await service.record_feedback(first.question_id, 5, "down")
    notify = await inbox.link_group([first.question_id], "ho-tro", staff_id=99)
    assert [(r.user_id, r.chat_id, r.question) for r in notify] == [(5, 50, text)]
    assert await count(service, KbExtraQuestion) == 1
    again = await service.ask(6, 60, text)
    assert again.answered and again.entry.id == "ho-tro"
    # A fresh service (another process, a restart) sees the linked sample too.
    fresh = KnowledgeService(service.db, service.clock, data_dir=service.data_dir)
    assert (await fresh.ask(7, 70, text)).entry.id == "ho-tro"
    with pytest.raises(KeyError):
        await inbox.link_group([first.question_id], "khong-co", staff_id=99)


async def test_mark_new_entry(service: KnowledgeService, inbox: Inbox) -> None:
    q = (await service.ask(1, 10, "cách nấu phở bò")).question_id
    assert await inbox.mark_new_entry([q], staff_id=99) == 1
    assert await inbox.mark_new_entry([q], staff_id=99) == 0
    assert await inbox.groups() == []


async def test_pick_suggestion(service: KnowledgeService) -> None:
    q = (await service.ask(1, 10, "cách nấu phở bò")).question_id
    view = await service.pick_suggestion(q, "ho-tro")
    assert view is not None and view.id == "ho-tro"
    assert await service.pick_suggestion(q, "khong-co") is None


async def test_staff_thread_round_trip(relay: Relay) -> None:
    thread = await relay.open_thread(1, 10, "Cho em hỏi cán bộ về hồ sơ")
    assert thread.status == "open" and thread.staff_chat_message_id is None
    await relay.add_thread_message(thread.id, -100, 501)
    found = await relay.thread_for_staff_message(-100, 501)
    assert found is not None and found.user_chat_id == 10
    replied = await relay.record_staff_reply(thread.id, 77)
    assert replied.staff_user_id == 77
    assert (await relay.record_staff_reply(thread.id, 78)).staff_user_id == 77  # first staff keeps it
    # The user's follow-up is posted in the staff chat as a further message of the thread.
    await relay.add_thread_message(thread.id, -100, 502)
    await relay.add_thread_message(thread.id, -100, 502)  # idempotent
    assert (await relay.thread_for_staff_message(-100, 502)).id == thread.id
    assert await relay.thread_for_staff_message(-100, 999) is None
    assert await relay.close_thread(thread.id) is True
    assert await relay.close_thread(thread.id) is False
    assert await relay.thread_for_staff_message(-100, 501) is None


async def test_a_thread_opened_without_a_message_takes_its_first_one(relay: Relay) -> None:
    first = await relay.open_thread(1, 10, "câu một")
    await relay.open_thread(1, 10, "câu hai")
    await relay.add_thread_message(first.id, -100, 600)
    assert (await relay.thread_for_staff_message(-100, 600)).staff_chat_message_id == 600


async def test_question_ownership(service: KnowledgeService) -> None:
    q = (await service.ask(1, 10, "ocop là gì")).question_id
    assert await service.question_text(q, 1) == "ocop là gì"
    assert await service.question_text(q, 2) is None
    assert await service.owns_question(q, 1) and not await service.owns_question(q, 2)
    assert not await service.owns_question(12345, 1)


async def test_thread_by_id(relay: Relay) -> None:
    opened = await relay.open_thread(1, 10, "câu hỏi")
    assert (await relay.thread(opened.id)).question == "câu hỏi"
    await relay.close_thread(opened.id)
    assert (await relay.thread(opened.id)).status == "closed"
    assert await relay.thread(999) is None


async def test_search_entries(service: KnowledgeService) -> None:
    assert (await service.search_entries("noi-nop"))[0] == ("noi-nop", "Nộp hồ sơ OCOP ở đâu?")
    assert (await service.search_entries("thoi han"))[0][0] == "thoi-han"
    assert ("noi-nop", "Nộp hồ sơ OCOP ở đâu?") in await service.search_entries("nộp hồ sơ ở đâu", limit=3)


async def test_reload_checked_keeps_old_entries_on_errors(service: KnowledgeService) -> None:
    outcome = await service.reload_checked()
    assert outcome.loaded and outcome.entries == len(ENTRIES)
    bad = Path(service.data_dir) / "entries" / "bad.yaml"
    bad.write_text("entries:\n  - {id: Bad Id}\n", "utf-8")
    outcome = await service.reload_checked()
    assert not outcome.loaded and outcome.entries == len(ENTRIES)
    assert any("Bad Id" in str(p) for p in outcome.problems)
    assert (await service.ask(1, 10, "ocop là gì")).entry.id == "ocop-la-gi"


async def test_last_question(service: KnowledgeService) -> None:
    assert await service.last_question(1) is None
    await service.ask(1, 10, "ocop là gì")
    service.clock.advance(seconds=1)
    second = await service.ask(1, 10, "cách nấu phở bò")
    last = await service.last_question(1)
    assert last is not None and last.id == second.question_id and last.outcome == "unknown"


async def test_an_open_question_is_placed_in_its_group_once(service: KnowledgeService, inbox: Inbox) -> None:
    a = (await service.ask(1, 10, "giá lúa hôm nay bao nhiêu")).question_id
    b = (await service.ask(2, 20, "gia lua hom nay bao nhieu a")).question_id
    c = (await service.ask(3, 30, "cách nấu phở bò")).question_id
    async with service.db.session() as s:
        stored = {q: (await s.get(Question, q)).cluster_id for q in (a, b, c)}
    assert stored == {a: a, b: a, c: c}
    group = await inbox.group_of(b)
    assert group is not None and group.ids == [a, b] and group.representative == "giá lúa hôm nay bao nhiêu"
    await inbox.mark_new_entry([a, b], staff_id=99)
    assert await inbox.group_of(b) is None
    # A 👎 on an answered question places it too.
    answered = await service.ask(4, 40, "ocop là gì")
    await service.record_feedback(answered.question_id, 4, "down")
    async with service.db.session() as s:
        assert (await s.get(Question, answered.question_id)).cluster_id == answered.question_id


async def test_open_questions_from_before_groups_were_stored_are_placed_lazily(
    service: KnowledgeService, inbox: Inbox
) -> None:
    async with service.db.session() as s:
        rows = [
            Question(
                user_id=user,
                chat_id=user,
                text=text,
                normalized="",
                confidence=0.0,
                outcome="unknown",
                status="open",
                created_at=service.clock.now(),
            )
            for user, text in [(1, "giá lúa hôm nay"), (2, "giá lúa hôm nay bao nhiêu"), (3, "phở bò")]
        ]
        s.add_all(rows)
    ids = [r.id for r in rows]
    assert await inbox.group_of(ids[1]) is not None
    groups = await inbox.groups()
    assert [g.ids for g in groups] == [ids[:2], ids[2:]]
    async with service.db.session() as s:
        assert [(await s.get(Question, q)).cluster_id for q in ids] == [ids[0], ids[0], ids[2]]


async def test_an_entry_merged_into_another_opens_that_one(service: KnowledgeService) -> None:
    assert await service.entry_view("noi-nop-cu") is None
    (service.data_dir / "merged.yaml").write_text("merged:\n  noi-nop-cu: noi-nop\n", "utf-8")
    assert (await service.reload_checked()).loaded  # /napkb: merged.yaml is read with the other files
    view = await service.entry_view("noi-nop-cu")  # a button sent before the merge
    assert view is not None and view.id == "noi-nop"
