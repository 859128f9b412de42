"""Matplotlib figures of the study. Each function returns a Figure; notebooks show and save it
with `Stage.show_figure`, the one place figures are written."""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

# Figures are drawn at the size they print: the report scales a figure to at most 0.9 of the text
# width (0.9 × 6.9 in at 0.8 in margins = 6.2 in; nbconvert's adjustbox default), so one drawn
# PRINT_WIDTH wide (plus the tight bounding box's margin) keeps its font sizes, and no text in it is
# smaller than SMALL points (the legibility floor is 7 pt on paper).
PRINT_WIDTH = 6.0  # inches
SMALL = 7.5  # points: panel titles, ticks, legends, colorbar labels


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
    """Loss and accuracy per epoch, on the training batches and on the selection split, one colour
    per model."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.5))
    for i, (name, hist) in enumerate(histories.items()):
        color = f"C{i}"
        ep = [h["epoch"] for h in hist]
        for split, style, word in (("train", "--", "train"), ("select", "-", "selection")):
            ax_loss.plot(ep, [h[f"{split}_loss"] for h in hist], style, color=color, label=f"{name} {word}")
            ax_acc.plot(ep, [h[f"{split}_acc"] for h in hist], style, color=color, label=f"{name} {word}")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy", ylim=(0, 1))
    ax_acc.legend(fontsize=SMALL)
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


def _colorbar(fig, ax, image, label: str) -> None:
    """A thin colorbar beside a map, its ticks and label at SMALL points (few ticks, so they fit)."""
    bar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.03)
    bar.locator = plt.MaxNLocator(2)
    bar.formatter = plt.FormatStrFormatter("%.1g")
    bar.update_ticks()
    bar.ax.tick_params(labelsize=SMALL, length=2, pad=1)
    if label:
        bar.set_label(label, fontsize=SMALL, labelpad=1)


def _draw_panel(ax, arr: torch.Tensor, kind: str, base: torch.Tensor | None = None, fig=None) -> None:
    """kind 'image': arr [3, H, W] in [0, 1]; 'delta': a perturbation [3, H, W], amplified around
    grey; 'saliency': [H, W] as a heat map; 'gradcam': [H, W] in [0, 1] over the image `base`.
    With `fig`, saliency and Grad-CAM maps get a colorbar (saliency in logit units per pixel
    unit, Grad-CAM relative in [0, 1])."""
    arr = arr.detach().cpu()
    if kind == "image":
        ax.imshow(to_hwc(arr))
    elif kind == "delta":
        ax.imshow(to_hwc(0.5 + arr / (2 * (float(arr.abs().max()) or 1.0))))
    elif kind == "gradcam":
        ax.imshow(to_hwc(base))
        shown = ax.imshow(arr.numpy(), cmap="jet", alpha=0.45, vmin=0, vmax=1)
        if fig is not None:
            _colorbar(fig, ax, shown, "")
    else:
        shown = ax.imshow(arr.numpy(), cmap="hot", vmin=0)
        if fig is not None:
            _colorbar(fig, ax, shown, "")


def explanation_rows(rows: Sequence[dict], size: float | None = None):
    """One row per example: the image, then (title, map, kind) panels; kind 'saliency' is shown
    as a heat map with a colorbar (|gradient|, logit per pixel unit), 'gradcam' as an overlay on
    the image with a colorbar (relative, 0 to 1). rows: {'image', 'title', 'maps'}. The figure is
    PRINT_WIDTH wide (`size`, inches per panel, overrides), so its titles print at SMALL points."""
    ncols = 1 + max(len(r["maps"]) for r in rows)
    size = size or PRINT_WIDTH / ncols
    # a row is as tall as its map (narrowed by the colorbar) plus its longest title, at SMALL points
    lines = [1 + max(t.count("\n") for t in [r["title"]] + [m[0] for m in r["maps"]]) for r in rows]
    heights = [0.8 * size + 0.15 * k for k in lines]
    # the first column is wider: its title (label, file, split) is the longest text of a row
    fig, axes = plt.subplots(len(rows), ncols, figsize=(ncols * size, sum(heights)), squeeze=False,
                             layout="constrained", gridspec_kw={"height_ratios": heights,
                                                                "width_ratios": [1.3] + [1] * (ncols - 1)})
    for ax_row, r in zip(axes, rows):
        for ax in ax_row:
            ax.axis("off")
        ax_row[0].imshow(to_hwc(r["image"]))
        ax_row[0].set_title(r["title"], fontsize=SMALL, loc="left")
        for ax, (title, m, kind) in zip(ax_row[1:], r["maps"]):
            _draw_panel(ax, m, kind, r["image"], fig)
            ax.set_title(title, fontsize=SMALL)
    return fig


def _panel_axes(n: int, max_cols: int = 3, height: float = 2.5):
    """n panels in rows of at most `max_cols`, the whole at most PRINT_WIDTH wide; unused axes hidden."""
    ncols = min(n, max_cols)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(min(PRINT_WIDTH, 3.0 * ncols), height * nrows), squeeze=False,
                             sharey=True, layout="constrained")
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes.flat[:n]


def curves(df, y: str, panel: str, color: str, style: str | None, ylabel: str, ylim=(-0.02, 1.02), *,
           x: str = "eps", xlabel: str = "ε (L∞, pixel units of [0, 1])", low: str | None = None,
           high: str | None = None, max_cols: int = 3):
    """`y` against column `x` (by default 'eps', e.g. attack success rate vs ε): one panel per value
    of column `panel` (at most `max_cols` per row), line colour by column `color`, line style by
    column `style`. With columns `low` and `high` (e.g. a 95 % Wilson interval), each point gets an
    error bar, the lines shifted a little sideways so the bars do not hide each other.
    df: a pandas DataFrame; ylim None lets matplotlib choose."""
    panels = list(dict.fromkeys(df[panel]))
    colors = {v: f"C{i}" for i, v in enumerate(dict.fromkeys(df[color]))}
    styles = {v: s for v, s in zip(dict.fromkeys(df[style]) if style else [None], ["-o", "--s", ":^", "-.v"])}
    fig, axes = _panel_axes(len(panels), max_cols)
    numeric = np.issubdtype(df[x].dtype, np.number)
    span = (float(df[x].max() - df[x].min()) or 1.0) if numeric else 0.0
    for ax, p in zip(axes, panels):
        sub = df[df[panel] == p]
        lines = [(c, st) for c in colors for st in styles]
        for i, (c, st) in enumerate(lines):
            g = sub[(sub[color] == c) & ((sub[style] == st) if style else True)].sort_values(x)
            if not len(g):
                continue
            label = f"{c} {st}" if style else str(c)
            ys = g[y].astype(float)
            if low and high and numeric:
                xs = g[x].astype(float) + (i - (len(lines) - 1) / 2) * 0.012 * span
                err = [(ys - g[low].astype(float)).clip(lower=0), (g[high].astype(float) - ys).clip(lower=0)]
                ax.errorbar(xs, ys, yerr=err, fmt=styles[st], color=colors[c], ms=3.5, capsize=2, lw=1, label=label)
            else:
                ax.plot(g[x], ys, styles[st], color=colors[c], ms=3.5, label=label)
        if numeric:  # the same x range on every panel, even where a series has no value at one end
            ax.set_xlim(float(df[x].min()) - 0.05 * span, float(df[x].max()) + 0.05 * span)
        ax.set_title(str(p), fontsize=9)
        ax.set_xlabel(xlabel, fontsize=SMALL + 0.5)
        ax.tick_params(labelsize=SMALL)
        if ylim is not None:
            ax.set_ylim(*ylim)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=SMALL)
        ax.set_ylabel(ylabel, fontsize=SMALL + 0.5)
    return fig


def _text_block(ax, lines: Sequence[str], x: float) -> None:
    ax.text(x, 1, "\n".join(lines), fontsize=SMALL, va="top", ha="left", family="monospace", transform=ax.transAxes)


def adversarial_examples(rows: Sequence[dict]):
    """Adversarial examples, each in two bands: text (a header line; the top-3 classes before and
    after the attack side by side; the norms) above a row of image panels (title, array, kind[,
    base]) with kind 'image' ([3, H, W] in [0, 1]), 'delta' (a perturbation [3, H, W], shown
    amplified around grey), 'saliency' [H, W] (heat, with colorbar) or 'gradcam' ([H, W] map over
    `base`, with colorbar). rows: {'header', 'before', 'after', 'footer', 'panels'}. Drawn
    PRINT_WIDTH wide, so every character prints at SMALL points or larger: keep rows to 3 or 4."""
    ncols = max(len(r["panels"]) for r in rows)
    panel = PRINT_WIDTH / ncols
    fig = plt.figure(figsize=(PRINT_WIDTH, len(rows) * (0.75 * panel + 1.3)), layout="constrained")
    bands = fig.subfigures(len(rows), 1, squeeze=False)[:, 0]
    for band, r in zip(bands, rows):
        text_ax, *axes = band.subplots(2, ncols, gridspec_kw={"height_ratios": [0.8, 0.75 * panel + 0.5]})
        text = band.add_subplot(2, 1, 1)
        for ax in list(text_ax) + list(axes[0]):
            ax.axis("off")
        text.axis("off")
        _text_block(text, [r["header"], "before the attack:", *r["before"]], 0.0)
        _text_block(text, [r["footer"], "after the attack:", *r["after"]], 0.5)
        for ax, (title, arr, kind, *base) in zip(axes[0], r["panels"]):
            _draw_panel(ax, arr, kind, base[0] if base else None, band)
            ax.set_title(title, fontsize=SMALL)
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
    ax.legend(fontsize=SMALL)
    fig.tight_layout()
    return fig
