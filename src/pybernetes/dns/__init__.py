"""Cluster DNS: the ``kube-dns`` Service's answers, served by every real node (issue 5).

Modules: ``names`` (reading query names, pure), ``cluster`` (Services, EndpointSlices, Pods and Namespaces cut down
to record facts, with indexes), ``records`` (answers, as CoreDNS's kubernetes plugin gives them, pure over the
cluster view), ``forward`` (everything else to the node's resolvers, cached briefly, failing fast), ``server``
(UDP and TCP), ``source`` (informers feeding the view), ``publish`` (the node's ``kube-dns-<node>``
EndpointSlice and the readiness of every agent's), ``node`` (all of it in a node agent, on the pod network's
gateway address).
"""
