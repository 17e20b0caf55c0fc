"""The dossier service over a real database: persistence, owner scoping, files, delete, submit."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime
from pathlib import Path

import pypdf
import pytest
from sqlalchemy import func, select

from common.clock import FakeClock
from common.config import Settings
from common.render import Renderer
from dossier.models import Attachment, Dossier, DossierStatusHistory
from dossier.service import (
    DossierIncomplete,
    DossierLocked,
    DossierNotFound,
    DossierPrompt,
    DossierService,
    Upload,
)
from storage.db import Database
from storage.models import User

OWNER = 1001
OTHER = 1002

TYPED = {
    "producer_name": "HTX Nông nghiệp Phú Nghĩa",
    "representative": "Nguyễn Văn An",
    "phone": "0912 345 678",
    "tax_code": "0101234567",
    "address": "Thôn Phú Vinh",
    "commune": "Phú Nghĩa",
    "product_name": "Trứng gà sạch Cường Hương",
    "description": "Trứng gà ta nuôi thả vườn, cho ăn ngô và thóc.",
    "raw_materials": "Ngô, thóc của xã",
    "yearly_output": "1.500 kg",
    "packaging": "Hộp giấy 10 quả",
    "business_reg_number": "01G8001234",
    "business_reg_date": "15/03/2018",
    "start_year": "2015",
    "capacity": "500 kg/ngày",
    "workers": "12 người",
    "local_workers": "10 người",
    "local_identity": "Giống gà ta của xã, nuôi theo cách truyền thống",
}
CHOSEN = {
    "kind": "0",
    "producer_type": "0",
    "raw_origin": "0",
    "food_safety": "2",
    "quality_announcement": "1",
    "test_results": "1",
    "trademark": "2",
    "traceability": "1",
    "raw_local_share": "0",
    "idea_origin": "0",
    "gap_organic": "1",
    "raw_contract": "1",
    "awards": "1",
    "samples": "0",
    "self_assessment_mode": "1",
    "business_plan_mode": "1",
}


def jpeg(n: int, size: int = 50_000) -> Upload:
    return Upload(f"file-{n}", f"uniq-{n}", None, "image/jpeg", size)


def pdf_upload(n: int, size: int = 200_000) -> Upload:
    return Upload(f"file-{n}", f"uniq-{n}", f"giay-{n}.pdf", "application/pdf", size)


@pytest.fixture
def service_settings(tmp_path: Path) -> Settings:
    return Settings(_env_file=None, storage_dir=tmp_path / "files", max_upload_mb=5)  # type: ignore[call-arg]


@pytest.fixture
async def service(database: Database, clock: FakeClock, service_settings: Settings) -> DossierService:
    async with database.session() as s:
        for uid in (OWNER, OTHER):
            s.add(
                User(
                    id=uid,
                    full_name=f"U{uid}",
                    muted_topics=[],
                    flow_data={},
                    first_seen=clock.now(),
                    last_seen=clock.now(),
                )
            )
    return DossierService(database, clock, service_settings)


async def fill(service: DossierService, owner: int, prompt: DossierPrompt) -> DossierPrompt:
    """Answer every step of a new food product through the service, as the handler would."""
    n = 0
    for _ in range(150):
        if prompt.kind != "question" and prompt.kind != "subgroup":
            return prompt
        assert prompt.ok, prompt.error
        step, did = prompt.step_id, prompt.dossier_id
        assert step is not None and prompt.step_no is not None
        if step in TYPED:
            prompt = await service.answer(owner, did, TYPED[step])
        elif step in CHOSEN:
            prompt = await service.choose(owner, did, prompt.step_no, CHOSEN[step])
        elif step == "product_group":
            prompt = await service.choose(owner, did, prompt.step_no, "0")
            prompt = await service.choose(owner, did, prompt.step_no, "6")
        elif step == "markets":
            prompt = await service.choose(owner, did, prompt.step_no, "0")
            prompt = await service.done(owner, did)
        elif prompt.expects in ("photo", "document"):
            n += 1
            prompt = await service.attach(owner, did, jpeg(n) if prompt.expects == "photo" else pdf_upload(n))
            if step == "product_photos":
                prompt = await service.done(owner, did)
        else:
            prompt = await service.skip(owner, did)
    raise AssertionError("the form did not end")


async def test_create_and_resume_from_the_database(
    service: DossierService, database: Database, clock: FakeClock, service_settings: Settings
) -> None:
    first = await service.create(OWNER)
    assert (first.kind, first.step_id, first.position, first.progress) == (
        "question",
        "kind",
        1,
        f"1/{first.total}",
    )
    assert [b.label for b in first.buttons] == ["Phân hạng lần đầu", "Nâng hạng", "Phân hạng lại"]
    p = await service.choose(OWNER, first.dossier_id, first.step_no or 0, "1")
    assert p.step_id == "cert_number"
    p = await service.answer(OWNER, first.dossier_id, "1234/QĐ-UBND")
    # A new service (a restart) continues where the user was.
    again = DossierService(database, clock, service_settings)
    resumed = await again.current(OWNER, first.dossier_id)
    assert resumed.step_id == "cert_stars" and resumed.position == 3
    async with database.session() as s:
        row = await s.get(Dossier, first.dossier_id)
        assert row is not None and row.answers["cert_number"] == "1234/QĐ-UBND"
        assert row.status == "draft" and row.current_step == "cert_stars"


async def test_bad_answer_returns_message_and_keeps_step(service: DossierService) -> None:
    p = await service.create(OWNER)
    p = await service.answer(OWNER, p.dossier_id, "Phân hạng lần đầu")
    p = await service.choose(OWNER, p.dossier_id, p.step_no or 0, "0")
    p = await service.answer(OWNER, p.dossier_id, "HTX Phú Nghĩa")
    p = await service.answer(OWNER, p.dossier_id, "Nguyễn Văn An")
    p = await service.skip(OWNER, p.dossier_id)
    bad = await service.answer(OWNER, p.dossier_id, "0912")
    assert not bad.ok and bad.step_id == "phone" and "10 chữ số" in (bad.error or "")
    required = await service.skip(OWNER, p.dossier_id)
    assert required.error and required.step_id == "phone"
    back = await service.back(OWNER, p.dossier_id)
    assert back.step_id == "representative_title" and back.ok


async def test_stale_button_gets_stale_message(service: DossierService) -> None:
    p = await service.create(OWNER)
    await service.choose(OWNER, p.dossier_id, 0, "0")
    stale = await service.choose(OWNER, p.dossier_id, 0, "1")
    assert stale.step_id == "producer_type" and stale.error == service.form.messages["stale"]


async def test_another_users_dossier_is_not_found(service: DossierService) -> None:
    p = await service.create(OWNER)
    did = p.dossier_id
    calls = [
        service.get(OTHER, did),
        service.current(OTHER, did),
        service.review(OTHER, did),
        service.answer(OTHER, did, "x"),
        service.choose(OTHER, did, 0, "0"),
        service.back(OTHER, did),
        service.skip(OTHER, did),
        service.done(OTHER, did),
        service.jump(OTHER, did, "phone"),
        service.attach(OTHER, did, jpeg(1)),
        service.attachments(OTHER, did),
        service.save_and_exit(OTHER, did),
        service.delete_draft(OTHER, did),
        service.submit(OTHER, did),
        service.render_pdf(OTHER, did),
    ]
    for call in calls:
        with pytest.raises(DossierNotFound):
            await call
    assert await service.list_dossiers(OTHER) == []
    assert (await service.current(OWNER, did)).step_id == "kind"  # untouched
    with pytest.raises(DossierNotFound):
        await service.current(OWNER, did + 999)


async def test_list_dossiers(service: DossierService, clock: FakeClock) -> None:
    a = await service.create(OWNER)
    clock.advance(minutes=5)
    b = await service.create(OWNER)
    await service.create(OTHER)
    listed = await service.list_dossiers(OWNER)
    assert [d.id for d in listed] == [b.dossier_id, a.dossier_id]
    assert listed[0].status == "draft" and listed[0].answered == 0 and listed[0].missing > 0


async def test_attach_checks_type_and_size(service: DossierService, database: Database) -> None:
    p = await fill(service, OWNER, await service.create(OWNER))
    did = p.dossier_id
    assert p.kind == "review"
    p = await service.jump(OWNER, did, "label_photo")
    gif = await service.attach(OWNER, did, Upload("f", "u", "a.gif", "image/gif", 100))
    assert gif.error == service.form.messages["file_type"] and gif.step_id == "label_photo"
    big = await service.attach(OWNER, did, jpeg(77, size=6 * 1024 * 1024))
    assert big.error and "5 MB" in big.error
    pdf_on_photo = await service.attach(OWNER, did, pdf_upload(78))
    assert pdf_on_photo.error == service.form.messages["photo_expected"]
    by_extension = await service.attach(OWNER, did, Upload("f9", "u9", "nhan.PNG", None, 1000))
    assert by_extension.ok and by_extension.kind == "review"
    async with database.session() as s:
        rows = (await s.scalars(select(Attachment).where(Attachment.step_id == "label_photo"))).all()
    # The replaced label photo row is gone; refused files were never stored.
    assert [r.file_id for r in rows] == ["f9"]
    files = await service.attachments(OWNER, did)
    assert [f.step_id for f in files] == ["product_photos", "label_photo", "business_registration"]
    assert files[1].kind == "photo" and files[1].step_label == "Ảnh nhãn sản phẩm"


async def test_downloads_a_local_copy_when_configured(
    database: Database, clock: FakeClock, service_settings: Settings, service: DossierService
) -> None:
    saved: list[tuple[str, Path]] = []

    async def downloader(file_id: str, path: Path) -> None:
        path.write_bytes(b"%PDF-1.4")  # noqa: ASYNC240 (a test double writing a tmp file)
        saved.append((file_id, path))

    svc = DossierService(database, clock, service_settings, downloader=downloader)
    p = await svc.create(OWNER)
    async with database.session() as s:
        row = await s.get(Dossier, p.dossier_id)
        assert row is not None
        row.current_step = "business_registration"
        row.answers = {"kind": "new"}
    p = await svc.attach(OWNER, p.dossier_id, pdf_upload(5))
    assert p.ok and saved and saved[0][0] == "file-5"
    assert len(saved) == 1  # fetched once: to check its bytes, then moved into place
    assert not saved[0][1].exists()  # nothing left in the incoming folder
    files = await svc.attachments(OWNER, p.dossier_id)
    kept = Path(str(files[0].local_path))
    assert kept.parent.name == str(p.dossier_id) and kept.read_bytes() == b"%PDF-1.4"  # noqa: ASYNC240
    await svc.delete_draft(OWNER, p.dossier_id)
    assert not kept.exists()  # noqa: ASYNC240


async def test_photos_clear_deletes_rows(service: DossierService, database: Database) -> None:
    p = await service.create(OWNER)
    async with database.session() as s:
        row = await s.get(Dossier, p.dossier_id)
        assert row is not None
        row.current_step = "product_photos"
        row.answers = {"kind": "new"}
    for n in range(3):
        p = await service.attach(OWNER, p.dossier_id, jpeg(n))
    assert p.files == 3 and [b.value for b in p.buttons] == ["done", "clear"]
    p = await service.choose(OWNER, p.dossier_id, p.step_no or 0, "clear")
    assert p.files == 0
    async with database.session() as s:
        assert await s.scalar(select(func.count()).select_from(Attachment)) == 0


async def test_delete_only_own_drafts(service: DossierService, database: Database) -> None:
    p = await service.create(OWNER)
    await service.answer(OWNER, p.dossier_id, "Phân hạng lần đầu")
    await service.delete_draft(OWNER, p.dossier_id)
    with pytest.raises(DossierNotFound):
        await service.current(OWNER, p.dossier_id)
    done = await fill(service, OWNER, await service.create(OWNER))
    await service.submit(OWNER, done.dossier_id)
    with pytest.raises(DossierLocked):
        await service.delete_draft(OWNER, done.dossier_id)
    async with database.session() as s:
        assert await s.scalar(select(func.count()).select_from(Dossier)) == 1


async def test_submit_refuses_incomplete(service: DossierService) -> None:
    p = await service.create(OWNER)
    with pytest.raises(DossierIncomplete) as info:
        await service.submit(OWNER, p.dossier_id)
    assert "business_registration" in [m.step_id for m in info.value.missing]
    assert (await service.get(OWNER, p.dossier_id)).status == "draft"


async def test_submit_assigns_reference_history_and_locks(
    service: DossierService, database: Database, clock: FakeClock
) -> None:
    p = await fill(service, OWNER, await service.create(OWNER))
    assert p.kind == "review" and p.can_submit and p.missing == ()
    result = await service.submit(OWNER, p.dossier_id)
    assert result.reference == "OCOP-2026-0001"
    assert result.submitted_at == clock.now()
    assert result.product_name == "Trứng gà sạch Cường Hương"
    summary = await service.get(OWNER, p.dossier_id)
    assert summary.status == "submitted" and summary.reference == "OCOP-2026-0001"
    async with database.session() as s:
        history = (await s.scalars(select(DossierStatusHistory).order_by(DossierStatusHistory.id))).all()
    assert [(h.from_status, h.to_status) for h in history] == [(None, "draft"), ("draft", "submitted")]
    assert history[-1].actor_id == OWNER
    locked = await service.answer(OWNER, p.dossier_id, "sửa")
    assert locked.kind == "locked" and not locked.can_submit
    assert (await service.jump(OWNER, p.dossier_id, "phone")).kind == "locked"
    with pytest.raises(DossierLocked):
        await service.submit(OWNER, p.dossier_id)
    second = await fill(service, OWNER, await service.create(OWNER))
    assert (await service.submit(OWNER, second.dossier_id)).reference == "OCOP-2026-0002"


async def test_reference_year_is_local_time_and_restarts(service: DossierService, clock: FakeClock) -> None:
    clock.set(datetime(2026, 12, 31, 16, 30, tzinfo=UTC))  # 31/12 23:30 in Hà Nội
    a = await fill(service, OWNER, await service.create(OWNER))
    assert (await service.submit(OWNER, a.dossier_id)).reference == "OCOP-2026-0001"
    clock.set(datetime(2026, 12, 31, 17, 30, tzinfo=UTC))  # 1/1/2027 00:30 in Hà Nội
    b = await fill(service, OWNER, await service.create(OWNER))
    assert (await service.submit(OWNER, b.dossier_id)).reference == "OCOP-2027-0001"


async def test_concurrent_submits_get_distinct_numbers(service: DossierService) -> None:
    ids = []
    for _ in range(6):
        ids.append((await fill(service, OWNER, await service.create(OWNER))).dossier_id)
    results = await asyncio.gather(*(service.submit(OWNER, i) for i in ids))
    refs = sorted(r.reference for r in results)
    assert refs == [f"OCOP-2026-{n:04d}" for n in range(1, 7)]


async def test_double_submit_of_one_dossier(service: DossierService) -> None:
    did = (await fill(service, OWNER, await service.create(OWNER))).dossier_id
    outcomes = await asyncio.gather(
        service.submit(OWNER, did), service.submit(OWNER, did), return_exceptions=True
    )
    assert sum(1 for o in outcomes if isinstance(o, DossierLocked)) == 1
    assert sum(1 for o in outcomes if not isinstance(o, BaseException)) == 1


async def test_concurrent_answers_are_not_lost(service: DossierService) -> None:
    p = await service.create(OWNER)
    did = p.dossier_id
    await service.choose(OWNER, did, 0, "0")
    sales = service.engine.step_no("sales_channels")
    await service.jump(OWNER, did, "sales_channels")
    await asyncio.gather(*(service.choose(OWNER, did, sales, str(i)) for i in range(4)))
    prompt = await service.current(OWNER, did)
    assert [b.selected for b in prompt.buttons][:4] == [True, True, True, True]


async def test_jump_and_return_to_review(service: DossierService) -> None:
    p = await fill(service, OWNER, await service.create(OWNER))
    did = p.dossier_id
    edit = await service.jump(OWNER, did, service.engine.step_no("phone"))
    assert edit.step_id == "phone" and edit.current_answer == "0912345678"
    back = await service.answer(OWNER, did, "0987 654 321")
    assert back.kind == "review"
    items = {i.step_id: i.value for s in back.review for i in s.items}
    assert items["phone"] == "0987654321"
    await service.jump(OWNER, did, "address")
    assert (await service.go_to_review(OWNER, did)).kind == "review"


async def test_save_and_exit_and_review_do_not_move(service: DossierService) -> None:
    p = await service.create(OWNER)
    await service.choose(OWNER, p.dossier_id, 0, "0")
    summary = await service.save_and_exit(OWNER, p.dossier_id)
    assert summary.answered == 1
    review = await service.review(OWNER, p.dossier_id)
    assert review.kind == "review" and not review.can_submit and review.missing
    assert (await service.current(OWNER, p.dossier_id)).step_id == "producer_type"


async def test_chat_templates_render_prompts_escaped(service: DossierService) -> None:
    renderer = Renderer()
    p = await service.create(OWNER)
    did = p.dossier_id
    await service.choose(OWNER, did, 0, "0")
    await service.choose(OWNER, did, 4, "0")
    p = await service.answer(OWNER, did, "HTX <b>Phú</b> & Nghĩa 🌾")
    html = renderer.render("dossier/question", p=p)
    assert "mục 4 / khoảng " in html and "Họ và tên người đại diện" in html
    bad = await service.answer(OWNER, did, "A")
    assert "⚠️" in renderer.render("dossier/question", p=bad)
    review = renderer.render("dossier/review", p=await service.review(OWNER, did))
    assert "HTX &lt;b&gt;Phú&lt;/b&gt; &amp; Nghĩa 🌾" in review and "<b>Phú</b>" not in review
    assert "Còn thiếu" in review
    listing = renderer.render(
        "dossier/list",
        dossiers=await service.list_dossiers(OWNER),
        status_names={"draft": renderer.label("dossier.status_draft")},
    )
    assert "Nháp" in listing and "HTX" not in listing  # list shows the product name, not the producer
    for name in ("not_found", "deleted", "started"):
        assert renderer.render(f"dossier/{name}")
    p = await fill(service, OWNER, await service.current(OWNER, did))
    result = await service.submit(OWNER, did)
    sent = renderer.render("dossier/submitted", result=result)
    assert "OCOP-2026-0001" in sent and "02/03/2026 09:00" in sent


async def test_commune_confirm_prompt_renders(service: DossierService) -> None:
    renderer = Renderer()
    p = await service.create(OWNER)
    async with service.db.session() as s:
        row = await s.get(Dossier, p.dossier_id)
        assert row is not None
        row.current_step = "commune"
        row.answers = {"kind": "new"}
    p = await service.answer(OWNER, p.dossier_id, "xã Tân Tiến cũ")
    assert p.kind == "commune_confirm"
    html = renderer.render("dossier/question", p=p)
    assert "Tân Tiến" in html and "xã Xuân Mai" in html and "chưa được xác nhận" in html
    assert all(len(f"dos:a:{p.dossier_id}:{p.step_no}:{b.value}".encode()) <= 64 for b in p.buttons)


async def test_render_pdf_through_the_service(service: DossierService) -> None:
    p = await fill(service, OWNER, await service.create(OWNER))
    await service.submit(OWNER, p.dossier_id)
    data = await service.render_pdf(OWNER, p.dossier_id)
    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)
    assert "OCOP-2026-0001" in text and "Trứng gà sạch Cường Hương" in text
    assert "Giấy đăng ký kinh doanh" in text and "giay-" in text  # each attachment named in its table row
    summary = await service.get(OWNER, p.dossier_id)
    assert service.pdf_file_name(summary) == "phieu-dang-ky-OCOP-2026-0001.pdf"


async def test_resume_goes_to_missing_item(service: DossierService) -> None:
    p = await service.create(OWNER)
    await service.choose(OWNER, p.dossier_id, 0, "0")
    review = await service.go_to_review(OWNER, p.dossier_id)
    assert review.kind == "review"
    resumed = await service.resume(OWNER, p.dossier_id)
    assert resumed.step_id == "producer_type"


async def test_a_nearly_empty_review_names_each_missing_item_once(service: DossierService) -> None:
    p = await service.create(OWNER)
    await service.choose(OWNER, p.dossier_id, 0, "0")
    review = await service.review(OWNER, p.dossier_id)
    html = Renderer().render("dossier/review", p=review)
    assert len(review.missing) > 20
    for item in review.missing:
        assert html.count(f"• {item.label}:") == 1, item.label
    assert html.count("còn thiếu") == len(review.missing)
