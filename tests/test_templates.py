"""Static checks of the message templates: whitespace control never glues two lines together."""

from __future__ import annotations

import re

from common.render import TEMPLATES_DIR


def test_no_inline_block_tag_eats_the_line_break() -> None:
    """With trim_blocks, a newline after a block tag is removed: a line with text that ends in
    `{% endif %}` would be glued to the next line ("…OCOP-2026-0001In ra"). Such tags end in `+%}`."""
    offenders = []
    for path in sorted(TEMPLATES_DIR.rglob("*.html")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if re.search(r"[^+]%\}$", line) and re.sub(r"\{%.*?%\}|\{#.*?#\}", "", line).strip():
                offenders.append(f"{path.relative_to(TEMPLATES_DIR)}:{number}: {line}")
    assert not offenders, "\n".join(offenders)
