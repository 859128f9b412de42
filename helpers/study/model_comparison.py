"""A2, the trained models side by side: accuracies with their intervals, and every pair of models
compared image by image on the same images (McNemar's exact test with the paired bootstrap interval
of the difference), so that "more accurate" is said only where the test resolves it."""
from __future__ import annotations

from typing import Any

import pandas as pd

from ..evaluation.intervals import format_rate, wilson_of_rate
from ..evaluation.paired import as_summary, compare, difference_words
from .training import ACC_KEY, Scores, split_sizes


def comparison_table(headline: dict[str, dict[str, Any]], data) -> pd.DataFrame:
    """One row per model: selection, validation (and test) accuracies with their 95 % Wilson intervals, parameters (and, where a model
    has a frozen part, those training updated), size, batch-1 latency (timed side by side in A2) and
    training time (of the run that made the checkpoint; seconds per epoch are in the runs table)."""
    n = split_sizes(data)
    short = {"train": "train acc", "selection": "select acc", "valid": "val acc", "test": "test acc"}
    frozen = any(s.get("trained_params", s["params"]) != s["params"] for s in headline.values())
    # training accuracy is in the accuracy table: with it the row of six intervals wrapped in print;
    # sizes, latencies and seconds to the digits that differ, so the intervals keep one line each
    return pd.DataFrame([{"model": m, **{short[split]: format_rate(s[ACC_KEY[split]], size) for split, size in n.items()
                                         if split != "train"},
                          "parameters": f"{s['params']:,}",
                          **({"trained": f"{s['trained_params']:,}"} if frozen else {}),
                          "size (MB)": f"{s['size_mb']:.1f}",
                          **({"batch-1 ms": f"{s['batch1_ms']:.2f}"} if "batch1_ms" in s else {}),
                          "training s": f"{s['total_train_s']:.0f}"} for m, s in headline.items()])


def _model_line(name: str, s: dict[str, Any], reference: float | None, n: dict[str, int], source: str) -> str:
    """One model's accuracies with intervals, its gap to training, its speed, the course report."""
    line = (f"- **{name}**: validation accuracy {format_rate(s['val_acc'], n['valid'])}, training "
            f"{format_rate(s['train_acc'], n['train'])} (a gap of {100 * (s['train_acc'] - s['val_acc']):.1f} "
            f"points), {s['epoch_s']:.2f} s per epoch ({s['train_img_s']:.0f} img/s)")
    if reference is not None:
        low, high = wilson_of_rate(s["val_acc"], n["valid"])
        inside = "inside" if low <= reference <= high else "outside"
        diff = 100 * (s["val_acc"] - reference)
        line += (f"; {source} reports {reference:.2f}: this run is {abs(diff):.0f} points "
                 f"{'above' if diff > 0 else 'below'} it, and {reference:.2f} lies {inside} this run's interval")
    return line + "."


def paired_comparisons(headline: dict[str, dict[str, Any]], model_scores: Scores,
                       alpha: float) -> dict[str, dict[str, Any]]:
    """Every pair of models, the more accurate on validation first ('<A>_vs_<B>'), compared image by
    image on the selection and the validation split (`paired.compare`, `paired.as_summary`)."""
    ranked = sorted(headline, key=lambda m: headline[m]["val_acc"], reverse=True)
    out = {}
    for i, a in enumerate(ranked):
        for b in ranked[i + 1:]:
            out[f"{a}_vs_{b}"] = {split: as_summary(compare(model_scores[a][split]["correct"],
                                                            model_scores[b][split]["correct"], alpha=alpha))
                                  for split in ("selection", "valid") if split in model_scores[a]}
    return out


def comparison_text(headline: dict[str, dict[str, Any]], reference_val_acc: dict[str, float], data,
                    pairs: dict[str, dict[str, Any]] | None = None, reference_source: str = "") -> str:
    """One line per model, most accurate first (accuracies with 95 % Wilson intervals, gap to
    training, speed, the course report's accuracy when `reference_val_acc` has one), then the most
    against the least accurate model, compared image by image (`paired_comparisons`): only a
    difference McNemar's test resolves is called one."""
    if reference_val_acc and not reference_source.strip():
        raise ValueError("parameter 'reference_val_acc' quotes published accuracies, so 'reference_source' must name "
                         "where they come from")
    n = split_sizes(data)
    ranked = sorted(headline, key=lambda m: headline[m]["val_acc"], reverse=True)
    text = ("[Table](#tab:A2_comparison) compares the models; every interval is a 95 % Wilson interval.\n\n"
            + "\n".join(_model_line(m, headline[m], reference_val_acc.get(m), n, reference_source) for m in ranked))
    if len(ranked) > 1:
        a, b = headline[ranked[0]], headline[ranked[-1]]
        test = (pairs or {}).get(f"{ranked[0]}_vs_{ranked[-1]}", {})
        text += (f"\n\nIs {ranked[0]}, with {a['params'] / b['params']:.2g}× the parameters, more accurate than "
                 f"{ranked[-1]}? On the same images, " + "; ".join(
                     f"{split} split: {t['only_a']} images right only for {ranked[0]}, {t['only_b']} only for "
                     f"{ranked[-1]} ({difference_words(t['difference'], t['diff_low'], t['diff_high'])}, "
                     f"McNemar p = {t['p_value']:.2g})" for split, t in test.items()) + ". "
                 + ("Neither split resolves the difference: the study calls neither the more accurate (which is not "
                    "evidence of equality)."
                    if not any(t["resolved"] for t in test.values()) else
                    "The difference is resolved on the " + " and ".join(s for s, t in test.items() if t["resolved"])
                    + " split."))
    return text + ("\n\nThe batch-1 latencies of [Table](#tab:A2_comparison) were timed round-robin side by side "
                   "here, each model taking the study's grid; C1 times each model of the later stages again beside "
                   "its compressed versions.")
