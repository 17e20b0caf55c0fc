"""Imports every module that defines tables, so Base.metadata knows them all (Alembic, tests)."""

import storage.models  # noqa: F401
