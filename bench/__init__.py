"""Benchmarks behind ``make bench`` (``python -m bench.run --out docs/BENCHMARKS.md``).

The API server is measured as a client sees it: a real server process, driven over HTTPS by separate
load-generator processes, and each figure is printed beside the floor under it (the same writes done directly on
the store) and the goal it must meet.
"""
