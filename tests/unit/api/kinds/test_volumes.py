"""Volume sources: found among the volume's own keys when there is one, the ordered walk otherwise."""

from __future__ import annotations

from typing import Any

import pytest

from pybernetes.api.field import Path
from pybernetes.api.kinds.volumes import validate_volume_source


@pytest.mark.parametrize(("vol", "want"), [
    ({"name": "v", "emptyDir": {}}, []),
    ({"name": "v", "emptyDir": {"medium": "Tape"}},
     ['v.emptyDir.medium: Unsupported value: "Tape": supported values: "", "HugePages", "Memory"']),
    ({"name": "v"}, ["v: Required value: must specify a volume type"]),
    ({"name": "v", "emptyDir": None}, ["v: Required value: must specify a volume type"]),
    ({"name": "v", "configMap": {"name": "c"}, "emptyDir": {}},
     ["v.configMap: Forbidden: may not specify more than 1 volume type"]),
    ({"name": "v", "emptyDir": {}, "hostPath": {"path": "/x"}, "secret": {}},
     ["v.hostPath: Forbidden: may not specify more than 1 volume type",
      "v.secret: Forbidden: may not specify more than 1 volume type"]),
    ({"name": "v", "secret": {}, "bogus": {}}, ["v.secret.secretName: Required value"]),
    ({"name": "v", "hostPath": "not a map"}, []),
])
def test_volume_source(vol: dict[str, Any], want: list[str]) -> None:
    assert [str(e) for e in validate_volume_source(vol, Path("v"))] == want
