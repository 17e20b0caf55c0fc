"""The phrase groups the matcher rewrites questions and samples with: synonyms from
`data/synonyms.yaml`, and place names tagged with the current unit they belong to."""

from __future__ import annotations

from pathlib import Path

import yaml

from knowledge.communes import DISTRICT_NAMES, CommuneDirectory
from knowledge.kb import DATA_DIR
from knowledge.normalize import fold_text

SYNONYMS_FILE = DATA_DIR / "synonyms.yaml"
PLACE_TAG_PREFIX = "dv"  # "dvxuanmai": a place of the current unit Xuân Mai (never a typed word)
UNTAGGED_PLACES = DISTRICT_NAMES  # folded: left untagged, "Chương Mỹ" is everywhere


def load_synonyms(path: Path = SYNONYMS_FILE) -> list[list[str]]:
    """Synonym groups from the data file; the first phrase of a group is the canonical one."""
    if not path.exists():
        return []
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    groups = data.get("synonyms") or []
    return [[str(p) for p in group] for group in groups if isinstance(group, list)]


def place_phrases(directory: CommuneDirectory | None = None) -> list[list[str]]:
    """Synonym groups that tag each place name with the current unit(s) it belongs to.

    "Nam Phương Tiến" becomes "Nam Phương Tiến dvxuanmai" in questions and samples alike, so a question
    naming one old commune meets the samples that name another commune of the same unit (and the old
    name stops looking like the unrelated words it shares, such as "phương" and "phường"). The names of
    the old district itself are left alone: "Chương Mỹ" is everywhere.
    """
    directory = directory or CommuneDirectory.load()
    groups: list[list[str]] = []
    for name, units in directory.unit_names():
        if fold_text(name) in UNTAGGED_PLACES:
            continue
        tags = " ".join(PLACE_TAG_PREFIX + fold_text(unit).replace(" ", "") for unit in units)
        groups.append([f"{name} {tags}", name])
    return groups
