"""kube-proxy: Services + EndpointSlices → nftables, and NetworkPolicy enforcement, in one table per node.

Modules: ``nft`` (the ruleset model, full and incremental transactions), ``rules`` (Services → rules, pure),
``netpol`` (NetworkPolicies → rules, pure), ``runner`` (applying a transaction), ``proxier`` (informers and the
level-triggered sync), ``servicelb`` (LoadBalancer ingress IPs), ``healthcheck`` (healthCheckNodePort
servers), ``host`` (sysctls), ``main`` (running it in the node agent or alone).
"""
