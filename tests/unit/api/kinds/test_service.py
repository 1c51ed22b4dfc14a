from __future__ import annotations

import copy

import pytest

from pybernetes.api.kinds.service import (
    ServiceStrategy,
    cluster_ip_families_to_allocate,
    node_ports_in_use,
    node_ports_needed,
    service_needs_cluster_ip,
)

from .helpers import create, errors, update

S = ServiceStrategy()


def svc(**spec: object) -> dict:
    base = {"selector": {"app": "web"}, "ports": [{"port": 80}]}
    base.update(spec)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"}, "spec": base}


def test_cluster_ip_defaults() -> None:
    out, errs = create(S, svc())
    assert errs == []
    assert out["spec"] == {
        "selector": {"app": "web"}, "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
        "sessionAffinity": "None", "type": "ClusterIP", "internalTrafficPolicy": "Cluster",
        "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack"}
    assert out["status"] == {"loadBalancer": {}}
    assert service_needs_cluster_ip(out)
    assert cluster_ip_families_to_allocate(out) == [(0, "IPv4")]
    assert node_ports_needed(out) == []


def test_node_port_and_load_balancer_defaults() -> None:
    out, errs = create(S, svc(type="NodePort"))
    assert errs == []
    assert out["spec"]["externalTrafficPolicy"] == "Cluster"
    assert [str(p) for p in node_ports_needed(out)] == ["spec.ports[0].nodePort"]
    lb, errs = create(S, svc(type="LoadBalancer", externalTrafficPolicy="Local"))
    assert errs == []
    assert lb["spec"]["allocateLoadBalancerNodePorts"] is True
    assert [str(p) for p in node_ports_needed(lb)] == ["spec.ports[0].nodePort", "spec.healthCheckNodePort"]
    lb["spec"]["ports"][0]["nodePort"] = 30080
    lb["spec"]["healthCheckNodePort"] = 31000
    assert node_ports_in_use(lb) == [30080, 31000]


def test_client_ip_affinity_default_timeout() -> None:
    out, errs = create(S, svc(sessionAffinity="ClientIP"))
    assert errs == []
    assert out["spec"]["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}


def test_headless_and_external_name() -> None:
    out, errs = create(S, svc(clusterIP="None"))
    assert errs == []
    assert out["spec"]["clusterIPs"] == ["None"]
    assert out["spec"]["ipFamilyPolicy"] == "SingleStack"
    assert not service_needs_cluster_ip(out)
    selectorless, errs = create(S, {"metadata": {"name": "h"}, "spec": {"clusterIP": "None"}})
    assert errs == []
    assert selectorless["spec"]["ipFamilyPolicy"] == "RequireDualStack"      # even on a single-stack cluster
    assert selectorless["spec"]["ipFamilies"] == ["IPv4", "IPv6"]
    ext, errs = create(S, {"metadata": {"name": "e"}, "spec": {"type": "ExternalName",
                                                               "externalName": "example.com."}})
    assert errs == []
    assert "ipFamilies" not in ext["spec"] and "internalTrafficPolicy" not in ext["spec"]
    assert not service_needs_cluster_ip(ext)


@pytest.mark.parametrize(("spec", "message"), [
    ({"ports": []}, "spec.ports: Required value"),
    ({"ports": [{"port": 80}, {"port": 81}]}, "spec.ports[0].name: Required value"),
    ({"ports": [{"name": "a", "port": 80}, {"name": "a", "port": 81}]}, 'spec.ports[1].name: Duplicate value: "a"'),
    ({"ports": [{"name": "a", "port": 80}, {"name": "b", "port": 80}]},
     'spec.ports[1]: Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", AppProtocol:(*string)(nil), '
     'Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}'),
    ({"ports": [{"port": 0}]}, "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive"),
    ({"ports": [{"port": 80, "protocol": "ICMP"}]},
     'spec.ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"'),
    ({"ports": [{"port": 80, "targetPort": "Bad_Name"}]}, 'spec.ports[0].targetPort: Invalid value: "Bad_Name"'),
    ({"type": "Magic"}, 'spec.type: Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", '
                       '"LoadBalancer", "NodePort"'),
    ({"ports": [{"port": 80, "nodePort": 30000}]},
     "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"),
    ({"type": "NodePort", "clusterIP": "None"},
     "spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for NodePort services"),
    ({"selector": {"app": "bad value!"}}, 'spec.selector: Invalid value: "bad value!"'),
    ({"sessionAffinity": "Sticky"}, 'spec.sessionAffinity: Unsupported value: "Sticky": supported values: '
                                    '"ClientIP", "None"'),
    ({"clusterIP": "10.43.0.300"}, 'spec.clusterIPs[0]: Invalid value: "10.43.0.300": must be a valid IP address'),
    ({"clusterIP": "10.43.0.5", "clusterIPs": ["10.43.0.6"]},
     'spec.clusterIPs: Invalid value: []string{"10.43.0.6"}: first value must match `clusterIP`'),
    ({"externalTrafficPolicy": "Local"},
     'spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services'),
    ({"loadBalancerSourceRanges": ["10.0.0.0/8"]},
     "spec.loadBalancerSourceRanges: Forbidden: may only be used when `type` is 'LoadBalancer'"),
    ({"type": "ExternalName", "externalName": ""}, "spec.externalName: Required value"),
    ({"ipFamilyPolicy": "RequireDualStack"},
     'spec.ipFamilyPolicy: Invalid value: "RequireDualStack": this cluster is not configured for dual-stack '
     "services"),
])
def test_service_mistakes(spec: dict, message: str) -> None:
    _, errs = create(S, svc(**spec))
    assert any(m.startswith(message) for m in errors(errs)), errors(errs)


def allocated() -> dict:
    out, errs = create(S, svc(type="NodePort"))
    assert errs == []
    out["spec"]["clusterIP"] = "10.43.0.7"
    out["spec"]["clusterIPs"] = ["10.43.0.7"]
    out["spec"]["ports"][0]["nodePort"] = 30007
    return out


def test_update_keeps_allocated_values_when_omitted() -> None:
    old = allocated()
    new = svc(type="NodePort")           # what `kubectl replace` of the original manifest sends
    out, errs = update(S, new, old)
    assert errs == []
    assert out["spec"]["clusterIP"] == "10.43.0.7" and out["spec"]["clusterIPs"] == ["10.43.0.7"]
    assert out["spec"]["ports"][0]["nodePort"] == 30007


def test_cluster_ip_is_immutable() -> None:
    old = allocated()
    new = copy.deepcopy(old)
    new["spec"]["clusterIP"] = "10.43.0.8"
    new["spec"]["clusterIPs"] = ["10.43.0.8"]
    _, errs = update(S, new, old)
    assert 'spec.clusterIPs[0]: Invalid value: []string{"10.43.0.8"}: may not change once set' in errors(errs)


def test_type_change_to_cluster_ip_drops_node_ports() -> None:
    old = allocated()
    new = copy.deepcopy(old)
    new["spec"]["type"] = "ClusterIP"
    out, errs = update(S, new, old)
    assert errs == []
    assert "nodePort" not in out["spec"]["ports"][0]
    assert "externalTrafficPolicy" not in out["spec"]


def test_status_update_validates_ingress() -> None:
    old = allocated()
    st = S.status_strategy()
    new = copy.deepcopy(old)
    new["status"] = {"loadBalancer": {"ingress": [{"ip": "not-an-ip"}]}}
    _, errs = update(st, new, old)
    assert errors(errs)[0].startswith('status.loadBalancer.ingress[0].ip: Invalid value: "not-an-ip"')


def test_name_rule_is_dns1035() -> None:
    assert S.name_fn("1web", False)
    assert S.name_fn("web", False) == []
