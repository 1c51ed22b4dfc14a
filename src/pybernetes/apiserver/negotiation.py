"""Content negotiation: which representation a client asked for in ``Accept``.

kubectl asks for Tables (``application/json;as=Table;v=v1;g=meta.k8s.io``, then v1beta1, then plain JSON);
typed clients add protobuf first with JSON as fallback; metadata-only clients ask for
``as=PartialObjectMetadata``. We answer JSON (or YAML when preferred); a request that accepts nothing we can
produce gets 406.
"""

from __future__ import annotations

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


def parse_accept(header: str) -> list[MediaType]:
    out = []
    for part in header.split(","):
        part = part.strip()
        if not part:
            continue
        bits = [b.strip() for b in part.split(";")]
        params = []
        for b in bits[1:]:
            k, _, v = b.partition("=")
            params.append((k.strip().lower(), v.strip().strip('"')))
        out.append(MediaType(bits[0].lower(), tuple(params)))
    return out


def choose(accept: str | None, *, allow_as: tuple[str, ...] = ()) -> Output:
    """Pick the representation. ``allow_as`` lists the ``as=`` kinds this endpoint can produce."""
    if not accept:
        return JSON
    for mt in parse_accept(accept):
        as_kind = mt.param("as")
        fmt = _format(mt.type)
        if fmt is None:
            continue
        if as_kind:
            if as_kind not in allow_as:
                continue
            if as_kind in ("Table", "PartialObjectMetadata", "PartialObjectMetadataList"):
                if mt.param("g") != "meta.k8s.io" or mt.param("v") not in ("v1", "v1beta1"):
                    continue
                return Output("json", as_kind, mt.param("v"), "application/json")
            continue
        if fmt == "protobuf":
            continue                            # we answer JSON; clients always offer it as a fallback
        if fmt == "yaml":
            return Output("yaml", content_type="application/yaml")
        return JSON
    raise NotAcceptable("only the following media types are accepted: application/json, application/yaml")


def _format(t: str) -> str | None:
    if t in ("application/json", "*/*", "application/*", "application/json;stream=watch"):
        return "json"
    if t in ("application/yaml", "text/yaml"):
        return "yaml"
    if t == "application/vnd.kubernetes.protobuf":
        return "protobuf"
    return None
