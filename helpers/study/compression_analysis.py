"""C1, reading the sweep: accuracy kept at each target, the study's targets met or missed, figures
against each method's target scale, and per-layer sensitivity to magnitude pruning."""
from __future__ import annotations

import copy
import re
from typing import Any

import pandas as pd

from ..compression.magnitude import prunable, prune_magnitude
from ..config.model_overrides import for_model
from ..compression.measure import sparsity
from ..evaluation.intervals import format_rate, wilson_of_rate
from ..evaluation.paired import compare, evidence
from ..evaluation.predict import accuracy
from ..report import figures
from ..report.wording import span
from .compression import table_label


def against_dense(r, d: dict[str, Any], alpha: float) -> dict[str, Any]:
    """A compressed model (record `r`) against its dense model (`d`, `compression.dense_models`) on
    the same validation images: `paired.compare` (McNemar's exact test, paired bootstrap interval;
    'a' = the compressed model)."""
    return compare(r.correct, d["correct"], alpha=alpha)


def kept_accuracy_lines(sweep, dense, alpha: float) -> list[str]:
    """Per model and method: the points whose fine-tuned validation accuracy the paired test finds
    resolved below (or above) the dense model's, and that the rest are not resolved from it."""
    lines = []
    for model_name, (_, d) in dense.items():
        for name, method in sweep.methods.items():
            rows = sorted((r for r in sweep.made(name) if r.model == model_name), key=lambda r: r.target)
            if not rows:
                continue
            tests = {r.point: against_dense(r, d, alpha) for r in rows}
            lost = [r for r in rows if tests[r.point]["better"] == "b"]
            gained = [r for r in rows if tests[r.point]["better"] == "a"]
            one = len(rows) == 1
            text = (f"- {model_name}, {method.title} ([Table](#tab:C1_{table_label(name, model_name)})): fine-tuned "
                    f"accurac{'y' if one else 'ies'} {span(r.acc for r in rows)} against the dense {d['acc']:.2f}; ")
            rest = len(rows) - len(lost) - len(gained)
            if not lost and not gained:
                worst = min(rows, key=lambda r: tests[r.point]["p_value"])
                text += ((f"not resolvably different from the dense model ({worst.point}: " if one else
                          f"no point differs resolvably from the dense model (the closest to a difference, {worst.point}: ")
                         + f"{evidence(tests[worst.point])}).")
            else:
                text += "; ".join(f"{'lost' if r in lost else 'gained'} at {r.point} ({r.acc:.2f}; "
                                  f"{evidence(tests[r.point])})" for r in lost + gained)
                text += ("." if not rest else "; the other point is not resolved." if rest == 1 else
                         f"; the other {rest} are not resolved.")
            measured = [r for r in rows if r.acc_pre_ft is not None]  # (a control trained from scratch has none)
            lines.append(text + (f" Without fine-tuning: {measured[-1].acc_pre_ft:.2f} at {measured[-1].point}."
                                 if measured else ""))
    return lines


def paired_sentence(dense, alpha: float) -> str:
    """How a compressed model is compared with its dense model, and what the validation split resolves."""
    d = max(dense.values(), key=lambda item: item[1]["acc"])[1]
    low, high = wilson_of_rate(d["acc"], d["n"])
    return (f"All accuracies are over the same {d['n']:,} validation images (one image is {100 / d['n']:.2g} points; an "
            f"accuracy of {d['acc']:.2f} has the 95 % Wilson interval [{low:.2f}, {high:.2f}]). A compressed model is "
            "compared with its dense model image by image: McNemar's exact test (McNemar 1947) on the images only "
            "one of the two gets right, with the paired bootstrap interval of the difference (Efron & Tibshirani 1993). A loss (or gain) is stated only where "
            f"the test resolves it (p < {alpha:g}); otherwise the difference is not resolved, whatever its size.")


def sparsity_target_lines(sweep, dense, target_sparsity: float, target_size_reduction: float,
                          alpha: float) -> list[str]:
    """The study's unstructured target: at `target_sparsity`, no resolved loss of validation accuracy
    (paired test) and a compact file at least `target_size_reduction` times smaller than the dense
    checkpoint."""
    lines = []
    for model_name, (_, d) in dense.items():
        for name, method in sweep.methods.items():
            hit = [r for r in sweep.made(name) if r.model == model_name and method.target_name == "sparsity"
                   and abs(r.target - target_sparsity) < 1e-9]
            for r in hit:
                smaller = d["size_mb"] / r.size_compressed_mb
                test = against_dense(r, d, alpha)
                lines.append(f"- {model_name}, {method.title} at {r.point}: accuracy {format_rate(r.acc, d['n'])} against "
                             f"{d['acc']:.2f} ({evidence(test)}; target: no resolved loss, "
                             f"{'missed' if test['better'] == 'b' else 'met'}); compact checkpoint "
                             f"{r.size_compressed_mb:.2f} MB, {smaller:.1f}× smaller than the dense {d['size_mb']:.2f} MB "
                             f"(target: at least {target_size_reduction:g}×, "
                             f"{'met' if smaller >= target_size_reduction else 'missed'}).")
    return lines


def nonzero_ratio_lines(sweep, dense, target_ratio: float, max_drop: float, alpha: float) -> list[str]:
    """Han et al.'s target, per model: of the unstructured models (every method) whose loss of
    validation accuracy the paired test does not resolve, the one with the largest ratio of dense
    parameters to non-zero parameters; and whether some model reaches `target_ratio` with no
    resolved loss and a point estimate of the loss within `max_drop` (a fraction). [] when
    target_ratio is 0."""
    if target_ratio <= 0:
        return []
    lines = []
    for model_name, (_, d) in dense.items():
        rows = [(d["params"] / r.nonzero, r, against_dense(r, d, alpha)) for name, m in sweep.methods.items()
                if m.family == "unstructured" for r in sweep.made(name) if r.model == model_name and r.nonzero]
        kept = sorted((x for x in rows if x[2]["better"] != "b"), key=lambda x: x[0])
        if not kept:
            lines.append(f"- {model_name}: every unstructured model loses accuracy, resolved by the paired test; no "
                         f"ratio of non-zero parameters is kept without loss (target {target_ratio:g}×, missed).")
            continue
        ratio, r, test = kept[-1]
        met = [x for x in kept if x[0] >= target_ratio and -x[2]["difference"] <= max_drop]
        lines.append(f"- {model_name}: the largest reduction of non-zero parameters with no loss resolved is "
                     f"{ratio:.1f}× ({r.nonzero:,} of {d['params']:,}; {sweep.methods[r.method].title} at {r.point}), "
                     f"accuracy {format_rate(r.acc, d['n'])} against {d['acc']:.3f} ({evidence(test)}). Target, at least "
                     f"{target_ratio:g}× fewer non-zeros with no resolved loss and at most {100 * max_drop:g} points "
                     "lost: " + (f"met by {len(met)} model{'s' * (len(met) != 1)}." if met else "missed."))
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
            made = [r for r in sweep.made(name) if r.model == model_name]
            for series in dict.fromkeys([method.series(r) for r in made] or [name]):  # a line per series
                for stage, acc_of in (("after fine-tuning", "acc"), ("before fine-tuning", "acc_pre_ft")):
                    rows.append({"model": model_name, "method": series, "stage": stage, "x": method.dense_value,
                                 "accuracy": d["acc"], "size_mb": d["size_mb"], "size_compressed_mb": d["size_mb"]})
                    rows += [{"model": model_name, "method": series, "stage": stage, "x": method.achieved(r, d["macs"]),
                              "accuracy": getattr(r, acc_of), "size_mb": r.size_mb,
                              "size_compressed_mb": r.size_compressed_mb}
                             for r in made if method.series(r) == series]
    return pd.DataFrame(rows)


def target_figures(sweep, dense, what: str = "accuracy") -> list[tuple[Any, str, str]]:
    """(figure, name, caption) against each target scale: validation accuracy (`what` 'accuracy')
    or checkpoint sizes ('size')."""
    out = []
    for kind in dict.fromkeys(m.target_name for m in sweep.methods.values()):
        long = _long_table(sweep, dense, kind)
        if long.empty:
            continue
        n = long.model.map({m: d["n"] for m, (_, d) in dense.items()})
        bounds = [wilson_of_rate(a, k) if a is not None and a == a and k else (float("nan"),) * 2
                  for a, k in zip(long.accuracy, n)]
        long = long.assign(low=[b[0] for b in bounds], high=[b[1] for b in bounds])
        if what == "accuracy":
            out.append((figures.curves(long, "accuracy", "model", "method", "stage", "validation accuracy", x="x",
                                       xlabel=kind, low="low", high="high"), f"accuracy_vs_{_slug(kind)}",
                        f"validation accuracy against {kind}, before and after fine-tuning (the dense model is the "
                        "first point of every line); error bars: 95 % Wilson intervals."))
            continue
        after = long[long.stage == "after fine-tuning"]
        size = pd.concat([after.assign(format="checkpoint", mb=after.size_mb),
                          after.assign(format="smallest file", mb=after.size_compressed_mb)])
        out.append((figures.curves(size, "mb", "model", "method", "format", "size (MB)", None, x="x", xlabel=kind),
                    f"size_vs_{_slug(kind)}", f"checkpoint size and the size of the smallest file that restores the "
                    f"model, against {kind}."))
    return out


def sensitivity_amounts(params: dict[str, Any], models) -> dict[str, list[float]]:
    """Per model, the fractions of its per-layer sensitivity scan (`model_overrides` may set fewer)."""
    return {m: list(for_model(params, m)["sensitivity_amounts"]) for m in models}


SENSITIVITY_COLUMNS = ("model", "layer", "weights", "amount", "global_sparsity", "acc_alone", "drop_alone", "n")


def layer_sensitivity(dense, amounts: list[float] | dict[str, list[float]], data, device) -> pd.DataFrame:
    """Per model, prunable layer and fraction of `amounts` (one list for all, or one per model, as
    `model_overrides` may give a model fewer): the layer's sparsity under global magnitude pruning
    at that fraction, and the accuracy lost when that layer alone is pruned by it (no fine-tuning).
    Columns: model, layer, weights, amount, global_sparsity, acc_alone, drop_alone (fractions of the
    validation split), n (its size)."""
    rows = []
    for name, (base, d) in dense.items():
        for amount in amounts.get(name, []) if isinstance(amounts, dict) else amounts:
            per_layer = sparsity(prune_magnitude(copy.deepcopy(base.model), amount, "global"))["per_layer"]
            for layer, module in prunable(base.model):
                alone = prune_magnitude(copy.deepcopy(base.model), amount, "layerwise", only=[layer])
                acc = accuracy(alone, data.valid.images, data.valid.labels, device)
                rows.append({"model": name, "layer": layer, "weights": module.weight.numel(), "amount": amount,
                             "global_sparsity": per_layer[layer], "acc_alone": acc, "drop_alone": d["acc"] - acc,
                             "n": d["n"]})
    return pd.DataFrame(rows, columns=SENSITIVITY_COLUMNS)


def _heatmap(ax, values, rows: list[str], cols: list[str], fmt: str, cmap: str, title: str, fig,
             symmetric: bool = False) -> None:
    """values [len(rows), len(cols)] as an annotated heat map with its colorbar; `symmetric` centres
    the colour scale on 0 (white), for signed values."""
    top = max(1, max(abs(v) for row in values for v in row)) if symmetric else None
    im = ax.imshow(values, cmap=cmap, aspect="auto", vmin=-top if symmetric else None, vmax=top)
    ax.set_xticks(range(len(cols)), cols, fontsize=figures.SMALL)
    ax.set_yticks(range(len(rows)), rows, fontsize=figures.SMALL)
    ax.set_title(title, fontsize=figures.TITLE)
    for r in range(len(rows)):
        for c in range(len(cols)):
            shade = float(im.norm(values[r][c]))  # white text on the darkest cells
            ax.text(c, r, format(values[r][c], fmt), ha="center", va="center", fontsize=figures.SMALL,
                    color="white" if shade > 0.75 or (symmetric and shade < 0.25) else "black")
    bar = fig.colorbar(im, ax=ax, fraction=0.08, pad=0.03)
    bar.ax.tick_params(labelsize=figures.SMALL)


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
        fig, axes = plt.subplots(1, 2, figsize=(figures.PRINT_WIDTH, 0.24 * len(layers) + 1.3), layout="constrained")
        labels = [f"{a:.0%}" for a in amounts]
        _heatmap(axes[0], lost, layers, labels, "d", "RdBu_r", f"images lost (of {sub.n.iloc[0]}),\nlayer alone pruned",
                 fig, symmetric=True)
        _heatmap(axes[1], thin, layers, labels, ".2f", "Blues", "sparsity of the layer\nunder global pruning", fig)
        axes[1].tick_params(axis="y", labelleft=False)
        for ax in axes:
            ax.set_xlabel("fraction pruned", fontsize=figures.LABEL)
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
            wide[f"alone {a:.0%}: acc"] = at.acc_alone.map("{:.2f}".format).tolist()
        out.append((f"{name}, per layer: the sparsity global pruning at each fraction gives the layer, and the "
                    f"validation accuracy (over {int(sub.n.iloc[0])} images; intervals left out of this detail table) "
                    "when that layer alone is pruned by the fraction, without fine-tuning", wide, f"sensitivity_{name}"))
    return out


def sensitivity_text(table: pd.DataFrame) -> str:
    """Per model, summarised once over the pruning fractions: which layer costs the most accuracy when
    pruned alone (and how much, at each fraction), and which layers global pruning thins most and least."""
    lines = []
    for name, sub in table.groupby("model", sort=False):
        worst = {a: at.sort_values("drop_alone", ascending=False).iloc[0] for a, at in sub.groupby("amount", sort=False)}
        thinned = sub.groupby("layer", sort=False).global_sparsity.max().sort_values()
        n = int(sub.n.iloc[0])
        lost = {a: round(w.drop_alone * w.n) for a, w in worst.items()}
        layers = list(dict.fromkeys(w.layer for a, w in worst.items() if lost[a] > 0))
        fractions = ", ".join(f"{a:.0%}" for a in worst)
        if not layers:
            head = f"no layer pruned alone by {fractions} costs a single validation image"
        elif len(layers) == 1:
            w = next(iter(worst.values()))
            head = (f"the most sensitive layer is **{layers[0]}** ({w.weights:,} weights) at every fraction that costs "
                    "anything: pruned alone it loses " + ", ".join(f"{lost[a]}" for a in worst) + f" of {n} images at "
                    f"{fractions}")
        else:
            head = ("the most sensitive layer changes with the fraction: " + "; ".join(
                f"{w.layer} at {a:.0%} ({lost[a]} of {n} images)" for a, w in worst.items()))
        tail = (": a single threshold leaves the layer that matters most nearly intact" if thinned.index[0] in layers
                else "")
        lines.append(f"{name} ([Figure](#fig:C1_sensitivity_{name}), [Table](#tab:C1_sensitivity_{name}) in the "
                     f"appendix): {head}. Global pruning thins {thinned.index[-1]} most (up to {thinned.iloc[-1]:.0%}) "
                     f"and {thinned.index[0]} least (at most {thinned.iloc[0]:.0%}){tail}.")
    return "\n\n".join(lines)


def method_findings(sweep, dense) -> tuple[str, list]:
    """What each method shows beyond its points (`CompressionMethod.findings`): the methods' markdown
    joined, and their figures; a sentence saying so when no method has any."""
    texts, figures = [], []
    for name, method in sweep.methods.items():
        text, own = method.findings(sweep.made(name), dense) if sweep.made(name) else ("", [])
        texts += [text] if text else []
        figures += own
    return "\n\n".join(texts) or "No method of this study reports more than its points.", figures
