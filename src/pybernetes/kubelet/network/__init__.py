"""Pod networking on a real node.

- ``cni.py`` runs the standard CNI plugins (loopback, bridge with host-local IPAM, portmap) for a pod's network
  namespace, as libcni does for containerd: the network config list is generated from the node's podCIDR, the
  plugins are chained with ``prevResult``, results are cached so ``DEL`` works after the pod is gone.
- ``dnsfiles.py`` renders a pod's ``/etc/hosts`` and ``/etc/resolv.conf`` (pure functions, upstream's
  ``pkg/kubelet/network/dns`` and ``kubelet_pods.go`` hosts file rules).
"""
