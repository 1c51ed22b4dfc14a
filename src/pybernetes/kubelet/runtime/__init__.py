"""Container runtimes the kubelet drives through :class:`~pybernetes.kubelet.runtime.interface.Runtime`."""
