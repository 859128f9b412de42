"""The explorer's second tab: the variants of one model side by side, with what C1 and C2 measured
(accuracy on the validation split, parameters removed, file size, batch-1 latency, and robustness:
the fixed adversarial set's success rate, crafted on the dense model and replayed, and white-box
robust accuracy where C2 attacked the variant itself). Nothing is measured here; a value C1 or C2
did not measure is left empty."""
from __future__ import annotations

from typing import Any

import pandas as pd

from ..robustness import eps_key
from ..study.compressed_robustness import DENSE, variants


def _robustness(c2: dict[str, Any] | None, model: str, method: str, point: str, attack: str) -> dict[str, Any]:
    if not c2:
        return {}
    node = c2.get("summary", {}).get(model, {}).get(method, {})
    node = node if method == DENSE else node.get(point, {})
    eps = c2.get("example_eps")
    fixed = node.get(attack, {}).get("untargeted", {}).get("success_rate")
    white = node.get("whitebox", {}).get(attack, {}).get("untargeted", {}).get(eps_key(eps) if eps else "", {})
    return {f"fixed-set {attack} success (ε={eps:g}, crafted on dense)" if eps else "fixed-set success": fixed,
            f"white-box {attack} robust acc. (ε={eps:g})" if eps else "white-box robust acc.": white.get("robust_acc")}


def comparison_table(run, model: str, attack: str = "pgd") -> pd.DataFrame:
    """One row per variant C1 measured of `model` (dense first); empty when C1 has not run."""
    c1 = run.metrics("C1")
    if not c1 or model not in c1.get("summary", {}):
        return pd.DataFrame()
    c2 = run.metrics("C2")
    rows = []
    for v in variants(c1, run.layout, [model])[model]:
        rows.append({"variant": v.name, "accuracy": v.acc, "parameters removed": v.removed, "file MB": v.size_mb,
                     "batch-1 ms": v.latency_b1_ms, **_robustness(c2, model, v.method, v.point, attack)})
    table = pd.DataFrame(rows)
    return table.dropna(axis=1, how="all")


def comparison_note(run, model: str) -> str:
    """Where the table's numbers come from, or why there is no table."""
    c1 = run.metrics("C1")
    if not c1 or model not in c1.get("summary", {}):
        return f"C1 has not measured {model} in this run: no comparison yet (run the C1 and C2 stages)."
    n = c1["dense"][model].get("n") or "all"
    c2 = "" if run.metrics("C2") else " C2 has not run: no robustness columns."
    return (f"Accuracy: fraction of the {n} validation images (C1); file MB: the smallest file that restores the "
            f"model; latency: C1's batch-1 median.{c2}")
