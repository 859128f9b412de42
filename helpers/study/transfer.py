"""B2, transferability: B1's fixed adversarial sets, crafted on each source model, fed unchanged to
every other model, against a random-sign noise baseline of the same budget.

Only inputs both models classify correctly count (and, for targeted attacks, whose label is not
the target), so source and target share one set of eligible inputs. The headline is the
**conditional transfer rate**: of the source's successes among them, the fraction that also fool
the target. The unconditional rate (`transfer_rate`, kept under its old key) is the fraction of
the eligible inputs whose adversarial input fools the target; the noise baseline is the fraction
of the inputs a model classifies correctly that random-sign noise of the same ε fools.

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
from ..evaluation.intervals import format_rate, wilson
from ..report import figures
from ..robustness import eps_key, load_adversarial_set, noise_statistics, replay, transfer_statistics

GOALS = ("untargeted", "targeted")
SUMMARY_KEYS = ("conditional_transfer_rate", "transfer_rate", "target_success_rate", "source_success_rate",
                "transfer_given_source", "success_ratio", "n_eligible", "n_source_success", "n_both_success")
# The denominator of each proportion of a summary row (see helpers/report/summary.py).
DENOMINATOR = {"conditional_transfer_rate": "n_source_success", "transfer_given_source": "n_source_success",
               "transfer_rate": "n_eligible", "target_success_rate": "n_eligible", "source_success_rate": "n_eligible"}
CI = "95 % Wilson interval in brackets"


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
    is the same as a DataFrame with a 'panel' column (attack title and goal) for the figures;
    `noise` one row per (model, ε) of the random-sign baseline (`noise_statistics`)."""
    rows: list[dict[str, Any]]
    titles: dict[str, str]
    iterative: dict[str, bool]
    noise: list[dict[str, Any]]

    def __post_init__(self):
        self.table = pd.DataFrame(self.rows)
        self.table["panel"] = self.table["attack"].map(self.titles) + " " + self.table["goal"]
        self.noise_table = pd.DataFrame(self.noise, columns=["model", "eps", "n_eligible", "n_success", "success_rate"])

    def noise_on(self, model: str, eps: float) -> dict[str, Any] | None:
        return next((r for r in self.noise if r["model"] == model and r["eps"] == eps), None)


def transfer_grid(fixed: FixedSets, device: torch.device, seed: int = 0) -> Transfer:
    """Every model's logits on every source's fixed set, the statistics of each direction, and
    the random-sign noise baseline (seeded with `seed`) on every model at every ε of the sets."""
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
    eps_grid = sorted({a["eps"] for a in fixed.sets[names[0]]["attacks"].values()})
    noise = [{"model": n, **noise_statistics(fixed.models[n], fixed.images, fixed.labels, e, seed, device,
                                             clean_logits=next(iter(on[n, n].values())).clean_logits)}
             for n in names for e in eps_grid]
    attacks = attacks_of(fixed.sets[names[0]])
    return Transfer(rows, {a: obj.title for a, obj in attacks.items()}, {a: obj.iterative for a, obj in attacks.items()},
                    noise)


def rate_with_interval(row: dict[str, Any] | pd.Series, key: str) -> str:
    """A row's rate `key` with its 95 % Wilson interval over the row's denominator for it."""
    return format_rate(row[key], int(row[DENOMINATOR[key]]))


def transfer_table(transfer: Transfer) -> pd.DataFrame:
    """One row per direction, attack, goal and ε: the counts behind both transfer rates, and the
    rates with their intervals (conditional over the source's successes, unconditional over the
    eligible inputs)."""
    t = transfer.table
    return pd.DataFrame({"direction": t.direction, "attack": t.panel, "ε": t.eps, "eligible": t.n_eligible,
                         "fool source": t.n_source_success, "fool target": t.n_target_success,
                         "fool both": t.n_both_success,
                         "conditional": [rate_with_interval(r, "conditional_transfer_rate") for _, r in t.iterrows()],
                         "unconditional": [rate_with_interval(r, "transfer_rate") for _, r in t.iterrows()]})


def noise_table(transfer: Transfer) -> pd.DataFrame:
    """The random-sign noise baseline: per model and ε, the correctly classified inputs it fools."""
    t = transfer.noise_table
    return pd.DataFrame({"model": t.model, "ε": t.eps, "fooled": [f"{k}/{n}" for k, n in zip(t.n_success, t.n_eligible)],
                         "success rate": [format_rate(r, n) for r, n in zip(t.success_rate, t.n_eligible)]})


def _with_interval(table: pd.DataFrame, rate: str, n: str) -> pd.DataFrame:
    """`table` with columns low and high: the Wilson interval of `rate` over column `n`."""
    bounds = [wilson(round(r * k), k) if k and r == r and r is not None else (float("nan"),) * 2
              for r, k in zip(table[rate].astype(float), table[n])]
    return table.assign(rate=table[rate].astype(float), low=[b[0] for b in bounds], high=[b[1] for b in bounds])


def target_success_figure(transfer: Transfer):
    """Unconditional transfer rate per panel (attack and goal) and direction, with intervals, and
    on the untargeted panels the random-sign noise baseline of each target model."""
    t = _with_interval(transfer.table, "transfer_rate", "n_eligible")
    noise = _with_interval(transfer.noise_table, "success_rate", "n_eligible")
    untargeted = [p for p in dict.fromkeys(t.panel) if p.endswith("untargeted")]
    baseline = [noise.assign(panel=p, direction="random-sign noise on " + noise.model) for p in untargeted]
    both = pd.concat([t[["panel", "direction", "eps", "rate", "low", "high"]], *baseline], ignore_index=True)
    return figures.curves(both, "rate", "panel", "direction", None, "share of eligible inputs fooled",
                          low="low", high="high", max_cols=2)


def conditional_figure(transfer: Transfer):
    """Conditional transfer rate (of the source's successes, the share that fool the target) per
    panel and direction, with intervals."""
    t = _with_interval(transfer.table, "conditional_transfer_rate", "n_source_success")
    return figures.curves(t, "rate", "panel", "direction", None, "share of source successes\nthat fool the target",
                          low="low", high="high", max_cols=2)


def primary_attack(transfer: Transfer) -> str:
    """The attack the reading leads with: the first iterative one, else the last one listed."""
    return next((a for a, it in transfer.iterative.items() if it), list(transfer.titles)[-1])


def denominators(transfer: Transfer) -> dict[str, int]:
    """The denominator of every proportion in the summary (see helpers/report/summary.py)."""
    out = {}
    for r in transfer.rows:
        prefix = f"{r['source']}_to_{r['target']}.{r['attack']}.{r['goal']}.{eps_key(r['eps'])}"
        out.update({f"{prefix}.{k}": r[n] for k, n in DENOMINATOR.items() if r[n]})
    out.update({f"noise.{r['model']}.{eps_key(r['eps'])}.success_rate": r["n_eligible"] for r in transfer.noise})
    return out


def metrics(transfer: Transfer) -> dict[str, Any]:
    """B2's metrics: summary['<src>_to_<dst>'][attack][goal][eps key] = SUMMARY_KEYS, and
    summary['noise'][model][eps key] = the noise baseline; every row, the denominators."""
    summary: dict[str, Any] = {}
    for r in transfer.rows:
        node = summary.setdefault(f"{r['source']}_to_{r['target']}", {}).setdefault(r["attack"], {})
        node.setdefault(r["goal"], {})[eps_key(r["eps"])] = {k: r[k] for k in SUMMARY_KEYS}
    for r in transfer.noise:
        summary.setdefault("noise", {}).setdefault(r["model"], {})[eps_key(r["eps"])] = {
            k: r[k] for k in ("success_rate", "n_eligible", "n_success")}
    return {"summary": summary, "rows": [dict(r) for r in transfer.rows], "noise": transfer.noise,
            "denominators": denominators(transfer)}
