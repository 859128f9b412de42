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
from ..evaluation.intervals import format_rate, overlap, wilson
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


def _rate(row: dict[str, Any] | pd.Series, key: str) -> str:
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
                         "conditional": [_rate(r, "conditional_transfer_rate") for _, r in t.iterrows()],
                         "unconditional": [_rate(r, "transfer_rate") for _, r in t.iterrows()]})


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


def _row(transfer: Transfer, direction: str, attack: str, goal: str, eps: float) -> pd.Series | None:
    t = transfer.table
    sub = t[(t.direction == direction) & (t.attack == attack) & (t.goal == goal) & (t.eps == eps)]
    return sub.iloc[0] if len(sub) else None


def _interval(row, key: str) -> tuple[float, float]:
    return wilson(int(row[{"conditional_transfer_rate": "n_both_success", "transfer_rate": "n_target_success"}[key]]),
                  int(row[DENOMINATOR[key]]))


def _count(k: int, one: str, many: str) -> str:
    return f"{k} {one if k == 1 else many}"


def direction_lines(transfer: Transfer, eps: float) -> list[str]:
    """Per direction, the conditional transfer of the leading attack at `eps`, untargeted and
    targeted; then whether the two directions' untargeted intervals overlap."""
    main, lines, rows = primary_attack(transfer), [], {}
    title = transfer.titles[main]
    for d in dict.fromkeys(transfer.table.direction):
        u, g = _row(transfer, d, main, "untargeted", eps), _row(transfer, d, main, "targeted", eps)
        if u is None or not u.n_source_success:
            lines.append(f"- {d}: " + (f"untargeted {title} at ε = {eps:g} fools none of the {u.n_eligible} eligible "
                                       "inputs on the source" if u is not None and u.n_eligible else
                                       "no input is classified correctly by both models") + ", so nothing can transfer.")
            continue
        rows[d] = u
        text = (f"- {d}: of the {u.n_source_success} eligible inputs whose untargeted {title} input (ε = {eps:g}) fools "
                f"{u.source}, {_count(u.n_both_success, 'also fools', 'also fool')} {u.target} (conditional transfer rate "
                f"{_rate(u, 'conditional_transfer_rate')})")
        if g is not None and g.n_source_success:
            text += (f"; of the {g.n_source_success} sent to the target class on {g.source}, "
                     f"{_count(g.n_both_success, 'is', 'are')} sent there on {g.target} too "
                     f"({_rate(g, 'conditional_transfer_rate')})")
        lines.append(text + ".")
    if len(rows) == 2:
        (a, ra), (b, rb) = rows.items()
        same = overlap(_interval(ra, "conditional_transfer_rate"), _interval(rb, "conditional_transfer_rate"))
        hi = a if ra.conditional_transfer_rate >= rb.conditional_transfer_rate else b
        lines.append("- The two directions' intervals overlap: these inputs do not show that one direction transfers "
                     "better than the other." if same else
                     f"- The intervals do not overlap: adversarial inputs transfer more readily {hi.replace(' → ', ' to ')}.")
    return lines


def attack_comparison(transfer: Transfer, transfer_margin: float, eps: float) -> list[str]:
    """Per direction, how the attacks' untargeted conditional transfer rates at `eps` compare (the
    old FGSM-against-PGD reading when one of two attacks is iterative and the other is not, made
    only when the intervals do not overlap and the rates differ by at least `transfer_margin`)."""
    t, lines = transfer.titles, []
    for d in dict.fromkeys(transfer.table.direction):
        rows = {a: _row(transfer, d, a, "untargeted", eps) for a in t}
        rows = {a: r for a, r in rows.items() if r is not None and r.n_source_success}
        if len(rows) < 2:
            continue
        listed = ", ".join(f"{t[a]} {_rate(r, 'conditional_transfer_rate')}" for a, r in rows.items())
        if len(rows) > 2:
            lines.append(f"- {d}, untargeted at ε = {eps:g}: conditional transfer rates {listed}.")
            continue
        (a, ra), (b, rb) = rows.items()
        better, worse = (a, b) if ra.conditional_transfer_rate >= rb.conditional_transfer_rate else (b, a)
        gap = abs(ra.conditional_transfer_rate - rb.conditional_transfer_rate)
        head = (f"- {d}, untargeted at ε = {eps:g}: {t[a]}'s successes transfer at {_rate(ra, 'conditional_transfer_rate')} "
                f"and {t[b]}'s at {_rate(rb, 'conditional_transfer_rate')}")
        if overlap(_interval(ra, "conditional_transfer_rate"), _interval(rb, "conditional_transfer_rate")):
            lines.append(head + ": the intervals overlap, so neither attack is shown to transfer better.")
        elif gap < transfer_margin:
            lines.append(head + f": less than {100 * transfer_margin:.0f} percentage points apart, about equally well.")
        elif transfer.iterative[worse] and not transfer.iterative[better]:
            lines.append(head + f": {t[worse]}'s many steps fit the source model's particular decision boundary, "
                         f"which a single {t[better]} step does not.")
        else:
            lines.append(head + f": {t[better]}'s transfer better.")
    return lines


def noise_lines(transfer: Transfer, substitute_threat_rate: float) -> list[str]:
    """At the largest ε, per direction, the unconditional transfer of the leading attack against
    random-sign noise of the same size on the target; a substitute model is called a real threat
    when transfer fools more than `substitute_threat_rate` of the eligible inputs and its interval
    lies above the noise's."""
    main, top, lines = primary_attack(transfer), float(transfer.table.eps.max()), []
    for d in dict.fromkeys(transfer.table.direction):
        u, noise = _row(transfer, d, main, "untargeted", top), None
        if u is not None:
            noise = transfer.noise_on(u.target, top)
        if u is None or noise is None or not u.n_eligible or not noise["n_eligible"]:
            continue
        noise_ci = wilson(noise["n_success"], noise["n_eligible"])
        above = not overlap(_interval(u, "transfer_rate"), noise_ci) and u.transfer_rate > noise["success_rate"]
        threat = above and u.transfer_rate > substitute_threat_rate
        lines.append(
            f"- {d} at the largest budget, ε = {top:g}: untargeted {transfer.titles[main]} inputs made on {u.source} "
            f"fool {u.target} on {u.n_target_success} of {u.n_eligible} eligible inputs "
            f"({_rate(u, 'transfer_rate')}); random-sign noise of the same size fools it on {noise['n_success']} of the "
            f"{noise['n_eligible']} inputs it classifies correctly ({format_rate(noise['success_rate'], noise['n_eligible'])}). "
            + (("An attacker with only a substitute model is a real threat at this budget" if threat else
                "The transferred inputs beat noise, but fool no more than "
                f"{100 * substitute_threat_rate:.0f} % of the inputs: a limited threat") if above else
               "The intervals overlap: at this budget the transferred inputs are not shown to do better than noise")
            + ".")
    return lines


def reading(transfer: Transfer, transfer_margin: float, substitute_threat_rate: float, example_eps: float) -> str:
    """The bullet points that read the transfer results (every number computed from `transfer`):
    conditional transfer per direction at `example_eps`, the attacks compared, noise at the largest ε."""
    eps = example_eps if example_eps in set(transfer.table.eps) else float(transfer.table.eps.min())
    return "\n".join(direction_lines(transfer, eps) + attack_comparison(transfer, transfer_margin, eps)
                     + noise_lines(transfer, substitute_threat_rate))


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
