"""Which requests the API server handled during a measurement, from its ``apiserver_request_total`` counters.

An end-to-end figure that misses its goal needs its cause beside it: the mix of requests (Lease renewals, pod
bindings, pod status writes, creates) the server carried tells which component's traffic dominates. The counters
are read from ``/metrics`` before and after and subtracted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

Key = tuple[str, str, str]              # (verb, resource, subresource)
_LINE = re.compile(r"^apiserver_request_total\{(?P<labels>[^}]*)\}\s+(?P<value>\S+)", re.M)
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse(text: str) -> dict[Key, float]:
    """Summed ``apiserver_request_total`` per (verb, resource, subresource) from a Prometheus text exposition
    (other labels, such as the response code, are added together)."""
    out: dict[Key, float] = {}
    for m in _LINE.finditer(text):
        labels = dict(_LABEL.findall(m.group("labels")))
        key = (labels.get("verb", ""), labels.get("resource", ""), labels.get("subresource", ""))
        out[key] = out.get(key, 0.0) + float(m.group("value"))
    return out


@dataclass(frozen=True, slots=True)
class RequestCounts:
    counts: dict[Key, float] = field(default_factory=dict)

    def __sub__(self, before: RequestCounts) -> RequestCounts:
        keys = set(self.counts) | set(before.counts)
        return RequestCounts({k: self.counts.get(k, 0.0) - before.counts.get(k, 0.0) for k in keys})

    def total(self, verb: str | tuple[str, ...] | None = None, resource: str | None = None) -> float:
        """Requests of this verb (or any of these verbs: a server may label an update ``PUT``, as upstream does,
        or ``UPDATE``) and resource; None matches all."""
        verbs = (verb,) if isinstance(verb, str) else verb
        return sum(v for (vb, res, _), v in self.counts.items()
                   if (verbs is None or vb in verbs) and (resource is None or res == resource))

    def rate(self, verb: str | tuple[str, ...], resource: str, seconds: float) -> float:
        return self.total(verb, resource) / seconds if seconds > 0 else 0.0

    def top(self, n: int = 6, *, exclude_verbs: Iterable[str] = ("WATCH",)) -> list[tuple[str, float]]:
        """The ``n`` largest request kinds as ("VERB resource/subresource", count), largest first; watches are
        left out (a long request counted once at its start says nothing of load)."""
        skip = set(exclude_verbs)
        items = [(f"{vb} {res}{'/' + sub if sub else ''}", v) for (vb, res, sub), v in self.counts.items()
                 if vb not in skip and v > 0]
        return sorted(items, key=lambda kv: (-kv[1], kv[0]))[:n]


def request_counts(text: str) -> RequestCounts:
    return RequestCounts(parse(text))
