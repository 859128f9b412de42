"""The explorer's picture of one `Inspection`: clean and adversarial image, the perturbation
(scaled to be visible), each image's saliency and Grad-CAM, and the top-5 probabilities. The same
figure serves the widgets and the static output a papermill run keeps (widgets do not survive the
conversion to PDF)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from .inspection import Inspection


def _show(ax, img: torch.Tensor | None, title: str, cmap: str | None = None, missing: str = "") -> None:
    ax.set_axis_off()
    ax.set_title(title, fontsize=9)
    if img is None:
        ax.text(0.5, 0.5, missing, ha="center", va="center", fontsize=8, wrap=True, transform=ax.transAxes)
        return
    if img.ndim == 3:
        img = img.permute(1, 2, 0)
        if img.shape[-1] == 1:
            img, cmap = img[..., 0], "gray"
    ax.imshow(img.numpy(), cmap=cmap, vmin=0 if cmap == "gray" else None, vmax=1 if cmap == "gray" else None)


def _bars(ax, top: list[tuple[str, float]], title: str, mark: str) -> None:
    names, probs = [n for n, _ in top][::-1], [p for _, p in top][::-1]
    colours = ["tab:red" if n == mark else "tab:blue" for n in names]
    ax.barh(names, probs, color=colours)
    ax.set_xlim(0, 1)
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=8)


def inspection_figure(ins: Inspection) -> Figure:
    """2 × 5 panels; returns the figure (not shown)."""
    fig, axes = plt.subplots(2, 5, figsize=(13, 5.4), gridspec_kw={"width_ratios": [1, 1, 1, 1, 1.4]})
    no_map = "no map: this variant has no gradients" if ins.saliency_clean is None else "no Grad-CAM layer"
    scale = ins.eps if ins.eps > 0 else 1.0
    rows = (("clean", ins.clean, ins.saliency_clean, ins.gradcam_clean, ins.pred_clean),
            ("adversarial", ins.adv, ins.saliency_adv, ins.gradcam_adv, ins.pred_adv))
    for r, (name, img, sal, cam, pred) in enumerate(rows):
        _show(axes[r, 0], img, f"{name}: {ins.classes[pred]}")
        _show(axes[r, 1], sal, f"saliency ({name})", "inferno", no_map)
        _show(axes[r, 2], cam, f"Grad-CAM ({name})", "jet", no_map)
        _bars(axes[r, 4], ins.top("clean" if r == 0 else "adv"), f"top-5 ({name})", ins.classes[ins.label])
    _show(axes[0, 3], (ins.delta / (2 * scale) + 0.5).clamp(0, 1), "perturbation (scaled: ±ε → 0…1)")
    axes[1, 3].set_axis_off()
    goal = "untargeted" if ins.target is None else f"target {ins.classes[ins.target]}"
    axes[1, 3].text(0, 0.5, f"{ins.attack}, ε = {ins.eps:g}, {goal}\ncrafted on {ins.crafted_on}\n"
                            f"L2 = {ins.l2:.4f}\nL∞ = {ins.linf:.4f}\ntrue class: {ins.classes[ins.label]}",
                    fontsize=9, va="center", transform=axes[1, 3].transAxes)
    fig.suptitle(ins.variant, fontsize=11)
    fig.tight_layout()
    return fig
