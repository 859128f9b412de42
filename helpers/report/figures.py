"""Matplotlib figures of the study. Each function returns a Figure; notebooks show and save it
with `Stage.show_figure`, the one place figures are written (and checked for print legibility).
Plots live here; figures of images in `image_figures`, the shared sizes and helpers in
`figure_style` (both exported from here too)."""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np

from .figure_style import (INTERVAL, LABEL, PRINT_WIDTH, SMALL, TITLE, fit_text, interval_band,  # noqa: F401
                           legend_below, text_width)
from .image_figures import (adversarial_examples, explanation_figures, explanation_rows, image_grid,  # noqa: F401
                            to_hwc)

__all__ = ["INTERVAL", "LABEL", "PRINT_WIDTH", "SMALL", "TITLE", "adversarial_examples", "confusion_matrices", "curves",
           "explanation_figures", "explanation_rows", "fit_text", "grouped_bars", "histogram", "history_lines", "image_grid", "interval_band",
           "legend_below", "text_width", "to_hwc", "training_curves"]


def grouped_bars(values: dict[str, Sequence[float]], labels: Sequence[str], ylabel: str, title: str = "",
                 fmt: str = "%g"):
    """One group of bars per label, one bar per series (e.g. class counts per split); `fmt`
    formats the value printed (upright) on each bar."""
    fig, ax = plt.subplots(figsize=(PRINT_WIDTH, 2.6), layout="constrained")
    width = 0.8 / len(values)
    x = np.arange(len(labels))
    top = 0.0
    for i, (name, vals) in enumerate(values.items()):
        bars = ax.bar(x + (i - (len(values) - 1) / 2) * width, vals, width, label=name)
        ax.bar_label(bars, fmt=fmt, fontsize=SMALL, rotation=90, padding=2)
        top = max([top, *map(float, vals)])
    ax.set_ylim(0, 1.3 * top or 1)  # room for the numbers above the highest bar
    ax.set_xticks(x, labels, rotation=30, ha="right", fontsize=LABEL)
    ax.tick_params(axis="y", labelsize=SMALL)
    ax.set_ylabel(ylabel, fontsize=LABEL)
    if title:
        ax.set_title(title, fontsize=TITLE)
    legend_below(fig, [ax])
    return fig


def histogram(values: dict[str, np.ndarray], xlabel: str, bins: int = 40, title: str = ""):
    """A histogram per series (e.g. per channel, or per model and goal), each in its own panel over
    the same bins and x range, so that no series hides another; a series without values says so."""
    names = list(values)
    ncols = min(len(names), 3 if len(names) % 3 == 0 or len(names) > 4 else 2)
    nrows = -(-len(names) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(PRINT_WIDTH, 0.4 + 1.6 * nrows), squeeze=False, sharex=True,
                             layout="constrained")
    present = [np.asarray(v, dtype=float).ravel() for v in values.values() if len(v)]
    edges = np.histogram_bin_edges(np.concatenate(present), bins) if present else np.linspace(0, 1, bins + 1)
    for ax in axes.flat[len(names):]:
        fig.delaxes(ax)
    for i, (ax, name) in enumerate(zip(axes.flat, names)):
        v = np.asarray(values[name], dtype=float).ravel()
        color = name if name in ("red", "green", "blue") else f"C{i}"
        if len(v):
            ax.hist(v, bins=edges, color=color, alpha=0.8, label=name)
        else:
            ax.text(0.5, 0.5, "no values", transform=ax.transAxes, ha="center", va="center", fontsize=SMALL)
            ax.set_yticks([])
        ax.set_title(name, fontsize=TITLE)
        ax.tick_params(labelsize=SMALL)
        ax.grid(alpha=0.3)
    fig.supxlabel(xlabel, fontsize=LABEL)
    fig.supylabel("count", fontsize=LABEL)
    if title:
        fig.suptitle(title, fontsize=TITLE)
    return fig


def training_curves(histories: dict[str, list[dict]], n_train: int | None = None, n_select: int | None = None):
    """Loss and accuracy per epoch, on the training batches and on the selection split, one colour
    per model; with `n_train` / `n_select` (images behind each accuracy) every accuracy gets its 95 %
    Wilson interval as a shaded band."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(PRINT_WIDTH, 2.5), layout="constrained")
    for i, (name, hist) in enumerate(histories.items()):
        color = f"C{i}"
        ep = [h["epoch"] for h in hist]
        for split, style, word, n in (("train", "--", "train", n_train), ("select", "-", "selection", n_select)):
            label = f"{name} {word}"
            acc = [h[f"{split}_acc"] for h in hist]
            ax_loss.plot(ep, [h[f"{split}_loss"] for h in hist], style, color=color, lw=1.2, label=label)
            ax_acc.plot(ep, acc, style, color=color, lw=1.2, label=label)
            interval_band(ax_acc, ep, acc, n, color, label)
    for ax, ylabel, title in ((ax_loss, "cross-entropy", "loss"), (ax_acc, "accuracy", "accuracy")):
        ax.set_xlabel("epoch", fontsize=LABEL)
        ax.set_ylabel(ylabel, fontsize=LABEL)
        ax.set_title(title, fontsize=TITLE)
        ax.tick_params(labelsize=SMALL)
        ax.grid(alpha=0.3)
    ax_acc.set_ylim(0, 1)
    legend_below(fig, [ax_acc])
    return fig


def confusion_matrices(matrices: dict[str, np.ndarray], classes: Sequence[str], max_cols: int = 3):
    """Row-normalised confusion matrices in rows of at most `max_cols` (narrower panels crowd the
    class names), with counts in the cells (where a cell is large enough to hold them) and one
    colorbar: the share of the true class."""
    n = len(matrices)
    ncols, nrows = min(n, max_cols), -(-n // max_cols)
    label_w = max((text_width(c, SMALL) for c in classes), default=0.5) + 0.35
    side = min(3.2, (PRINT_WIDTH - label_w - 0.7) / max(ncols, 1))  # inches per matrix
    fig, axes = plt.subplots(nrows, ncols, figsize=(PRINT_WIDTH, nrows * (side + label_w + 0.35)), squeeze=False,
                             sharey=True, layout="constrained")
    annotate = side * 72 / max(len(classes), 1) >= 2.2 * SMALL
    image = None
    for k, (name, cm) in enumerate(matrices.items()):
        ax = axes[k // ncols][k % ncols]
        cm = np.asarray(cm)
        norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
        image = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
        for i in range(cm.shape[0]):
            for j in range(cm.shape[1]):
                if cm[i, j] and annotate:
                    ax.text(j, i, cm[i, j], ha="center", va="center", fontsize=SMALL,
                            color="white" if norm[i, j] > 0.5 else "black")
        ax.set_xticks(range(len(classes)), classes, rotation=60, ha="right", rotation_mode="anchor", fontsize=SMALL)
        ax.set_yticks(range(len(classes)), classes, fontsize=SMALL)
        ax.tick_params(axis="y", labelleft=k % ncols == 0)
        ax.set_xlabel("predicted", fontsize=LABEL)
        if k % ncols == 0:
            ax.set_ylabel("true", fontsize=LABEL)
        ax.set_title(fit_text(name, 0.8 * side, TITLE), fontsize=TITLE)  # a long name breaks within its panel
    for ax in axes.flat[n:]:
        ax.remove()
    if image is not None:
        bar = fig.colorbar(image, ax=[a for a in axes.flat[:n]], fraction=0.04, pad=0.02, shrink=0.9)
        bar.ax.tick_params(labelsize=SMALL)
        bar.set_label("share of the true class", fontsize=SMALL)
    return fig


MAX_PANELS_HEIGHT = 5.2  # inches for all rows of panels: with a legend below, a figure stays under the 6.8 in the page prints


def _panel_axes(n: int, max_cols: int = 3, height: float = 2.2, sharey: bool = True):
    """n panels in rows of at most `max_cols`, the whole at most PRINT_WIDTH wide; unused axes removed.
    `sharey` only where every panel has the same fixed scale (a rate from 0 to 1): panels of their
    own scale keep their own y-axis, so no series is flattened by another panel's range."""
    ncols = min(n, max_cols)
    nrows = -(-n // ncols)
    height = min(height, MAX_PANELS_HEIGHT / nrows)  # many panels share the printable height instead of shrinking
    width = min(PRINT_WIDTH - (0.3 if nrows > 1 else 0.0), 3.0 * ncols)  # room for a shared y label beside several rows
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height * nrows), squeeze=False,
                             sharey=sharey, layout="constrained")
    for ax in axes.flat[n:]:
        fig.delaxes(ax)
    return fig, axes.flat[:n]


def curves(df, y: str, panel: str, color: str, style: str | None, ylabel: str, ylim=(-0.02, 1.02), *,
           x: str = "eps", xlabel: str = "ε (L∞, pixel units of [0, 1])", low: str | None = None,
           high: str | None = None, max_cols: int = 3, yscale: str = "linear"):
    """`y` against column `x` (by default 'eps', e.g. attack success rate vs ε): one panel per value
    of column `panel` (at most `max_cols` per row), line colour by column `color`, line style by
    column `style`, one legend below the panels. With columns `low` and `high` (e.g. a 95 % Wilson
    interval), each point gets an error bar. Over a numeric x, the lines of a panel are shifted a
    little sideways, so that neither equal series nor their error bars hide each other.
    df: a pandas DataFrame; ylim None lets matplotlib choose (and each panel its own y-axis);
    yscale 'log' for positive values of different magnitudes (e.g. latency at batch 1 and 64)."""
    panels = list(dict.fromkeys(df[panel]))
    colors = {v: f"C{i % 10}" for i, v in enumerate(dict.fromkeys(df[color]))}
    marks = ["-o", "--s", ":^", "-.v", "-D", "--P"]
    styles = {v: marks[i % len(marks)] for i, v in enumerate(dict.fromkeys(df[style]) if style else [None])}
    fig, axes = _panel_axes(len(panels), max_cols, sharey=ylim is not None)
    numeric = np.issubdtype(df[x].dtype, np.number)
    span = (float(df[x].max() - df[x].min()) or 1.0) if numeric else 0.0
    lines = [(c, st) for c in colors for st in styles]
    step = min(0.012, 0.06 / max(len(lines) - 1, 1)) * span  # the whole fan stays within 3 % of the span
    for k, (ax, p) in enumerate(zip(axes, panels)):
        sub = df[df[panel] == p]
        for i, (c, st) in enumerate(lines):
            g = sub[(sub[color] == c) & ((sub[style] == st) if style else True)].sort_values(x)
            if not len(g):
                continue
            label = f"{c} {st}" if style else str(c)
            ys = g[y].astype(float)
            xs = g[x].astype(float) + (i - (len(lines) - 1) / 2) * step if numeric else g[x]
            if low and high:
                err = [(ys - g[low].astype(float)).clip(lower=0), (g[high].astype(float) - ys).clip(lower=0)]
                ax.errorbar(xs, ys, yerr=err, fmt=styles[st], color=colors[c], ms=3.5, capsize=2, lw=1, label=label)
            else:
                ax.plot(xs, ys, styles[st], color=colors[c], ms=3.5, lw=1.2, label=label)
        if numeric:  # the same x range on every panel, even where a series has no value at one end
            ax.set_xlim(float(df[x].min()) - 0.05 * span, float(df[x].max()) + 0.05 * span)
        ax.set_title(fit_text(str(p), fig.get_figwidth() / min(len(panels), max_cols) - 0.25, TITLE), fontsize=TITLE)
        ax.set_xlabel(fit_text(xlabel, fig.get_figwidth() / min(len(panels), max_cols) - 0.25, LABEL), fontsize=LABEL)
        ax.set_yscale(yscale)
        if yscale == "log":  # ticks at 1, 2, 5 × 10^k, written as plain numbers
            ax.yaxis.set_major_locator(mticker.LogLocator(subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_major_formatter(mticker.FormatStrFormatter("%g"))
            ax.yaxis.set_minor_formatter(mticker.NullFormatter())
        ax.tick_params(which="both", labelsize=SMALL)
        if ylim is not None:
            ax.set_ylim(*ylim)
        ax.grid(alpha=0.3, which="both" if yscale == "log" else "major")
        several_rows = len(panels) > max_cols
        if not several_rows and (ylim is None or k % min(len(panels), max_cols) == 0):
            ax.set_ylabel(ylabel, fontsize=LABEL)
    if len(panels) > max_cols:  # one label for every row: a label per row would not fit the shorter rows
        fig.supylabel(ylabel, fontsize=LABEL)
    legend_below(fig, axes)
    return fig


def history_lines(history: Sequence[dict], series: dict[str, str], ylabel: str, mark_epoch: int | None = None,
                  n: dict[str, int] | None = None):
    """Per-epoch values of a training history: series maps history keys to legend labels;
    `mark_epoch` draws a vertical line at the kept epoch; `n` maps a key to the count its values
    are proportions of, which gives that series its 95 % Wilson interval as a shaded band."""
    fig, ax = plt.subplots(figsize=(PRINT_WIDTH, 2.4), layout="constrained")
    epochs = [h["epoch"] for h in history]
    for i, (key, label) in enumerate(series.items()):
        values = [h[key] for h in history]
        ax.plot(epochs, values, "-o", color=f"C{i}", ms=3, lw=1.2, label=label)
        interval_band(ax, epochs, values, (n or {}).get(key), f"C{i}", label)
    if mark_epoch:
        ax.axvline(mark_epoch, color="grey", ls=":", label=f"kept epoch {mark_epoch}")
    ax.set_xlabel("epoch", fontsize=LABEL)
    ax.set_ylabel(ylabel, fontsize=LABEL)
    ax.tick_params(labelsize=SMALL)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    legend_below(fig, [ax])
    return fig
