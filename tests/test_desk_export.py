"""/xuat: the dossiers in an officer's scope as Excel and CSV, filtered with buttons, read back with
openpyxl and the csv module; a scoped officer's files hold only their communes; forged filters and
non-staff users get the expired-button / unknown-command replies; rows are read in keyset pages."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

import openpyxl
from sqlalchemy import select

from common.render import Renderer
from dossier.export import COLUMNS, RowMaker, export_dossiers, stream_rows
from dossier.form import default_form
from dossier.models import Dossier
from dossier.stats import DossierFilter, commune_key, desk_names
from fakebot.driver import FakeUser, Harness
from storage.db import Database
from storage.models import AuditLog, Role, User
from tests.conftest import ADMIN_ID, STAFF_ID

OWNER = 900
SCOPED = 610
CREATED = datetime(2026, 3, 1, 20, 30, tzinfo=UTC)  # 2/3/2026 03:30 in Hà Nội: the local date is the 2nd

# (status, commune, product set, stars, product name)
ROWS: list[tuple[str, str | None, str | None, int | None, str]] = [
    ("draft", "Quảng Bị", "plant_tea", None, "Trà hoa sen Quảng Bị"),
    ("submitted", "Quảng Bị", "tea_leaf", None, "=1+2 chè búp"),
    ("submitted", "Xuân Mai", "plant_tea", None, "Trà gừng Xuân Mai"),
    ("rated", "Xuân Mai", "coffee", 4, "Cà phê rang xay"),
    ("draft", None, None, None, "Hồ sơ chưa chọn xã"),
]


Row = tuple[str, str | None, str | None, int | None, str]


async def seed(db: Database, rows: list[Row] = ROWS) -> list[int]:
    """Dossiers of one producer written straight to the database (the desk only reads them)."""
    ids = []
    async with db.session() as s:
        if await s.get(User, OWNER) is None:
            s.add(User(id=OWNER, full_name="Nguyễn Thị Lan", first_seen=CREATED, last_seen=CREATED))
            await s.flush()
        for status, commune, product_set, stars, name in rows:
            d = Dossier(
                owner_id=OWNER, status=status, product_name=name, commune=commune, product_set=product_set,
                answers={"producer_name": "HTX Nông nghiệp Phú Nghĩa", "phone": "0912345678"},
                created_at=CREATED, updated_at=CREATED + timedelta(days=1),
                submitted_at=CREATED if status != "draft" else None, stars=stars,
                valid_until=date(2029, 3, 2) if stars else None,
            )
            s.add(d)
            await s.flush()
            ids.append(d.id)
    return ids


async def scoped_officer(
    bot: Harness, user_id: int = SCOPED, communes: tuple[str, ...] = ("Quảng Bị",)
) -> FakeUser:
    u = bot.user(user_id, "Cán bộ Quảng Bị")
    await u.send("/start")
    await bot.app.bot_data["ctx"].staff.grant(ADMIN_ID, user_id, Role.STAFF, list(communes))
    return u


def workbook(message: Any) -> openpyxl.Workbook:
    assert message.document is not None and message.document["file_name"].endswith(".xlsx")
    return openpyxl.load_workbook(io.BytesIO(message.document["content"]))


def csv_rows(message: Any) -> list[list[str]]:
    raw: bytes = message.document["content"]
    assert message.document["file_name"].endswith(".csv")
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def column(name: str) -> int:
    return [c.key for c in COLUMNS].index(name)


async def test_a_scoped_officers_export_holds_only_their_communes(bot: Harness, database: Database) -> None:
    await seed(database)
    officer = await scoped_officer(bot)
    await officer.send("/xuat")
    assert "Phạm vi: Quảng Bị" in officer.last.text and "Có 2 hồ sơ phù hợp" in officer.last.text
    sent = await officer.press("📥 Xuất Excel và CSV")
    xlsx_msg, csv_msg = [m for m in sent if m.document is not None]
    assert "2 hồ sơ" in xlsx_msg.text

    wb = workbook(xlsx_msg)
    assert wb.sheetnames == ["Tất cả", "Nháp", "Đã nộp"]
    ws = wb["Tất cả"]
    header = [c.value for c in ws[1]]
    assert header[:5] == ["Mã hồ sơ", "Mã nội bộ", "Tên sản phẩm", "Trạng thái", "Xã/phường"]
    assert "Tên chủ thể" in header and "Số điện thoại" in header  # the form's own labels
    assert ws.freeze_panes == "A2" and ws.column_dimensions["C"].width > 20
    body = list(ws.iter_rows(min_row=2, values_only=True))
    assert len(body) == 2
    assert {r[column("commune")] for r in body} == {"Quảng Bị"}
    assert [r[column("product_name")] for r in body] == ["Trà hoa sen Quảng Bị", "=1+2 chè búp"]
    assert body[0][column("product_set")] == "12. Sản phẩm trà từ thực vật khác"
    assert body[0][column("product_set_number")] == 12
    assert body[0][column("phone")] == "0912345678"  # text: the leading zero stays
    created = ws.cell(row=2, column=column("created") + 1)
    assert created.value == datetime(2026, 3, 2) and created.number_format == "DD/MM/YYYY"
    formula_like = ws.cell(row=3, column=column("product_name") + 1)
    assert formula_like.data_type == "s"  # a typed "=…" is text, never a formula
    assert [r[column("status")] for r in wb["Đã nộp"].iter_rows(min_row=2, values_only=True)] == ["Đã nộp"]

    rows = csv_rows(csv_msg)
    assert rows[0] == header
    assert len(rows) == 3 and {r[column("commune")] for r in rows[1:]} == {"Quảng Bị"}
    assert rows[1][column("created")] == "02/03/2026"
    assert rows[2][column("product_name")] == "'=1+2 chè búp"

    async with database.session() as s:
        logged = (await s.scalars(select(AuditLog).where(AuditLog.action == "desk.export"))).all()
    assert [(a.actor_id, "rows=2" in a.detail, "scope=Quảng Bị" in a.detail) for a in logged] == [
        (SCOPED, True, True)
    ]


async def test_filters_by_button_and_the_files_follow_them(bot: Harness, database: Database) -> None:
    await seed(database)
    staff = bot.user(STAFF_ID, "Cán bộ xã")
    await staff.send("/xuat")
    assert "Phạm vi: toàn bộ" in staff.last.text and "Có 5 hồ sơ" in staff.last.text
    await staff.press("📌 Trạng thái: Tất cả")
    assert "Đã nộp (2)" in staff.last.labels and "Đang xem xét (0)" not in staff.last.labels
    await staff.press("Đã nộp (2)")
    assert "Có 2 hồ sơ" in staff.last.text
    await staff.press("📍 Xã/phường: Tất cả")
    assert staff.last.labels[:3] == ["✳️ Tất cả (5)", "Quảng Bị (2)", "Xuân Mai (2)"]
    await staff.press("Xuân Mai (2)")
    assert "Có 1 hồ sơ" in staff.last.text
    await staff.press("🏷 Bộ sản phẩm: Tất cả")
    assert "12. Sản phẩm trà từ thực vật khác (2)" in staff.last.labels
    await staff.press("◀️ Quay lại")
    sent = await staff.press("📥 Xuất Excel và CSV")
    xlsx_msg, csv_msg = [m for m in sent if m.document is not None]
    body = list(workbook(xlsx_msg)["Tất cả"].iter_rows(min_row=2, values_only=True))
    assert [(r[column("product_name")], r[column("commune")]) for r in body] == [
        ("Trà gừng Xuân Mai", "Xuân Mai")
    ]
    assert len(csv_rows(csv_msg)) == 2

    await staff.send("/xuat")
    await staff.press("🏷 Bộ sản phẩm: Tất cả")
    await staff.press("13. Cà phê, ca cao (1)")
    await staff.press("📌 Trạng thái: Tất cả")
    await staff.press("Nháp (2)")
    assert "Có 0 hồ sơ" in staff.last.text
    await staff.press("📥 Xuất Excel và CSV")
    assert "Không có hồ sơ nào" in staff.last.text and staff.last.document is None


async def test_forged_filters_and_non_staff_get_the_ordinary_refusals(
    bot: Harness, database: Database
) -> None:
    await seed(database)
    officer = await scoped_officer(bot)
    await officer.send("/xuat")
    stale = "Nút này đã cũ hoặc không hợp lệ."
    for forged in (
        f"dsk:xg:-:{commune_key('Xuân Mai')}:-",  # another commune: outside the scope
        "dsk:xg:rated:-:-",  # a known status with nothing of it in Quảng Bị: an empty export
        "dsk:xg:hacked:-:-",
        "dsk:xg:-:-:../etc",
        "dsk:xg:-:-",
        "dsk:zz",
    ):
        await officer.press_data(forged)
        if forged == "dsk:xg:rated:-:-":
            assert "Không có hồ sơ nào" in officer.last.text  # known status, nothing of it in Quảng Bị
        else:
            assert officer.last.text.startswith(stale), forged
    assert not any(m.document for m in officer.messages)

    lan = bot.user(777, "Lan")
    await lan.send("/start")
    renderer = bot.app.bot_data["ctx"].renderer
    for command in ("/xuat", "/thongke", "/nhaphoso"):
        await lan.send(command)
        assert lan.last.html == renderer.render("common/unknown_command", command=command)
        assert lan.last.buttons == []
    await lan.press_data("dsk:xg:-:-:-")
    assert lan.last.text.startswith(stale)
    await lan.press_data("dsk:nn")
    assert lan.last.text.startswith(stale)
    assert not any(m.document for m in lan.messages)


async def test_staff_commands_in_the_staff_group_stay_private(bot: Harness, database: Database) -> None:
    from tests.conftest import STAFF_CHAT_ID

    staff = bot.user(STAFF_ID, "Cán bộ xã")
    sent = await staff.send("/xuat", chat_id=STAFF_CHAT_ID)
    assert [m.chat_id for m in sent] == [STAFF_CHAT_ID] and "chat riêng" in sent[0].text
    # The commands that ask for a typed answer are refused there too, and start no step: a typed answer
    # only reaches a flow from a private chat, so the officer's next private message would have been
    # taken for a broadcast, an event field or a member's id.
    ctx = bot.app.bot_data["ctx"]
    for command in ("/thongbao", "/sukien", "/canbo", "/nhaphoso"):
        sent = await staff.send(command, chat_id=STAFF_CHAT_ID)
        assert [m.chat_id for m in sent] == [STAFF_CHAT_ID] and "chat riêng" in sent[0].text, command
        assert not any(m.buttons for m in sent), command
        user = await ctx.users.get(STAFF_ID)
        assert user is None or user.flow is None, (command, user.flow)
    # Commands that only show the desk still answer in the staff chat.
    assert "chat riêng" not in (await staff.send("/duyet", chat_id=STAFF_CHAT_ID))[-1].text


async def test_rows_are_read_in_pages_and_the_core_writes_both_files(database: Database) -> None:
    ids = await seed(database)
    form = default_form()
    from dossier.engine import DossierEngine
    from knowledge.communes import CommuneDirectory

    engine = DossierEngine(form, CommuneDirectory.load())
    names = desk_names(Renderer(), form)
    maker = RowMaker(names, engine, "Asia/Ho_Chi_Minh")
    everything = stream_rows(database, None, DossierFilter(), maker, page=2)
    assert [[r.id for r in page] async for page in everything] == [ids[0:2], ids[2:4], ids[4:5]]
    xuan_mai = stream_rows(database, frozenset({"Xuân Mai"}), DossierFilter(), maker, page=1)
    assert [[r.id for r in page] async for page in xuan_mai] == [[ids[2]], [ids[3]]]

    files = await export_dossiers(database, None, DossierFilter(product_set="plant_tea"), names, engine,
                                  "Asia/Ho_Chi_Minh")
    assert files.rows == 2 and files.by_status == {"draft": 1, "submitted": 1}
    wb = openpyxl.load_workbook(io.BytesIO(files.xlsx))
    assert wb.sheetnames == ["Tất cả", "Nháp", "Đã nộp"]
    certified = await export_dossiers(database, None, DossierFilter(status="rated"), names, engine,
                                      "Asia/Ho_Chi_Minh")
    ws = openpyxl.load_workbook(io.BytesIO(certified.xlsx))["Đã công nhận"]
    row = next(ws.iter_rows(min_row=2, values_only=True))
    assert row[column("stars")] == 4 and row[column("valid_until")] == datetime(2029, 3, 2)

