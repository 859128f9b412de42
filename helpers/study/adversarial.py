"""B1, adversarial attacks: every registered attack the parameter `attacks` names, untargeted and
targeted, at every ε, on every model, over the validation split; the asserted sanity checks, the
figures, the example panels, the fixed adversarial set (B2, C2) and the reading of the results.

Images are uint8 [N, C, H, W] as stored; attacks work on floats in [0, 1], so ε and the norms are
in pixel units of [0, 1]. Run keys are (model, attack name, goal, ε).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from ..attacks import Attack, build_attack
from ..core import progress
from ..core.files import sha256_file
from ..robustness import AttackRun, eps_key, run_attack, save_adversarial_set, statistics

GOALS = ("untargeted", "targeted")
SANITY_EPS = 0.1  # the budget of the "fools nearly everything" check (the meaning of sanity_min_fooled)
HALF = 0.5  # wording: "half of the eligible inputs are fooled from ε = ..."
SUMMARY_KEYS = ("success_rate", "robust_acc", "l2", "linf", "confidence", "target_confidence", "iterations_mean",
                "n_eligible", "n_success")


def check_parameters(classes: list[str], target_class: str, attack_eps: list[float], example_eps: float) -> int:
    """The index of `target_class`; ValueError naming the parameter when one is out of range."""
    if target_class not in classes:
        raise ValueError(f"parameter 'target_class' is {target_class!r}, not one of the classes {classes}")
    if not attack_eps or min(attack_eps) <= 0 or max(attack_eps) >= 1:
        raise ValueError(f"parameter 'attack_eps' must list budgets in (0, 1), not {attack_eps}")
    if example_eps not in attack_eps:
        raise ValueError(f"parameter 'example_eps' ({example_eps}) must be one of attack_eps {attack_eps}")
    return classes.index(target_class)


@dataclass
class Setup:
    """What the attacks run on: models by name (on `device`), their checkpoints, the attacks by
    name (parameter order), the validation images uint8 [N, C, H, W] and labels int64 [N]."""
    models: dict[str, nn.Module]
    checkpoints: dict[str, Path]
    attacks: dict[str, Attack]
    classes: list[str]
    target: int
    images: torch.Tensor
    labels: torch.Tensor
    attack_eps: list[float]
    device: torch.device = torch.device("cpu")
    sha256: dict[str, str] = field(default_factory=dict)

    @property
    def goals(self) -> dict[str, int | None]:
        return {"untargeted": None, "targeted": self.target}

    def title(self, attack: str) -> str:
        return self.attacks[attack].title

    def iterative(self) -> list[str]:
        return [a for a, obj in self.attacks.items() if obj.iterative]


def prepare(stage, data) -> Setup:
    """Check the parameters, load A2's models and build the attacks of `stage.params`."""
    p = stage.params
    target = check_parameters(data.classes, p["target_class"], p["attack_eps"], p["example_eps"])
    paths = {n: stage.layout.trained(n) for n in p["models"]}
    return Setup({n: stage.trained_model(n)[0] for n in p["models"]}, paths,
                 {a: build_attack(a, p) for a in p["attacks"]}, data.classes, target, data.valid.images,
                 data.valid.labels, list(p["attack_eps"]), stage.device, {n: sha256_file(f) for n, f in paths.items()})


def settings_table(setup: Setup, seed: int, example_eps: float) -> pd.DataFrame:
    """Everything needed to reproduce the attacks, one (setting, value) row each."""
    steps = {f"{a.title} step α": f"ε / {a.step_divisor:g} (α = {a.step_size(example_eps):.4g} at ε = {example_eps:g})"
             for a in setup.attacks.values() if a.iterative}
    settings = {
        "threat model": "white-box, L∞ budget, pixel space [0, 1]",
        "split attacked": f"validation ({len(setup.labels)} images)",
        "ε grid": ", ".join(f"{e:g}" for e in setup.attack_eps),
        **{a.title: a.describe() for a in setup.attacks.values()}, **steps,
        "random starts": f"seed {seed} (a generator seeded with it per attack run)",
        "target class": f"{setup.classes[setup.target]} (index {setup.target})",
        "loss": "cross-entropy (untargeted: ascend on the label; targeted: descend on the target)",
        "precision": "fp32, models in eval mode", "device": str(setup.device), "threads": torch.get_num_threads(),
        **{f"checkpoint {n}": f"{f.name} (sha256 {setup.sha256[n][:12]})" for n, f in setup.checkpoints.items()}}
    return pd.DataFrame({"setting": list(settings), "value": [str(v) for v in settings.values()]})


@dataclass
class Grid:
    """Every attack run: `runs[model, attack, goal, ε]`, `rows` (statistics and seconds per run, in
    run order), `table` (rows as a DataFrame plus the 'success' column 'k/n'), total `seconds`."""
    setup: Setup
    runs: dict[tuple[str, str, str, float], AttackRun]
    rows: list[dict[str, Any]]
    seconds: float

    def __post_init__(self):
        self.table = pd.DataFrame(self.rows)
        self.table["success"] = [f"{a}/{b}" if b else "0/0" for a, b in zip(self.table.n_success, self.table.n_eligible)]
        self.by = self.table.set_index(["model", "attack", "goal", "eps"])

    def value(self, model: str, attack: str, goal: str, eps: float, column: str):
        return self.by.loc[(model, attack, goal, eps), column]


def run_grid(setup: Setup, seed: int) -> Grid:
    """Attack every model with every attack, goal and ε, in that nesting order, each run with a
    generator seeded with `seed` (as the old notebook did, so results are identical)."""
    runs, rows = {}, []
    task = progress.task("B1 attacks", len(setup.models) * len(setup.attacks) * len(GOALS) * len(setup.attack_eps))
    started = time.perf_counter()
    for n, model in setup.models.items():
        for attack_name, attack in setup.attacks.items():
            for goal, target in setup.goals.items():
                for eps in setup.attack_eps:
                    t0 = time.perf_counter()
                    run = run_attack(model, setup.images, setup.labels, attack, eps, target=target, seed=seed,
                                     device=setup.device)
                    runs[n, attack_name, goal, eps] = run
                    seconds = time.perf_counter() - t0
                    rows.append({"model": n, "attack": attack_name, "goal": goal, "eps": eps,
                                 **statistics(run, setup.images, setup.labels), "seconds": seconds})
                    task.step(f"{n} {attack.title} {goal} ε={eps:g}, {seconds:.1f} s")
    return Grid(setup, runs, rows, time.perf_counter() - started)


def model_tables(grid: Grid) -> list[tuple[str, pd.DataFrame]]:
    """Per model: successes and robust accuracy; mean norms, confidences and iterations."""
    out, n_inputs = [], len(grid.setup.labels)
    iterative = [grid.setup.title(a) for a in grid.setup.iterative()] or ["(no iterative attack)"]
    for n in grid.setup.models:
        sub = grid.table[grid.table.model == n]
        key = {"attack": sub.attack.map(grid.setup.title) + " " + sub.goal, "ε": sub.eps}
        out.append((f"{n}: attack success = successes / eligible inputs, and robust accuracy over all {n_inputs} inputs",
                    pd.DataFrame({**key, "success": sub.success, "rate": sub.success_rate, "robust acc": sub.robust_acc})))
        out.append((f"{n}: mean L2 and L∞ norm of δ over eligible inputs (pixel units), mean confidence of the "
                    "adversarial prediction and, for targeted attacks, mean probability of the target class p(tgt); "
                    f"mean {' and '.join(iterative)} iteration of first success",
                    pd.DataFrame({**key, "L2": sub.l2, "L∞": sub.linf, "conf.": sub.confidence,
                                  "p(tgt)": sub.get("target_confidence"), "iters": sub.get("iterations_mean")})))
    return out


def timing_sentence(grid: Grid) -> str:
    return (f"All {len(grid.rows)} attack runs took {grid.seconds:.0f} s on {grid.setup.device} with "
            f"{torch.get_num_threads()} threads.")


def strength_pairs(attacks: dict[str, Attack]) -> list[tuple[str, str]]:
    """(stronger, weaker) for each attack that declares `at_least_as_strong_as` a partner also run."""
    return [(a, obj.at_least_as_strong_as) for a, obj in attacks.items() if obj.at_least_as_strong_as in attacks]


def sanity_checks(grid: Grid, sanity_min_fooled: float) -> list[str]:
    """Assert the budget, the pixel range, the declared strength order and, at ε = SANITY_EPS, that
    each iterative attack untargeted fools at least `sanity_min_fooled` of the eligible inputs;
    returns the passed checks (sentences); AssertionError naming the run when one fails."""
    s, x01 = grid.setup, grid.setup.images.float() / 255
    for (n, attack, goal, eps), run in grid.runs.items():
        if float((run.x_adv - x01).abs().max()) > eps + 1e-6:
            raise AssertionError(f"{n} {attack} {goal} ε={eps}: ‖δ‖∞ > ε")
        if float(run.x_adv.min()) < 0 or float(run.x_adv.max()) > 1:
            raise AssertionError(f"{n} {attack} {goal} ε={eps}: x_adv outside [0, 1]")
    checks = [f"‖δ‖∞ ≤ ε and x_adv ∈ [0, 1] for all {len(grid.runs)} runs and {len(s.labels)} inputs each"]
    for strong, weak in strength_pairs(s.attacks):
        for n in s.models:
            for goal in GOALS:
                for eps in s.attack_eps:
                    f, p = grid.value(n, weak, goal, eps, "n_success"), grid.value(n, strong, goal, eps, "n_success")
                    if p < f:
                        raise AssertionError(f"{n} {goal} ε={eps}: {s.title(strong)} fooled {p} inputs, "
                                             f"{s.title(weak)} {f}; {s.title(strong)} should be at least as strong")
        checks.append(f"{s.title(strong)} succeeds at least as often as {s.title(weak)} for every model, goal and ε "
                      f"({len(s.models) * len(GOALS) * len(s.attack_eps)} comparisons)")
    if SANITY_EPS in s.attack_eps:
        for attack in s.iterative():
            for n in s.models:
                rate = grid.value(n, attack, "untargeted", SANITY_EPS, "success_rate")
                if not (rate is None or math.isnan(rate) or rate >= sanity_min_fooled):
                    raise AssertionError(f"{n}: untargeted {s.title(attack)} at ε = {SANITY_EPS:g} fools only {rate:.0%} "
                                         "of correctly classified inputs")
            checks.append(f"untargeted {s.title(attack)} at ε = {SANITY_EPS:g} fools at least {sanity_min_fooled:.0%} of "
                          "correctly classified inputs of every model: " + ", ".join(
                              f"{n} {grid.value(n, attack, 'untargeted', SANITY_EPS, 'success')}" for n in s.models))
    return checks


def save_fixed_sets(grid: Grid, layout, params: dict[str, Any]) -> pd.DataFrame:
    """Save each model's fixed adversarial set (clean inputs, labels, every run's x_adv) at
    `layout.adversarial_set(model)`; one row per file (its size in MB)."""
    s, saved = grid.setup, []
    for n in s.models:
        path = layout.adversarial_set(n)
        runs = {f"{a}.{g}.{eps_key(e)}": grid.runs[n, a, g, e] for a in s.attacks for g in GOALS for e in s.attack_eps}
        save_adversarial_set(path, s.images, s.labels, s.classes, runs, model=n, checkpoint_sha256=s.sha256[n],
                             seed=params["seed"], pgd_steps=params["pgd_steps"],
                             pgd_step_divisor=params["pgd_step_divisor"], target_class=s.classes[s.target],
                             split="valid", attacks=list(s.attacks))
        saved.append({"source model": n, "file": layout.relative(path), "attacks": len(runs), "inputs": len(s.labels),
                      "MB": path.stat().st_size / 1e6})
    return pd.DataFrame(saved)


def passed_text(checks: list[str]) -> str:
    """The passed checks as a markdown list."""
    return "\n".join(f"- passed: {check}" for check in checks)


def primary_attack(attacks: dict[str, Attack]) -> str:
    """The attack the reading leads with: the first iterative one, else the last one listed."""
    return next((a for a, obj in attacks.items() if obj.iterative), list(attacks)[-1])


def reading(grid: Grid, example_eps: float, secure_robust_acc: float) -> str:
    """The bullet points that read the attack results (every number computed from `grid`); a model
    keeping less than `secure_robust_acc` robust accuracy is called not secure."""
    s, e0, eps_grid = grid.setup, example_eps, sorted(grid.setup.attack_eps)
    target_class, main = s.classes[s.target], primary_attack(s.attacks)
    main_t, others = s.title(main), [a for a in s.attacks if a != main]
    rate = lambda n, a, g, e: grid.value(n, a, g, e, "success_rate")  # noqa: E731
    succ = lambda n, a, g: grid.value(n, a, g, e0, "success")  # noqa: E731

    def first_eps_reaching(n, a, g, level):
        hit = [e for e in eps_grid if (rate(n, a, g, e) or 0) >= level]
        return f"ε = {hit[0]:g}" if hit else f"no ε up to {max(eps_grid):g}"

    lines = []
    for n in s.models:
        rest = "; ".join(f"{s.title(o)} manages {succ(n, o, 'untargeted')} and {succ(n, o, 'targeted')}" for o in others)
        lines.append(f"- **{n}**: at ε = {e0:g} (about {e0 * 255:.0f} of 255 grey levels), {main_t} fools "
                     f"{succ(n, main, 'untargeted')} correctly classified inputs and sends {succ(n, main, 'targeted')} "
                     f"eligible inputs to {target_class}" + (f"; {rest}. " if rest else ". ")
                     + f"Half of the eligible inputs are fooled by untargeted {main_t} from "
                     f"{first_eps_reaching(n, main, 'untargeted', HALF)} and sent to {target_class} from "
                     f"{first_eps_reaching(n, main, 'targeted', HALF)}; robust accuracy under {main_t} at ε = {e0:g} is "
                     f"{grid.value(n, main, 'untargeted', e0, 'robust_acc'):.0%} against a clean accuracy of "
                     f"{grid.value(n, main, 'untargeted', e0, 'clean_acc'):.0%}.")
    gap = [(rate(n, main, "untargeted", e) or 0) - (rate(n, main, "targeted", e) or 0) for n in s.models for e in s.attack_eps]
    lines.append(f"- Targeted attacks are {'harder' if sum(gap) > 0 else 'not harder'}: over models and ε, untargeted "
                 f"{main_t} success exceeds targeted {main_t} success by {100 * sum(gap) / len(gap):.0f} percentage points "
                 "on average, because one specific class must win instead of any wrong one.")
    for strong, weak in strength_pairs(s.attacks):
        pg = [(rate(n, strong, g, e) or 0) - (rate(n, weak, g, e) or 0) for n in s.models for g in GOALS for e in s.attack_eps]
        pays = "Iterating pays: " if s.attacks[strong].iterative and not s.attacks[weak].iterative else ""
        lines.append(f"- {pays}{s.title(strong)}'s success rate exceeds {s.title(weak)}'s by {100 * sum(pg) / len(pg):.0f} "
                     f"percentage points on average (largest gap {100 * max(pg):.0f}).")
    lines += _overshoot_lines(grid, main)
    if len(s.models) == 2:
        a, b = s.models
        ra, rb = (grid.value(k, main, "untargeted", e0, "robust_acc") for k in (a, b))
        lines.append(f"- Under untargeted {main_t} at ε = {e0:g}, {a if ra > rb else b} keeps more of its accuracy "
                     f"({max(ra, rb):.0%} against {min(ra, rb):.0%}); " + (
                         "neither model is secure against a white-box attacker at this budget."
                         if max(ra, rb) < secure_robust_acc else "it is the more robust of the two at this budget."))
    return "\n".join(lines)


def _overshoot_lines(grid: Grid, main: str) -> list[str]:
    """One-step attacks whose targeted success falls again at the largest ε: one line per model."""
    s, eps_grid, lines = grid.setup, sorted(grid.setup.attack_eps), []
    avoid = f", which {s.title(main)}'s small projected steps avoid." if s.attacks[main].iterative else "."
    for attack in (a for a, obj in s.attacks.items() if not obj.iterative):
        for n in s.models:
            ft = [grid.value(n, attack, "targeted", e, "success_rate") or 0 for e in eps_grid]
            if ft[-1] < max(ft):
                lines.append(f"- {n}: targeted {s.title(attack)} peaks at {max(ft):.0%} (ε = {eps_grid[ft.index(max(ft))]:g}) "
                             f"and falls to {ft[-1]:.0%} at ε = {max(eps_grid):g}: a single step of the full budget "
                             f"overshoots the region where {s.classes[s.target]} wins" + avoid)
    return lines


def metrics(grid: Grid, settings: pd.DataFrame, checks: list[str]) -> dict[str, Any]:
    """B1's metrics: summary[model][attack][goal][eps key] = SUMMARY_KEYS of each run, attack_s;
    the settings, every run's statistics and the passed checks."""
    summary: dict[str, Any] = {}
    for row in grid.rows:
        node = summary.setdefault(row["model"], {}).setdefault(row["attack"], {}).setdefault(row["goal"], {})
        node[eps_key(row["eps"])] = {k: row.get(k) for k in SUMMARY_KEYS if k in row}
    summary["attack_s"] = grid.seconds
    return {"summary": summary, "settings": dict(zip(settings["setting"], settings["value"])),
            "runs": [dict(r) for r in grid.rows], "checks": checks}
