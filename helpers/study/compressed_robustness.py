"""C2, robustness of compressed models: B1's fixed adversarial set replayed on every compressed
model (transfer from the dense model), and white-box attacks run again on the compressed models."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..attacks import build_attack
from ..compression import method_class
from ..core import progress
from ..core.files import sha256_file
from ..models.checkpoints import load_model
from ..report import figures
from ..robustness import load_adversarial_set, replay, run_attack, statistics, transfer_statistics

DENSE = "dense"


@dataclass
class Variant:
    """The dense model or one compressed version of it, with what C1 measured of it."""
    model: str
    method: str
    point: str
    removed: float          # fraction of the dense model's parameters that are zero or gone
    path: Path
    acc: float
    latency_b1_ms: float
    size_mb: float          # the smallest file that restores it

    @property
    def name(self) -> str:
        return DENSE if self.method == DENSE else f"{self.method} {self.point}"

    def load(self, device):
        model = load_model(self.path, self.model)[0] if self.method == DENSE else method_class(self.method)().load(self.path)
        return model.to(device).eval()


def variants(c1: dict[str, Any], layout, names: list[str]) -> dict[str, list[Variant]]:
    """Per model: the dense model first, then every compressed model C1 saved for it."""
    out = {}
    for name in names:
        d = c1["summary"][name][DENSE]
        out[name] = [Variant(name, DENSE, "–", 0.0, layout.trained(name), d["acc"], d["latency_b1_ms"], d["size_mb"])]
        out[name] += [Variant(name, r["method"], r["point"], 1 - r["nonzero"] / d["params"], layout.resolve(r["path"]),
                              r["acc"], r["latency_b1_ms"], r["size_compressed_mb"])
                      for r in c1["records"] if r["model"] == name]
    return out


def describe_variants(by_model: dict[str, list[Variant]]) -> str:
    return "Models compared: " + "; ".join(f"{name}: the dense model and {len(found) - 1} compressed ones"
                                           for name, found in by_model.items()) + "."


def fixed_sets(layout, by_model: dict[str, list[Variant]]) -> dict[str, dict[str, Any]]:
    """B1's fixed adversarial set of each model, checked to be crafted on the dense checkpoint C1 compressed."""
    sets = {}
    for name, vs in by_model.items():
        path = layout.adversarial_set(name)
        blob = load_adversarial_set(path)
        if blob["metadata"].get("checkpoint_sha256") != sha256_file(vs[0].path):
            raise ValueError(f"{path} was crafted on another {name} checkpoint than {vs[0].path}: rerun B1_attacks")
        sets[name] = blob
    return sets


def _describe(v: Variant) -> dict[str, Any]:
    return {"model": v.model, "name": v.name, "method": v.method, "point": v.point, "removed": v.removed, "acc": v.acc}


def replay_fixed_sets(by_model, sets, device) -> tuple[pd.DataFrame, float]:
    """Every variant's statistics on its dense model's fixed set, with the transfer rate from the
    dense model (among inputs both classify correctly). Returns (rows, seconds)."""
    rows, t0 = [], time.perf_counter()
    ticker = progress.task("fixed set replay", sum(len(v) for v in by_model.values()))
    for name, vs in by_model.items():
        blob, source = sets[name], None
        for v in vs:
            runs = replay(v.load(device), blob, device)
            source = source or runs  # the dense model comes first
            for key, r in runs.items():
                st = statistics(r, blob["images"], blob["labels"])
                tr = transfer_statistics(source[key], r.clean_logits, r.adv_logits, blob["labels"])
                rows.append({**_describe(v), "attack": r.attack, "goal": "targeted" if r.target is not None else "untargeted",
                             "eps": r.eps, **{k: st[k] for k in ("n_eligible", "n_success", "success_rate", "l2_success",
                                                                 "linf", "confidence_wrong")},
                             "transfer_rate": tr["transfer_rate"]})
            ticker.step(f"{name} {v.name}")
    return pd.DataFrame(rows), time.perf_counter() - t0


def whitebox(by_model, sets, params: dict[str, Any], device) -> tuple[pd.DataFrame, float]:
    """Every attack of `attacks`, every goal of `whitebox_goals` and every ε, run again on the dense model and on the
    compressed models of `whitebox_methods` (methods whose models take gradients), each input kept
    at its first successful iterate. Returns (rows, seconds)."""
    attacks = [build_attack(a, params) for a in params["attacks"]]
    chosen = [v for vs in by_model.values() for v in vs
              if v.method == DENSE or (v.method in params["whitebox_methods"] and method_class(v.method).whitebox)]
    goals = params["whitebox_goals"]
    ticker = progress.task("white-box attacks", len(chosen) * len(attacks) * len(goals) * len(params["attack_eps"]))
    rows, t0 = [], time.perf_counter()
    for v in chosen:
        blob = sets[v.model]
        targets = {"untargeted": None, "targeted": blob["classes"].index(params["target_class"])}
        model = v.load(device)
        for attack in attacks:
            for goal in goals:
                for eps in params["attack_eps"]:
                    r = run_attack(model, blob["images"], blob["labels"], attack, eps, target=targets[goal],
                                   seed=params["seed"], device=device, stop_on_success=True)
                    st = statistics(r, blob["images"], blob["labels"])
                    rows.append({**_describe(v), "attack": attack.name, "goal": goal, "eps": eps,
                                 **{k: st.get(k) for k in ("n_eligible", "n_success", "success_rate", "robust_acc",
                                                           "iterations_mean", "confidence_wrong")}})
                    ticker.step(f"{v.model} {v.name} {attack.title} {goal} ε={eps:g}")
    return pd.DataFrame(rows), time.perf_counter() - t0


def fixed_set_tables(replayed: pd.DataFrame, example_eps: float, attack: str) -> list[tuple[str, pd.DataFrame]]:
    """Per model: success of every attack of the fixed set at `example_eps`, and the details of `attack`'s
    untargeted inputs (successes, transfer rate, L2 of the successful ones, confidence)."""
    tables = []
    for name, at in replayed[replayed.eps == example_eps].groupby("model", sort=False):
        wide = at.pivot_table(index="name", columns=["attack", "goal"], values="success_rate", sort=False, dropna=False)
        wide.columns = [f"{a.upper()} {g[:4]}." for a, g in wide.columns]
        tables.append((f"{name}: success of the fixed set at ε = {example_eps:g} on the dense model and each compressed one "
                       "(successes / inputs that model classifies correctly; targeted: whose label is not the target)",
                       wide.reset_index()))
        u = at[(at.attack == attack) & (at.goal == "untargeted")]
        tables.append((f"{name}, untargeted {attack.upper()} inputs at ε = {example_eps:g}: clean accuracy, successes, "
                       "transfer rate from the dense model, mean L2 of δ over the inputs that fool the model (pixel units), "
                       "mean confidence of its wrong predictions",
                       pd.DataFrame({"model": u.name, "acc": u.acc, "success": [f"{a}/{b}" for a, b in zip(u.n_success, u.n_eligible)],
                                     "transfer": u.transfer_rate, "L2 fooled": u.l2_success,
                                     "conf. wrong": u.confidence_wrong})))
    return tables


def fixed_set_figures(replayed: pd.DataFrame, example_eps: float) -> list[tuple[Any, str, str]]:
    out = []
    for name, sub in replayed[(replayed.eps == example_eps) & (replayed.method != DENSE)].groupby("model", sort=False):
        out.append((figures.curves(sub.assign(panel=sub.goal), "success_rate", "panel", "method", "attack", "success rate",
                                   x="removed", xlabel="fraction of parameters removed"), f"fixed_set_{name}",
                    f"{name}: success of the dense model's adversarial inputs (ε = {example_eps:g}) on compressed models, "
                    "against the fraction of parameters compression removed (zeros or removed channels)."))
    return out


def whitebox_tables_and_figures(attacked: pd.DataFrame, params: dict[str, Any]):
    """Per model: the success figure and table of `robustness_attack`, and at `example_eps` the mean
    iteration of first success of iterative attacks and the success rate of one-step attacks."""
    tables, figs, attack, eps0 = [], [], params["robustness_attack"], params["example_eps"]
    iterative = {a: build_attack(a, params).iterative for a in params["attacks"]}
    for name, sub in attacked.groupby("model", sort=False):
        main = sub[sub.attack == attack]
        figs.append((figures.curves(main.assign(panel=main.goal), "success_rate", "panel", "name", None,
                                    f"{attack.upper()} success rate"), f"whitebox_{name}",
                     f"{name}: white-box {attack.upper()} success against ε on the dense model and on each attacked "
                     "compressed model."))
        wide = main.pivot_table(index="name", columns=["goal", "eps"], values="success_rate", sort=False, dropna=False)
        wide.columns = [f"{g[:4]}. {e:g}" for g, e in wide.columns]
        tables.append((f"{name}: white-box {attack.upper()} success rate per goal and ε", wide.reset_index()))
        at = sub[sub.eps == eps0]
        cols = {}
        for a, is_iterative in iterative.items():
            value = "iterations_mean" if is_iterative else "success_rate"
            # pivots keep the models never fooled (no iteration count)
            piv = at[at.attack == a].pivot_table(index="name", columns="goal", values=value, sort=False, dropna=False)
            for goal in params["whitebox_goals"]:
                short = {"untargeted": "untarg.", "targeted": "targ."}[goal]
                cols[f"{a.upper()} {'iters ' if is_iterative else ''}{short}"] = piv.get(goal)
        tables.append((f"{name} at ε = {eps0:g}: mean iteration of first success of the iterative attacks, and success "
                       "rate of the one-step attacks", pd.DataFrame(cols).rename_axis("model").reset_index()))
    return tables, figs
