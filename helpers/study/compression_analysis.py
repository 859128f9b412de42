"""C1, reading the sweep: accuracy kept at each target, the study's targets met or missed, figures
against each method's target scale, and per-layer sensitivity to magnitude pruning."""
from __future__ import annotations

import copy
import re
from typing import Any

import pandas as pd

from ..compression.magnitude import prunable, prune_magnitude
from ..compression.measure import sparsity
from ..evaluation.predict import accuracy
from ..report import figures


def _points(values) -> str:
    return ", ".join(values)


def kept_accuracy_lines(sweep, dense, max_acc_drop: float) -> list[str]:
    """Per model and method: the points whose fine-tuned accuracy stays within `max_acc_drop` of
    the dense model's, those that lose more, and the accuracy of the last point before fine-tuning."""
    lines = []
    for model_name, (_, d) in dense.items():
        for name, method in sweep.methods.items():
            rows = sorted((r for r in sweep.made(name) if r.model == model_name), key=lambda r: r.target)
            if not rows:
                continue
            kept = [r for r in rows if r.acc >= d["acc"] - max_acc_drop - 1e-9]
            lost = [r for r in rows if r not in kept]
            lines.append(
                f"- {model_name}, {method.title}: after fine-tuning, accuracy stays within {100 * max_acc_drop:g} points "
                f"of the dense model's ({d['acc']:.0%}) " + (f"at {_points(r.point for r in kept)}" if kept else
                                                              "at no target tested")
                + ("; it loses more at " + _points(f"{r.point} ({r.acc:.0%})" for r in lost) + "." if lost else
                   "; no target tested loses more.")
                + f" Without fine-tuning, it is {rows[-1].acc_pre_ft:.0%} at {rows[-1].point}.")
    return lines


def sparsity_target_lines(sweep, dense, target_sparsity: float, target_size_reduction: float,
                          max_acc_drop: float) -> list[str]:
    """The study's unstructured target: at `target_sparsity`, accuracy within `max_acc_drop` and a
    compact file at least `target_size_reduction` times smaller than the dense checkpoint."""
    lines = []
    for model_name, (_, d) in dense.items():
        for name, method in sweep.methods.items():
            hit = [r for r in sweep.made(name) if r.model == model_name and method.target_name == "sparsity"
                   and abs(r.target - target_sparsity) < 1e-9]
            for r in hit:
                smaller = d["size_mb"] / r.size_compressed_mb
                acc_ok = r.acc >= d["acc"] - max_acc_drop - 1e-9
                lines.append(f"- {model_name}, {method.title} at {r.point}: accuracy {r.acc:.0%} "
                             f"({100 * (r.acc - d['acc']):+.0f} points; target: no worse than −{100 * max_acc_drop:g}, "
                             f"{'met' if acc_ok else 'missed'}); compact checkpoint {r.size_compressed_mb:.2f} MB, "
                             f"{smaller:.1f}× smaller than the dense {d['size_mb']:.2f} MB (target: at least "
                             f"{target_size_reduction:g}×, {'met' if smaller >= target_size_reduction else 'missed'}).")
    return lines


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _long_table(sweep, dense, kind: str) -> pd.DataFrame:
    """Rows (model, method, stage, x, accuracy, sizes) of the methods whose targets are `kind`,
    with the dense model as each method's starting point."""
    rows = []
    for name, method in sweep.methods.items():
        if method.target_name != kind:
            continue
        for model_name, (_, d) in dense.items():
            for stage, acc_of in (("after fine-tuning", "acc"), ("before fine-tuning", "acc_pre_ft")):
                rows.append({"model": model_name, "method": name, "stage": stage, "x": method.dense_value,
                             "accuracy": d["acc"], "size_mb": d["size_mb"], "size_compressed_mb": d["size_mb"]})
                rows += [{"model": model_name, "method": name, "stage": stage, "x": method.achieved(r, d["macs"]),
                          "accuracy": getattr(r, acc_of), "size_mb": r.size_mb, "size_compressed_mb": r.size_compressed_mb}
                         for r in sweep.made(name) if r.model == model_name]
    return pd.DataFrame(rows)


def target_figures(sweep, dense) -> list[tuple[Any, str, str]]:
    """(figure, name, caption): accuracy and checkpoint size against each target scale."""
    out = []
    for kind in dict.fromkeys(m.target_name for m in sweep.methods.values()):
        long = _long_table(sweep, dense, kind)
        if long.empty:
            continue
        out.append((figures.curves(long, "accuracy", "model", "method", "stage", "validation accuracy", x="x",
                                   xlabel=kind), f"accuracy_vs_{_slug(kind)}",
                    f"validation accuracy against {kind}, before and after fine-tuning (the dense model is the "
                    "first point of every line)."))
        after = long[long.stage == "after fine-tuning"]
        size = pd.concat([after.assign(format="checkpoint", mb=after.size_mb),
                          after.assign(format="smallest file", mb=after.size_compressed_mb)])
        out.append((figures.curves(size, "mb", "model", "method", "format", "size (MB)", None, x="x", xlabel=kind),
                    f"size_vs_{_slug(kind)}", f"checkpoint size and the size of the smallest file that restores the "
                    f"model, against {kind}."))
    return out


def layer_sensitivity(dense, amount: float, data, device) -> pd.DataFrame:
    """Per model and prunable layer: its sparsity under global magnitude pruning at `amount`, and
    the accuracy lost when that layer alone is pruned by `amount` (no fine-tuning)."""
    rows = []
    for name, (base, d) in dense.items():
        per_layer = sparsity(prune_magnitude(copy.deepcopy(base.model), amount, "global"))["per_layer"]
        for layer, module in prunable(base.model):
            alone = prune_magnitude(copy.deepcopy(base.model), amount, "layerwise", only=[layer])
            acc = accuracy(alone, data.valid.images, data.valid.labels, device)
            rows.append({"model": name, "layer": layer, "weights": module.weight.numel(),
                         "global_sparsity": per_layer[layer], "acc_alone": acc, "drop_alone": d["acc"] - acc})
    return pd.DataFrame(rows)


def sensitivity_figures(table: pd.DataFrame, amount: float) -> list[tuple[Any, str, str]]:
    out = []
    for name, sub in table.groupby("model", sort=False):
        fig = figures.grouped_bars({f"sparsity under global pruning at {amount:g}": sub.global_sparsity.round(2),
                                    f"accuracy drop, layer alone pruned by {amount:g}": sub.drop_alone.round(2)},
                                   list(sub.layer), "fraction", fmt="%.2f")
        out.append((fig, f"sensitivity_{name}", f"{name}, per layer: sparsity reached under global pruning, and "
                    "accuracy lost when that layer alone is pruned (no fine-tuning)."))
    return out


def sensitivity_text(table: pd.DataFrame, amount: float) -> str:
    lines = []
    for name, sub in table.groupby("model", sort=False):
        worst = sub.sort_values("drop_alone", ascending=False).iloc[0]
        most = sub.sort_values("global_sparsity", ascending=False).iloc[0]
        least = sub.sort_values("global_sparsity").iloc[0]
        lines.append(f"{name}: the most sensitive layer is **{worst.layer}** ({worst.weights:,} weights): pruned alone "
                     f"by {amount:.0%} it costs {100 * worst.drop_alone:.0f} points. Global pruning at {amount:.0%} "
                     f"prunes {most.layer} most ({most.global_sparsity:.0%} of {most.weights:,} weights) and "
                     f"{least.layer} least ({least.global_sparsity:.0%} of {least.weights:,}).")
    return "\n\n".join(lines)
