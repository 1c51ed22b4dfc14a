"""API machinery without I/O: schema facts, resources, strategies, validation, patches, codecs, tables."""
