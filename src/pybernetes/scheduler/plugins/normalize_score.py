"""Score normalization shared by several plugins (upstream ``plugins/helper/normalize_score.go``)."""

from __future__ import annotations

from pybernetes.scheduler.framework import MAX_NODE_SCORE


def default_normalize_score(scores: list[int], *, reverse: bool = False, max_priority: int = MAX_NODE_SCORE) -> None:
    """Scale ``scores`` in place to [0, max_priority] by the highest one; ``reverse`` flips them (fewer is
    better). All zero: stay 0, or all ``max_priority`` when reversed."""
    max_count = max(scores, default=0)
    if max_count <= 0:
        if reverse:
            scores[:] = [max_priority] * len(scores)
        return
    if reverse:
        scores[:] = [max_priority - max_priority * s // max_count for s in scores]
    else:
        scores[:] = [max_priority * s // max_count for s in scores]
