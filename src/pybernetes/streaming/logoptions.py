"""``PodLogOptions`` from a query string, and their validation (upstream ``ValidatePodLogOptions``).

Both ends read the same parameters: the API server from the client (``pods/P/log?…``) and the kubelet from the
API server (``/containerLogs/…?…``). Values convert as apimachinery's parameter codec does: a bool is false only
when absent, ``0`` or ``false`` (any case); an integer must parse in base 10; ``sinceTime`` is RFC 3339.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass

from pybernetes.api.field import FieldError, forbidden, invalid, not_supported

STREAMS = ("All", "Stdout", "Stderr")
_RFC3339 = re.compile(r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


class QueryError(ValueError):
    """A parameter that does not convert (a 400 BadRequest, message as the Go converter words it)."""


@dataclass(frozen=True, slots=True)
class PodLogQuery:
    container: str = ""
    follow: bool = False
    previous: bool = False
    timestamps: bool = False
    since_seconds: int | None = None
    since_time: datetime.datetime | None = None
    tail_lines: int | None = None
    limit_bytes: int | None = None
    stream: str | None = None
    insecure_skip_tls_verify_backend: bool = False

    def kubelet_query(self) -> dict[str, str]:
        """The query the API server sends the kubelet (upstream ``LogLocation``; no container: it is in the
        path)."""
        q: dict[str, str] = {}
        if self.follow:
            q["follow"] = "true"
        if self.previous:
            q["previous"] = "true"
        if self.timestamps:
            q["timestamps"] = "true"
        if self.since_seconds is not None:
            q["sinceSeconds"] = str(self.since_seconds)
        if self.since_time is not None:
            q["sinceTime"] = format_rfc3339(self.since_time)
        if self.tail_lines is not None:
            q["tailLines"] = str(self.tail_lines)
        if self.limit_bytes is not None:
            q["limitBytes"] = str(self.limit_bytes)
        return q


def query_bool(value: str | None) -> bool:
    if value is None:
        return False
    return not (value == "0" or value.lower() == "false")


def query_int(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    if not re.fullmatch(r"[+-]?\d+", value):
        raise QueryError(f'strconv.ParseInt: parsing "{value}": invalid syntax')
    n = int(value)
    if not -(2**63) <= n < 2**63:
        raise QueryError(f'strconv.ParseInt: parsing "{value}": value out of range')
    return n


def parse_rfc3339(value: str) -> datetime.datetime:
    m = _RFC3339.fullmatch(value)
    if m is None:
        raise QueryError(f'parsing time "{value}" as "2006-01-02T15:04:05Z07:00": cannot parse "{value}" as '
                         '"2006"')
    y, mo, d, h, mi, s = (int(x) for x in m.groups()[:6])
    frac = m.group(7)
    micro = int((frac[1:] + "000000")[:6]) if frac else 0
    tz = m.group(8)
    if tz in ("Z", "z"):
        tzinfo = datetime.UTC
    else:
        sign = 1 if tz[0] == "+" else -1
        tzinfo = datetime.timezone(sign * datetime.timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6])))
    try:
        return datetime.datetime(y, mo, d, h, mi, s, micro, tzinfo=tzinfo)
    except ValueError as e:
        raise QueryError(f'parsing time "{value}": {e}') from None


def format_rfc3339(t: datetime.datetime) -> str:
    return t.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_pod_log_query(query: Mapping[str, str]) -> PodLogQuery:
    """The options of a log request. The kubelet's legacy ``tail`` (a number or ``all``) is honoured too."""
    tail = query_int(query.get("tailLines"))
    legacy = query.get("tail")
    if legacy:
        tail = None if legacy == "all" else query_int(legacy)
    since_time = query.get("sinceTime")
    return PodLogQuery(
        container=query.get("container", ""), follow=query_bool(query.get("follow")),
        previous=query_bool(query.get("previous")), timestamps=query_bool(query.get("timestamps")),
        since_seconds=query_int(query.get("sinceSeconds")),
        since_time=parse_rfc3339(since_time) if since_time else None, tail_lines=tail,
        limit_bytes=query_int(query.get("limitBytes")), stream=query.get("stream") or None,
        insecure_skip_tls_verify_backend=query_bool(query.get("insecureSkipTLSVerifyBackend")))


def validate(opts: PodLogQuery) -> list[FieldError]:
    errs: list[FieldError] = []
    if opts.tail_lines is not None and opts.tail_lines < 0:
        errs.append(invalid("tailLines", opts.tail_lines, "must be greater than or equal to 0"))
    if opts.limit_bytes is not None and opts.limit_bytes < 1:
        errs.append(invalid("limitBytes", opts.limit_bytes, "must be greater than 0"))
    if opts.since_seconds is not None and opts.since_time is not None:
        errs.append(forbidden("", "at most one of `sinceTime` or `sinceSeconds` may be specified"))
    elif opts.since_seconds is not None and opts.since_seconds < 1:
        errs.append(invalid("sinceSeconds", opts.since_seconds, "must be greater than 0"))
    if opts.stream is not None and opts.stream not in STREAMS:
        errs.append(not_supported("stream", opts.stream, STREAMS))
    return errs
