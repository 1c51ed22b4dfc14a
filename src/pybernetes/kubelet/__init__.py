"""The node agent (kubelet): registers Nodes, keeps their Leases fresh and runs the pods bound to them.

The layout follows upstream's kubelet and is shared by simulated nodes (issue 3) and real nodes (issue 4):

- ``main.py`` turns ``pybernetes agent`` flags into an :class:`~pybernetes.kubelet.agent.Agent`;
  ``trust.py`` fetches and pins the server CA.
- ``node.py`` registers Nodes and reports their status (``nodestatus.py`` computes it); ``lease.py`` and
  ``heartbeat.py`` renew one Lease per node, spread over the renewal period.
- ``pods.py`` is the one pod informer of the process; ``podworker.py`` drives each pod towards its spec through a
  :class:`~pybernetes.kubelet.runtime.interface.Runtime`; ``podstatus.py`` derives the API status from what the
  runtime reports; ``status.py`` writes it (coalesced) and finishes graceful deletions.
- ``runtime/`` holds the CRI-like ``Runtime`` protocol and its implementations (``simulated.py`` now; the OCI
  runtime of issue 4 goes beside it). ``ipam.py`` hands out pod IPs from a node's podCIDR; ``backoff.py`` is the
  crash-loop back-off; ``images/`` normalises image references.
"""
