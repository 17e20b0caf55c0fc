"""The migrations build exactly the tables the models describe: after `upgrade head`, Alembic's
autogenerate finds nothing to add, drop or change (a missed column or index in a migration fails here,
on SQLite and on PostgreSQL)."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import storage.all_models  # noqa: F401  (registers every table)
from storage.db import Base, Database


def _diff(connection: Any) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return [
        d
        for d in compare_metadata(context, Base.metadata)
        # SQLite and PostgreSQL report server defaults and JSON/variant types differently; the shape
        # of the schema (tables, columns, nullability, indexes, keys) is what must match.
        if not (isinstance(d, list) and d and d[0][0] in {"modify_default", "modify_type"})
    ]


async def test_migrated_schema_matches_the_models(database: Database) -> None:
    async with database.engine.connect() as conn:
        diff = await conn.run_sync(_diff)
    assert diff == []
