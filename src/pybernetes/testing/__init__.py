"""The project's own test tooling (importable by tests, ``tools/`` scripts and ``make up``); never used at run time."""
