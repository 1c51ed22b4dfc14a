"""Go's text forms of times and durations, as ``time.Time`` and ``time.Duration`` print and parse them.

Kubernetes objects carry times as RFC 3339 strings (``metav1.Time`` in whole seconds, ``metav1.MicroTime`` with six
digits) and durations as Go duration strings (``1h2m3.5s``). Both the protobuf codec (which turns seconds and
nanoseconds into those strings) and the JSON body parser (which must reject what Go's parser rejects, with Go's
exact ``parsing time ...`` / ``time: invalid duration ...`` messages) need the same rules, so they live here, apart
from any wire format. Everything is a pure function over ints and strings, valid for any int64 second.
"""

from __future__ import annotations


def rfc3339(seconds: int) -> str:
    """Go's ``t.UTC().Format(time.RFC3339)`` for a Unix time in whole seconds (any int64)."""
    days, rem = divmod(seconds, 86400)
    y, m, d = _civil(days)
    hh, rem = divmod(rem, 3600)
    mm, ss = divmod(rem, 60)
    year = f"-{-y:04d}" if y < 0 else f"{y:04d}"
    return f"{year}-{m:02d}-{d:02d}T{hh:02d}:{mm:02d}:{ss:02d}Z"


def _civil(days: int) -> tuple[int, int, int]:
    """Proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's civil_from_days)."""
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (m <= 2), m, d


def go_duration(d: int) -> str:
    """Go's ``time.Duration.String()`` of a nanosecond count."""
    if d == 0:
        return "0s"
    neg, u = d < 0, abs(d)
    if u < 1_000_000_000:
        if u < 1_000:
            s = f"{u}ns"
        elif u < 1_000_000:
            s = _frac(u, 3) + "\u00b5s"
        else:
            s = _frac(u, 6) + "ms"
    else:
        secs, frac = divmod(u, 1_000_000_000)
        s = str(secs % 60) + (f".{frac:09d}".rstrip("0") if frac else "") + "s"
        mins = secs // 60
        if mins:
            s = f"{mins % 60}m" + s
            if mins >= 60:
                s = f"{mins // 60}h" + s
    return "-" + s if neg else s


def _frac(v: int, prec: int) -> str:
    whole, frac = divmod(v, 10 ** prec)
    return str(whole) + (f".{frac:0{prec}d}".rstrip("0") if frac else "")


RFC3339_LAYOUT = "2006-01-02T15:04:05Z07:00"
RFC3339_MICRO_LAYOUT = "2006-01-02T15:04:05.000000Z07:00"


def go_quote_time(s: str) -> str:
    """The quoting Go's time package uses in its error messages."""
    out = ['"']
    for c in s:
        if c >= "\x80" or c < " ":
            out.extend(f"\\x{b:02x}" for b in c.encode("utf-8", "surrogatepass"))
        else:
            out.append("\\" + c if c in '"\\' else c)
    out.append('"')
    return "".join(out)


def _getnum(s: str, fixed: bool) -> tuple[int, str] | None:
    if not s or not s[0].isascii() or not s[0].isdigit():
        return None
    if len(s) < 2 or not s[1].isascii() or not s[1].isdigit():
        return None if fixed else (int(s[0]), s[1:])
    return int(s[:2]), s[2:]


def _atoi(s: str) -> int | None:
    neg = s[:1] in ("-", "+")
    digits = s[1:] if neg else s
    if not digits or not digits.isascii() or not digits.isdigit():
        return None
    return -int(digits) if s[:1] == "-" else int(digits)


def _days_in(month: int, year: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _days_from_civil(y: int, m: int, d: int) -> int:
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def parse_rfc3339(value: str, *, micro: bool = False) -> tuple[int, int]:
    """Go's ``time.Parse(time.RFC3339 | metav1.RFC3339Micro, value)``: (Unix seconds, nanoseconds).

    Raises ValueError with Go's exact ``parsing time ...`` message, which upstream returns as the 400 reason.
    """
    layout = RFC3339_MICRO_LAYOUT if micro else RFC3339_LAYOUT
    if not isinstance(value, str):
        raise ValueError("value must be a string")
    chunks = [("", "2006"), ("-", "01"), ("-", "02"), ("T", "15"), (":", "04"), (":", "05")]
    if micro:
        chunks.append(("", ".000000"))
    chunks += [("", "Z07:00"), ("", "")]

    def fail(elem: str, layout_elem: str, msg: str = "") -> ValueError:
        if msg:
            return ValueError(f"parsing time {go_quote_time(value)}{msg}")
        return ValueError(f"parsing time {go_quote_time(value)} as {go_quote_time(layout)}: cannot parse "
                          f"{go_quote_time(elem)} as {go_quote_time(layout_elem)}")

    v = value
    parts = {"year": 0, "month": 1, "day": 1, "hour": 0, "min": 0, "sec": 0, "nsec": 0, "off": 0}
    for prefix, std in chunks:
        if not v.startswith(prefix):
            raise fail(v, prefix)
        v = v[len(prefix):]
        if not std:
            if v:
                raise fail(v, "", f": extra text: {go_quote_time(v)}")
            break
        hold, rng, bad = v, "", False
        if std == "2006":
            year = _atoi(v[:4]) if len(v) >= 4 else None
            bad = year is None
            parts["year"], v = (year or 0), v[4:]
        elif std in ("01", "02", "04", "05", "15"):
            got = _getnum(v, std != "15")
            bad = got is None
            if got is not None:
                n, v = got
                name = {"01": "month", "02": "day", "04": "min", "05": "sec", "15": "hour"}[std]
                parts[name] = n
                if std == "01" and not 1 <= n <= 12:
                    rng = "month"
                elif std == "15" and n >= 24:
                    rng = "hour"
                elif std == "04" and n >= 60:
                    rng = "minute"
                elif std == "05":
                    if n >= 60:
                        rng = "second"
                    elif not micro and len(v) >= 2 and v[0] in ".," and v[1].isascii() and v[1].isdigit():
                        k = 2
                        while k < len(v) and v[k].isascii() and v[k].isdigit():
                            k += 1
                        parts["nsec"], v = int((v[1:k] + "000000000")[:9]), v[k:]
        elif std == ".000000":
            digits = v[1:7]
            ns = _atoi(digits) if len(v) >= 7 and v[0] in ".," else None
            if ns is None:
                bad = True
            elif ns < 0:
                rng = "fractional second"
            else:
                parts["nsec"], v = ns * 1000, v[7:]
        else:                                   # Z07:00
            if v[:1] == "Z":
                v = v[1:]
            elif len(v) < 6 or v[3] != ":":
                bad = True
            else:
                sign, hh, mm = v[0], _getnum(v[1:3], True), _getnum(v[4:6], True)
                if hh is None or mm is None or sign not in "+-":
                    bad = True
                else:
                    if hh[0] > 24:
                        rng = "time zone offset hour"
                    if mm[0] > 60:
                        rng = "time zone offset minute"
                    off = (hh[0] * 60 + mm[0]) * 60
                    parts["off"], v = (off if sign == "+" else -off), v[6:]
        if rng:
            raise fail(v, std, f": {rng} out of range")
        if bad:
            raise fail(hold, std)
    if not 1 <= parts["day"] <= _days_in(parts["month"], parts["year"]):
        raise fail(v, "", ": day out of range")
    days = _days_from_civil(parts["year"], parts["month"], parts["day"])
    seconds = days * 86400 + parts["hour"] * 3600 + parts["min"] * 60 + parts["sec"] - parts["off"]
    return seconds, parts["nsec"]


_UNITS = {"ns": 1, "us": 1_000, "\u00b5s": 1_000, "\u03bcs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
          "m": 60_000_000_000, "h": 3_600_000_000_000}


def parse_go_duration(s: str) -> int:
    """Go's ``time.ParseDuration`` in nanoseconds; ValueError with Go's message (``time: invalid duration "x"``)."""
    if not isinstance(s, str):
        raise ValueError("value must be a string")
    orig, neg = s, False
    invalid = ValueError(f"time: invalid duration {go_quote_time(orig)}")
    if s[:1] in ("-", "+"):
        neg, s = s[0] == "-", s[1:]
    if s == "0":
        return 0
    if not s:
        raise invalid
    total = 0
    while s:
        if not (s[0] == "." or "0" <= s[0] <= "9"):
            raise invalid
        k = 0
        while k < len(s) and "0" <= s[k] <= "9":
            k += 1
        whole = int(s[:k]) if k else 0
        if whole >= 1 << 63:
            raise invalid
        pre, s = k > 0, s[k:]
        frac, scale, post = 0, 1.0, False
        if s[:1] == ".":
            s = s[1:]
            k = 0
            overflow = False
            while k < len(s) and "0" <= s[k] <= "9":
                if not overflow:
                    nxt = frac * 10 + int(s[k])
                    if nxt >= 1 << 63:
                        overflow = True
                    else:
                        frac, scale = nxt, scale * 10
                k += 1
            post, s = k > 0, s[k:]
        if not pre and not post:
            raise invalid
        k = 0
        while k < len(s) and not (s[k] == "." or "0" <= s[k] <= "9"):
            k += 1
        if k == 0:
            raise ValueError(f"time: missing unit in duration {go_quote_time(orig)}")
        unit_name, s = s[:k], s[k:]
        unit = _UNITS.get(unit_name)
        if unit is None:
            raise ValueError(f"time: unknown unit {go_quote_time(unit_name)} in duration {go_quote_time(orig)}")
        if whole > (1 << 63) // unit:
            raise invalid
        whole *= unit
        if frac > 0:
            whole += int(float(frac) * (float(unit) / scale))
            if whole > 1 << 63:
                raise invalid
        total += whole
        if total > 1 << 63:
            raise invalid
    if neg:
        return -total
    if total > (1 << 63) - 1:
        raise invalid
    return total
