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
    compressed_photo: bool = False  # Telegram re-encoded it as a photo: its bytes need no check


def file_kind(form: Form, upload: Upload, max_upload_mb: float) -> tuple[str | None, str | None]:
    """(kind, error): kind 'photo'/'document' from the MIME type or file extension."""
    mime = (upload.mime or "").lower().strip()
    if mime not in ALLOWED_MIME and upload.file_name:
        mime = EXTENSION_MIME.get(Path(upload.file_name).suffix.lower(), mime)
    kind = ALLOWED_MIME.get(mime)
    if kind is None:
        return None, form.message("file_type")
    if upload.size == 0:
        return None, form.message("file_empty")
    if upload.size is not None and upload.size > max_upload_mb * 1024 * 1024:
        return None, form.message("file_too_large", max=_format_mb(max_upload_mb))
    return kind, None


PDF_MAGIC = b"%PDF-"
HEADER_BYTES = 1024  # a PDF's "%PDF-" may follow a little junk, within the first kilobyte


def content_error(form: Form, path: Path, mime: str | None, file_name: str | None) -> str | None:
    """None when the downloaded file is what it claims: a PDF starts with %PDF-, an image opens with
    Pillow; an empty file is refused. Otherwise the message to show."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(HEADER_BYTES)
    except OSError:
        return None  # not readable here: the file was accepted by Telegram, do not block the producer
    if size == 0:
        return form.message("file_empty")
    claimed = (mime or "").lower()
    if claimed not in ALLOWED_MIME and file_name:
        claimed = EXTENSION_MIME.get(Path(file_name).suffix.lower(), claimed)
    if claimed == "application/pdf":
        return None if PDF_MAGIC in head else form.message("file_not_pdf")
    try:
        from PIL import Image

        with Image.open(path) as image:
            image.verify()
    except Exception:
        return form.message("image_unreadable")
    return None


def attachment_key(dossier_id: int, attachment_id: int, mime: str | None) -> str:
    """The file store's key of an attachment's copy (`dossiers/<dossier>/<attachment>.<ext>`)."""
    ext = {"application/pdf": ".pdf", "image/png": ".png"}.get((mime or "").lower(), ".jpg")
    return f"dossiers/{dossier_id}/{attachment_id}{ext}"


async def download(downloader: FileDownloader, file_id: str, path: Path) -> bool:
    """Keep a local copy; a failure is only logged (the answer is already stored)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        await downloader(file_id, path)
    except Exception:
        log.exception("could not download %s to %s", file_id, path)
        return False
    return True


def move_into(source: Path, target: Path) -> bool:
    """Move a checked download to where the attachment's copy is kept; on failure drop it."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        source.replace(target)
    except OSError:
        log.warning("could not move %s to %s", source, target)
        remove_file(str(source))
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
