"""Answer parsing: Vietnamese phone numbers, tax codes, dates, quantities with units, text lengths."""

from __future__ import annotations

from datetime import date

import pytest

from dossier.form import default_form
from dossier.steps import validate_typed
from dossier.validators import (
    Invalid,
    Valid,
    parse_date,
    parse_phone,
    parse_quantity,
    parse_tax_code,
)

TODAY = date(2026, 3, 2)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("0912345678", "0912345678"),
        ("0912 345 678", "0912345678"),
        ("0912.345.678", "0912345678"),
        ("091-234-5678", "0912345678"),
        ("+84912345678", "0912345678"),
        ("+84 912 345 678", "0912345678"),
        ("(+84) 912.345.678", "0912345678"),
        ("84912345678", "0912345678"),
        ("0084912345678", "0912345678"),
        ("0389999999", "0389999999"),
        ("024 3825 1234", "02438251234"),  # Hà Nội landline: 11 digits
    ],
)
def test_phone_numbers_are_normalised(typed: str, expected: str) -> None:
    assert parse_phone(typed) == expected


@pytest.mark.parametrize(
    "typed", ["091234567", "09123456789", "1912345678", "0112345678", "abc", "", "+1 912345678"]
)
def test_bad_phone_numbers_are_refused(typed: str) -> None:
    assert parse_phone(typed) is None


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("0101234567", "0101234567"),
        ("0101234567-001", "0101234567-001"),
        ("0101 234 567", "0101234567"),
        ("001089012345", "001089012345"),  # 12-digit personal id used by household businesses
    ],
)
def test_tax_codes(typed: str, expected: str) -> None:
    assert parse_tax_code(typed) == expected


@pytest.mark.parametrize(
    "typed", ["010123456", "01012345678", "0101234567-01", "0101234567-0011", "MST0101234567"]
)
def test_bad_tax_codes(typed: str) -> None:
    assert parse_tax_code(typed) is None


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("15/03/2024", date(2024, 3, 15)),
        ("5/3/2024", date(2024, 3, 5)),
        ("15-03-2024", date(2024, 3, 15)),
        ("15.03.2024", date(2024, 3, 15)),
        ("29/02/2024", date(2024, 2, 29)),
        ("15.3.23", date(2023, 3, 15)),
        ("15-3-2023", date(2023, 3, 15)),
        ("15/03/24", date(2024, 3, 15)),
        ("1.1.98", date(1998, 1, 1)),  # a two-digit year after this one is the last century's
    ],
)
def test_dates(typed: str, expected: date) -> None:
    assert parse_date(typed, date(2026, 11, 30)) == expected


@pytest.mark.parametrize(
    ("typed", "stored", "printed"),
    [
        ("khoang 20 tan", {"value": 20, "unit": "tấn"}, "20 tấn"),
        ("5000 chiec", {"value": 5000, "unit": "chiếc"}, "5.000 chiếc"),
        ("500 kg/ngay", {"value": 500, "unit": "kg/ngày"}, "500 kg/ngày"),
        ("3.000 chai", {"value": 3000, "unit": "chai"}, "3.000 chai"),
        ("2 tan", {"value": 2, "unit": "tấn"}, "2 tấn"),
        ("12 Người", {"value": 12, "unit": "Người"}, "12 Người"),  # typed with diacritics: kept
    ],
)
def test_quantities_are_stored_as_printed(typed: str, stored: dict[str, object], printed: str) -> None:
    from dossier.engine import DossierEngine

    form = default_form()
    step = form.step("yearly_output")
    assert validate_typed(form, step, typed, TODAY) == Valid(stored)
    assert DossierEngine(form).display(step, stored) == printed


@pytest.mark.parametrize(
    "typed", ["31/02/2024", "29/02/2023", "32/01/2024", "15/13/2024", "2024-03-15", "15/3/2024x", "15/03/224"]
)
def test_impossible_or_malformed_dates(typed: str) -> None:
    assert parse_date(typed) is None


@pytest.mark.parametrize(
    ("typed", "value", "unit"),
    [
        ("1.500 kg", 1500, "kg"),
        ("2,5 tấn", 2.5, "tấn"),
        ("1500kg", 1500, "kg"),
        ("1.500.000 chai", 1_500_000, "chai"),
        ("1.500,5 kg", 1500.5, "kg"),
        ("12.5 tạ", 12.5, "tạ"),
        ("khoảng 3.000 hộp/năm", 3000, "hộp/năm"),
    ],
)
def test_quantities_with_units(typed: str, value: float, unit: str) -> None:
    assert parse_quantity(typed) == (value, unit)


@pytest.mark.parametrize("typed", ["0 kg", "-5 kg", "kg", "nhiều lắm"])
def test_non_positive_or_missing_quantities(typed: str) -> None:
    assert parse_quantity(typed) is None


def test_number_step_needs_a_unit_and_stores_value_and_unit() -> None:
    form = default_form()
    step = form.step("yearly_output")
    assert validate_typed(form, step, "1.500 kg", TODAY) == Valid({"value": 1500, "unit": "kg"})
    assert validate_typed(form, step, "2,5 tấn", TODAY) == Valid({"value": 2.5, "unit": "tấn"})
    missing_unit = validate_typed(form, step, "1500", TODAY)
    assert missing_unit == Invalid(form.messages["unit_missing"])
    assert validate_typed(form, step, "không biết", TODAY) == Invalid(form.messages["number_invalid"])


def test_phone_step_message_comes_from_the_form() -> None:
    form = default_form()
    result = validate_typed(form, form.step("phone"), "12345", TODAY)
    assert isinstance(result, Invalid)
    assert result.message == "Số điện thoại cần 10 chữ số, ví dụ 0912345678 (hoặc +84912345678)."
    assert validate_typed(form, form.step("phone"), "+84 912 345 678", TODAY) == Valid("0912345678")


def test_date_rules_today_and_minimum() -> None:
    form = default_form()
    step = form.step("cert_date")
    assert validate_typed(form, step, "02/03/2026", TODAY) == Valid("2026-03-02")
    future = validate_typed(form, step, "03/03/2026", TODAY)
    assert isinstance(future, Invalid) and "tương lai" in future.message
    early = validate_typed(form, step, "01/03/2023", TODAY)  # the certificate expired (36 months)
    assert isinstance(early, Invalid) and "36 tháng" in early.message and "02/03/2023" in early.message
    assert validate_typed(form, step, "02/03/2023", TODAY) == Valid("2023-03-02")
    impossible = validate_typed(form, step, "31/02/2024", TODAY)
    assert impossible == Invalid(form.messages["date_invalid"])


def test_text_lengths_default_and_long_text() -> None:
    form = default_form()
    story = form.step("story")  # long_text without its own max: 3000
    assert isinstance(validate_typed(form, story, "a" * 3000, TODAY), Valid)
    refused = validate_typed(form, story, "a" * 5000, TODAY)
    assert isinstance(refused, Invalid)
    assert "5000" in refused.message and "3000" in refused.message
    address = form.step("address")  # text with max_length 300
    too_long = validate_typed(form, address, "x" * 5000, TODAY)
    assert isinstance(too_long, Invalid) and "300" in too_long.message
    title = form.step("representative_title")
    assert isinstance(validate_typed(form, title, "Giám đốc", TODAY), Valid)


def test_text_default_limit_is_1000(monkeypatch: pytest.MonkeyPatch) -> None:
    form = default_form()
    cert = form.step("food_safety_no")  # its own rule says 100
    assert isinstance(validate_typed(form, cert, "x" * 101, TODAY), Invalid)
    plain = form.step("cert_number").__class__(**{**form.step("cert_number").__dict__, "rules": ()})
    assert isinstance(validate_typed(form, plain, "x" * 1000, TODAY), Valid)
    refused = validate_typed(form, plain, "x" * 1001, TODAY)
    assert isinstance(refused, Invalid) and "1000" in refused.message


def test_minimum_length_and_pattern_rules() -> None:
    form = default_form()
    rep = form.step("representative")
    short = validate_typed(form, rep, "An", TODAY)
    assert isinstance(short, Invalid) and "Nguyễn Văn An" in short.message
    digits = validate_typed(form, rep, "Nguyễn Văn 3", TODAY)
    assert isinstance(digits, Invalid) and "chữ số" in digits.message
    email = form.step("email")
    assert isinstance(validate_typed(form, email, "htx@gmail.com", TODAY), Valid)
    assert isinstance(validate_typed(form, email, "htx at gmail", TODAY), Invalid)


def test_emoji_and_html_are_stored_as_typed() -> None:
    form = default_form()
    step = form.step("product_name")
    typed = "Trứng gà 🥚 <b>sạch</b> & ngon"
    assert validate_typed(form, step, f"  {typed}  ", TODAY) == Valid(typed)


def test_decomposed_vietnamese_is_stored_composed() -> None:
    form = default_form()
    decomposed = "Nguye\u0302\u0303n Va\u0306n An"
    result = validate_typed(form, form.step("representative"), decomposed, TODAY)
    assert result == Valid("Nguyễn Văn An")


def test_empty_answer_is_required_message() -> None:
    form = default_form()
    assert validate_typed(form, form.step("phone"), "   ", TODAY) == Invalid(form.messages["required"])
