"""Container images for the node agent: names, registries, the local store (issue 4, "Images").

- ``reference``: names normalised as Docker does (``nginx`` → ``docker.io/library/nginx:latest``).
- ``config``: k3s's ``registries.yaml`` (mirrors, rewrites, credentials, TLS) and pull-secret keyrings.
- ``registry`` (with ``auth``, ``errors``, ``manifest``, ``platform``): the OCI distribution client.
- ``store`` (with ``unpack``): blobs, layers unpacked once for overlayfs, names → manifests; ``gc``: the policy.
- ``puller``: :class:`~pybernetes.kubelet.images.puller.ImagePuller`, what the OCI runtime calls.
- ``importer`` and ``command``: ``pybernetes images import|list|pull|rm``.
"""
