"""Content negotiation: which representation a client asked for in ``Accept``.

kubectl asks for Tables (``application/json;as=Table;v=v1;g=meta.k8s.io``, then v1beta1, then plain JSON);
typed clients add protobuf first with JSON as fallback; metadata-only clients ask for
``as=PartialObjectMetadata``. We answer JSON (or YAML when preferred); a request that accepts nothing we can
produce gets 406.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from pybernetes.api.errors import NotAcceptable


@dataclass(frozen=True, slots=True)
class MediaType:
    type: str                                   # e.g. "application/json"
    params: tuple[tuple[str, str], ...] = ()

    def param(self, name: str) -> str:
        for k, v in self.params:
            if k == name:
                return v
        return ""


@dataclass(frozen=True, slots=True)
class Output:
    format: str                                 # "json" | "yaml"
    as_kind: str = ""                           # "" | "Table" | "PartialObjectMetadata" | "PartialObjectMetadataList"
    as_version: str = ""                        # meta.k8s.io version for Table/PartialObjectMetadata
    content_type: str = "application/json"


JSON = Output("json")
YAML = Output("yaml", content_type="application/yaml")


def parse_accept(header: str) -> list[MediaType]:
    """The clauses of an Accept header in upstream's preference order (``goautoneg.ParseAccept``): malformed
    clauses are dropped, ``q`` is removed from the parameters, and clauses are ordered by ``q`` and then by
    specificity (``*/*`` and ``type/*`` after concrete types) — otherwise in header order."""
    clauses: list[tuple[float, MediaType]] = []
    for part in header.split(","):
        bits = [b.strip() for b in part.split(";")]
        mtype = bits[0].lower()
        if mtype == "*":
            mtype = "*/*"
        main, slash, sub = mtype.partition("/")
        if not slash or not main or not sub:
            continue
        q = 1.0
        params = []
        for b in bits[1:]:
            if not b:
                continue
            k, _, v = b.partition("=")
            k, v = k.strip().lower(), v.strip().strip('"')
            if k == "q":
                try:
                    q = float(v)
                except ValueError:
                    q = 0.0
                continue
            params.append((k, v))
        clauses.append((q, MediaType(mtype, tuple(params))))
    _insertion_sort(clauses)
    return [mt for _, mt in clauses]


def _less(a: tuple[float, MediaType], b: tuple[float, MediaType]) -> bool:
    """goautoneg's ordering predicate, quirks included (it is not a strict weak order)."""
    (qa, ma), (qb, mb) = a, b
    if qa > qb:
        return True
    ta, _, sa = ma.type.partition("/")
    tb, _, sb = mb.type.partition("/")
    if ta != "*" and tb == "*":
        return True
    return sa != "*" and sb == "*"


def _insertion_sort(xs: list[tuple[float, MediaType]]) -> None:
    """Go's sort.Sort on short slices (every real Accept header) is an insertion sort; copying it keeps the
    order upstream picks even where ``_less`` is inconsistent."""
    for i in range(1, len(xs)):
        j = i
        while j > 0 and _less(xs[j], xs[j - 1]):
            xs[j], xs[j - 1] = xs[j - 1], xs[j]
            j -= 1


def choose(accept: str | None, *, allow_as: tuple[str, ...] = ()) -> Output:
    """Pick the representation. ``allow_as`` lists the ``as=`` kinds this endpoint can produce."""
    if not accept:
        return JSON
    return _choose(accept, allow_as)


@functools.lru_cache(maxsize=512)
def _choose(accept: str, allow_as: tuple[str, ...]) -> Output:
    """Cached: clients send a handful of distinct headers, and this runs on every request."""
    for mt in parse_accept(accept):
        fmt = _format(mt.type)
        if fmt is None:
            continue
        stream = mt.param("stream")
        if stream and (stream != "watch" or fmt == "yaml"):
            continue                            # only JSON (and protobuf) have a watch stream serializer
        if any(k in ("as", "g", "v") for k, _ in mt.params):
            # A conversion request: only Table / PartialObjectMetadata(List) in meta.k8s.io v1|v1beta1, and
            # Tables only as JSON or YAML (upstream ``AllowsMediaTypeTransform``).
            as_kind = mt.param("as")
            if as_kind not in allow_as or mt.param("g") != "meta.k8s.io" or mt.param("v") not in ("v1", "v1beta1"):
                continue
            if fmt == "protobuf":
                if as_kind == "Table":
                    continue
                fmt = "json"                    # we answer JSON; clients always offer it as a fallback
            if fmt == "yaml":
                return Output("yaml", as_kind, mt.param("v"), "application/yaml")
            return Output("json", as_kind, mt.param("v"), "application/json")
        if fmt == "protobuf":
            continue                            # we answer JSON; clients always offer it as a fallback
        if fmt == "yaml":
            return YAML
        return JSON
    raise NotAcceptable("only the following media types are accepted: application/json, application/yaml")


def _format(t: str) -> str | None:
    """Which of our serializers a media range selects; ``*/*`` and ``application/*`` pick the first (JSON)."""
    if t in ("application/json", "*/*", "application/*"):
        return "json"
    if t == "application/yaml":
        return "yaml"
    if t == "application/vnd.kubernetes.protobuf":
        return "protobuf"
    return None
