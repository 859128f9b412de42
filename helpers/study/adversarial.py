"""B1, adversarial attacks: every registered attack the parameter `attacks` names, untargeted and
targeted, at every ε, on every model, over the validation split; the checks of the runs
(`attack_checks`), the figures, the example panels, the fixed adversarial set (B2, C2) and the reading of the results.

Images are uint8 [N, C, H, W] as stored; attacks work on floats in [0, 1], so ε and the norms are
in pixel units of [0, 1]. Run keys are (model, attack name, goal, ε).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from ..attacks import Attack, build_attack
from ..config.model_overrides import differences_sentence, for_model
from ..core import progress
from ..core.files import sha256_file
from ..evaluation.intervals import format_rate
from ..evaluation.paired import as_summary, compare, evidence
from ..robustness import AttackRun, eps_key, run_attack, save_adversarial_set, statistics
from .attack_checks import GOALS, strength_pairs

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
    subset: bool = False  # the images are a stratified subset of the validation split (attack_subset_per_class)
    own_attacks: dict[str, dict[str, Attack]] = field(default_factory=dict)  # a model's own settings (model_overrides)

    @property
    def goals(self) -> dict[str, int | None]:
        return {"untargeted": None, "targeted": self.target}

    def title(self, attack: str) -> str:
        return self.attacks[attack].title

    def iterative(self) -> list[str]:
        return [a for a, obj in self.attacks.items() if obj.iterative]

    def attacks_of(self, model: str) -> dict[str, Attack]:
        """The attacks as model `model` gets them: the study's, or its own (`model_overrides`)."""
        return self.own_attacks.get(model, self.attacks)


def prepare(stage, data) -> Setup:
    """Check the parameters, load A2's models and build the attacks of `stage.params`, over the
    attacked validation images (`Stage.attacked_split`)."""
    p = stage.params
    target = check_parameters(data.classes, p["target_class"], p["attack_eps"], p["example_eps"])
    paths = {n: stage.layout.trained(n) for n in p["models"]}
    attacked = stage.attacked_split()
    own = {n: {a: build_attack(a, for_model(p, n)) for a in p["attacks"]} for n in p["models"] if for_model(p, n) is not p}
    return Setup({n: stage.trained_model(n)[0] for n in p["models"]}, paths,
                 {a: build_attack(a, p) for a in p["attacks"]}, data.classes, target, attacked.images,
                 attacked.labels, list(p["attack_eps"]), stage.device, {n: sha256_file(f) for n, f in paths.items()},
                 subset=len(attacked) < len(data.valid), own_attacks=own)


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
        for attack_name, attack in setup.attacks_of(n).items():
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


def timing_sentence(grid: Grid, params: dict[str, Any] | None = None) -> str:
    """The attacks' time, per model where there are several, and the models' unequal settings."""
    per_model = grid.table.groupby("model", sort=False)["seconds"].sum()
    split = f" ({', '.join(f'{m} {s:.0f} s' for m, s in per_model.items())})" if len(per_model) > 1 else ""
    unequal = differences_sentence(params, ("pgd_steps", "apgd_steps")) if params else ""
    return (f"All {len(grid.rows)} attacks (every model, attack, goal and ε) took {grid.seconds:.0f} s{split} on "
            f"{grid.setup.device} with {torch.get_num_threads()} threads." + (f" {unequal}" if unequal else ""))


def save_fixed_sets(grid: Grid, layout, params: dict[str, Any]) -> pd.DataFrame:
    """Save each model's fixed adversarial set (clean inputs, labels, every run's x_adv) at
    `layout.adversarial_set(model)`; one row per file (its size in MB)."""
    s, saved = grid.setup, []
    for n in s.models:
        path = layout.adversarial_set(n)
        runs = {f"{a}.{g}.{eps_key(e)}": grid.runs[n, a, g, e] for a in s.attacks for g in GOALS for e in s.attack_eps}
        save_adversarial_set(path, s.images, s.labels, s.classes, runs, model=n, checkpoint_sha256=s.sha256[n],
                             seed=params["seed"], pgd_steps=for_model(params, n)["pgd_steps"],
                             pgd_step_divisor=params["pgd_step_divisor"], target_class=s.classes[s.target],
                             split="valid", attacks=list(s.attacks))
        saved.append({"source model": n, "file": layout.relative(path), "attacks": len(runs), "inputs": len(s.labels),
                      "MB": path.stat().st_size / 1e6})
    return pd.DataFrame(saved)


def primary_attack(attacks: dict[str, Attack]) -> str:
    """The attack the reading leads with: the first iterative one, else the last one listed."""
    return next((a for a, obj in attacks.items() if obj.iterative), list(attacks)[-1])


def _separated(grid: Grid, pairs: list[tuple[tuple, tuple]], alpha: float) -> int:
    """How many (run a, run b) pairs McNemar's test separates: the images each run fools (eligible and
    successful), compared image by image over the images eligible for both (a targeted run does not
    count the target class's images, so they leave an untargeted/targeted comparison)."""
    other = (grid.setup.labels != grid.setup.target).tolist()

    def both(a: tuple, b: tuple) -> tuple[str, str]:
        keep = [o or (a[2] != "targeted" and b[2] != "targeted") for o in other]
        return tuple("".join(c for c, k in zip(grid.value(*r, "fooled"), keep) if k) for r in (a, b))
    return sum(compare(*both(a, b), alpha=alpha)["better"] is not None for a, b in pairs)


def _model_line(grid: Grid, n: str, main: str, others: list[str], e0: float) -> str:
    """What the attacks do to model `n` at `e0`, with intervals and denominators."""
    s, eps_grid = grid.setup, sorted(grid.setup.attack_eps)
    rate = lambda a, g, e: grid.value(n, a, g, e, "success_rate")  # noqa: E731

    def stated(a, g):
        k = int(grid.value(n, a, g, e0, "n_eligible"))
        return f"{grid.value(n, a, g, e0, 'success')} ({format_rate(rate(a, g, e0), k)})" if k else "none of 0"

    def first_eps_reaching(a, g):
        hit = [e for e in eps_grid if (rate(a, g, e) or 0) >= HALF]
        return f"from ε = {hit[0]:g}" if hit else f"at no ε up to {max(eps_grid):g}"

    main_t, target_class, total = s.title(main), s.classes[s.target], len(s.labels)
    rest = "; ".join(f"{s.title(o)} manages {grid.value(n, o, 'untargeted', e0, 'success')} and "
                     f"{grid.value(n, o, 'targeted', e0, 'success')}" for o in others)
    return (f"- **{n}**: at ε = {e0:g} (about {e0 * 255:.0f} of 255 grey levels), {main_t} fools {stated(main, 'untargeted')} "
            f"of the correctly classified inputs and sends {stated(main, 'targeted')} of the eligible inputs to "
            f"{target_class}" + (f"; {rest}. " if rest else ". ")
            + f"Untargeted {main_t} fools at least half of them {first_eps_reaching(main, 'untargeted')}, targeted "
            f"{main_t} {first_eps_reaching(main, 'targeted')}. Its robust accuracy under untargeted {main_t} at ε = {e0:g}, over "
            f"{'the' if s.subset else 'all'} {total} {'attacked ' if s.subset else ''}validation images, is {format_rate(grid.value(n, main, 'untargeted', e0, 'robust_acc'), total)}, "
            "against a clean accuracy of "
            f"{format_rate(grid.value(n, main, 'untargeted', e0, 'clean_acc'), total)}.")


def reading(grid: Grid, example_eps: float, secure_robust_acc: float, alpha: float) -> str:
    """The bullet points that read the attack results (every number computed from `grid`, rates
    with their 95 % Wilson intervals, differences between runs only where McNemar's test on the
    same images resolves them at `alpha`); a model keeping less than `secure_robust_acc` robust
    accuracy is called not secure."""
    s, e0 = grid.setup, example_eps
    main = primary_attack(s.attacks)
    main_t, others = s.title(main), [a for a in s.attacks if a != main]
    rate = lambda n, a, g, e: grid.value(n, a, g, e, "success_rate") or 0  # noqa: E731
    lines = [_model_line(grid, n, main, others, e0) for n in s.models]
    runs = [(n, e) for n in s.models for e in s.attack_eps]
    gap = [rate(n, main, "untargeted", e) - rate(n, main, "targeted", e) for n, e in runs]
    apart = _separated(grid, [((n, main, "untargeted", e), (n, main, "targeted", e)) for n, e in runs], alpha)
    lines.append(f"- Over the {len(runs)} pairs of model and ε, untargeted {main_t} success exceeds targeted {main_t} "
                 f"success by {100 * sum(gap) / len(gap):.0f} percentage points on average; " + _apart(apart, len(runs))
                 + (" Targeted attacks are harder: one specific class must win instead of any wrong one."
                    if sum(gap) > 0 and apart else ""))
    for strong, weak in strength_pairs(s.attacks):
        keys = [(n, g, e) for n in s.models for g in GOALS for e in s.attack_eps]
        pg = [rate(n, strong, g, e) - rate(n, weak, g, e) for n, g, e in keys]
        apart = _separated(grid, [((n, strong, g, e), (n, weak, g, e)) for n, g, e in keys], alpha)
        pays = "Iterating pays: " if s.attacks[strong].iterative and not s.attacks[weak].iterative and apart else ""
        lines.append(f"- {pays}{s.title(strong)}'s success rate exceeds {s.title(weak)}'s by {100 * sum(pg) / len(pg):.0f} "
                     f"percentage points on average (largest gap {100 * max(pg):.0f}); " + _apart(apart, len(keys)))
    lines += _overshoot_lines(grid, main, alpha)
    if len(s.models) == 2:
        lines.append(_two_models(grid, main, e0, secure_robust_acc, alpha))
    return "\n".join(lines)


def _apart(apart: int, total: int) -> str:
    if not apart:
        return (f"image by image (McNemar), none of the {total} comparisons is resolved, so no single difference is "
                "established.")
    return f"image by image (McNemar), {apart} of the {total} comparisons are resolved."


def _two_models(grid: Grid, main: str, e0: float, secure_robust_acc: float, alpha: float) -> str:
    """Which of two models keeps more accuracy under untargeted `main` at `e0`, if McNemar's test on
    their per-image robustness (the same images) says."""
    total, (a, b) = len(grid.setup.labels), grid.setup.models
    ra, rb = (grid.value(k, main, "untargeted", e0, "robust_acc") for k in (a, b))
    hi, lo = (a, b) if ra >= rb else (b, a)
    test = compare(*(grid.value(k, main, "untargeted", e0, "robust") for k in (hi, lo)), alpha=alpha)
    head = (f"- Under untargeted {grid.setup.title(main)} at ε = {e0:g}, the robust accuracy (an upper bound) of {hi} "
            f"is {format_rate(max(ra, rb), total)} and that of {lo} {format_rate(min(ra, rb), total)} "
            f"({evidence(test)})")
    head += (f": {hi} is the more robust of the two at this budget" if test["better"] == "a"
             else "; the difference is not resolved, so the data do not show which model is more robust")
    return head + (f". Both stay below {secure_robust_acc:.0%} robust accuracy: neither model is secure against a "
                   "white-box attacker at this budget." if max(ra, rb) < secure_robust_acc else ".")


def _overshoot_lines(grid: Grid, main: str, alpha: float) -> list[str]:
    """One-step attacks whose targeted success falls again at the largest ε (peak and last run
    separated by McNemar's test, else the fall is not stated as one): one line per model."""
    s, eps_grid, lines = grid.setup, sorted(grid.setup.attack_eps), []
    avoid = f", which {s.title(main)}'s small projected steps avoid." if s.attacks[main].iterative else "."
    for attack in (a for a, obj in s.attacks.items() if not obj.iterative):
        for n in s.models:
            ft = [grid.value(n, attack, "targeted", e, "success_rate") or 0 for e in eps_grid]
            peak = eps_grid[ft.index(max(ft))]
            if ft[-1] < max(ft) and _separated(grid, [((n, attack, "targeted", peak), (n, attack, "targeted", eps_grid[-1]))],
                                               alpha):
                k = int(grid.value(n, attack, "targeted", peak, "n_eligible"))
                lines.append(f"- {n}: targeted {s.title(attack)} peaks at {format_rate(max(ft), k)} (ε = {peak:g}) and falls "
                             f"to {format_rate(ft[-1], k)} at ε = {max(eps_grid):g}: a single step of the full budget "
                             f"overshoots the region where {s.classes[s.target]} wins" + avoid)
    return lines


def denominators(grid: Grid) -> dict[str, int]:
    """Every proportion's denominator (helpers/report/summary.py): success rates over the eligible
    inputs of their run, robust and clean accuracy over all inputs."""
    out = {f"{n}.clean_acc": len(grid.setup.labels) for n in grid.setup.models}
    for row in grid.rows:
        key = f"{row['model']}.{row['attack']}.{row['goal']}.{eps_key(row['eps'])}"
        out[f"{key}.robust_acc"] = row["n"]
        if row["n_eligible"]:
            out[f"{key}.success_rate"] = row["n_eligible"]
    return out


def paired_robustness(grid: Grid, alpha: float) -> dict[str, Any]:
    """Every pair of models (in the grid's order) under each untargeted attack and ε, their robust
    accuracies compared image by image on the same images (`paired.compare`; 'a' is the first):
    {'<A>_vs_<B>': {attack: {eps key: `paired.as_summary`}}}. Success rates count different
    images for each model (those it classifies correctly), so they cannot be paired."""
    runs = {(r["model"], r["attack"], r["eps"]): r["robust"] for r in grid.rows
            if r["goal"] == "untargeted" and r.get("robust")}
    models = list(dict.fromkeys(r["model"] for r in grid.rows))
    out: dict[str, Any] = {}
    for i, a in enumerate(models):
        for b in models[i + 1:]:
            for (m, attack, eps), robust in runs.items():
                if m == a and (b, attack, eps) in runs:
                    out.setdefault(f"{a}_vs_{b}", {}).setdefault(attack, {})[eps_key(eps)] = as_summary(
                        compare(robust, runs[b, attack, eps], alpha=alpha))
    return out


def metrics(grid: Grid, settings: pd.DataFrame, checks, alpha: float) -> dict[str, Any]:
    """B1's metrics: summary[model][attack][goal][eps key] = SUMMARY_KEYS of each run,
    summary[model].clean_acc, summary.paired (`paired_robustness`), attack_s, unmet_checks (how
    many expectations were not met); the settings, every run's statistics, the checks
    (`attack_checks.Checks`: passed and unmet) and the denominators of the proportions."""
    summary: dict[str, Any] = {}
    for row in grid.rows:
        node = summary.setdefault(row["model"], {"clean_acc": row["clean_acc"]})
        node = node.setdefault(row["attack"], {}).setdefault(row["goal"], {})
        node[eps_key(row["eps"])] = {k: row.get(k) for k in SUMMARY_KEYS if k in row}
    summary["paired"] = paired_robustness(grid, alpha)
    summary["attack_s"], summary["unmet_checks"] = grid.seconds, len(checks.unmet)
    return {"summary": summary, "settings": dict(zip(settings["setting"], settings["value"])),
            "runs": [dict(r) for r in grid.rows], "checks": checks.passed, "unmet_checks": checks.unmet,
            "denominators": denominators(grid)}
