"""C2, robustness of compressed models: B1's fixed adversarial set replayed on every compressed
model (transfer from the dense model), and white-box attacks run again on the compressed models
that keep their accuracy on the selection split (the choice of which to examine is made there,
never on the validation split the attacks report on)."""
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
from ..evaluation.intervals import format_rate, wilson_of_rate
from ..evaluation.paired import compare
from ..config.model_overrides import differences_sentence, for_model
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
    n: int = 0              # validation images behind `acc`
    select_acc: float = 0.0  # accuracy on the selection split, which the choices of C2 read
    n_select: int = 0       # selection images behind `select_acc`
    correct: str = ""       # which validation images it gets right ('0'/'1' per image, for paired tests)
    select_correct: str = ""  # the same on the selection split

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
        d = {**c1["summary"][name][DENSE], **c1["dense"][name]}
        n, n_select = d.get("n", 0), d.get("n_select", 0)
        out[name] = [Variant(name, DENSE, "–", 0.0, layout.trained(name), d["acc"], d["latency_b1_ms"], d["size_mb"], n,
                             d["select_acc"], n_select, d["correct"], d["select_correct"])]
        out[name] += [Variant(name, r["method"], r["point"], 1 - r["nonzero"] / d["params"], layout.resolve(r["path"]),
                              r["acc"], r["latency_b1_ms"], r["size_compressed_mb"], n, r["select_acc"], n_select,
                              r["correct"], r["select_correct"])
                      for r in c1["records"] if r["model"] == name]
    return out


def selection_test(v: Variant, dense: Variant, alpha: float) -> dict[str, Any]:
    """`v` against its dense model on the selection images (`paired.compare`; 'a' is `v`)."""
    return compare(v.select_correct, dense.select_correct, alpha=alpha)


def keeps_accuracy(v: Variant, dense: Variant, alpha: float) -> bool:
    """Is no loss of `v`'s selection accuracy against its dense model resolved (McNemar, `alpha`)?"""
    return selection_test(v, dense, alpha)["better"] != "b"


def examined(by_model: dict[str, list[Variant]], params: dict[str, Any]) -> list[Variant]:
    """The variants attacked white-box: every dense model, and the compressed models of
    `whitebox_methods` (methods whose models take gradients) whose loss of selection accuracy the
    paired test does not resolve (`keeps_accuracy`): the candidates of the deployment rule."""
    return [v for vs in by_model.values() for v in vs
            if v.method == DENSE or (v.method in for_model(params, v.model)["whitebox_methods"]
                                     and method_class(v.method).whitebox and keeps_accuracy(v, vs[0], params["alpha"]))]


def whitebox_methods_by_model(params: dict[str, Any]) -> dict[str, list[str]]:
    """Per model of `models`, the methods whose models it has attacked white-box (`model_overrides`)."""
    return {m: list(for_model(params, m)["whitebox_methods"]) for m in params["models"]}


def examined_sentence(by_model: dict[str, list[Variant]], chosen: list[Variant], params: dict[str, Any]) -> str:
    """Which compressed models of `whitebox_methods` were attacked white-box, and which were left out
    for losing accuracy on the selection split (with their selection accuracies)."""
    lines = []
    for name, vs in by_model.items():
        dense, methods = vs[0], for_model(params, name)["whitebox_methods"]
        candidates = [v for v in vs[1:] if v.method in methods]
        left = [v for v in candidates if v not in chosen]
        text = (f"- {name}: of the {len(candidates)} compressed models of the methods attacked white-box "
                f"({', '.join(methods)}), {len(candidates) - len(left)} show no resolved loss of "
                f"selection accuracy against the dense model's {format_rate(dense.select_acc, dense.n_select)} "
                f"(McNemar, p ≥ {params['alpha']:g})")
        if left:
            text += "; left out for a resolved loss: " + ", ".join(
                f"{v.name} ({v.select_acc:.2f}, p = {selection_test(v, dense, params['alpha'])['p_value']:.2g})"
                for v in left)
        lines.append(text + ".")
    unequal = differences_sentence(params, ("pgd_steps", "whitebox_methods"))
    return "\n".join(lines) + (f"\n\n{unequal}" if unequal else "")


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
    return {"model": v.model, "name": v.name, "method": v.method, "point": v.point, "removed": v.removed, "acc": v.acc,
            "n_valid": v.n}


def replay_fixed_sets(by_model, sets, device) -> tuple[pd.DataFrame, float]:
    """Every variant's statistics on its dense model's fixed set, with the transfer from the dense
    model among the inputs both classify correctly (n_both_correct): the conditional rate (of the
    dense model's successes among them, n_source_success, the fraction that fool the variant) and
    the unconditional one (of n_both_correct). Returns (rows, seconds)."""
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
                             "eps": r.eps, **{k: st[k] for k in ("n", "n_eligible", "n_success", "success_rate", "l2_success",
                                                                 "linf", "confidence_wrong")},
                             "conditional_transfer_rate": tr["conditional_transfer_rate"],
                             "n_source_success": tr["n_source_success"], "transfer_rate": tr["transfer_rate"],
                             "n_both_correct": tr["n_eligible"], "robust": st["robust"]})
            ticker.step(f"{name} {v.name}")
    return pd.DataFrame(rows), time.perf_counter() - t0


def attack_variants(chosen: list[Variant], inputs: dict[str, tuple], attacks: list[str], goals: list[str],
                    eps_grid: list[float], params: dict[str, Any], device, what: str) -> pd.DataFrame:
    """Each attack (registered names), goal and ε run on each variant of `chosen` over the inputs
    of its model, `inputs[model] = (images uint8 [N, C, H, W], labels int64 [N], class names)`,
    each input kept at its first successful iterate, with the attack settings of that model
    (`model_overrides`). One row per run, with its statistics."""
    ticker = progress.task(what, len(chosen) * len(attacks) * len(goals) * len(eps_grid))
    rows = []
    for v in chosen:
        attacks_ = [build_attack(a, for_model(params, v.model)) for a in attacks]
        images, labels, classes = inputs[v.model]
        targets = {"untargeted": None, "targeted": classes.index(params["target_class"])}
        model = v.load(device)
        for attack in attacks_:
            for goal in goals:
                for eps in eps_grid:
                    r = run_attack(model, images, labels, attack, eps, target=targets[goal],
                                   seed=params["seed"], device=device, stop_on_success=True)
                    st = statistics(r, images, labels)
                    rows.append({**_describe(v), "attack": attack.name, "goal": goal, "eps": eps,
                                 **{k: st.get(k) for k in ("n", "n_eligible", "n_success", "success_rate", "robust_acc",
                                                           "iterations_mean", "confidence_wrong", "robust")}})
                    ticker.step(f"{v.model} {v.name} {attack.title} {goal} ε={eps:g}")
    return pd.DataFrame(rows)


def whitebox(by_model, sets, params: dict[str, Any], device) -> tuple[pd.DataFrame, float]:
    """Every attack of `attacks`, every goal of `whitebox_goals` and every ε, run again on the
    `examined` variants over B1's fixed inputs (the validation split). Returns (rows, seconds)."""
    t0 = time.perf_counter()
    inputs = {name: (blob["images"], blob["labels"], blob["classes"]) for name, blob in sets.items()}
    rows = attack_variants(examined(by_model, params), inputs, params["attacks"], params["whitebox_goals"],
                           params["attack_eps"], params, device, "white-box attacks")
    return rows, time.perf_counter() - t0


def _rates(table: pd.DataFrame, value: str, n: str) -> list[str]:
    """'0.82 [0.69, 0.90]' per row: `value` over the count in column `n`."""
    return [format_rate(v, k) if v is not None and v == v else "–" for v, k in zip(table[value], table[n])]


def fixed_set_tables(replayed: pd.DataFrame, example_eps: float, attack: str) -> list[tuple[str, pd.DataFrame, str]]:
    """Per model (caption, table, label): success of every attack of the fixed set at `example_eps`,
    and the details of `attack`'s untargeted inputs (accuracy, successes, conditional transfer from
    the dense model, L2 of the successful ones, confidence), rates with 95 % Wilson intervals."""
    tables = []
    for name, at in replayed[replayed.eps == example_eps].groupby("model", sort=False):
        for goal, g in at.groupby("goal", sort=False):  # one table per goal keeps the page's width
            g = g.assign(cell=_rates(g, "success_rate", "n_eligible"), column=[a.upper() for a in g.attack])
            wide = g.pivot_table(index="name", columns="column", values="cell", aggfunc="first", sort=False)
            tables.append((f"{name}, {goal}: success of the fixed set at ε = {example_eps:g} on the dense model and on "
                           "each compressed one, with 95 % Wilson intervals (over the inputs that model classifies "
                           "correctly" + ("; whose label is not the target)" if goal == "targeted" else ")"),
                           wide.reset_index(), f"fixed_set_{name}_{goal}"))
        u = at[(at.attack == attack) & (at.goal == "untargeted")]
        tables.append((f"{name}, untargeted {attack.upper()} inputs of the fixed set at ε = {example_eps:g}: clean "
                       "accuracy, share fooled, conditional transfer (of the inputs that fool the dense model, the "
                       "share that also fool this one), each with its 95 % Wilson interval; mean L2 of δ over the "
                       "inputs that fool the model (pixel units) and mean confidence of its wrong predictions",
                       pd.DataFrame({"model": u.name, "acc": _rates(u, "acc", "n_valid"),
                                     "fooled": _rates(u, "success_rate", "n_eligible"),
                                     "transfer": _rates(u, "conditional_transfer_rate", "n_source_success"),
                                     "L2 fooled": u.l2_success.map(lambda v: f"{v:.2f}" if v == v and v is not None else "–"),
                                     "conf. wrong": u.confidence_wrong.map(
                                         lambda v: f"{v:.2f}" if v == v and v is not None else "–")}),
                       f"fixed_set_{name}_{attack}"))
    return tables


def fixed_set_figures(replayed: pd.DataFrame, example_eps: float) -> list[tuple[Any, str, str]]:
    out = []
    for name, sub in replayed[(replayed.eps == example_eps) & (replayed.method != DENSE)].groupby("model", sort=False):
        bounds = [wilson_of_rate(r, int(k)) if k and r is not None and r == r else (float("nan"),) * 2
                  for r, k in zip(sub.success_rate, sub.n_eligible)]
        sub = sub.assign(panel=sub.goal, low=[b[0] for b in bounds], high=[b[1] for b in bounds])
        out.append((figures.curves(sub, "success_rate", "panel", "method", "attack", "success rate",
                                   x="removed", xlabel="fraction of parameters removed", low="low", high="high"),
                    f"fixed_set_{name}",
                    f"{name}: success of the dense model's adversarial inputs (ε = {example_eps:g}) on compressed models, "
                    "against the fraction of parameters compression removed (zeros or removed channels); error bars: 95 % "
                    "Wilson intervals."))
    return out


def whitebox_tables(attacked: pd.DataFrame, params: dict[str, Any]) -> list[tuple[str, pd.DataFrame, str]]:
    """Per model and goal, (caption, table, label): the success rate of `robustness_attack` at every
    ε with its 95 % Wilson interval; per model at `example_eps`, the mean iteration of first success
    of the iterative attacks and the success rate of the one-step ones."""
    tables, attack, eps0 = [], params["robustness_attack"], params["example_eps"]
    iterative = {a: build_attack(a, params).iterative for a in params["attacks"]}
    for name, sub in attacked.groupby("model", sort=False):
        for goal, main in sub[sub.attack == attack].groupby("goal", sort=False):
            main = main.assign(cell=_rates(main, "success_rate", "n_eligible"), column=[f"ε {e:g}" for e in main.eps])
            wide = main.pivot_table(index="name", columns="column", values="cell", aggfunc="first", sort=False)
            tables.append((f"{name}: white-box {goal} {attack.upper()} success rate at each ε, with its 95 % Wilson "
                           "interval over the inputs the model classifies correctly", wide.reset_index(),
                           f"whitebox_{name}_{goal}"))
        at, cols = sub[sub.eps == eps0], {}
        for a, is_iterative in iterative.items():
            value = "iterations_mean" if is_iterative else "success_rate"
            # pivots keep the models never fooled (no iteration count)
            piv = at[at.attack == a].pivot_table(index="name", columns="goal", values=value, sort=False, dropna=False)
            for goal in params["whitebox_goals"]:
                short = {"untargeted": "untarg.", "targeted": "targ."}[goal]
                cols[f"{a.upper()} {'iters ' if is_iterative else ''}{short}"] = piv.get(goal)
        tables.append((f"{name} at ε = {eps0:g}: mean iteration of first success of the iterative attacks, and success "
                       "rate of the one-step attacks",
                       pd.DataFrame(cols).apply(lambda c: c.map(lambda v: "–" if v != v or v is None else f"{v:.2f}"))
                       .rename_axis("model").reset_index(),
                       f"iterations_{name}"))
    return tables


def robustness_figure(attacked: pd.DataFrame, attack: str, eps: float):
    """Untargeted success of `attack` at `eps` against the fraction of parameters removed, one
    panel per model, one series per method with 95 % Wilson intervals as error bars; the dense
    model's rate is a horizontal line inside its interval band."""
    import matplotlib.pyplot as plt

    at = attacked[(attacked.attack == attack) & (attacked.goal == "untargeted") & (attacked.eps == eps)]
    models = list(dict.fromkeys(at.model))
    fig, axes = plt.subplots(1, len(models), figsize=(figures.PRINT_WIDTH, 2.4), squeeze=False, sharey=True,
                             layout="constrained")
    for ax, name in zip(axes[0], models):
        sub = at[at.model == name]
        dense = sub[sub.method == DENSE].iloc[0]
        low, high = wilson_of_rate(dense.success_rate, int(dense.n_eligible))
        ax.axhspan(low, high, color="grey", alpha=0.15)
        ax.axhline(dense.success_rate, color="grey", ls="--", label="dense (band: 95 % interval)")
        for i, (method, g) in enumerate(sub[sub.method != DENSE].groupby("method", sort=False)):
            g = g.sort_values("removed")
            ci = [wilson_of_rate(r, int(n)) for r, n in zip(g.success_rate, g.n_eligible)]
            err = [[r - c[0] for r, c in zip(g.success_rate, ci)], [c[1] - r for r, c in zip(g.success_rate, ci)]]
            ax.errorbar(g.removed + 0.006 * i, g.success_rate, yerr=err, fmt="-o", ms=3.5, capsize=2, lw=1,
                        label=method)
        ax.set_title(name, fontsize=figures.TITLE)
        # short: three panels share the print width, and the caption says "of parameters"
        ax.set_xlabel("fraction removed", fontsize=figures.LABEL)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=figures.SMALL)
    axes[0][0].set_ylabel(f"untargeted {attack.upper()} success\nat ε = {eps:g}", fontsize=figures.LABEL)
    figures.legend_below(fig, axes[0])
    return fig
