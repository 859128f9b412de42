"""B1's tables and figures: success and robust accuracy (with intervals) against ε, the norms, the iterations to success of iterative
attacks, and the adversarial examples: per attack and goal, the first eligible validation inputs
(one per class first) with their top-3 classes before and after the attack, the perturbation, and
saliency and Grad-CAM of the clean and of the adversarial input."""
from __future__ import annotations

import math
from typing import Any

import pandas as pd
import torch

from .. import explain
from ..evaluation.intervals import format_rate, wilson
from ..report import figures
from ..robustness import AttackRun
from .adversarial import GOALS, Grid, Setup

TAG = "B1"  # the stage's tag, which names its figures' labels
EXAMPLES_PER_FIGURE = 3  # adversarial examples per figure: more would print below 7 pt


def settings_table(setup: Setup, seed: int, example_eps: float) -> pd.DataFrame:
    """Everything needed to reproduce the attacks, one (setting, value) row each."""
    steps = {f"{a.title} step α": f"ε / {a.step_divisor:g} (α = {a.step_size(example_eps):.4g} at ε = {example_eps:g})"
             for a in setup.attacks.values() if a.iterative}
    settings = {
        "threat model": "white-box, L∞ budget, pixel space [0, 1]",
        "split attacked": f"validation ({len(setup.labels)} images)",
        "ε grid": ", ".join(f"{e:g}" for e in setup.attack_eps),
        **{a.title: a.describe() for a in setup.attacks.values()}, **steps,
        **{f"{a.title} on {n}": a.describe() for n, own in setup.own_attacks.items() for a in own.values()
           if a.describe() != setup.attacks[a.name].describe()},
        "random starts": f"seed {seed} (a generator seeded with it per attack run)",
        "target class": f"{setup.classes[setup.target]} (index {setup.target})",
        "loss": "cross-entropy (untargeted: ascend on the label; targeted: descend on the target)",
        "precision": "fp32, models in eval mode", "device": str(setup.device), "threads": torch.get_num_threads(),
        **{f"checkpoint {n}": f"{f.name} (sha256 {setup.sha256[n][:12]})" for n, f in setup.checkpoints.items()}}
    return pd.DataFrame({"setting": list(settings), "value": [str(v) for v in settings.values()]})


CI = "95 % Wilson interval in brackets"


def _wide(grid: Grid, column: str, n_column: str, extra: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per model, attack and goal, one column per ε: `column` with its Wilson interval
    over `n_column` (the same for every ε of a row)."""
    t = grid.table
    rows = []
    for (model, attack, goal), sub in t.groupby(["model", "attack", "goal"], sort=False):
        n = int(sub[n_column].iloc[0])
        rows.append({"model": model, "attack": f"{grid.setup.title(attack)} {goal}", "n": n,
                     **{f"ε = {e:g}": format_rate(r, n) for e, r in zip(sub.eps, sub[column])}})
    return pd.DataFrame(rows)


def success_table(grid: Grid) -> pd.DataFrame:
    """Success rates: per model, attack and goal (n = eligible inputs) and ε, with intervals."""
    return _wide(grid, "success_rate", "n_eligible")


def robust_table(grid: Grid) -> pd.DataFrame:
    """Robust accuracy over all inputs, per model, attack and goal and ε, with intervals (the
    clean accuracies go in its caption, `clean_accuracies`, which keeps it to the page's width)."""
    return _wide(grid, "robust_acc", "n")


def clean_accuracies(grid: Grid) -> str:
    """'SimpleCNN 0.74 [0.60, 0.84], ResNetSmall 0.76 [0.63, 0.86]': each model's clean accuracy on
    the attacked images, with its Wilson interval."""
    t = grid.table.groupby("model", sort=False)[["clean_acc", "n"]].first()
    return ", ".join(f"{m} {format_rate(r.clean_acc, int(r.n))}" for m, r in t.iterrows())


def norms_table(grid: Grid) -> pd.DataFrame:
    """Per run: mean L2 and L∞ norm of δ over eligible inputs, mean confidence of the adversarial
    prediction, mean target probability (targeted) and mean iteration of first success."""
    t = grid.table
    return pd.DataFrame({"model": t.model, "attack": t.attack.map(grid.setup.title) + " " + t.goal, "ε": t.eps,
                         "L2": t.l2, "L∞": t.linf, "conf.": t.confidence, "p(tgt)": t.get("target_confidence"),
                         "iters": t.get("iterations_mean")})


def norms_caption(grid: Grid) -> str:
    iterative = [grid.setup.title(a) for a in grid.setup.iterative()]
    return ("Size and effect of the perturbations: mean L2 and L∞ norm of δ over the eligible inputs (pixel units of "
            "[0, 1]), mean confidence of the adversarial prediction, for targeted attacks the mean probability of the "
            "target class p(tgt)" + (f", and the mean {' and '.join(iterative)} iteration of first success" if iterative
                                     else "") + ".")


def _intervals(grid: Grid, column: str, n_column: str) -> pd.DataFrame:
    """The grid's table with `low` and `high`: the Wilson interval of `column` over `n_column`."""
    t = grid.table
    bounds = [wilson(round(r * n), n) if n and r == r else (float("nan"),) * 2
              for r, n in zip(t[column].astype(float), t[n_column])]
    return t.assign(low=[b[0] for b in bounds], high=[b[1] for b in bounds],
                    attack=t.attack.map(grid.setup.title))


def success_figure(grid: Grid):
    """Success rate against ε, a panel per goal, a colour per model and a style per attack."""
    return figures.curves(_intervals(grid, "success_rate", "n_eligible"), "success_rate", "goal", "model", "attack",
                          "attack success rate", low="low", high="high")


def robust_accuracy_figure(grid: Grid):
    return figures.curves(_intervals(grid, "robust_acc", "n"), "robust_acc", "goal", "model", "attack",
                          "robust accuracy", low="low", high="high")


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
        out.append((fig, f"{attack}_iterations", f"Distribution of the first {title} iteration at which each "
                    f"fooled input met the goal, ε = {example_eps:g}, {obj.steps} iterations."))
    return out


def iteration_tables(grid: Grid) -> list[tuple[str, pd.DataFrame, str]]:
    """Per iterative attack: mean iteration of first success by model and goal (rows) and ε;
    (caption, table, label) for `Stage.show_tables`."""
    out = []
    for attack in grid.setup.iterative() if "iterations_mean" in grid.table else []:
        it = grid.table[grid.table.attack == attack].pivot_table(index=["model", "goal"], columns="eps",
                                                                 values="iterations_mean")
        it.columns = [f"ε = {e:g}" for e in it.columns]
        out.append((f"Mean {grid.setup.title(attack)} iteration of first success among the fooled inputs.",
                    it.reset_index(), f"{attack}_iterations"))
    return out


def iteration_text(grid: Grid, example_eps: float) -> str:
    """The sentence that points to each iterative attack's histogram and table."""
    return " ".join(f"For {grid.setup.title(a)}, [Figure](#fig:{TAG}_{a}_iterations) shows the distribution at "
                    f"ε = {example_eps:g} and [Table](#tab:{TAG}_{a}_iterations) the mean at every ε."
                    for a in grid.setup.iterative())


def top3(logits: torch.Tensor, classes: list[str]) -> list[str]:
    """The three most likely classes of logits [C]: name, probability p and logit z."""
    p = logits.softmax(0)
    return [f"{classes[int(i)][:13]:<13} p={float(p[i]):.2f} z={float(logits[i]):5.1f}"
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
    """Up to k rows for `figures.adversarial_examples`: text (top-3 before and after, norms,
    outcome) and panels (original, adversarial, δ, saliency and Grad-CAM of the clean and of the
    adversarial input, each for the class the model predicts for that input; saliency only for a
    model without a Grad-CAM layer)."""
    s, run = grid.setup, grid.runs[model, attack, goal, eps]
    net, x01, labels, classes = s.models[model], s.images.float() / 255, s.labels, s.classes
    clean_pred, adv_pred = run.clean_logits.argmax(1), run.adv_logits.argmax(1)
    out = []
    for i in example_indices(run, labels, goal, s.target)[:k]:
        cam = explain.has_gradcam(net)  # an MLP is explained by saliency alone
        x, xa = x01[i:i + 1].to(s.device), run.x_adv[i:i + 1].to(s.device)
        pc, pa = clean_pred[i:i + 1].to(s.device), adv_pred[i:i + 1].to(s.device)
        ok = bool(adv_pred[i] == s.target) if goal == "targeted" else bool(adv_pred[i] != labels[i])
        d = run.x_adv[i] - x01[i]
        cn, an = classes[int(pc)], classes[int(pa)]
        out.append({"header": f"{model}, true class {classes[int(labels[i])]}", "before": top3(run.clean_logits[i], classes),
                    "footer": f"{'SUCCESS' if ok else 'failure'}: L2 = {float(d.norm()):.3f}, L∞ = {float(d.abs().max()):.3f}",
                    "after": top3(run.adv_logits[i], classes), "panels": [
            ("original", x01[i], "image"), ("adversarial", run.x_adv[i], "image"),
            (f"δ ×{0.5 / max(float(d.abs().max()), 1e-12):.0f}", d, "delta"),
            (f"saliency\n(clean)\n{cn}", explain.saliency(net, x, pc)[0], "saliency"),
            *([(f"Grad-CAM\n(clean)\n{cn}", explain.gradcam(net, x, pc)[0], "gradcam", x01[i])] if cam else []),
            (f"saliency\n(adversarial)\n{an}", explain.saliency(net, xa, pa)[0], "saliency"),
            *([(f"Grad-CAM\n(adversarial)\n{an}", explain.gradcam(net, xa, pa)[0], "gradcam", run.x_adv[i])]
              if cam else [])]})
    return out


def example_figures(grid: Grid, example_eps: float, n_examples: int) -> tuple[list[Shown], str]:
    """Per attack and goal, `n_examples` examples at `example_eps`, shared among the models, at most
    EXAMPLES_PER_FIGURE to a figure so that every number prints at 7 pt or more; and the text that
    refers to the figures and names the attack types without any eligible input."""
    s, shown, lines = grid.setup, [], []
    per_model = math.ceil(n_examples / len(s.models))
    for attack in s.attacks:
        for goal in GOALS:
            rows = [row for n in s.models for row in example_rows(grid, n, attack, goal, example_eps, per_model)]
            rows, kind = rows[:n_examples], f"{s.title(attack)} {goal}"
            if not rows:
                lines.append(f"- {kind}: no eligible input, so no example to show.")
                continue
            parts = [rows[i:i + EXAMPLES_PER_FIGURE] for i in range(0, len(rows), EXAMPLES_PER_FIGURE)]
            whats = [f"examples_{attack}_{goal}_{j}" for j in range(1, len(parts) + 1)]
            for j, (part, what) in enumerate(zip(parts, whats)):
                first = j * EXAMPLES_PER_FIGURE + 1
                shown.append((figures.adversarial_examples(part), what, (
                    f"{kind} attack" + (f" towards {s.classes[s.target]}" if goal == "targeted" else "")
                    + f" at ε = {example_eps:g}, " + (f"examples {first} to {first + len(part) - 1}" if len(part) > 1
                                                      else f"example {first}") + f" of {len(rows)}: the top-3 "
                    "classes with probability p and logit z before and after the attack, the perturbation δ (amplified) "
                    "and the saliency and Grad-CAM maps of the clean and adversarial input for the predicted class.")))
            lines.append(f"- {kind}: {len(rows)} examples, " + ", ".join(f"[Figure](#fig:{TAG}_{w})" for w in whats) + ".")
    return shown, "\n".join(lines)
