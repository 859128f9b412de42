"""B1's figures: success and robust accuracy against ε, the iterations to success of iterative
attacks, and the adversarial examples: per attack and goal, the first eligible validation inputs
(one per class first) with their top-3 classes before and after the attack, the perturbation, and
saliency and Grad-CAM of the clean and of the adversarial input."""
from __future__ import annotations

import math
from typing import Any

import pandas as pd
import torch

from .. import explain
from ..report import figures
from ..robustness import AttackRun
from .adversarial import GOALS, Grid


def success_figure(grid: Grid):
    return figures.curves(grid.table, "success_rate", "goal", "model", "attack", "attack success rate")


def robust_accuracy_figure(grid: Grid):
    return figures.curves(grid.table, "robust_acc", "goal", "model", "attack", "robust accuracy")


# a figure as `Stage.show_figures` takes it: (figure, what, caption), saved as <tag>_<what>.png
Shown = tuple[Any, str, str]


def _iterations(grid: Grid, model: str, attack: str, goal: str, eps: float) -> list[int]:
    """The iterations of first success of one run's fooled inputs (empty when not recorded)."""
    value = grid.value(model, attack, goal, eps, "iterations") if "iterations" in grid.by else None
    return value if isinstance(value, list) else []


def iteration_figures(grid: Grid, example_eps: float) -> list[Shown]:
    """Per iterative attack, the histogram of the iteration of first success at `example_eps`."""
    out = []
    for attack in grid.setup.iterative():
        obj, title = grid.setup.attacks[attack], grid.setup.title(attack)
        iters = {f"{n} {goal}": _iterations(grid, n, attack, goal, example_eps)
                 for n in grid.setup.models for goal in GOALS}
        fig = figures.histogram(iters, f"{title} iteration of first success (ε = {example_eps:g})",
                                bins=min(obj.steps, 40))
        out.append((fig, f"{attack}_iterations", f"distribution of the first {title} iteration at which each "
                    f"fooled input met the goal, ε = {example_eps:g}, {obj.steps} iterations."))
    return out


def iteration_tables(grid: Grid) -> list[tuple[str, pd.DataFrame]]:
    """Per iterative attack: mean iteration of first success by model and goal (rows) and ε."""
    out = []
    for attack in grid.setup.iterative() if "iterations_mean" in grid.table else []:
        it = grid.table[grid.table.attack == attack].pivot_table(index=["model", "goal"], columns="eps",
                                                                 values="iterations_mean")
        it.columns = [f"ε = {e:g}" for e in it.columns]
        out.append((f"mean {grid.setup.title(attack)} iteration of first success among the fooled inputs",
                    it.reset_index()))
    return out


def top3(logits: torch.Tensor, classes: list[str]) -> list[str]:
    """The three most likely classes of logits [C]: name, probability p and logit z."""
    p = logits.softmax(0)
    return [f"{classes[int(i)][:11]:<11} p={float(p[i]):.2f} z={float(logits[i]):5.1f}"
            for i in logits.topk(min(3, len(logits))).indices]


def example_indices(run: AttackRun, labels: torch.Tensor, goal: str, target: int) -> list[int]:
    """Eligible inputs of a run, the first of each class first, then the others in order."""
    eligible = (run.clean_logits.argmax(1) == labels) & ((labels != target) if goal == "targeted" else True)
    order = eligible.nonzero().flatten().tolist()
    idx, seen = [], set()
    for i in order:
        if int(labels[i]) not in seen:
            idx.append(i)
            seen.add(int(labels[i]))
    return idx + [i for i in order if i not in idx]


def example_rows(grid: Grid, model: str, attack: str, goal: str, eps: float, k: int) -> list[dict[str, Any]]:
    """Up to k rows for `figures.adversarial_rows`: text (top-3 before and after, norms, outcome)
    and panels (original, adversarial, δ, saliency and Grad-CAM of the clean and adversarial input)."""
    s, run = grid.setup, grid.runs[model, attack, goal, eps]
    net, x01, labels, classes = s.models[model], s.images.float() / 255, s.labels, s.classes
    clean_pred, adv_pred = run.clean_logits.argmax(1), run.adv_logits.argmax(1)
    out = []
    for i in example_indices(run, labels, goal, s.target)[:k]:
        x, xa = x01[i:i + 1].to(s.device), run.x_adv[i:i + 1].to(s.device)
        pc, pa = clean_pred[i:i + 1].to(s.device), adv_pred[i:i + 1].to(s.device)
        ok = bool(adv_pred[i] == s.target) if goal == "targeted" else bool(adv_pred[i] != labels[i])
        d = run.x_adv[i] - x01[i]
        text = "\n".join([f"{model} · {s.title(attack)} {goal} ε={eps:g}",
                          f"true: {classes[int(labels[i])]}   " + ("SUCCESS" if ok else "failure"),
                          "before:", *top3(run.clean_logits[i], classes), "after:", *top3(run.adv_logits[i], classes),
                          f"L2 = {float(d.norm()):.3f}  L∞ = {float(d.abs().max()):.3f}"])
        cn, an = classes[int(pc)], classes[int(pa)]
        out.append({"text": text, "panels": [
            ("original", x01[i], "image"), ("adversarial", run.x_adv[i], "image"),
            (f"δ ×{0.5 / max(float(d.abs().max()), 1e-12):.0f}", d, "delta"),
            (f"saliency, clean\nexplains {cn}", explain.saliency(net, x, pc)[0], "saliency"),
            (f"Grad-CAM, clean\nexplains {cn}", explain.gradcam(net, x, pc)[0], "gradcam", x01[i]),
            (f"saliency, adv.\nexplains {an}", explain.saliency(net, xa, pa)[0], "saliency"),
            (f"Grad-CAM, adv.\nexplains {an}", explain.gradcam(net, xa, pa)[0], "gradcam", run.x_adv[i])]})
    return out


def example_figures(grid: Grid, example_eps: float, n_examples: int) -> tuple[list[Shown], str]:
    """Per attack and goal, `n_examples` examples at `example_eps`, shared among the models; and a
    sentence naming the attack types without any eligible input (empty when there is none)."""
    s, shown, missing = grid.setup, [], []
    per_model = math.ceil(n_examples / len(s.models))
    for attack in s.attacks:
        for goal in GOALS:
            rows = [row for n in s.models for row in example_rows(grid, n, attack, goal, example_eps, per_model)]
            rows = rows[:n_examples]
            if not rows:
                missing.append(f"No eligible input for {s.title(attack)} {goal}: no example to show.")
                continue
            shown.append((figures.adversarial_rows(rows), f"examples_{attack}_{goal}",
                          f"{s.title(attack)} {goal}" + (f" (target {s.classes[s.target]})" if goal == "targeted" else "")
                          + f" at ε = {example_eps:g}: {len(rows)} examples ({per_model} per model where available)."))
    return shown, "\n\n".join(missing)
