"""Container images: reference normalisation (and, with issue 4, registry pulls and the local image store)."""
