"""B2, transferability: B1's fixed adversarial sets, crafted on each source model, fed unchanged to
every other model. Only inputs both models classify correctly count (and, for targeted attacks,
whose label is not the target), so source and target rates share one denominator.

Attack keys of a fixed set are '<attack>.<goal>.eps<ε>' (see robustness.save_adversarial_set).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch
from torch import nn

from ..attacks import Attack, build_attack
from ..core import progress
from ..report import figures
from ..robustness import eps_key, load_adversarial_set, replay, transfer_statistics

GOALS = ("untargeted", "targeted")
SUMMARY_KEYS = ("transfer_rate", "target_success_rate", "source_success_rate", "transfer_given_source", "n_eligible")


@dataclass
class FixedSets:
    """Models by name (on the device) and each one's fixed set (a `load_adversarial_set` blob); the
    clean images uint8 [N, C, H, W], labels int64 [N] and classes every set shares."""
    models: dict[str, nn.Module]
    sets: dict[str, dict[str, Any]]
    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]


def check_same_inputs(sets: dict[str, dict[str, Any]]) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """(images, labels, classes) shared by every set; ValueError when one was made from others."""
    first_name, first = next(iter(sets.items()))
    for name, blob in sets.items():
        if (not torch.equal(blob["images"], first["images"]) or not torch.equal(blob["labels"], first["labels"])
                or blob["classes"] != first["classes"]):
            raise ValueError(f"the adversarial sets of {first_name} and {name} were made from different inputs; "
                             "rerun B1_attacks")
    return first["images"], first["labels"], first["classes"]


def load_sets(stage, models: list[str]) -> FixedSets:
    """A2's models and B1's fixed set of each; ValueError for fewer than two models."""
    if len(models) < 2:
        raise ValueError(f"parameter 'models' must name at least two models for transfer, not {models}")
    sets = {n: load_adversarial_set(stage.layout.adversarial_set(n)) for n in models}
    images, labels, classes = check_same_inputs(sets)
    return FixedSets({n: stage.trained_model(n)[0] for n in models}, sets, images, labels, classes)


def attacks_of(blob: dict[str, Any]) -> dict[str, Attack]:
    """The attacks of a fixed set, configured as B1 ran them (its metadata holds pgd_steps and
    pgd_step_divisor), in the order of the set's keys."""
    names = dict.fromkeys(key.split(".", 1)[0] for key in blob["attacks"])
    return {name: build_attack(name, blob["metadata"]) for name in names}


@dataclass
class Transfer:
    """One row per (source, target, attack key): `transfer_statistics` plus 'k/n' strings; `table`
    is the same as a DataFrame with a 'panel' column (attack title and goal) for the figures."""
    rows: list[dict[str, Any]]
    titles: dict[str, str]
    iterative: dict[str, bool]

    def __post_init__(self):
        self.table = pd.DataFrame(self.rows)
        self.table["panel"] = self.table["attack"].map(self.titles) + " " + self.table["goal"]


def transfer_grid(fixed: FixedSets, device: torch.device) -> Transfer:
    """Every model's logits on every source's fixed set, then the statistics of each direction."""
    names = list(fixed.models)
    task = progress.task("B2 replay", len(names) ** 2)
    on = {}
    for src in names:
        for dst in names:
            on[src, dst] = replay(fixed.models[dst], fixed.sets[src], device)
            task.step(f"{src} set on {dst}")
    rows = []
    for src in names:
        for dst in (n for n in names if n != src):
            for key, a in fixed.sets[src]["attacks"].items():
                hit = on[src, dst][key]
                st = transfer_statistics(on[src, src][key], hit.clean_logits, hit.adv_logits, fixed.labels)
                attack, goal, _ = key.split(".", 2)
                rows.append({"source": src, "target": dst, "direction": f"{src} → {dst}", "attack": attack, "goal": goal,
                             "eps": a["eps"], **st, "source success": f"{st['n_source_success']}/{st['n_eligible']}",
                             "target success": f"{st['n_target_success']}/{st['n_eligible']}"})
    attacks = attacks_of(fixed.sets[names[0]])
    return Transfer(rows, {a: obj.title for a, obj in attacks.items()}, {a: obj.iterative for a, obj in attacks.items()})


def direction_tables(transfer: Transfer) -> list[tuple[str, pd.DataFrame]]:
    """Per direction: successes on source and target, transfer rate, share of source successes."""
    out = []
    for direction, sub in transfer.table.groupby("direction", sort=False):
        out.append((f"{direction}: successes on the source and on the target model among the inputs both classify "
                    "correctly (targeted: and whose label is not the target); transfer = target successes / source "
                    "successes; the last column is the fraction of the source's successes that also fool the target",
                    pd.DataFrame({"attack": sub.panel, "ε": sub.eps, "source": sub["source success"],
                                  "target": sub["target success"], "transfer": sub.transfer_rate,
                                  "of source's": sub.transfer_given_source})))
    return out


def target_success_figure(transfer: Transfer):
    return figures.curves(transfer.table, "target_success_rate", "panel", "direction", None,
                          "success rate on the target model")


def transfer_rate_figure(transfer: Transfer):
    return figures.curves(transfer.table, "transfer_rate", "panel", "direction", None, "transfer rate",
                          ylim=(-0.02, 1.22))


def mean_of(table: pd.DataFrame, column: str, **where: Any) -> float | None:
    """Mean of `column` over the rows matching `where` (column=value), ignoring missing values."""
    sub = table
    for k, v in where.items():
        sub = sub[sub[k] == v]
    values = sub[column].dropna().astype(float)
    return float(values.mean()) if len(values) else None


def attack_comparison(transfer: Transfer, transfer_margin: float) -> str:
    """How the attacks' mean transfer rates compare (the old FGSM-against-PGD sentence when one of
    two attacks is iterative and the other is not); empty when a rate is missing."""
    rates = {a: mean_of(transfer.table, "transfer_rate", attack=a) for a in transfer.titles}
    if len(rates) < 2 or None in rates.values():
        return ""
    t = transfer.titles
    if len(rates) > 2:
        return "- Mean transfer rates: " + ", ".join(f"{t[a]} {r:.2f}" for a, r in rates.items()) + "."
    (a, ra), (b, rb) = rates.items()
    head = f"- {t[a]} transfers at a mean rate of {ra:.2f} and {t[b]} at {rb:.2f}: "
    if ra <= rb + transfer_margin and rb <= ra + transfer_margin:
        return head + "the two attacks transfer about equally well."
    better, worse = (a, b) if ra > rb else (b, a)
    if transfer.iterative[worse] and not transfer.iterative[better]:
        return head + (f"{t[worse]}'s many steps fit the source model's particular decision boundary, which a single "
                       f"{t[better]} step does not.")
    if transfer.iterative[better] and not transfer.iterative[worse]:
        return head + f"{t[better]} transfers better as well as attacking the source more strongly."
    return head + f"{t[better]} transfers better."


def reading(transfer: Transfer, transfer_margin: float, substitute_threat_rate: float) -> str:
    """The bullet points that read the transfer results (every number computed from `transfer`)."""
    table, lines = transfer.table, []
    by_dir = {d: mean_of(table, "transfer_rate", direction=d) for d in dict.fromkeys(table["direction"])}
    known = {d: v for d, v in by_dir.items() if v is not None}
    if len(known) >= 2:
        best, worst = max(known, key=known.get), min(known, key=known.get)
        lines.append(f"- Averaged over attacks, goals and ε, the transfer rate is {known[best]:.2f} for {best} and "
                     f"{known[worst]:.2f} for {worst}: adversarial inputs crafted on {best.split(' → ')[0]} carry over "
                     "to the other model " + ("more readily." if known[best] - known[worst] > transfer_margin
                                              else "about as readily as the other way round."))
    for goal in GOALS:
        v = mean_of(table, "target_success_rate", goal=goal)
        if v is not None:
            lines.append(f"- {goal.capitalize()}: the mean success on the target model is {v:.0%} "
                         f"(against {mean_of(table, 'source_success_rate', goal=goal):.0%} on the source).")
    comparison = attack_comparison(transfer, transfer_margin)
    lines += [comparison] if comparison else []
    big = table[(table.eps == table.eps.max()) & (table.goal == "untargeted")]
    fooled, total = int(big["n_target_success"].sum()), int(big["n_eligible"].sum())
    if total:
        lines.append(f"- At the largest budget, ε = {table.eps.max():g}, untargeted adversarial inputs made on the other "
                     f"model fool the target on {fooled} of {total} eligible inputs (both directions and attacks): "
                     + ("an attacker without access to the model, using a substitute, is a real threat at that budget."
                        if fooled / total > substitute_threat_rate
                        else "without access to the model, an attacker gains little at that budget."))
    return "\n".join(lines)


def metrics(transfer: Transfer) -> dict[str, Any]:
    """B2's metrics: summary['<src>_to_<dst>'][attack][goal][eps key] = SUMMARY_KEYS; every row."""
    summary: dict[str, Any] = {}
    for r in transfer.rows:
        node = summary.setdefault(f"{r['source']}_to_{r['target']}", {}).setdefault(r["attack"], {})
        node.setdefault(r["goal"], {})[eps_key(r["eps"])] = {k: r[k] for k in SUMMARY_KEYS}
    return {"summary": summary, "rows": [dict(r) for r in transfer.rows]}
