"""Choosing a kept epoch on resolved differences only.

Per-epoch scores on a few hundred selection images differ by a few images from epoch to epoch;
taking the highest would act on noise. Here the epoch with the highest score is the reference, every
epoch whose per-image outcomes McNemar's exact test does not resolve below it is tied with it, and
the tie goes to the earliest (the least fine-tuning, the closest to the model it started from).
"""
from __future__ import annotations

from typing import Any

from ..evaluation.paired import compare


def earliest_unresolved(history: list[dict[str, Any]], alpha: float) -> int:
    """The kept epoch of `history` (rows with epoch, select_score and select_outcome, a
    `paired.encode` string): the earliest epoch not resolved worse than the best-scoring one."""
    best = max(history, key=lambda r: (r["select_score"], -r["epoch"]))
    for row in sorted(history, key=lambda r: r["epoch"]):
        if compare(row["select_outcome"], best["select_outcome"], alpha=alpha)["better"] != "b":
            return row["epoch"]
    return best["epoch"]
