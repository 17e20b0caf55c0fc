"""The answers a dossier also keeps as columns, for filtering in SQL: today's commune/ward and the
product set (QĐ 26/2026). One place reads them out of the answers, for the service and the migration."""

from __future__ import annotations

from typing import Any

COMMUNE_STEP = "commune"
PRODUCT_SET_STEP = "product_group"


def commune_of(answers: dict[str, Any]) -> str | None:
    """Today's unit name the producer chose (None while unknown)."""
    value = answers.get(COMMUNE_STEP)
    if isinstance(value, dict) and value.get("unit"):
        return str(value["unit"])[:64]
    return None


def product_set_of(answers: dict[str, Any]) -> str | None:
    """The product set's id (the sub-group of the group step), else the group's id."""
    value = answers.get(PRODUCT_SET_STEP)
    if isinstance(value, dict):
        chosen = value.get("sub") or value.get("group")
        return str(chosen)[:32] if chosen else None
    return None
