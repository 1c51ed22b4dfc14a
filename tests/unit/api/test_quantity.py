"""resource.Quantity: tables ported from upstream apimachinery quantity_test.go (facts, not code)."""

from __future__ import annotations

import math
import random
from fractions import Fraction

import pytest

from pybernetes.api.quantity import (
    BINARY_SI,
    DECIMAL_EXPONENT,
    DECIMAL_SI,
    ERR_FORMAT_WRONG,
    ERR_NUMERIC,
    ERR_SUFFIX,
    Quantity,
    canonical,
    parse_quantity,
    parse_quantity_json,
)

MAX = 2**63 - 1


def dec(n, e, fmt=DECIMAL_SI):
    return Quantity(n, e, fmt)


def exact(q: Quantity) -> Fraction:
    return Fraction(q.scaled_value(-30), 10**30)


# (input, expected value as n×10^e, expected format) — TestQuantityParse
PARSE = [
    ("0", dec(0, 0), DECIMAL_SI),
    ("0n", dec(0, 0), DECIMAL_SI),
    ("0u", dec(0, 0), DECIMAL_SI),
    ("0m", dec(0, 0), DECIMAL_SI),
    ("0Ki", dec(0, 0), BINARY_SI),
    ("0k", dec(0, 0), DECIMAL_SI),
    ("0Mi", dec(0, 0), BINARY_SI),
    ("0M", dec(0, 0), DECIMAL_SI),
    ("0Gi", dec(0, 0), BINARY_SI),
    ("0G", dec(0, 0), DECIMAL_SI),
    ("0Ti", dec(0, 0), BINARY_SI),
    ("0T", dec(0, 0), DECIMAL_SI),
    ("1", dec(1, 0), DECIMAL_SI),
    ("1Ki", dec(1024, 0), BINARY_SI),
    ("8Ki", dec(8 * 1024, 0), BINARY_SI),
    ("7Mi", dec(7 * 1024**2, 0), BINARY_SI),
    ("6Gi", dec(6 * 1024**3, 0), BINARY_SI),
    ("5Ti", dec(5 * 1024**4, 0), BINARY_SI),
    ("4Pi", dec(4 * 1024**5, 0), BINARY_SI),
    ("3Ei", dec(3 * 1024**6, 0), BINARY_SI),
    ("10Ti", dec(10 * 1024**4, 0), BINARY_SI),
    ("100Ti", dec(100 * 1024**4, 0), BINARY_SI),
    ("5n", dec(5, -9), DECIMAL_SI),
    ("4u", dec(4, -6), DECIMAL_SI),
    ("3m", dec(3, -3), DECIMAL_SI),
    ("9", dec(9, 0), DECIMAL_SI),
    ("8k", dec(8, 3), DECIMAL_SI),
    ("50k", dec(5, 4), DECIMAL_SI),
    ("7M", dec(7, 6), DECIMAL_SI),
    ("6G", dec(6, 9), DECIMAL_SI),
    ("5T", dec(5, 12), DECIMAL_SI),
    ("40T", dec(4, 13), DECIMAL_SI),
    ("300T", dec(3, 14), DECIMAL_SI),
    ("2P", dec(2, 15), DECIMAL_SI),
    ("1E", dec(1, 18), DECIMAL_SI),
    ("1E-3", dec(1, -3), DECIMAL_EXPONENT),
    ("1e3", dec(1, 3), DECIMAL_EXPONENT),
    ("1E6", dec(1, 6), DECIMAL_EXPONENT),
    ("1e9", dec(1, 9), DECIMAL_EXPONENT),
    ("1E12", dec(1, 12), DECIMAL_EXPONENT),
    ("1e15", dec(1, 15), DECIMAL_EXPONENT),
    ("1E18", dec(1, 18), DECIMAL_EXPONENT),
    ("1e14", dec(1, 14), DECIMAL_EXPONENT),
    ("1e13", dec(1, 13), DECIMAL_EXPONENT),
    ("100.035k", dec(100035, 0), DECIMAL_SI),
    ("0.001", dec(1, -3), DECIMAL_SI),
    ("0.0005k", dec(5, -1), DECIMAL_SI),
    ("0.005", dec(5, -3), DECIMAL_SI),
    ("0.05", dec(5, -2), DECIMAL_SI),
    ("0.5", dec(5, -1), DECIMAL_SI),
    ("0.00050k", dec(5, -1), DECIMAL_SI),
    ("0.00500", dec(5, -3), DECIMAL_SI),
    ("0.05000", dec(5, -2), DECIMAL_SI),
    ("0.50000", dec(5, -1), DECIMAL_SI),
    ("0.5e0", dec(5, -1), DECIMAL_EXPONENT),
    ("0.5e-1", dec(5, -2), DECIMAL_EXPONENT),
    ("0.5e-2", dec(5, -3), DECIMAL_EXPONENT),
    ("10.035M", dec(10035, 3), DECIMAL_SI),
    ("1.2e3", dec(12, 2), DECIMAL_EXPONENT),
    ("1.3E+6", dec(13, 5), DECIMAL_EXPONENT),
    ("1.40e9", dec(14, 8), DECIMAL_EXPONENT),
    ("1.53E12", dec(153, 10), DECIMAL_EXPONENT),
    ("1.6e15", dec(16, 14), DECIMAL_EXPONENT),
    ("1.7E18", dec(17, 17), DECIMAL_EXPONENT),
    ("9.01", dec(901, -2), DECIMAL_SI),
    ("8.1k", dec(81, 2), DECIMAL_SI),
    ("7.123456M", dec(7123456, 0), DECIMAL_SI),
    ("6.987654321G", dec(6987654321, 0), DECIMAL_SI),
    ("5.444T", dec(5444, 9), DECIMAL_SI),
    ("40.1T", dec(401, 11), DECIMAL_SI),
    ("300.2T", dec(3002, 11), DECIMAL_SI),
    ("2.5P", dec(25, 14), DECIMAL_SI),
    ("1.01E", dec(101, 16), DECIMAL_SI),
    ("3.001n", dec(4, -9), DECIMAL_SI),
    ("1.1E-9", dec(2, -9), DECIMAL_EXPONENT),
    ("0.0000000001", dec(1, -9), DECIMAL_SI),
    ("0.0000000005", dec(1, -9), DECIMAL_SI),
    ("0.00000000050", dec(1, -9), DECIMAL_SI),
    ("0.5e-9", dec(1, -9), DECIMAL_EXPONENT),
    ("0.9n", dec(1, -9), DECIMAL_SI),
    ("0.00000012345", dec(124, -9), DECIMAL_SI),
    ("0.00000012354", dec(124, -9), DECIMAL_SI),
    ("9Ei", dec(MAX, 0), BINARY_SI),
    ("9223372036854775807Ki", dec(MAX, 0), BINARY_SI),
    ("12E", dec(12, 18), DECIMAL_SI),
    ("100.035Ki", dec(10243584, -2), BINARY_SI),
    ("0.5Mi", dec(512 * 1024, 0), BINARY_SI),
    ("0.05Gi", dec(536870912, -1), BINARY_SI),
    ("0.025Ti", dec(274877906944, -1), BINARY_SI),
    ("0.000000000001Ki", dec(2, -9), DECIMAL_SI),
    (".001", dec(1, -3), DECIMAL_SI),
    (".0001k", dec(100, -3), DECIMAL_SI),
    ("1.", dec(1, 0), DECIMAL_SI),
    ("1.G", dec(1, 9), DECIMAL_SI),
]


@pytest.mark.parametrize(("text", "expected", "fmt"), PARSE)
@pytest.mark.parametrize("sign", ["", "+", "-"])
def test_parse(text, expected, fmt, sign):
    q = parse_quantity(sign + text)
    want = -expected if sign == "-" else expected
    assert q.cmp(want) == 0, (str(q), str(want))
    assert exact(q) == exact(want)
    assert q.format == fmt


@pytest.mark.parametrize(("text", "err"), [
    ("", ERR_FORMAT_WRONG),
    ("1.1.M", ERR_FORMAT_WRONG),
    ("1+1.0M", ERR_FORMAT_WRONG),
    ("0.1mi", ERR_SUFFIX),
    ("0.1am", ERR_FORMAT_WRONG),
    ("aoeu", ERR_FORMAT_WRONG),
    ("Non-Numeric", ERR_FORMAT_WRONG),
    (".5i", ERR_SUFFIX),
    ("1i", ERR_SUFFIX),
    ("-3.01i", ERR_SUFFIX),
    ("-3.01e-", ERR_SUFFIX),
    ("1K", ERR_SUFFIX),
    ("1ee3", ERR_SUFFIX),
    (" 1", ERR_FORMAT_WRONG),
    ("1 ", ERR_FORMAT_WRONG),
    ("1\n", ERR_FORMAT_WRONG),
    ("e-20", ERR_NUMERIC),   # the big-decimal path needs at least one digit
])
def test_parse_errors(text, err):
    with pytest.raises(ValueError) as info:
        parse_quantity(text)
    assert str(info.value) == err


def test_error_message_is_upstreams():
    assert ERR_FORMAT_WRONG == ("quantities must match the regular expression "
                                "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")


# (quantity, canonical string, an alternate spelling that canonicalises to it) — TestQuantityString
STRING = [
    (dec(1024**3, 0, BINARY_SI), "1Gi", "1024Mi"),
    (dec(300 * 1024**2, 0, BINARY_SI), "300Mi", "307200Ki"),
    (dec(6 * 1024, 0, BINARY_SI), "6Ki", ""),
    (dec(1001 * 1024**3, 0, BINARY_SI), "1001Gi", "1025024Mi"),
    (dec(1024**4, 0, BINARY_SI), "1Ti", "1024Gi"),
    (dec(5, 0, BINARY_SI), "5", "5000m"),
    (dec(500, -3, BINARY_SI), "500m", "0.5"),
    (dec(1, 9), "1G", "1000M"),
    (dec(1000, 6), "1G", "0.001T"),
    (dec(1000000, 3), "1G", ""),
    (dec(1000000000, 0), "1G", ""),
    (dec(1, -3), "1m", "1000u"),
    (dec(80, -3), "80m", ""),
    (dec(1080, -3), "1080m", "1.08"),
    (dec(108, -2), "1080m", "1080000000n"),
    (dec(10800, -4), "1080m", ""),
    (dec(300, 6), "300M", ""),
    (dec(1, 12), "1T", ""),
    (dec(1234567, 6), "1234567M", ""),
    (dec(1234567, -3, BINARY_SI), "1234567m", ""),
    (dec(3, 3), "3k", ""),
    (dec(1025, 0, BINARY_SI), "1025", ""),
    (dec(0, 0), "0", ""),
    (dec(0, 0, BINARY_SI), "0", ""),
    (dec(1, 9, DECIMAL_EXPONENT), "1e9", ".001e12"),
    (dec(1, -3, DECIMAL_EXPONENT), "1e-3", "0.001e0"),
    (dec(1, -9, DECIMAL_EXPONENT), "1e-9", "1000e-12"),
    (dec(80, -3, DECIMAL_EXPONENT), "80e-3", ""),
    (dec(300, 6, DECIMAL_EXPONENT), "300e6", ""),
    (dec(1, 12, DECIMAL_EXPONENT), "1e12", ""),
    (dec(1, 3, DECIMAL_EXPONENT), "1e3", ""),
    (dec(3, 3, DECIMAL_EXPONENT), "3e3", ""),
    (dec(3, 3), "3k", ""),
    (dec(0, 0, DECIMAL_EXPONENT), "0", "00"),
    (dec(1, -9), "1n", ""),
    (dec(80, -9), "80n", ""),
    (dec(1080, -9), "1080n", ""),
    (dec(108, -8), "1080n", ""),
    (dec(10800, -10), "1080n", ""),
    (dec(1, -6), "1u", ""),
    (dec(80, -6), "80u", ""),
    (dec(1080, -6), "1080u", ""),
]


@pytest.mark.parametrize(("q", "text", "alternate"), STRING)
def test_string(q, text, alternate):
    assert str(q) == text
    assert str(parse_quantity(text)) == text
    if alternate:
        assert str(parse_quantity(alternate)) == text
        assert canonical(alternate) == text
    if not q.is_zero():
        assert str(-q) == "-" + text     # never "-0"


@pytest.mark.parametrize(("text", "expected"), [
    ("1Ki", "1Ki"), ("1Mi", "1Mi"), ("1Gi", "1Gi"), ("1024Mi", "1Gi"), ("1000M", "1G"), (".001Ki", "1024m"),
    (".000001Ki", "1024u"), (".000000001Ki", "1024n"), (".000000000001Ki", "2n"),
])
def test_parse_emit(text, expected):
    assert str(parse_quantity(text)) == expected
    assert str(parse_quantity("-" + text)) == "-" + expected


@pytest.mark.parametrize(("text", "expected"), [
    # The brief's examples, and texts upstream keeps verbatim.
    ("0.5", "500m"), ("1000m", "1"), ("1536Mi", "1536Mi"), ("1.5Gi", "1536Mi"), ("100M", "100M"), ("1e3", "1e3"),
    ("100m", "100m"), ("+1", "+1"), ("01", "01"), ("100.035k", "100.035k"), ("1E-3", "1E-3"), ("01Gi", "01Gi"),
    ("1.5k", "1500"), ("0.1", "100m"), ("2000Mi", "2000Mi"), ("2048Mi", "2Gi"), ("1.0", "1"), ("10Gi", "10Gi"),
    ("0.0", "0"), ("-0", "0"), ("9Ei", "9223372036854775807"), ("1000E", "1"),  # no suffix above E: printed bare
])
def test_canonical(text, expected):
    assert canonical(text) == expected


def test_add_and_sub_with_zero_keep_the_suffix():
    zero = parse_quantity("0")
    for text in ("100m", "1Gi"):
        q = parse_quantity(text)
        assert str(q + zero) == text
        assert str(zero + q) == text
        assert str(q - zero) == text
        assert str(zero - q) == str(-q)


@pytest.mark.parametrize(("x", "y", "expected"), [
    ("0", "0", 0), ("100m", "50m", 1), ("50m", "100m", -1), ("10000T", "100Gi", 1), ("1Gi", "1024Mi", 0),
    ("1", "1000m", 0), ("0.5", "500m", 0), ("-1", "0", -1),
])
def test_cmp(x, y, expected):
    qx, qy = parse_quantity(x), parse_quantity(y)
    assert qx.cmp(qy) == expected
    assert qy.cmp(qx) == -expected
    assert (qx == qy) is (expected == 0)
    assert (qx < qy) is (expected < 0)
    assert (qx >= qy) is (expected >= 0)
    if expected == 0:
        assert hash(qx) == hash(qy)


@pytest.mark.parametrize(("a", "b", "cmp"), [
    (dec(901, -2), dec(901, -2), 0), (dec(90, -1), dec(901, -2), -1), (dec(901, -2), dec(900, -2), 1),
    (dec(0, 1), dec(0, -1), 0), (dec(800, -3), dec(1, 0), -1), (dec(800, -3), dec(79, -2), 1),
    (dec(MAX, 0), dec(1, -1), 1), (dec(MAX, 1), dec(1, 0), 1), (dec(MAX, -16), dec(1, 3), -1),
    (dec(-MAX - 1, -18), dec(-1, 0), -1), (dec(-MAX - 1, -19), dec(-1, 0), 1),
    (dec(10**18, -17), dec(1, 1), 0), (dec(10**18 + 1, -17), dec(1, 1), 1), (dec(10**18 - 1, -17), dec(1, 1), -1),
])
def test_cmp_across_scales(a, b, cmp):
    assert a.cmp(b) == cmp and b.cmp(a) == -cmp


def test_ints_compare_and_hash_like_quantities():
    assert parse_quantity("2") == 2 and parse_quantity("2000m") == 2 and parse_quantity("1") > 0
    assert hash(parse_quantity("2k")) == hash(2000)
    assert hash(parse_quantity("500m")) == hash(Fraction(1, 2))
    assert {parse_quantity("1Gi"): 1}[parse_quantity("1024Mi")] == 1


@pytest.mark.parametrize(("a", "b", "added", "subtracted", "fmt"), [
    (dec(10, 0), dec(1, 1), dec(20, 0), dec(0, 0), DECIMAL_SI),
    (dec(10, 0), dec(1, 0, BINARY_SI), dec(11, 0), dec(9, 0), DECIMAL_SI),
    (dec(10, 0, BINARY_SI), dec(1, 0), dec(11, 0), dec(9, 0), BINARY_SI),
    (dec(0, 0), dec(50, 0), dec(50, 0), dec(-50, 0), DECIMAL_SI),
    (dec(50, 0), dec(0, 0), dec(50, 0), dec(50, 0), DECIMAL_SI),
    (dec(0, 0), dec(0, 0), dec(0, 0), dec(0, 0), DECIMAL_SI),
    (dec(0, 0), dec(2, 0, BINARY_SI), dec(2, 0), dec(-2, 0), BINARY_SI),   # zero takes the other's format
])
def test_add_sub(a, b, added, subtracted, fmt):
    assert (a + b).cmp(added) == 0
    assert (a - b).cmp(subtracted) == 0
    assert (a + b).format == fmt


@pytest.mark.parametrize(("a", "factor", "expected"), [
    (dec(10, 0), 10, dec(100, 0)), (dec(10, 0), 1, dec(10, 0)), (dec(0, 0), 50, dec(0, 0)),
    (dec(50, 0), 0, dec(0, 0)), (dec(10, 0), -10, dec(-100, 0)), (dec(-50, 0), -50, dec(2500, 0)),
    (dec(MAX, 0), 2, dec(2 * MAX, 0)), (dec(MAX, 0), 10, dec(MAX, 1)), (dec(-MAX - 1, 0), -1, dec(MAX + 1, 0)),
])
def test_mul(a, factor, expected):
    assert (a * factor).cmp(expected) == 0
    assert (factor * a).cmp(expected) == 0
    assert (a * factor).format == a.format


def test_neg_does_not_mutate():
    q = dec(901, -2)
    assert str(-q) == "-9010m"
    assert str(q) == "9010m"
    neg = -q
    assert (-neg).cmp(q) == 0


def test_add_sub_round_trip_across_scales():
    rng = random.Random(7)
    q = Quantity.from_int(0)
    order = [rng.randrange(MAX) for _ in range(100)]
    for j in order:
        q = q + Quantity.from_scaled(j, j % 20 - 10)
    for j in order:
        q = q - Quantity.from_scaled(j, j % 20 - 10)
    assert q.is_zero() and str(q) == "0"


@pytest.mark.parametrize(("text", "scale", "expected", "ok"), [
    ("9.01", -3, dec(901, -2), True), ("9.01", -2, dec(901, -2), True), ("9.01", -1, dec(91, -1), False),
    ("9.01", 0, dec(10, 0), False), ("9.01", 1, dec(10, 0), False), ("9.01", 2, dec(100, 0), False),
    ("-9.01", -3, dec(-901, -2), True), ("-9.01", -1, dec(-91, -1), False), ("-9.01", 2, dec(-100, 0), False),
])
def test_round_up(text, scale, expected, ok):
    rounded, was_exact = parse_quantity(text).round_up(scale)
    assert rounded.cmp(expected) == 0 and was_exact is ok


@pytest.mark.parametrize(("value", "fmt", "text"), [
    (1, DECIMAL_SI, "1m"), (1000, DECIMAL_SI, "1"), (1234000, DECIMAL_SI, "1234"), (1024, BINARY_SI, "1024m"),
    (1000000, "invalidFormatDefaultsToExponent", "1e3"), (1024 * 1024, BINARY_SI, "1048576m"),
])
def test_from_milli(value, fmt, text):
    q = Quantity.from_milli(value, fmt)
    assert str(q) == text
    assert q.milli_value() == value


@pytest.mark.parametrize(("value", "fmt", "text"), [
    (1, DECIMAL_SI, "1"), (1000, DECIMAL_SI, "1k"), (1234000, DECIMAL_SI, "1234k"), (1024, BINARY_SI, "1Ki"),
    (1000000, "invalidFormatDefaultsToExponent", "1e6"), (1024 * 1024, BINARY_SI, "1Mi"),
])
def test_from_int(value, fmt, text):
    q = Quantity.from_int(value, fmt)
    assert str(q) == text
    assert parse_quantity(text).value() == value


@pytest.mark.parametrize(("value", "scale", "text"), [
    (1, -9, "1n"), (1000, -9, "1u"), (1, -6, "1u"), (1000, -6, "1m"), (1, -3, "1m"), (1000, -3, "1"), (1, 0, "1"),
    (0, -9, "0"), (0, -6, "0"), (0, -3, "0"), (0, 0, "0"),
])
def test_from_scaled(value, scale, text):
    q = Quantity.from_scaled(value, scale)
    assert str(q) == text
    assert parse_quantity(text).scaled_value(scale) == value


@pytest.mark.parametrize(("from_scale", "to_scale", "expected"), [
    (-9, -9, 1), (-9, -6, 1), (-9, -3, 1), (-9, 0, 1), (-6, -9, 1000), (-6, -6, 1), (-6, -3, 1), (-6, 0, 1),
    (-3, -9, 10**6), (-3, -6, 1000), (-3, -3, 1), (-3, 0, 1), (0, -9, 10**9), (0, -6, 10**6), (0, -3, 1000),
    (0, 0, 1), (2, -2, 10**4),
])
def test_scaled_value_rounds_up(from_scale, to_scale, expected):
    assert Quantity.from_scaled(1, from_scale).scaled_value(to_scale) == expected


@pytest.mark.parametrize(("text", "value", "milli"), [
    ("1.5", 2, 1500), ("100m", 1, 100), ("0.1m", 1, 1), ("1Gi", 1024**3, 1024**3 * 1000), ("-1.5", -2, -1500),
    ("0", 0, 0), ("1n", 1, 1), ("2", 2, 2000),
])
def test_value_and_milli_value(text, value, milli):
    q = parse_quantity(text)
    assert q.value() == value
    assert q.milli_value() == milli


@pytest.mark.parametrize(("q", "expected"), [
    (dec(0, 0), 0.0), (dec(1, 0, BINARY_SI), 1.0), (dec(7 * 1024**2, 1), 7 * 1024**2 * 10.0),
    (dec(7 * 1024**2, -1), 7 * 1024**2 * 0.1), (dec(7 * 1024**2, -8), 7 * 1024**2 / 1e8),
    (dec(MAX, 0), float(MAX)), (dec(12, 18), 1.2e19), (dec(12, 500), math.inf), (dec(-12, 500), -math.inf),
])
def test_approximate_float(q, expected):
    assert q.as_approximate_float() == expected


def test_json_inputs():
    assert str(parse_quantity(2)) == "2"
    assert str(parse_quantity(0.5)) == "500m"
    assert str(parse_quantity(1e16)) == "10e15"          # "1e+16": exponent form, not kept (16 % 3 != 0)
    assert parse_quantity(1e16).format == DECIMAL_EXPONENT
    assert str(parse_quantity_json(" 100m ")) == "100m"   # UnmarshalJSON trims whitespace
    for bad in (True, None, float("nan"), [1]):
        with pytest.raises(ValueError):
            parse_quantity(bad)  # type: ignore[arg-type]


def test_quantities_are_immutable_and_cached():
    a = parse_quantity("1.5Gi")
    b = parse_quantity("1.5Gi")
    assert a is b                       # the parse cache hands out one object: safe only because it is immutable
    c = a + parse_quantity("512Mi")
    assert str(a) == "1536Mi" and str(c) == "2Gi"
