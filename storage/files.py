"""Where uploads are kept: a small FileStore interface and a local-directory implementation.

Several instances behind a load balancer must read what any of them saved, so the directory
(STORAGE_DIR) may be a shared mount (NFS, a Docker volume, …). Keys are relative, slash-separated
paths such as `dossiers/12/3.jpg`; a key cannot leave the root. A save writes a temporary file in the
target directory and renames it into place, so a reader on another instance sees the whole file or
none of it, never half of it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Protocol


class BadKey(ValueError):
    """A key that is empty, absolute, or climbs out of the store's root."""


class FileStore(Protocol):
    """Bytes kept under a key, readable by every instance of the bot."""

    def save(self, key: str, content: bytes) -> None:
        """Store `content` under `key`, replacing what was there."""
        ...

    def open(self, key: str) -> BinaryIO:
        """The content under `key` for reading (FileNotFoundError when there is none)."""
        ...

    def path(self, key: str) -> Path:
        """A local path to the content under `key` (for libraries that want a file name)."""
        ...

    def exists(self, key: str) -> bool:
        """Whether something is stored under `key`."""
        ...

    def delete(self, key: str) -> None:
        """Remove what is under `key`, if anything."""
        ...


def check_key(key: str) -> PurePosixPath:
    """The key as a relative path inside the root, or BadKey."""
    if not key or "\\" in key or "\x00" in key:
        raise BadKey(f"bad storage key {key!r}")
    path = PurePosixPath(key)
    if path.is_absolute() or any(part in {"", ".", ".."} for part in key.split("/")):
        raise BadKey(f"bad storage key {key!r}")
    return path


class LocalFileStore:
    """A FileStore in a directory (STORAGE_DIR), which may be shared between machines."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()

    def path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).parts)

    def save(self, key: str, content: bytes) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(content)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def open(self, key: str) -> BinaryIO:
        return self.path(key).open("rb")

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)
