"""Pod volumes on a real node.

- ``atomic.py``: upstream's AtomicWriter (timestamped directory + ``..data`` symlink swap) so updates reach running
  containers without torn reads;
- ``projection.py``: the files of configMap, secret, downwardAPI and projected volumes (pure);
- ``tokens.py``: bound ServiceAccount tokens from the TokenRequest API, rotated at 80% of their lifetime;
- ``hostpath.py``: hostPath type checks; ``mounts.py``: volumeMounts (subPath, subPathExpr, readOnly) → runtime
  mounts;
- ``manager.py``: set up, refresh and tear down a pod's volumes (emptyDir incl. tmpfs, hostPath, the projected
  kinds, persistentVolumeClaim);
- ``localpath.py``: removes local-path PersistentVolume directories of this node once their PV is deleted.
"""
