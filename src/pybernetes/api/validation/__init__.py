"""Validation helpers shared by every kind: name formats, ObjectMeta, label selectors."""
