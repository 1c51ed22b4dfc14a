"""List bodies joined from the watch cache's per-object JSON: byte-identical to encoding the list."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from pybernetes.apiserver.negotiation import JSON, Output
from pybernetes.apiserver.respond import joined_list, list_response


def body(n: int, **meta: Any) -> dict[str, Any]:
    items = [{"kind": "Pod", "apiVersion": "v1", "metadata": {"name": f"p{i}", "resourceVersion": str(i),
                                                               "labels": {"é": "ü"}}} for i in range(n)]
    return {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "9", **meta}, "items": items}


@pytest.mark.parametrize("n", [0, 1, 3])
@pytest.mark.parametrize("meta", [{}, {"continue": "abc", "remainingItemCount": 4}])
def test_joined_list_is_byte_identical_to_encoding_the_list(n: int, meta: dict[str, Any]) -> None:
    b = body(n, **meta)
    encoded = [orjson.dumps(o) for o in b["items"]]
    assert joined_list(b, encoded) == orjson.dumps(b)
    if n:
        assert list_response(JSON, None, b, encoded=encoded).body == orjson.dumps(b)  # type: ignore[arg-type]


def test_joined_list_declines_bytes_that_cannot_be_the_items() -> None:
    b = body(2)
    assert joined_list(b, [b"{}"]) is None                          # one per item, or nothing
    reordered = {"items": b["items"], **{k: v for k, v in b.items() if k != "items"}}
    assert joined_list(reordered, [b"{}", b"{}"]) is None           # items must be the last key


@pytest.mark.parametrize("encoded", [None, []])
def test_without_bytes_the_list_is_encoded(encoded: list[bytes] | None) -> None:
    b = body(2)
    assert list_response(JSON, None, b, encoded=encoded).body == orjson.dumps(b)  # type: ignore[arg-type]


def test_other_representations_still_encode_the_items() -> None:
    b = body(1)
    yaml_out = Output("yaml", content_type="application/yaml")
    resp = list_response(yaml_out, None, b, encoded=[b'{"stale":true}'])  # type: ignore[arg-type]
    assert b"stale" not in resp.body and b"p0" in resp.body
