"""What network slimming shows beyond its points: per model, the sparsity-training curves and the
histograms of |γ| per λ (the figures of Liu et al. 2017 and of the student lab), and a paragraph
with the accuracy before and after fine-tuning at every fraction of channels removed."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..evaluation.intervals import format_rate
from .slimming import lambda_text


def _by_lambda(records) -> dict[float, list]:
    out: dict[float, list] = {}
    for r in records:
        out.setdefault(r.details["lambda"], []).append(r)
    return out


def _training_sentence(lam: float, summary: dict[str, Any]) -> str:
    how = ("A2's own model, reused" if lam == 0 else
           f"reused from the run of {summary['created_at']}" if summary["reused"] else
           f"trained in {summary['train_s']:.0f} s")
    return f"λ = {lambda_text(lam)}: validation accuracy {summary['acc']:.3f}, kept epoch {summary['best_epoch']} ({how})"


def _points_sentence(points, n: int) -> str:
    return "; ".join(f"{r.details['channels_removed']:.0%} of the channels removed: {format_rate(r.acc_pre_ft, n)} "
                     f"before fine-tuning, {format_rate(r.acc, n)} after" for r in sorted(points, key=lambda r: r.target))


def _training_figure(histories: dict[str, list[dict]]):
    """Per λ, the selection accuracy and the training loss of each epoch (identical curves merged)."""
    import matplotlib.pyplot as plt

    from ..report.figure_style import LABEL, PRINT_WIDTH, SMALL, TITLE, distinct_series, legend_below
    fig, axes = plt.subplots(1, 2, figsize=(PRINT_WIDTH, 2.5), layout="constrained")
    colors = {name: f"C{i}" for i, name in enumerate(histories)}
    for ax, key, ylabel in zip(axes, ("select_acc", "train_loss"), ("selection accuracy", "training loss")):
        curves = distinct_series({name: ([h["epoch"] for h in hist], [h[key] for h in hist])
                                  for name, hist in histories.items()})
        for label, (epochs, values) in curves.items():
            ax.plot(epochs, values, lw=1.2, color=colors[label.split(" = ")[0]], label=label)
        ax.set_xlabel("epoch", fontsize=LABEL)
        ax.set_ylabel(ylabel, fontsize=LABEL)
        ax.set_title(ylabel, fontsize=TITLE)
        ax.tick_params(labelsize=SMALL)
        ax.grid(alpha=0.3)
    legend_below(fig, list(axes))
    return fig


def findings(records, dense) -> tuple[str, list]:
    """(markdown, figures) for C1: see the module docstring. `dense`: model -> (BaseModel, figures)."""
    from ..report import figures

    text, out = [], []
    for model in dict.fromkeys(r.model for r in records):
        base, d = dense[model]
        by_lambda = _by_lambda([r for r in records if r.model == model])
        classes = base.checkpoint.get("arch_args", {}).get("num_classes") or len(base.checkpoint.get("classes", []))
        lines = [f"**Network slimming, {model}** (dense {d['acc']:.3f}; chance {1 / classes:.2f} with {classes} "
                 "classes; Liu et al. report 5–32 % before fine-tuning at their highest ratios; training curves in "
                 f"[Figure](#fig:C1_slimming_training_{model}), scales in [Figure](#fig:C1_slimming_scales_{model})):"]
        for lam, points in by_lambda.items():
            summary = points[0].details["sparse_training"]
            lines.append(f"- {_training_sentence(lam, summary)}. {_points_sentence(points, d['n'])}.")
        text.append("\n".join(lines))
        histories = {f"λ={lambda_text(lam)}": p[0].details["sparse_training"]["history"] for lam, p in by_lambda.items()}
        out.append((_training_figure(histories), f"slimming_training_{model}",
                    f"{model}: training with the L1 penalty on BatchNorm scales, per λ (λ = 0 is A2's training; the "
                    "loss of λ > 0 includes the penalty); the kept epoch is chosen on the selection split."))
        scales = {f"λ={lambda_text(lam)}": np.asarray(p[0].details["gamma_abs"]) for lam, p in by_lambda.items()}
        out.append((figures.histogram(scales, "|γ| of every BatchNorm channel"), f"slimming_scales_{model}",
                    f"{model}: the BatchNorm scales |γ| after training with each λ, the quantity one global "
                    "threshold cuts."))
    return "\n\n".join(text), out
