"""The commune directory: old communes to today's units, tolerant name matching."""

import pytest

from knowledge.communes import CommuneDirectory


@pytest.fixture(scope="module")
def directory() -> CommuneDirectory:
    return CommuneDirectory.load()


@pytest.mark.parametrize(
    ("text", "old_name", "new_unit"),
    [
        ("Phụng Châu", "Phụng Châu", "Chương Mỹ"),
        ("xã Phụng Châu", "Phụng Châu", "Chương Mỹ"),
        ("xa phung chau", "Phụng Châu", "Chương Mỹ"),
        ("thi tran chuc son", "Chúc Sơn", "Chương Mỹ"),
        ("TT Chúc Sơn", "Chúc Sơn", "Chương Mỹ"),
        ("Đông Phương Yên", "Đông Phương Yên", "Phú Nghĩa"),
        ("dong phuong yen", "Đông Phương Yên", "Phú Nghĩa"),
        ("Thuỷ Xuân Tiên", "Thủy Xuân Tiên", "Xuân Mai"),  # old-style tone mark
        ("thuy xuan tienn", "Thủy Xuân Tiên", "Xuân Mai"),  # typo
        ("Nam Phuong Tien", "Nam Phương Tiến", "Xuân Mai"),
        ("hoàng văn thụ", "Hoàng Văn Thụ", "Trần Phú"),
        ("nhà em ở xã Văn Võ cũ", "Văn Võ", "Hòa Phú"),  # name inside a sentence
    ],
)
def test_old_commune_maps_to_new_unit(
    directory: CommuneDirectory, text: str, old_name: str, new_unit: str
) -> None:
    match = directory.resolve(text)
    assert match is not None, text
    assert match.old_name == old_name
    assert match.new_unit == new_unit
    assert not match.is_current


def test_old_town_and_current_commune_with_the_same_name(directory: CommuneDirectory) -> None:
    town = directory.resolve("thị trấn Xuân Mai")
    assert town is not None and town.kind == "thị trấn" and not town.is_current
    assert town.new_unit == "Xuân Mai" and town.new_unit_label == "xã Xuân Mai"
    commune = directory.resolve("xã Xuân Mai")
    assert commune is not None and commune.is_current and commune.kind == "xã"


def test_current_unit_is_recognised(directory: CommuneDirectory) -> None:
    ward = directory.resolve("phường Chương Mỹ")
    assert ward is not None and ward.is_current and ward.new_unit_label == "phường Chương Mỹ"
    assert not ward.provisional  # confirmed (2026-11-30): 38.90 km², Biên Giang and part of Đồng Mai
    assert directory.resolve("xa tran phu").is_current  # type: ignore[union-attr]


def test_split_and_unknown_units(directory: CommuneDirectory) -> None:
    split = directory.resolve("Tân Tiến")
    assert split is not None and split.partial and split.new_unit == "Xuân Mai" and "Trần Phú" in split.also
    lam_dien = directory.resolve("xã Lam Điền")
    assert lam_dien is not None and lam_dien.new_unit == "Quảng Bị" and lam_dien.also == ("Bình Minh",)
    assert lam_dien.note


def test_an_unknown_new_unit_stays_unknown(tmp_path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "current_units:\n  - {name: 'Mới', kind: 'xã', sources: [S1]}\n"
        "old_units:\n  - {name: 'Lạ', kind: 'xã', new_unit: null, note: 'Chưa rõ.', sources: [S1]}\n",
        "utf-8",
    )
    unknown = CommuneDirectory.load(path).resolve("xã Lạ")
    assert unknown is not None and unknown.new_unit is None and unknown.new_unit_label is None


def test_outside_parts_and_no_match(directory: CommuneDirectory) -> None:
    part = directory.resolve("xã Kim Thư")
    assert part is not None and part.new_unit == "Hòa Phú" and part.district == "Thanh Oai" and part.partial
    assert directory.resolve("quận Hoàn Kiếm") is None
    assert directory.resolve("") is None
    assert directory.resolve("xã") is None


def test_current_units(directory: CommuneDirectory) -> None:
    units = directory.current_units()
    assert [u.name for u in units][:2] == ["Chương Mỹ", "Phú Nghĩa"]
    assert len(units) == 6
    assert units[0].label == "phường Chương Mỹ"


def test_load_from_custom_file(tmp_path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "current_units:\n  - {name: 'Mới', kind: 'xã', provisional: false, sources: [S1]}\n"
        "old_units:\n  - {name: 'Cũ', kind: 'xã', new_unit: 'Mới', partial: false, provisional: false,"
        " sources: [S1]}\n",
        "utf-8",
    )
    directory = CommuneDirectory.load(path)
    match = directory.resolve("xa cu")
    assert match is not None and match.new_unit_label == "xã Mới"
