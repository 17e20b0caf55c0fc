"""Dossier status changes: the transition table (every allowed transition, to its roles only; every
other pair refused), the one function that applies a transition with its history row in the same
transaction, the 36 months of a certificate, and the service (create, submit, resubmit after a
return, refusals)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select, update

from common.clock import FakeClock
from dossier.errors import DossierLocked, TransitionNotAllowed
from dossier.models import Dossier, DossierStatus, DossierStatusHistory
from dossier.service import DossierService
from dossier.workflow import (
    EDITABLE_STATUSES,
    SUBMIT_TARGET,
    TRANSITIONS,
    Role,
    allowed,
    apply_transition,
    check_transition,
    is_deletable,
    is_editable,
    targets,
    valid_until,
)
from storage.db import Database
from tests.test_dossier_service import OWNER, fill, service, service_settings  # noqa: F401 (fixtures)

S = DossierStatus


OFFICERS = (Role.ADMIN, Role.STAFF)
EXPECTED = {
    (None, S.DRAFT, (Role.OWNER,)),
    (S.DRAFT, S.SUBMITTED, (Role.OWNER,)),
    (S.SUBMITTED, S.RECEIVED, OFFICERS),
    (S.SUBMITTED, S.RETURNED, OFFICERS),
    (S.RECEIVED, S.RETURNED, OFFICERS),
    (S.RETURNED, S.RESUBMITTED, (Role.OWNER,)),
    (S.RESUBMITTED, S.RECEIVED, OFFICERS),
    (S.RESUBMITTED, S.RETURNED, OFFICERS),
    (S.RECEIVED, S.FORWARDED, OFFICERS),
    (S.FORWARDED, S.RETURNED, OFFICERS),
    (S.FORWARDED, S.RATED, OFFICERS),
    (S.FORWARDED, S.NOT_RATED, OFFICERS),
    (S.RATED, S.PROPOSED, OFFICERS),
}


def test_the_table() -> None:
    assert {(t.source, t.target, tuple(sorted(t.roles))) for t in TRANSITIONS} == EXPECTED
    assert EDITABLE_STATUSES == {S.DRAFT, S.RETURNED}
    assert SUBMIT_TARGET == {"draft": S.SUBMITTED, "returned": S.RESUBMITTED}
    assert is_editable("draft") and is_editable("returned") and not is_editable("submitted")
    assert is_deletable("draft") and not is_deletable("returned") and not is_deletable("rated")
    assert targets("forwarded", Role.STAFF) == [S.RETURNED, S.RATED, S.NOT_RATED]
    assert targets("forwarded", Role.OWNER) == []


@pytest.mark.parametrize(("source", "target", "roles"), sorted(EXPECTED, key=str))
def test_every_allowed_transition_is_allowed_to_its_roles_only(
    source: DossierStatus | None, target: DossierStatus, roles: tuple[Role, ...]
) -> None:
    for role in Role:
        if role in roles:
            check_transition(source, target, role)
        else:
            with pytest.raises(TransitionNotAllowed):
                check_transition(source, target, role)


def test_every_pair_not_in_the_table_is_refused_to_everyone() -> None:
    pairs = {(source, target) for source, target, _ in EXPECTED}
    refused = 0
    for source in [None, *S]:
        for target in S:
            if (source, target) in pairs:
                continue
            for role in Role:
                assert not allowed(source, target, role), (source, target, role)
                refused += 1
    assert refused > 300


@pytest.mark.parametrize(
    ("source", "target", "role"),
    [
        ("submitted", S.SUBMITTED, Role.OWNER),  # submitted twice
        ("draft", S.SUBMITTED, Role.STAFF),  # not the staff's to submit
        ("draft", S.SUBMITTED, Role.SYSTEM),
        ("submitted", S.DRAFT, Role.ADMIN),
        ("rated", S.RETURNED, Role.OWNER),
        (None, S.SUBMITTED, Role.OWNER),  # created already submitted
        ("no-such-status", S.SUBMITTED, Role.OWNER),
        ("submitted", S.RATED, Role.STAFF),  # skipping the commune and the province
        ("received", S.RATED, Role.ADMIN),
        ("submitted", S.RECEIVED, Role.OWNER),  # a producer cannot receive their own dossier
        ("returned", S.SUBMITTED, Role.OWNER),  # a returned dossier is resubmitted, not submitted
        ("returned", S.RECEIVED, Role.STAFF),  # waiting for the producer
        ("not_rated", S.RATED, Role.ADMIN),
        ("forwarded", S.PROPOSED, Role.STAFF),  # proposed only once rated
        ("proposed", S.RATED, Role.STAFF),
    ],
)
def test_transitions_not_in_the_table_are_refused_with_a_typed_error(
    source: str | None, target: DossierStatus, role: Role
) -> None:
    with pytest.raises(TransitionNotAllowed) as info:
        check_transition(source, target, role)
    assert (info.value.source, info.value.target, info.value.role) == (source, target, role)
    assert isinstance(info.value, DossierLocked)  # the chat answers it as "no longer editable"


@pytest.mark.parametrize(
    ("recognized", "until"),
    [
        (date(2026, 11, 15), date(2029, 11, 15)),
        (date(2024, 2, 29), date(2027, 2, 28)),  # no 29 February in 2027
        (date(2026, 1, 31), date(2029, 1, 31)),
    ],
)
def test_a_certificate_is_valid_36_months(recognized: date, until: date) -> None:
    assert valid_until(recognized) == until


async def test_the_change_and_its_history_row_commit_or_roll_back_together(
    service: DossierService,  # noqa: F811
    database: Database,
    clock: FakeClock,
) -> None:
    did = (await service.create(OWNER)).dossier_id
    clock.advance(minutes=5)
    with pytest.raises(RuntimeError):
        async with database.session() as s:
            dossier = await s.get_one(Dossier, did)
            await apply_transition(
                s, dossier, S.SUBMITTED, actor_id=OWNER, role=Role.OWNER, at=clock.now(), note="x"
            )
            await s.flush()
            raise RuntimeError("crash before commit")
    async with database.session() as s:
        assert (await s.get_one(Dossier, did)).status == "draft"
        history = (await s.scalars(select(DossierStatusHistory))).all()
        assert [(h.from_status, h.to_status) for h in history] == [(None, "draft")]

    async with database.session() as s:
        dossier = await s.get_one(Dossier, did)
        await apply_transition(
            s,
            dossier,
            S.SUBMITTED,
            actor_id=OWNER,
            role=Role.OWNER,
            at=clock.now(),
            note="nộp lại",
            flagged_steps=["phone"],
        )
    async with database.session() as s:
        assert (await s.get_one(Dossier, did)).status == "submitted"
        row = (await s.scalars(select(DossierStatusHistory).order_by(DossierStatusHistory.id.desc()))).first()
        assert row is not None
        assert (row.actor_id, row.from_status, row.to_status, row.note, row.flagged_steps) == (
            OWNER,
            "draft",
            "submitted",
            "nộp lại",
            ["phone"],
        )
        assert row.at == clock.now()


async def test_a_refused_transition_changes_nothing(
    service: DossierService,  # noqa: F811
    database: Database,
    clock: FakeClock,
) -> None:
    did = (await service.create(OWNER)).dossier_id
    async with database.session() as s:
        dossier = await s.get_one(Dossier, did)
        with pytest.raises(TransitionNotAllowed):
            await apply_transition(s, dossier, S.RATED, actor_id=1, role=Role.STAFF, at=clock.now())
        assert dossier.status == "draft"
    async with database.session() as s:
        assert (await s.get_one(Dossier, did)).status == "draft"
        assert len((await s.scalars(select(DossierStatusHistory))).all()) == 1


async def test_a_returned_dossier_is_edited_and_resubmitted_by_its_owner(
    service: DossierService,  # noqa: F811
    database: Database,
) -> None:
    p = await fill(service, OWNER, await service.create(OWNER))
    first = await service.submit(OWNER, p.dossier_id)
    async with database.session() as s:  # what the coming staff review will do through the table
        await s.execute(update(Dossier).where(Dossier.id == p.dossier_id).values(status="returned"))
    summary = await service.get(OWNER, p.dossier_id)
    assert summary.editable and not summary.deletable
    with pytest.raises(DossierLocked):
        await service.draft_to_delete(OWNER, p.dossier_id)
    edited = await service.jump(OWNER, p.dossier_id, "phone")
    assert edited.kind == "question" and edited.step_id == "phone"
    await service.answer(OWNER, p.dossier_id, "0987654321")
    again = await service.submit(OWNER, p.dossier_id)
    assert again.reference == first.reference  # the reference stays
    async with database.session() as s:
        history = (await s.scalars(select(DossierStatusHistory).order_by(DossierStatusHistory.id))).all()
    assert [(h.from_status, h.to_status) for h in history][-1] == ("returned", "resubmitted")
    assert again.resubmitted
    with pytest.raises(TransitionNotAllowed):
        await service.submit(OWNER, p.dossier_id)
