"""The upload store: what one instance saves, another (same directory) reads; keys stay inside."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.files import BadKey, FileStore, LocalFileStore


def test_what_one_instance_saves_another_reads(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    writer: FileStore = LocalFileStore(shared)
    reader: FileStore = LocalFileStore(shared)
    writer.save("dossiers/12/3.jpg", b"\xff\xd8photo")
    assert reader.exists("dossiers/12/3.jpg")
    with reader.open("dossiers/12/3.jpg") as f:
        assert f.read() == b"\xff\xd8photo"
    assert reader.path("dossiers/12/3.jpg") == (shared / "dossiers" / "12" / "3.jpg").resolve()
    writer.save("dossiers/12/3.jpg", b"replaced")
    assert reader.path("dossiers/12/3.jpg").read_bytes() == b"replaced"
    assert sorted(p.name for p in (shared / "dossiers" / "12").iterdir()) == ["3.jpg"]  # no temp files
    writer.delete("dossiers/12/3.jpg")
    assert not reader.exists("dossiers/12/3.jpg")
    writer.delete("dossiers/12/3.jpg")  # deleting nothing is fine


def test_missing_key_is_file_not_found(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path)
    assert not store.exists("nothing.pdf")
    with pytest.raises(FileNotFoundError):
        store.open("nothing.pdf")


@pytest.mark.parametrize(
    "key", ["", "/etc/passwd", "../outside", "a/../../b", "a//b", "./a", "a\\..\\b", "a\x00b"]
)
def test_keys_cannot_leave_the_root(tmp_path: Path, key: str) -> None:
    store = LocalFileStore(tmp_path / "root")
    with pytest.raises(BadKey):
        store.save(key, b"x")
    assert not (tmp_path / "outside").exists()


def test_a_failed_write_leaves_neither_file_nor_temporary(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path)
    with pytest.raises(TypeError):
        store.save("a/b.bin", "not bytes")  # type: ignore[arg-type]
    assert not store.exists("a/b.bin")
    assert list((tmp_path / "a").iterdir()) == []
