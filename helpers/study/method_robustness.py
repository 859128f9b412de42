"""C2: does a model of another method differ in robustness from magnitude pruning?

Every compressed model, of every method, meets the same inputs: its dense model's fixed adversarial
set (B1), replayed unchanged. That is the one evaluation an int8 graph shares with the others (it
has no gradients, so it is never attacked white-box). Each model is compared image by image with a
reference on those inputs by robust accuracy (classified correctly and not fooled), McNemar's exact
test: an int8 model with the fp32 model it was quantized from (what quantization alone does), any
other method's model with the magnitude-pruned model (`global`) of the same architecture that
removed the nearest fraction of the parameters.
"""
from __future__ import annotations

import pandas as pd

from ..evaluation.paired import compare, evidence
from ..report.wording import joined
from ..compression import method_class
from .compressed_robustness import DENSE
from .deployment_replay import replayable

MAGNITUDE = "global"


def reference(row, rows: pd.DataFrame):
    """The row `row` is compared with among `rows` (the same model, attack, goal and ε), or None."""
    if replayable(row):  # a model without gradients (int8) meets the model it was made from
        source, point = method_class(row.method).source_of(row.point)
        match = rows[rows.method == DENSE] if source == DENSE else rows[(rows.method == source) & (rows.point == point)]
    else:
        magnitude = rows[rows.method == MAGNITUDE]
        match = magnitude.iloc[(magnitude.removed - row.removed).abs().argsort()[:1]] if len(magnitude) else magnitude
    return match.iloc[0] if len(match) else None


def comparisons(replayed: pd.DataFrame, attack: str, eps: float, alpha: float) -> pd.DataFrame:
    """One row per compressed model other than magnitude pruning's: its reference, both robust
    accuracies and the paired test (`better`: 'a' the model, 'b' the reference, None unresolved)."""
    at = replayed[(replayed.attack == attack) & (replayed.goal == "untargeted") & (replayed.eps == eps)]
    rows = []
    for model, sub in at.groupby("model", sort=False):
        for r in sub[~sub.method.isin([DENSE, MAGNITUDE])].itertuples():
            ref = reference(r, sub)
            if ref is None or not r.robust or not ref.robust:
                continue
            test = compare(r.robust, ref.robust, alpha=alpha)
            rows.append({"model": model, "method": r.method, "name": r.name, "reference": ref["name"],
                         "removed": r.removed, "reference_removed": ref.removed, "n": len(r.robust),
                         "robust_acc": r.robust.count("1") / len(r.robust),
                         "reference_robust_acc": ref.robust.count("1") / len(ref.robust), "test": test,
                         "better": test["better"]})
    return pd.DataFrame(rows)


def lines(table: pd.DataFrame, attack: str, eps: float) -> list[str]:
    """Per model and method: how many of its models are more, less or not resolvably robust than
    their reference, naming the resolved ones with the evidence."""
    out = []
    for (model, method), g in table.groupby(["model", "method"], sort=False):
        against = "its fp32 source" if replayable(g.iloc[0]) else "the magnitude-pruned model nearest in parameters removed"
        more, less = g[g.better == "a"], g[g.better == "b"]
        text = (f"- {model}, {method} against {against} ({attack.upper()}, ε = {eps:g}, robust accuracy over the "
                f"{g.n.iloc[0]} inputs of the fixed set): {len(more)} of {len(g)} more robust, {len(less)} less robust, "
                f"{len(g) - len(more) - len(less)} not resolved")
        resolved = [f"{r.name} {r.robust_acc:.2f} against {r.reference} {r.reference_robust_acc:.2f} ({evidence(r.test)})"
                    for r in pd.concat([more, less]).itertuples()]
        out.append(text + (f": {joined(resolved)}." if resolved else "."))
    return out


def sentence(replayed: pd.DataFrame, attack: str, eps: float, alpha: float) -> str:
    """The answer to "does a model of another method differ in robustness from magnitude pruning?"."""
    table = comparisons(replayed, attack, eps, alpha)
    if table.empty:
        return ""
    return ("**Other methods against magnitude pruning.** Every compressed model meets its dense model's fixed set, "
            "the one evaluation an int8 graph shares with the others (it takes no gradients). Each is compared image "
            "by image with a reference, by robust accuracy (McNemar's exact test): an int8 model with the fp32 model "
            "it was quantized from, any other method's model with the magnitude-pruned model removing the nearest "
            "fraction of the parameters.\n\n" + "\n".join(lines(table, attack, eps)))
