"""Reference codes of submitted dossiers: OCOP-<year>-<n>, numbered per year without gaps or repeats."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from dossier.models import Dossier, ReferenceSequence

REFERENCE_FORMAT = "OCOP-{year}-{number:04d}"


async def next_reference(s: AsyncSession, year: int) -> str:
    """The next reference of the year, allocated in the caller's transaction."""
    return REFERENCE_FORMAT.format(year=year, number=await next_number(s, year))


async def next_number(s: AsyncSession, year: int) -> int:
    """The next number of the year's sequence: one atomic UPDATE … RETURNING (row-locked), the
    year's row created on first use (a racing creator loses on the primary key and retries)."""
    for _ in range(5):
        result = await s.execute(
            update(ReferenceSequence)
            .where(ReferenceSequence.year == year)
            .values(last=ReferenceSequence.last + 1)
            .returning(ReferenceSequence.last)
            .execution_options(synchronize_session=False)
        )
        number = result.scalar_one_or_none()
        if number is not None:
            return int(number)
        try:
            async with s.begin_nested():
                # Start after any reference already issued that year (e.g. data imported by hand).
                prefix = REFERENCE_FORMAT.format(year=year, number=0)[:-4]
                existing = await s.scalar(
                    select(func.count()).select_from(Dossier).where(Dossier.reference.like(f"{prefix}%"))
                )
                s.add(ReferenceSequence(year=year, last=int(existing or 0) + 1))
                await s.flush()
            return int(existing or 0) + 1
        except IntegrityError:
            continue
    raise RuntimeError(f"could not allocate a reference number for {year}")
