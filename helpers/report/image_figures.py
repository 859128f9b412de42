"""Figures of images: grids of images with titles, explanation rows (image, saliency and Grad-CAM
maps with their colorbars) and adversarial examples, all drawn PRINT_WIDTH wide with titles at
SMALL points (`figure_style`). `helpers.report.figures` exports them with the other figures."""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from .figure_style import PRINT_WIDTH, SMALL, TITLE, fit_text, text_width


def to_hwc(image: torch.Tensor) -> np.ndarray:
    """uint8 or [0, 1] float image [C, H, W] -> array [H, W, 3] for imshow (grey images are
    repeated over the three channels)."""
    x = image.detach().cpu()
    x = x.float() / 255 if x.dtype == torch.uint8 else x.float()
    if x.shape[0] == 1:
        x = x.expand(3, -1, -1)
    return x.clamp(0, 1).permute(1, 2, 0).numpy()


def image_grid(images: Sequence[torch.Tensor], titles: Sequence[str], ncols: int = 5,
               size: float = 1.9, title: str = "", text_lines: int = 1):
    """Images [3, H, W] (uint8 or [0, 1] float) in a grid, each under a title of up to
    `text_lines` lines (several lines are left-aligned, e.g. a label and top-3 probabilities).
    The grid is at most PRINT_WIDTH wide (`size`, inches per image, shrinks to fit) with titles at
    SMALL points; fewer columns than `ncols` (down to half) where the longest title line would not
    fit above its image, and lines that still do not fit broken."""
    ncols = max(1, min(ncols, len(images)))
    widest = max((text_width(t) for t in titles), default=0.0) + 0.08
    ncols = max(-(-ncols // 2), min(ncols, int(PRINT_WIDTH // widest)))  # at most halved; longer lines are broken
    size = min(size, PRINT_WIDTH / ncols)
    titles = [fit_text(t, size - 0.08) for t in titles]  # a title wider than the whole width is broken
    text_lines = max([text_lines] + [t.count("\n") + 1 for t in titles])
    nrows = max(1, -(-len(images) // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * (size + 0.06 + 0.15 * text_lines)),
                             squeeze=False, layout="constrained")
    for ax in axes.flat[len(images):]:
        fig.delaxes(ax)
    for ax, img, t in zip(axes.flat, images, titles):
        ax.axis("off")
        ax.imshow(to_hwc(img))
        ax.set_title(t, fontsize=SMALL, loc="center" if text_lines == 1 else "left")
    if title:
        fig.suptitle(title, fontsize=TITLE)
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


MAX_MAPS = 4  # map panels per printed row of an explanation figure; more (three or more models) wrap


def explanation_rows(rows: Sequence[dict], size: float | None = None):
    """One row per example: the image, then (title, map, kind) panels; kind 'saliency' is shown
    as a heat map with a colorbar (|gradient|, logit per pixel unit), 'gradcam' as an overlay on
    the image with a colorbar (relative, 0 to 1). rows: {'image', 'title', 'maps'}. An example with
    more than MAX_MAPS maps continues on the next printed row, under an empty image column, so the
    panels stay wide enough for their titles. The figure is PRINT_WIDTH wide (`size`, inches per
    panel, overrides), so its titles print at SMALL points; a title line wider than its panel is
    broken (`fit_text`)."""
    lines_of = [(r, [r["maps"][i:i + MAX_MAPS] for i in range(0, len(r["maps"]), MAX_MAPS)] or [[]]) for r in rows]
    ncols = 1 + max(len(chunk) for _, chunks in lines_of for chunk in chunks)
    size = size or PRINT_WIDTH / ncols
    # the first column is wider where its title (label, file, split) needs it, up to 1.6 panels
    first = min(1.6, max(1.3, (max(text_width(r["title"]) for r in rows) + 0.1) / size))
    unit = ncols * size / (first + ncols - 1)  # inches of a map column
    grid = [(fit_text(r["title"], first * unit - 0.1) if k == 0 else None, r["image"] if k == 0 else None,
             [(fit_text(t, unit - 0.08), *rest) for t, *rest in chunk], r["image"])
            for r, chunks in lines_of for k, chunk in enumerate(chunks)]
    # a row is as tall as its map (narrowed by the colorbar) plus its longest title, at SMALL points
    lines = [1 + max(t.count("\n") for t in ([title] if title else []) + [m[0] for m in maps] or [""])
             for title, _, maps, _ in grid]
    heights = [0.8 * size + 0.15 * k for k in lines]
    fig, axes = plt.subplots(len(grid), ncols, figsize=(ncols * size, sum(heights)), squeeze=False,
                             layout="constrained", gridspec_kw={"height_ratios": heights,
                                                                "width_ratios": [first] + [1] * (ncols - 1)})
    for ax_row, (title, image, maps, base) in zip(axes, grid):
        for ax in ax_row:
            ax.axis("off")
        if image is not None:
            ax_row[0].imshow(to_hwc(image))
            ax_row[0].set_anchor("W")  # the image, and so its left-aligned title, at the left of its column
            ax_row[0].set_title(title, fontsize=SMALL, loc="left")
        for ax, (panel_title, m, kind) in zip(ax_row[1:], maps):
            _draw_panel(ax, m, kind, base, fig)
            ax.set_title(panel_title, fontsize=SMALL)
    return fig


def explanation_figures(rows: Sequence[dict], max_height: float | None = None) -> list:
    """`explanation_rows` split into as many figures as it takes for each to print unscaled (at most
    `max_height` inches tall, the report's limit by default): one figure where it fits."""
    from .legibility import PRINTED_MAX_HEIGHT_IN
    limit = max_height or PRINTED_MAX_HEIGHT_IN
    fig = explanation_rows(rows)
    fig.canvas.draw()
    height = fig.get_tightbbox(fig.canvas.get_renderer()).height + 0.2  # inches, with savefig's padding
    if len(rows) == 1 or height <= limit:
        return [fig]
    plt.close(fig)
    half = len(rows) // 2
    return explanation_figures(rows[:half], limit) + explanation_figures(rows[half:], limit)


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
