"""The knowledge index: built once and shared, swapped whole, kept on errors, and followed by every bot
process on one database (two Applications stand for two processes)."""

from __future__ import annotations

import asyncio
import shutil
import threading
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

import knowledge.service as knowledge_service_module
from fakebot.driver import Harness
from knowledge.index import IndexRejected, build_index
from knowledge.kb import DATA_DIR
from knowledge.models import KnowledgeVersion
from knowledge.service import KnowledgeService, publish_change
from storage.db import Database
from tests.conftest import STAFF_ID, BotFactory

QUESTION = "bên mình có được hỗ trợ làm tem QR cho sản phẩm không"


def knowledge(bot: Harness) -> KnowledgeService:
    return bot.app.bot_data["ctx"].knowledge


async def stored_version(db: Database) -> int:
    async with db.session() as s:
        return (await s.execute(select(KnowledgeVersion.version))).scalar_one()


async def test_two_bots_on_one_database_share_a_link_and_a_reload(make_bot: BotFactory) -> None:
    first, second = await make_bot(), await make_bot()
    before = await knowledge(second).index()
    # A producer asks the second bot; staff link the question to an entry through the first bot.
    asker = second.user(601, "An")
    reply = (await asker.send(QUESTION))[-1]
    if "👍 Hữu ích" in reply.labels:
        await asker.press("👎 Chưa đúng", message=reply)
    staff = first.user(STAFF_ID, "Cán bộ")
    await staff.send("/cauhoi")
    await staff.press("🔗 Gắn mục 1")
    await staff.send("ocop-la-gi")
    assert "Đã gắn nhóm vào mục" in staff.last.text
    # The second bot learns it before its next answer: same entry as the first bot gives.
    again = (await second.user(602, "Chi").send(QUESTION))[-1]
    assert "👍 Hữu ích" in again.labels
    assert again.text == (await first.user(603, "Bình").send(QUESTION))[-1].text
    after = await knowledge(second).index()
    assert after.version == before.version + 1 and after is not before
    # /napkb in the second bot moves the version for the first one too.
    assert "Đã nạp lại kho kiến thức" in (await second.user(STAFF_ID, "Cán bộ").send("/napkb"))[-1].text
    db = first.app.bot_data["ctx"].db
    assert await stored_version(db) == after.version + 1
    assert (await knowledge(first).index()).version == after.version + 1


async def test_bots_of_one_process_share_one_build(make_bot: BotFactory, real_index) -> None:
    # (Not compared with the session's `real_index`: other tests in this worker may have pushed that
    # build out of the process's small cache since.)
    one, two = await make_bot(), await make_bot()
    shared = (await knowledge(one).index()).matcher
    assert (await knowledge(two).index()).matcher is shared
    assert build_index(None, {}, 0).matcher is shared


def copy_data(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR / "entries", data / "entries")
    for name in ("sources.yaml", "out_of_scope.yaml", "eligibility.yaml"):
        shutil.copy(DATA_DIR / name, data / name)
    return data


async def test_reload_with_errors_keeps_the_old_index_and_version(
    tmp_path: Path, database: Database, clock
) -> None:
    data = copy_data(tmp_path)
    service = KnowledgeService(database, clock, data_dir=data)
    await service.start()
    old = await service.index()
    (data / "entries" / "broken.yaml").write_text("entries:\n  - {id: Bad Id}\n", "utf-8")
    outcome = await service.reload_checked()
    assert not outcome.loaded and outcome.entries == len(old.kb.entries)
    assert await service.index() is old and await stored_version(database) == old.version
    # Another process finds the version moved (a link) but the files broken: it keeps its entries.
    other = KnowledgeService(database, clock, data_dir=data)
    with pytest.raises(IndexRejected):
        await other.start()  # nothing to fall back on at start
    async with database.session() as s:
        row = await s.get(KnowledgeVersion, 1)
        row.version += 1
    kept = await service.index()
    assert kept.matcher is old.matcher and kept.version == old.version + 1
    assert (await service.ask(1, 10, "ocop là gì")).entry.id == "ocop-la-gi"


async def test_reload_serves_new_entries_with_their_own_matcher(
    tmp_path: Path, database: Database, clock
) -> None:
    data = copy_data(tmp_path)
    service = KnowledgeService(database, clock, data_dir=data)
    await service.start()
    assert "tem-truy-xuat-moi" not in dict(await service.search_entries("tem-truy-xuat-moi"))
    entry = {
        "id": "tem-truy-xuat-moi",
        "title": "Tem truy xuất nguồn gốc mới",
        "questions": ["tem truy xuất nguồn gốc mới làm ở đâu", "tem qr truy xuat moi"],
        "answer": "Trả lời.",
        "tags": ["t"],
        "sources": [next(iter((await service.index()).kb.sources))],
        "rule": "QĐ 1489/QĐ-TTg",
        "valid_from": "2025-07-06",
        "reviewed": "2026-11-28",
    }
    (data / "entries" / "new.yaml").write_text(yaml.safe_dump({"entries": [entry]}, allow_unicode=True))
    outcome = await service.reload_checked()
    assert outcome.loaded
    index = await service.index()
    assert "tem-truy-xuat-moi" in index.kb.entries and index.matcher.kb is index.kb
    assert (await service.search_entries("tem-truy-xuat-moi"))[0][0] == "tem-truy-xuat-moi"


def test_build_index_refuses_files_with_errors(tmp_path: Path) -> None:
    data = copy_data(tmp_path)
    (data / "entries" / "broken.yaml").write_text("entries:\n  - {id: Bad Id}\n", "utf-8")
    with pytest.raises(IndexRejected) as caught:
        build_index(data, {}, 0)
    assert any("Bad Id" in str(p) for p in caught.value.problems)


async def test_questions_during_a_rebuild_are_answered_by_the_old_index_whole(
    tmp_path: Path, database: Database, clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = KnowledgeService(database, clock, data_dir=copy_data(tmp_path))
    await service.start()
    old = await service.index()
    started, release = threading.Event(), threading.Event()

    def slow_build(*args):
        started.set()
        release.wait(30)
        return build_index(*args)

    monkeypatch.setattr(knowledge_service_module, "build_index", slow_build)
    async with database.session() as s:
        await publish_change(s, clock.now())
    rebuild = asyncio.create_task(service.index())
    assert await asyncio.to_thread(started.wait, 30)  # the rebuild is under way in its worker thread
    assert await service.index() is old  # not kept waiting, and never half new
    assert (await service.ask(1, 10, "ocop là gì")).entry.id == "ocop-la-gi"
    release.set()
    new = await rebuild
    assert new.version == old.version + 1 and await service.index() is new
