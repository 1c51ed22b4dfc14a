"""``resource.Quantity``: parsing, exact arithmetic and the canonical string form, as apimachinery does it.

Facts from kubernetes/apimachinery ``pkg/api/resource`` (``quantity.go``, ``amount.go``, ``suffix.go``,
``math.go``) at v0.33. What matters to clients:

* **Round trip.** A quantity read from JSON is written back as ``String()``: the original text when upstream
  keeps it (``"100m"``, ``"1Gi"``, ``"100.035k"``, even ``"+1"``), else the canonical form (``"0.5"`` →
  ``"500m"``, ``"1000m"`` → ``"1"``, ``"1.5Gi"`` → ``"1536Mi"``). :func:`canonical` is that function, cached,
  so the API server can normalise every quantity field cheaply.
* **Rounding.** Values finer than 1n are rounded away from zero at parse time (``"0.1n"`` is ``1n``), and
  ``value()``/``milli_value()`` round away from zero too (so a request of ``"1.5"`` CPU is ``2`` whole cores and
  ``"0.1m"`` is ``1`` milli-core), which is what the scheduler and kubelet rely on.
* **Exactness.** Values are kept as an integer times a power of ten, so arithmetic never drifts.

Known, deliberate differences: Go's int64 overflow wrap-arounds (``Value()`` of an Exa-scale quantity) are not
reproduced — Python integers are exact — and negative fractional ``value()`` always rounds away from zero (Go does
so for the common int64 representation; its big-decimal fallback differs).
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from functools import lru_cache
from typing import Any, Literal

Format = Literal["DecimalSI", "BinarySI", "DecimalExponent"]
DECIMAL_SI: Format = "DecimalSI"
BINARY_SI: Format = "BinarySI"
DECIMAL_EXPONENT: Format = "DecimalExponent"

_SPLIT_RE_STRING = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
ERR_FORMAT_WRONG = f"quantities must match the regular expression '{_SPLIT_RE_STRING}'"
ERR_NUMERIC = "unable to parse numeric part of quantity"
ERR_SUFFIX = "unable to parse quantity's suffix"

# The scanner upstream's parseQuantityString implements: sign, leading zeros, digits, optional fraction, then a
# suffix of suffix letters, an optional sign and digits. Anything else is ERR_FORMAT_WRONG.
_SCAN = re.compile(r"([+-]?)(0*)([0-9]*)(?:\.([0-9]*))?([eEinumkKMGTP]*[-+]?[0-9]*)")
_EXP_INT = re.compile(r"[+-]?[0-9]+")

_DEC_SUFFIX_EXP = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BIN_SUFFIX_EXP = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DEC_EXP_SUFFIX = {e: s for s, e in _DEC_SUFFIX_EXP.items()}
_BIN_EXP_SUFFIX = {e: s for s, e in _BIN_SUFFIX_EXP.items()}

_MAX_INT64 = (1 << 63) - 1
_NANO = -9
_MAX_INT64_FACTORS = 18


_POW10: list[int] = [int(10**i) for i in range(64)]


def _pow10(n: int) -> int:
    """``10**n`` for n ≥ 0 (a table for the common exponents)."""
    return _POW10[n] if 0 <= n < 64 else int(10**n)


def _round_away(n: int, drop: int) -> int:
    """``n / 10**drop`` rounded away from zero (upstream RoundUp)."""
    d = _pow10(drop)
    q, r = divmod(abs(n), d)
    if r:
        q += 1
    return q if n >= 0 else -q


def _int32(x: int) -> int:
    """Go's ``int32(x)`` conversion (wraps)."""
    return ((x + 2**31) % 2**32) - 2**31


class Quantity:
    """An immutable quantity: ``n × 10**e`` with a display format.

    Build one with :func:`parse_quantity`, :meth:`from_int`, :meth:`from_milli` or :meth:`from_scaled`; combine
    with ``+``, ``-``, unary ``-`` and ``*`` by an int; compare with the usual operators (by value, as upstream
    ``Cmp``/``Equal``: ``1Gi == 1024Mi``). ``str(q)`` is upstream's ``String()``.
    """

    __slots__ = ("_e", "_hash", "_n", "_s", "format")

    def __init__(self, n: int, e: int, format: Format = DECIMAL_SI, s: str | None = None) -> None:
        self._n = n
        self._e = e
        self.format: Format = format
        self._s = s            # the text to print: the parsed original when upstream keeps it, else cached canonical
        self._hash: int | None = None

    # -- constructors ------------------------------------------------------------------------------------------

    @classmethod
    def from_int(cls, value: int, format: Format = DECIMAL_SI) -> Quantity:
        """NewQuantity: ``value`` units."""
        return cls(value, 0, format)

    @classmethod
    def from_milli(cls, value: int, format: Format = DECIMAL_SI) -> Quantity:
        """NewMilliQuantity: ``value`` thousandths (CPU milli-cores)."""
        return cls(value, -3, format)

    @classmethod
    def from_scaled(cls, value: int, scale: int) -> Quantity:
        """NewScaledQuantity: ``value × 10**scale``, DecimalSI."""
        return cls(value, scale, DECIMAL_SI)

    # -- reading ------------------------------------------------------------------------------------------------

    def is_zero(self) -> bool:
        return self._n == 0

    def sign(self) -> int:
        return (self._n > 0) - (self._n < 0)

    def scaled_value(self, scale: int) -> int:
        """The value in units of ``10**scale``, rounded away from zero (upstream ScaledValue)."""
        shift = self._e - scale
        if shift >= 0:
            return self._n * _pow10(shift)
        return _round_away(self._n, -shift)

    def value(self) -> int:
        """Whole units, rounded away from zero (``"1.5"`` → 2, ``"100m"`` → 1)."""
        return self.scaled_value(0)

    def milli_value(self) -> int:
        """Thousandths, rounded away from zero (``"0.1m"`` → 1)."""
        return self.scaled_value(-3)

    def as_approximate_float(self) -> float:
        """AsApproximateFloat64: ``float(n) * Pow10(e)`` as Go computes it, overflowing to ±inf."""
        try:
            base = float(self._n)
        except OverflowError:
            return math.copysign(math.inf, self._n)
        e = self._e
        if e == 0:
            return base
        try:
            p = 10.0**e if e > 0 else 1 / 10.0**-e
        except OverflowError:
            p = math.inf if e > 0 else 0.0
        return base * p if base else 0.0

    def round_up(self, scale: int) -> tuple[Quantity, bool]:
        """RoundUp: the quantity rounded away from zero to a multiple of ``10**scale``, and whether it was exact."""
        if self._e >= scale:
            return self, True
        n = _round_away(self._n, scale - self._e)
        exact = n * _pow10(scale - self._e) == self._n
        return Quantity(n, scale, self.format), exact

    # -- arithmetic (formats follow upstream: adding to a zero takes the other side's format) ------------------

    def _aligned(self, other: Quantity) -> tuple[int, int, int]:
        e = min(self._e, other._e)
        return self._n * _pow10(self._e - e), other._n * _pow10(other._e - e), e

    def __add__(self, other: Quantity | int) -> Quantity:
        other = _coerce(other)
        a, b, e = self._aligned(other)
        return Quantity(a + b, e, other.format if self._n == 0 else self.format)

    def __radd__(self, other: int) -> Quantity:
        return _coerce(other) + self

    def __sub__(self, other: Quantity | int) -> Quantity:
        other = _coerce(other)
        a, b, e = self._aligned(other)
        return Quantity(a - b, e, other.format if self._n == 0 else self.format)

    def __rsub__(self, other: int) -> Quantity:
        return _coerce(other) - self

    def __mul__(self, factor: int) -> Quantity:
        if not isinstance(factor, int) or isinstance(factor, bool):
            return NotImplemented
        if factor == 0 or self._n == 0:
            return Quantity(0, 0, self.format)
        return Quantity(self._n * factor, self._e, self.format)

    __rmul__ = __mul__

    def __neg__(self) -> Quantity:
        return Quantity(-self._n, self._e, self.format)

    def __abs__(self) -> Quantity:
        return self if self._n >= 0 else -self

    # -- comparison ---------------------------------------------------------------------------------------------

    def cmp(self, other: Quantity | int) -> int:
        """-1, 0, 1 as upstream ``Cmp``."""
        a, b, _ = self._aligned(_coerce(other))
        return (a > b) - (a < b)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, (Quantity, int)) or isinstance(other, bool):
            return NotImplemented
        return self.cmp(other) == 0

    def __lt__(self, other: Quantity | int) -> bool:
        return self.cmp(other) < 0

    def __le__(self, other: Quantity | int) -> bool:
        return self.cmp(other) <= 0

    def __gt__(self, other: Quantity | int) -> bool:
        return self.cmp(other) > 0

    def __ge__(self, other: Quantity | int) -> bool:
        return self.cmp(other) >= 0

    def __hash__(self) -> int:
        if self._hash is None:
            n, e = self._n, self._e
            while n and n % 10 == 0:
                n //= 10
                e += 1
            # Consistent with int and Fraction hashing, since quantities compare equal to ints.
            self._hash = hash(n * _pow10(e)) if e >= 0 else hash(Fraction(n, _pow10(-e)))
        return self._hash

    def __bool__(self) -> bool:
        return self._n != 0

    # -- text ---------------------------------------------------------------------------------------------------

    def __str__(self) -> str:
        if self._s is None:
            self._s = _canonicalize(self._n, self._e, self.format)
        return self._s

    def __repr__(self) -> str:
        return f"Quantity({str(self)!r})"

    def to_json(self) -> str:
        """The JSON value (a string), as upstream MarshalJSON."""
        return str(self)


def _coerce(v: Quantity | int) -> Quantity:
    if isinstance(v, Quantity):
        return v
    if isinstance(v, int) and not isinstance(v, bool):
        return Quantity(v, 0)
    raise TypeError(f"not a quantity: {v!r}")


def _canonicalize(n: int, e: int, fmt: Format) -> str:
    """Upstream CanonicalizeBytes: the shortest exact form in the quantity's format."""
    if n == 0:
        return "0"
    if fmt == BINARY_SI:
        if e >= 0:
            integral = n * _pow10(e)
            exact = True
        else:
            d = _pow10(-e)
            integral, exact = n // d, n % d == 0
        if not exact or -1024 < integral < 1024:
            fmt = DECIMAL_SI
        else:
            amount, times = integral, 0
            while amount % 1024 == 0:
                amount //= 1024
                times += 1
            return f"{amount}{_BIN_EXP_SUFFIX.get(times * 10, '')}"
    while n % 10 == 0:
        n //= 10
        e += 1
    r = e % 3
    if r:
        n *= _pow10(r)
        e -= r
    if fmt == DECIMAL_SI:
        # An exponent with no suffix (beyond E or below n) prints bare, as upstream does.
        return f"{n}{_DEC_EXP_SUFFIX.get(e, '')}"
    # DecimalExponent, and (as upstream) any unknown format.
    return f"{n}e{e}" if e else str(n)


def _interpret(suffix: str) -> tuple[int, int, Format]:
    if suffix in _DEC_SUFFIX_EXP:
        return 10, _DEC_SUFFIX_EXP[suffix], DECIMAL_SI
    if suffix in _BIN_SUFFIX_EXP:
        return 2, _BIN_SUFFIX_EXP[suffix], BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE" and _EXP_INT.fullmatch(suffix, 1):
        exp = int(suffix[1:])
        if -(1 << 63) <= exp <= _MAX_INT64:
            return 10, _int32(exp), DECIMAL_EXPONENT
    raise ValueError(ERR_SUFFIX)


def _parse(s: str) -> Quantity:
    if not s:
        raise ValueError(ERR_FORMAT_WRONG)
    if s == "0":
        return Quantity(0, 0, DECIMAL_SI, "0")
    m = _SCAN.fullmatch(s)
    if m is None:
        raise ValueError(ERR_FORMAT_WRONG)
    negative = m[1] == "-"
    num = m[3] or "0"
    denom = m[4] or ""
    base, exponent, fmt = _interpret(m[5])
    shifted = num + denom

    # Upstream's int64 fast path: it decides whether the original text is kept for printing.
    if fmt == BINARY_SI:
        precision = 15 - len(num) - int(exponent * 3 / 10) - 1 if exponent >= 0 and not denom else -1
        scale = 0
    else:
        precision = _MAX_INT64_FACTORS - len(shifted)
        scale = exponent - len(denom)
    if precision >= 0 and scale >= _NANO:
        value = int(shifted)
        result = value << exponent if fmt == BINARY_SI else value
        if result <= _MAX_INT64:
            if fmt == BINARY_SI:
                keep = value & 0x07 != 0
            else:
                keep = scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0"
            return Quantity(-result if negative else result, scale, fmt, s if keep else None)

    # The big-decimal path: exact value, rounded away from zero to 1n, BinarySI capped at 2^63-1.
    if not (m[2] or m[3] or denom):
        raise ValueError(ERR_NUMERIC)
    n = int(shifted)
    e = -len(denom)
    if base == 10:
        e += exponent
    else:
        n <<= exponent
    if e < _NANO:
        n = _round_away(n, _NANO - e)
        e = _NANO
    if fmt == BINARY_SI:
        unit = _pow10(-e) if e < 0 else 1      # n / unit is the value when e < 0
        scaled = n if e < 0 else n * _pow10(e)
        if scaled > _MAX_INT64 * unit:
            n, e = _MAX_INT64, 0
        elif 0 < scaled < unit:
            fmt = DECIMAL_SI
    return Quantity(-n if negative else n, e, fmt)


@lru_cache(maxsize=4096)
def _parse_cached(s: str) -> Quantity:
    return _parse(s)


def parse_quantity(s: str | int | float) -> Quantity:
    """ParseQuantity. Raises ``ValueError`` with upstream's message on bad input.

    JSON numbers are accepted as upstream's UnmarshalJSON does (it parses the number's text): an int is its
    decimal digits; a float is its shortest repr (``0.5``, ``1e+16``), which matches the JSON text in all but
    contrived spellings. Strings are not trimmed (use :func:`parse_quantity_json` for a decoded JSON value).
    """
    if isinstance(s, str):
        return _parse_cached(s)
    if isinstance(s, bool) or not isinstance(s, (int, float)):
        raise ValueError(ERR_FORMAT_WRONG)
    if isinstance(s, int):
        return _parse_cached(str(s))
    if s != s or s in (float("inf"), float("-inf")):
        raise ValueError(ERR_FORMAT_WRONG)
    return _parse_cached(repr(s))


def parse_quantity_json(v: Any) -> Quantity:
    """A quantity from a decoded JSON value, as upstream UnmarshalJSON: strings are whitespace-trimmed first."""
    if isinstance(v, str):
        return _parse_cached(v.strip())
    return parse_quantity(v)


@lru_cache(maxsize=8192)
def canonical(s: str) -> str:
    """The text upstream writes back for a quantity string it read (``"0.5"`` → ``"500m"``)."""
    return str(_parse(s))
