"""Pybernetes: a Kubernetes-compatible container orchestrator in Python."""

__version__ = "0.1.0"
# The Kubernetes release whose API we serve (see DESIGN.md); /version reports it.
KUBE_VERSION = "v1.33.4"
