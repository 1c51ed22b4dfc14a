"""The store: a revisioned key-value log with etcd semantics (SQLite embedded, etcd for HA)."""
