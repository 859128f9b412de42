"""C1, reading the sweep: accuracy kept at each target, the study's targets met or missed, figures
against each method's target scale, and per-layer sensitivity to magnitude pruning."""
from __future__ import annotations

import copy
import re
from typing import Any

import pandas as pd

from ..compression.magnitude import prunable, prune_magnitude
from ..compression.measure import sparsity
from ..evaluation.intervals import format_rate, wilson_of_rate
from ..evaluation.predict import accuracy
from ..report import figures
from .compression import table_label


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
                f"- {model_name}, {method.title} ([Table](#tab:C1_{table_label(name, model_name)})): after fine-tuning, "
                f"accuracy stays within {100 * max_acc_drop:g} points of the dense model's {d['acc']:.2f} "
                + (f"at {_points(r.point for r in kept)}" if kept else "at no target tested")
                + ("; it loses more at " + _points(f"{r.point} ({r.acc:.2f})" for r in lost) + "." if lost else
                   "; no target tested loses more.")
                + f" Without fine-tuning, it is {rows[-1].acc_pre_ft:.2f} at {rows[-1].point}.")
    return lines


def noise_sentence(dense, max_acc_drop: float) -> str:
    """What one image and the 95 % interval mean on the validation split, next to the allowed drop."""
    d = max(dense.values(), key=lambda item: item[1]["acc"])[1]
    low, high = wilson_of_rate(d["acc"], d["n"])
    return (f"All accuracies are over the {d['n']} validation images, so one image is {100 / d['n']:.0f} points, and an "
            f"accuracy of {d['acc']:.2f} has the 95 % Wilson interval [{low:.2f}, {high:.2f}]. The largest accuracy drop "
            f"that counts as keeping the accuracy, {100 * max_acc_drop:g} points, is "
            f"{max_acc_drop * d['n']:.0f} image{'' if round(max_acc_drop * d['n']) == 1 else 's'}: "
            "the verdicts below are read against that noise, not as resolved differences.")


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
                lines.append(f"- {model_name}, {method.title} at {r.point}: accuracy {format_rate(r.acc, d['n'])} "
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


def layer_sensitivity(dense, amounts: list[float], data, device) -> pd.DataFrame:
    """Per model, prunable layer and fraction of `amounts`: the layer's sparsity under global
    magnitude pruning at that fraction, and the accuracy lost when that layer alone is pruned by
    it (no fine-tuning). Columns: model, layer, weights, amount, global_sparsity, acc_alone,
    drop_alone (fractions of the validation split), n (its size)."""
    rows = []
    for name, (base, d) in dense.items():
        for amount in amounts:
            per_layer = sparsity(prune_magnitude(copy.deepcopy(base.model), amount, "global"))["per_layer"]
            for layer, module in prunable(base.model):
                alone = prune_magnitude(copy.deepcopy(base.model), amount, "layerwise", only=[layer])
                acc = accuracy(alone, data.valid.images, data.valid.labels, device)
                rows.append({"model": name, "layer": layer, "weights": module.weight.numel(), "amount": amount,
                             "global_sparsity": per_layer[layer], "acc_alone": acc, "drop_alone": d["acc"] - acc,
                             "n": d["n"]})
    return pd.DataFrame(rows)


def _heatmap(ax, values, rows: list[str], cols: list[str], fmt: str, cmap: str, title: str, fig,
             symmetric: bool = False) -> None:
    """values [len(rows), len(cols)] as an annotated heat map with its colorbar; `symmetric` centres
    the colour scale on 0 (white), for signed values."""
    top = max(1, max(abs(v) for row in values for v in row)) if symmetric else None
    im = ax.imshow(values, cmap=cmap, aspect="auto", vmin=-top if symmetric else None, vmax=top)
    ax.set_xticks(range(len(cols)), cols, fontsize=8)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    ax.set_title(title, fontsize=9)
    for r in range(len(rows)):
        for c in range(len(cols)):
            shade = float(im.norm(values[r][c]))  # white text on the darkest cells
            ax.text(c, r, format(values[r][c], fmt), ha="center", va="center", fontsize=7.5,
                    color="white" if shade > 0.75 or (symmetric and shade < 0.25) else "black")
    fig.colorbar(im, ax=ax, fraction=0.05).ax.tick_params(labelsize=7)


def sensitivity_figures(table: pd.DataFrame) -> list[tuple[Any, str, str]]:
    """Per model: two heat maps over (layer, fraction): the validation images lost when that layer
    alone is magnitude-pruned by the fraction, and the sparsity global pruning at it gives the layer."""
    import matplotlib.pyplot as plt

    out = []
    for name, sub in table.groupby("model", sort=False):
        layers, amounts = list(dict.fromkeys(sub.layer)), list(dict.fromkeys(sub.amount))
        lost = sub.pivot_table(index="layer", columns="amount", values="drop_alone", sort=False)
        lost = (lost * sub.n.iloc[0]).round().astype(int).loc[layers, amounts].values.tolist()
        thin = sub.pivot_table(index="layer", columns="amount", values="global_sparsity", sort=False)
        thin = thin.loc[layers, amounts].values.tolist()
        fig, axes = plt.subplots(1, 2, figsize=(8.4, 0.32 * len(layers) + 1.4))
        labels = [f"{a:.0%}" for a in amounts]
        _heatmap(axes[0], lost, layers, labels, "d", "RdBu_r", f"images lost (of {sub.n.iloc[0]}), layer alone pruned", fig,
                 symmetric=True)
        _heatmap(axes[1], thin, layers, labels, ".2f", "Blues", "sparsity of the layer under global pruning", fig)
        axes[1].set_yticklabels([])
        for ax in axes:
            ax.set_xlabel("fraction pruned", fontsize=8)
        fig.tight_layout()
        out.append((fig, f"sensitivity_{name}", f"{name}, per layer and pruning fraction: validation images lost when "
                    "that layer alone is magnitude-pruned by the fraction, without fine-tuning (left; negative: images "
                    "gained), and the sparsity global pruning at the same fraction gives the layer (right)."))
    return out


def sensitivity_tables(table: pd.DataFrame) -> list[tuple[str, pd.DataFrame, str]]:
    """Per model (caption, table, label): per layer, its weights and, at each fraction, the sparsity
    global pruning gives it and the accuracy left when it alone is pruned (95 % Wilson interval)."""
    out = []
    for name, sub in table.groupby("model", sort=False):
        wide = sub.drop_duplicates("layer")[["layer", "weights"]].assign(weights=lambda t: t.weights.map("{:,}".format))
        for a, at in sub.groupby("amount", sort=False):
            wide[f"global {a:.0%}: sparsity"] = at.global_sparsity.map("{:.2f}".format).tolist()
            wide[f"alone {a:.0%}: acc"] = [format_rate(acc, n) for acc, n in zip(at.acc_alone, at.n)]
        out.append((f"{name}, per layer: the sparsity global pruning at each fraction gives the layer, and the "
                    "validation accuracy (95 % Wilson interval) when that layer alone is pruned by the fraction, "
                    "without fine-tuning", wide, f"sensitivity_{name}"))
    return out


def sensitivity_text(table: pd.DataFrame) -> str:
    """Per model and fraction: the most sensitive layer (in images lost), and the layers global
    pruning thins most and least."""
    lines = []
    for name, sub in table.groupby("model", sort=False):
        parts = []
        for a, at in sub.groupby("amount", sort=False):
            worst = at.sort_values("drop_alone", ascending=False).iloc[0]
            most = at.sort_values("global_sparsity", ascending=False).iloc[0]
            least = at.sort_values("global_sparsity").iloc[0]
            lost = round(worst.drop_alone * worst.n)
            parts.append(f"at {a:.0%}, " + (f"**{worst.layer}** ({worst.weights:,} weights) matters most: pruned alone it "
                                            f"costs {lost} of {worst.n} images" if lost > 0 else
                                            "no layer pruned alone costs a single image")
                         + f"; global pruning thins {most.layer} most ({most.global_sparsity:.0%}) and {least.layer} "
                         f"least ({least.global_sparsity:.0%})")
        lines.append(f"{name} ([Figure](#fig:C1_sensitivity_{name}), [Table](#tab:C1_sensitivity_{name})): "
                     + "; ".join(parts) + ".")
    return "\n\n".join(lines)
