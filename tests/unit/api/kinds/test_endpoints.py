from __future__ import annotations

import pytest

from pybernetes.api.kinds.endpoints import EndpointsStrategy

from .helpers import create, errors

S = EndpointsStrategy()


def test_defaults_and_valid() -> None:
    out, errs = create(S, {"metadata": {"name": "web"}, "subsets": [
        {"addresses": [{"ip": "10.42.0.5", "nodeName": "node1"}], "ports": [{"port": 80}]}]})
    assert errs == []
    assert out["subsets"][0]["ports"][0]["protocol"] == "TCP"


@pytest.mark.parametrize(("subset", "message"), [
    ({"ports": [{"port": 80}]}, "subsets[0]: Required value: must specify `addresses` or `notReadyAddresses`"),
    ({"addresses": [{"ip": "127.0.0.1"}]},
     'subsets[0].addresses[0].ip: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, '
     "::1/128)"),
    ({"addresses": [{"ip": "nope"}]}, 'subsets[0].addresses[0].ip: Invalid value: "nope": must be a valid IP address'),
    ({"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}, {"port": 81, "name": "b"}]},
     "subsets[0].ports[0].name: Required value"),
])
def test_mistakes(subset: dict, message: str) -> None:
    _, errs = create(S, {"metadata": {"name": "web"}, "subsets": [subset]})
    assert any(m.startswith(message) for m in errors(errs)), errors(errs)
