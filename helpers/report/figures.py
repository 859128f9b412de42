"""Matplotlib figures of the study. Each function returns a Figure; notebooks show and save it
with `Stage.show_figure`, the one place figures are written."""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch


def to_hwc(image: torch.Tensor) -> np.ndarray:
    """uint8 or [0, 1] float image [C, H, W] -> array [H, W, 3] for imshow (grey images are
    repeated over the three channels)."""
    x = image.detach().cpu()
    x = x.float() / 255 if x.dtype == torch.uint8 else x.float()
    if x.shape[0] == 1:
        x = x.expand(3, -1, -1)
    return x.clamp(0, 1).permute(1, 2, 0).numpy()


def grouped_bars(values: dict[str, Sequence[float]], labels: Sequence[str], ylabel: str, title: str = "",
                 fmt: str = "%g"):
    """One group of bars per label, one bar per series (e.g. class counts per split); `fmt`
    formats the value printed on each bar."""
    fig, ax = plt.subplots(figsize=(9, 3.2))
    width = 0.8 / len(values)
    x = np.arange(len(labels))
    for i, (name, vals) in enumerate(values.items()):
        bars = ax.bar(x + (i - (len(values) - 1) / 2) * width, vals, width, label=name)
        ax.bar_label(bars, fmt=fmt, fontsize=7)
    ax.set_xticks(x, labels, rotation=30, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    return fig


def image_grid(images: Sequence[torch.Tensor], titles: Sequence[str], ncols: int = 5,
               size: float = 1.9, title: str = "", text_lines: int = 1):
    """Images [3, H, W] (uint8 or [0, 1] float) in a grid, each under a title of up to
    `text_lines` lines (several lines are left-aligned, e.g. a label and top-3 probabilities)."""
    nrows = max(1, -(-len(images) // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * (size + 0.2 + 0.13 * text_lines)),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, img, t in zip(axes.flat, images, titles):
        ax.imshow(to_hwc(img))
        ax.set_title(t, fontsize=7, loc="center" if text_lines == 1 else "left")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def histogram(values: dict[str, np.ndarray], xlabel: str, bins: int = 40, title: str = ""):
    fig, ax = plt.subplots(figsize=(6, 3))
    for name, v in values.items():
        ax.hist(v, bins=bins, alpha=0.5, label=name, color=name if name in ("red", "green", "blue") else None)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    ax.set_title(title)
    ax.legend()
    return fig


def training_curves(histories: dict[str, list[dict]]):
    """Loss and accuracy per epoch, train and validation, one colour per model."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.5))
    for i, (name, hist) in enumerate(histories.items()):
        color = f"C{i}"
        ep = [h["epoch"] for h in hist]
        for split, style in (("train", "--"), ("val", "-")):
            ax_loss.plot(ep, [h[f"{split}_loss"] for h in hist], style, color=color, label=f"{name} {split}")
            ax_acc.plot(ep, [h[f"{split}_acc"] for h in hist], style, color=color, label=f"{name} {split}")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy", ylim=(0, 1))
    ax_acc.legend(fontsize=7)
    fig.tight_layout()
    return fig


def confusion_matrices(matrices: dict[str, np.ndarray], classes: Sequence[str]):
    """Row-normalised confusion matrices side by side, with counts in the cells."""
    n = len(matrices)
    fig, axes = plt.subplots(1, n, figsize=(5.2 * n, 4.6), squeeze=False)
    for ax, (name, cm) in zip(axes[0], matrices.items()):
        cm = np.asarray(cm)
        norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
        ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
        for i in range(cm.shape[0]):
            for j in range(cm.shape[1]):
                if cm[i, j]:
                    ax.text(j, i, cm[i, j], ha="center", va="center", fontsize=7,
                            color="white" if norm[i, j] > 0.5 else "black")
        ax.set_xticks(range(len(classes)), classes, rotation=60, ha="right", fontsize=7)
        ax.set_yticks(range(len(classes)), classes, fontsize=7)
        ax.set(xlabel="predicted", ylabel="true", title=name)
    fig.tight_layout()
    return fig


def _draw_panel(ax, arr: torch.Tensor, kind: str, base: torch.Tensor | None = None) -> None:
    """kind 'image': arr [3, H, W] in [0, 1]; 'delta': a perturbation [3, H, W], amplified around
    grey; 'saliency': [H, W] as a heat map; 'gradcam': [H, W] in [0, 1] over the image `base`."""
    arr = arr.detach().cpu()
    if kind == "image":
        ax.imshow(to_hwc(arr))
    elif kind == "delta":
        ax.imshow(to_hwc(0.5 + arr / (2 * (float(arr.abs().max()) or 1.0))))
    elif kind == "gradcam":
        ax.imshow(to_hwc(base))
        ax.imshow(arr.numpy(), cmap="jet", alpha=0.45, vmin=0, vmax=1)
    else:
        ax.imshow(arr.numpy(), cmap="hot")


def explanation_rows(rows: Sequence[dict], size: float = 1.7):
    """One row per example: the image, then (title, map, kind) panels; kind 'saliency' is shown
    as a heat map, 'gradcam' as an overlay on the image. rows: {'image', 'title', 'maps'}."""
    ncols = 1 + max(len(r["maps"]) for r in rows)
    fig, axes = plt.subplots(len(rows), ncols, figsize=(ncols * size, len(rows) * (size + 0.45)), squeeze=False)
    for ax_row, r in zip(axes, rows):
        for ax in ax_row:
            ax.axis("off")
        ax_row[0].imshow(to_hwc(r["image"]))
        ax_row[0].set_title(r["title"], fontsize=7, loc="left")
        for ax, (title, m, kind) in zip(ax_row[1:], r["maps"]):
            _draw_panel(ax, m, kind, r["image"])
            ax.set_title(title, fontsize=6.5)
    fig.tight_layout()
    return fig


def curves(df, y: str, panel: str, color: str, style: str | None, ylabel: str, ylim=(-0.02, 1.02), *,
           x: str = "eps", xlabel: str = "ε (L∞, pixel units of [0, 1])"):
    """`y` against column `x` (by default 'eps', e.g. attack success rate vs ε): one panel per value
    of column `panel`, line colour by column `color`, line style by column `style`.
    df: a pandas DataFrame; ylim None lets matplotlib choose."""
    panels = list(dict.fromkeys(df[panel]))
    colors = {v: f"C{i}" for i, v in enumerate(dict.fromkeys(df[color]))}
    styles = {v: s for v, s in zip(dict.fromkeys(df[style]) if style else [None], ["-o", "--s", ":^", "-.v"])}
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.2), squeeze=False, sharey=True)
    for ax, p in zip(axes[0], panels):
        sub = df[df[panel] == p]
        for c in colors:
            for st, fmt in styles.items():
                g = sub[(sub[color] == c) & ((sub[style] == st) if style else True)].sort_values(x)
                if len(g):
                    ax.plot(g[x], g[y].astype(float), fmt, color=colors[c],
                            label=f"{c} {st}" if style else str(c))
        ax.set_title(str(p))
        ax.set_xlabel(xlabel)
        if ylim is not None:
            ax.set_ylim(*ylim)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel(ylabel)
    fig.tight_layout()
    return fig


def adversarial_rows(rows: Sequence[dict], size: float = 1.45):
    """One adversarial example per row: a text column (labels, top-3 before and after, norms,
    outcome), then image panels (title, array, kind) with kind 'image' ([3, H, W] in [0, 1]),
    'delta' (a perturbation [3, H, W], shown amplified around grey), 'saliency' [H, W] (heat) or
    'gradcam' ([H, W] map, drawn over the row's image of the same side, given as 'base')."""
    ncols = 1 + max(len(r["panels"]) for r in rows)
    fig, axes = plt.subplots(len(rows), ncols, figsize=(ncols * size + 1.2, len(rows) * (size + 0.35)),
                             squeeze=False, gridspec_kw={"width_ratios": [1.9] + [1] * (ncols - 1)})
    for ax_row, r in zip(axes, rows):
        for ax in ax_row:
            ax.axis("off")
        ax_row[0].text(0, 1, r["text"], fontsize=5.6, va="top", ha="left", family="monospace",
                       transform=ax_row[0].transAxes)
        for ax, (title, arr, kind, *base) in zip(ax_row[1:], r["panels"]):
            _draw_panel(ax, arr, kind, base[0] if base else None)
            ax.set_title(title, fontsize=5.8)
    fig.tight_layout()
    return fig


def history_lines(history: Sequence[dict], series: dict[str, str], ylabel: str, mark_epoch: int | None = None):
    """Per-epoch values of a training history: series maps history keys to legend labels;
    `mark_epoch` draws a vertical line at the kept epoch."""
    fig, ax = plt.subplots(figsize=(6, 3))
    epochs = [h["epoch"] for h in history]
    for key, label in series.items():
        ax.plot(epochs, [h[key] for h in history], "-o", ms=3, label=label)
    if mark_epoch:
        ax.axvline(mark_epoch, color="grey", ls=":", label=f"kept epoch {mark_epoch}")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
