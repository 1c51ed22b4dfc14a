"""Per-kind strategies of the built-in kinds, keyed by (group, kind); the core group is "".

One line per kind: import its strategy class and add ``(group, kind): Strategy()`` below.
"""

from __future__ import annotations

from pybernetes.api.kinds.pod import PodStrategy
from pybernetes.api.strategy import Strategy

STRATEGIES: dict[tuple[str, str], Strategy] = {
    # core/v1
    ("", "Pod"): PodStrategy(),
}
