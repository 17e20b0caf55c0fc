"""/thongke: counts by status, commune, product set and stars within an officer's scope, and the chart:
a PNG Pillow opens, of a sane size, drawn without a missing glyph; a status nobody named yet is shown
as stored instead of breaking the desk."""

from __future__ import annotations

import io
import warnings

from PIL import Image

from common.render import Renderer
from dossier.form import default_form
from dossier.stats import chart_text, count_dossiers, desk_names, render_chart
from fakebot.driver import Harness
from storage.db import Database
from tests.conftest import STAFF_ID
from tests.test_desk_export import ROWS, scoped_officer, seed


async def test_counts_by_status_commune_product_set_and_stars(database: Database) -> None:
    await seed(database)
    stats = await count_dossiers(database, None)
    assert stats.total == 5
    assert [s for s, _ in stats.by_status][:2] == ["draft", "submitted"]  # the workflow's order
    assert {s: n for s, n in stats.by_status if n} == {"draft": 2, "submitted": 2, "rated": 1}
    assert stats.by_commune == [("Quảng Bị", 2), ("Xuân Mai", 2), (None, 1)]
    assert stats.by_product_set == [("plant_tea", 2), ("coffee", 1), ("tea_leaf", 1), (None, 1)]
    assert stats.by_stars == [(4, 1)]

    scoped = await count_dossiers(database, frozenset({"Xuân Mai"}))
    assert scoped.total == 2 and scoped.by_commune == [("Xuân Mai", 2)] and scoped.by_stars == [(4, 1)]
    nowhere = await count_dossiers(database, frozenset({"Trung Hòa"}))
    assert nowhere.total == 0 and not any(n for _, n in nowhere.by_status) and nowhere.by_commune == []


async def test_the_chart_is_a_png_with_every_vietnamese_letter(database: Database) -> None:
    await seed(database, [*ROWS, ("proposed_central", "Phú Nghĩa", "coffee", 5, "Cà phê đề xuất")])
    names = desk_names(Renderer(), default_form())
    stats = await count_dossiers(database, None)
    assert ("proposed_central", 1) in stats.by_status  # known to the workflow or not, it is counted
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = render_chart(stats, names, chart_text(names, "toàn bộ"))
    assert not [w for w in caught if "glyph" in str(w.message).lower()]
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png))
    image.verify()
    width, height = Image.open(io.BytesIO(png)).size
    assert 600 <= width <= 2000 and 400 <= height <= 2500


def test_an_unnamed_status_is_shown_as_stored() -> None:
    names = desk_names(Renderer(), default_form())
    assert names.status("submitted") == "Đã nộp"
    assert names.status("forwarded") == "Đã chuyển lên Thành phố"
    assert names.status("brand_new_state") == "brand_new_state"
    assert names.product_set("coffee") == "13. Cà phê, ca cao"
    assert names.product_set("unknown_set") == "unknown_set"


async def test_thongke_sends_the_counts_and_the_chart(bot: Harness, database: Database) -> None:
    await seed(database)
    staff = bot.user(STAFF_ID, "Cán bộ xã")
    sent = await staff.send("/thongke")
    text, photo = sent
    assert "Tổng số: 5 hồ sơ" in text.text
    assert "• Nháp: 2" in text.text and "• Đã công nhận: 1" in text.text
    assert "• 12. Sản phẩm trà từ thực vật khác: 2" in text.text and "• 4★: 1" in text.text
    assert "Đang xem xét" not in text.text  # statuses with no dossier are left out of the message
    assert photo.photo is not None and photo.photo["content"].startswith(b"\x89PNG")
    assert "toàn bộ" in photo.text

    officer = await scoped_officer(bot)
    await officer.send("/thongke")
    text = officer.messages[-2].text
    assert "Phạm vi: Quảng Bị" in text and "Tổng số: 2 hồ sơ" in text and "Xuân Mai" not in text
    assert officer.last.photo is not None


async def test_thongke_with_nothing_in_scope_sends_no_chart(bot: Harness, database: Database) -> None:
    await seed(database)
    officer = await scoped_officer(bot, communes=("Trung Hòa",))
    sent = await officer.send("/thongke")
    assert len(sent) == 1 and "Tổng số: 0 hồ sơ" in sent[0].text and sent[0].photo is None
