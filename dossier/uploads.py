"""Files producers send for a dossier: which types and sizes are accepted, keeping a local copy
(downloaded through the bot after the answer is committed), removing a copy no longer needed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from dossier.schema import Form

log = logging.getLogger(__name__)

ALLOWED_MIME = {
    "application/pdf": "document",
    "image/jpeg": "photo",
    "image/jpg": "photo",
    "image/png": "photo",
}
EXTENSION_MIME = {".pdf": "application/pdf", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}
# Downloads a Telegram file to a local path (wired by bot.py to Bot.get_file(...).download_to_drive).
FileDownloader = Callable[[str, Path], Awaitable[None]]


@dataclass(frozen=True)
class Upload:
    """A file the user sent, as the handler reads it from the message (no Telegram types)."""

    file_id: str
    file_unique_id: str
    file_name: str | None = None
    mime: str | None = None  # a compressed Telegram photo: pass "image/jpeg"
    size: int | None = None


def file_kind(form: Form, upload: Upload, max_upload_mb: float) -> tuple[str | None, str | None]:
    """(kind, error): kind 'photo'/'document' from the MIME type or file extension."""
    mime = (upload.mime or "").lower().strip()
    if mime not in ALLOWED_MIME and upload.file_name:
        mime = EXTENSION_MIME.get(Path(upload.file_name).suffix.lower(), mime)
    kind = ALLOWED_MIME.get(mime)
    if kind is None:
        return None, form.message("file_type")
    if upload.size is not None and upload.size > max_upload_mb * 1024 * 1024:
        return None, form.message("file_too_large", max=_format_mb(max_upload_mb))
    return kind, None


def local_path(storage_dir: str, dossier_id: int, attachment_id: int, mime: str | None) -> Path:
    """Where the copy of an attachment is kept."""
    ext = {"application/pdf": ".pdf", "image/png": ".png"}.get((mime or "").lower(), ".jpg")
    return Path(storage_dir) / "dossiers" / str(dossier_id) / f"{attachment_id}{ext}"


async def download(downloader: FileDownloader, file_id: str, path: Path) -> bool:
    """Keep a local copy; a failure is only logged (the answer is already stored)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        await downloader(file_id, path)
    except Exception:
        log.exception("could not download %s to %s", file_id, path)
        return False
    return True


def _format_mb(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value).replace(".", ",")


def remove_file(path: str | None) -> None:
    if not path:
        return
    try:
        Path(path).unlink(missing_ok=True)
    except OSError:
        log.warning("could not remove %s", path)
