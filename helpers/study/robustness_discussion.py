"""C2, conclusions: what compression did to robustness, a deployment recommendation by a stated
rule, and C2's metrics.

Robustness is compared at one ε, the *robustness ε*: with the default grid, untargeted PGD fools
nearly every correctly classified input of every model from ε = 0.05 on, so success averaged over
the grid is dominated by saturated values and cannot tell models apart (it once recommended the
least robust variants). The smallest ε of the grid is where the success rates still differ.
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from ..evaluation.intervals import format_rate
from ..evaluation.paired import as_summary, compare
from ..report.wording import span
from ..robustness import eps_key
from .compressed_robustness import DENSE

SATURATED = 0.95  # an ε "saturates" when the attack fools at least this share on every model (wording only)


def rule_eps(params: dict[str, Any]) -> float:
    """The robustness ε: `robustness_eps`, or the smallest ε of `attack_eps` when it is 0."""
    eps = params.get("robustness_eps") or min(params["attack_eps"])
    if eps not in params["attack_eps"]:
        raise ValueError(f"the robustness ε {eps:g} is not in the attacked grid {params['attack_eps']}")
    return eps


VERDICTS = {"a": "more robust", "b": "less robust"}
NOT_RESOLVED = "not resolved"


def robustness_test(robust_variant: str, robust_dense: str, alpha: float) -> dict[str, Any]:
    """A compressed model against its dense model on the same inputs, image by image: robust = classified
    correctly and not fooled ('0'/'1' strings of `robustness.statistics`); `paired.compare`, 'a' = the
    compressed model, with its verdict: 'more robust', 'less robust' or 'not resolved'."""
    test = compare(robust_variant, robust_dense, alpha=alpha)
    return {**test, "verdict": VERDICTS.get(test["better"], NOT_RESOLVED)}


def verdicts(attacked: pd.DataFrame, attack: str, alpha: float,
             eps: float) -> tuple[dict[str, pd.DataFrame], dict[str, dict[str, str]]]:
    """Per model: a frame indexed by variant name of the untargeted `attack` at `eps` (success_rate over
    n_eligible, robust_acc over n, and for compressed variants the paired test of robust accuracy
    against the dense model: p_value, difference, ci_low, ci_high), and each compressed variant's
    verdict (`robustness_test`). Robust accuracy, unlike the success rate, counts every input, so
    the two models are compared on the same images."""
    at_eps, verdict = {}, {}
    sub = attacked[(attacked.attack == attack) & (attacked.goal == "untargeted") & (attacked.eps == eps)]
    for name, g in sub.groupby("model", sort=False):
        rates = g.set_index("name")[["success_rate", "n_eligible", "robust_acc", "n", "robust"]].copy()
        tests = {v: robustness_test(r, rates.robust[DENSE], alpha) for v, r in rates.robust.items() if v != DENSE}
        for k in ("p_value", "difference", "ci_low", "ci_high", "only_a", "only_b"):
            rates[k] = [tests[v][k] if v in tests else None for v in rates.index]
        at_eps[name] = rates
        verdict[name] = {v: tests[v]["verdict"] for v in tests}
    return at_eps, verdict


def needed_eps(sub: pd.DataFrame, grid: list[float], level: float) -> dict[str, float | None]:
    """Per variant: the smallest ε of the grid at which untargeted success reaches `level`."""
    return {name: next((e for e in sorted(grid) if (g.set_index("eps").success_rate.get(e) or 0) >= level), None)
            for name, g in sub.groupby("name", sort=False, dropna=False)}


def saturation_sentence(attacked: pd.DataFrame, attack: str, eps: float) -> str:
    """Why the robustness ε: the lowest success per ε of the grid over all attacked models."""
    sub = attacked[(attacked.attack == attack) & (attacked.goal == "untargeted")]
    low = sub.groupby("eps").success_rate.agg(["min", "max"])
    saturated = [e for e, r in low.iterrows() if r["min"] >= SATURATED]
    text = (f"Robustness is compared at ε = {eps:g}. Across the attacked models, untargeted {attack.upper()} success "
            "ranges " + "; ".join(f"{r['min']:.2f}–{r['max']:.2f} at ε = {e:g}" for e, r in low.iterrows()) + ".")
    if saturated:
        text += (f" From ε = {min(saturated):g} on, every model is fooled on at least {SATURATED:.0%} of its inputs, so an "
                 "average over the grid would be dominated by values that cannot tell the models apart.")
    return text


def _fixed_set_lines(replayed: pd.DataFrame, name: str, eps0: float) -> list[str]:
    """One bullet per model: success of the dense model's fixed set at `eps0` on it and on its compressed
    versions, per goal and attack, and the range of the conditional transfer to the compressed versions."""
    at = replayed[(replayed.model == name) & (replayed.eps == eps0)]
    goals = list(dict.fromkeys(at.goal))
    dense, compressed = [], []
    for goal, g in at.groupby("goal", sort=False):
        rows = g[g.method == DENSE].groupby("attack", sort=False).first()
        ranges = g[g.method != DENSE].groupby("attack", sort=False).success_rate.agg(["min", "max"])
        dense.append(f"{goal} " + " and ".join(f"{a.upper()} {format_rate(r.success_rate, int(r.n_eligible))}"
                                              for a, r in rows.iterrows()))
        if len(ranges):
            compressed.append(f"{goal} " + " and ".join(f"{a.upper()} {span(ranges.loc[a])}" for a in ranges.index))
    tables = ", ".join(f"[Table](#tab:C2_fixed_set_{name}_{goal})" for goal in goals)
    text = (f"- {name}, the dense model's fixed set at ε = {eps0:g} ({tables}) succeeds on the dense model with "
            + ", ".join(dense) + ("; on the compressed models with " + ", ".join(compressed) if compressed else "") + ".")
    spans = []
    for goal, g in at[(at.method != DENSE)].dropna(subset=["conditional_transfer_rate"]).groupby("goal", sort=False):
        lo, hi = g.loc[g.conditional_transfer_rate.idxmin()], g.loc[g.conditional_transfer_rate.idxmax()]
        spans.append(f"{goal} {lo.conditional_transfer_rate:.2f} on every version" if lo.conditional_transfer_rate ==
                     hi.conditional_transfer_rate else
                     f"{goal} from {format_rate(lo.conditional_transfer_rate, int(lo.n_source_success))} ({lo['name']}) to "
                     f"{format_rate(hi.conditional_transfer_rate, int(hi.n_source_success))} ({hi['name']})")
    if spans:
        text += (" Of the inputs that fool the dense model, the share that also fools a compressed version "
                 "(conditional transfer) runs " + "; ".join(spans) + ".")
    return [text]


def _whitebox_lines(attacked: pd.DataFrame, name: str, params: dict[str, Any], at_eps, verdict) -> list[str]:
    """The white-box verdicts of one model's compressed versions, summarised once: which are resolved
    more or less robust than the dense model (paired test of robust accuracy), and how many are not."""
    attack, eps = params["robustness_attack"], rule_eps(params)
    rates, v = at_eps[name], verdict[name]
    base = rates.loc[DENSE]
    text = (f"- {name}, white-box ([Table](#tab:C2_whitebox_{name}_untargeted)): at ε = {eps:g}, untargeted "
            f"{attack.upper()} fools {format_rate(base.success_rate, int(base.n_eligible))} of the dense model's "
            f"correctly classified inputs, leaving a robust accuracy of {format_rate(base.robust_acc, int(base.n))} (an "
            "upper bound). ")
    resolved = [n for n in v if v[n] != NOT_RESOLVED]
    robust = rates.drop(index=DENSE).robust_acc
    if not len(v):
        return [text + "No compressed version was attacked white-box: each lost selection accuracy against the "
                "dense model, resolved by the paired test, so none is a candidate to deploy."] + \
            _needed_lines(attacked, name, params)
    text += (f"The robust accuracies of its {len(v)} attacked compressed models run {span(robust, '.2f')}; "
             if len(v) > 1 else f"The robust accuracy of its one attacked compressed model, {robust.index[0]}, is "
             f"{robust.iloc[0]:.2f}; ") + "compared image by image with the dense model (McNemar), "
    if not resolved:
        closest = rates.drop(index=DENSE).p_value.astype(float).idxmin()
        text += ((f"none differs resolvably (smallest p = {rates.p_value[closest]:.2g}, {closest})" if len(v) > 1 else
                  f"it does not differ resolvably (p = {rates.p_value[closest]:.2g})")
                 + ": on these inputs compression changed robustness by no resolved amount.")
    else:
        text += "; ".join(f"{n} is {v[n]} ({rates.robust_acc[n]:.2f}, p = {rates.p_value[n]:.2g})" for n in resolved)
        text += f", and {len(v) - len(resolved)} {'is' if len(v) - len(resolved) == 1 else 'are'} not resolved."
    return [text] + _needed_lines(attacked, name, params)


def _needed_lines(attacked: pd.DataFrame, name: str, params: dict[str, Any]) -> list[str]:
    """The needed ε of every variant, and the mean iterations PGD needed at the example ε."""
    attack, eps0, lines = params["robustness_attack"], params["example_eps"], []
    sub = attacked[(attacked.model == name) & (attacked.attack == attack) & (attacked.goal == "untargeted")]
    need, top = needed_eps(sub, params["attack_eps"], params["needed_eps_success"]), max(params["attack_eps"])
    lines.append(f"  The smallest ε of the grid at which untargeted {attack.upper()} fools at least "
                 f"{params['needed_eps_success']:.0%}: dense {need[DENSE] if need[DENSE] is not None else 'beyond the grid'}; "
                 "compressed " + ", ".join(f"{k} {e if e is not None else '>' + format(top, 'g')}"
                                           for k, e in need.items() if k != DENSE) + ".")
    it = sub[sub.eps == eps0].set_index("name").iterations_mean
    if it.notna().any() and DENSE in it and it[DENSE] == it[DENSE]:
        others = it.drop(DENSE).dropna()
        lines.append(f"  {attack.upper()} needed {it[DENSE]:.1f} iterations on average at ε = {eps0:g} on the dense model"
                     + (f" and {span(others, '.1f')} on the compressed ones ([Table](#tab:C2_iterations_{name}))."
                        if len(others) else f" ([Table](#tab:C2_iterations_{name}))."))
    return lines


def discussion(replayed, attacked, params: dict[str, Any]):
    """The computed conclusions of C2 (markdown lines), the success at the robustness ε, the verdicts."""
    at_eps, verdict = verdicts(attacked, params["robustness_attack"], params["alpha"], rule_eps(params))
    lines = []
    for name in dict.fromkeys(replayed.model):
        lines += _fixed_set_lines(replayed, name, params["example_eps"])
        if name in at_eps:
            lines += _whitebox_lines(attacked, name, params, at_eps, verdict)
    return "\n".join(lines), at_eps, verdict


def _num(value):
    """A metric value as JSON wants it: None for a missing or NaN value."""
    return None if value is None or (isinstance(value, float) and value != value) else value


# The denominator column of each proportion C2 reports (see helpers/report/summary.py).
FIXED_SET_COUNTS = {"success_rate": "n_eligible", "conditional_transfer_rate": "n_source_success",
                    "transfer_rate": "n_both_correct"}
WHITEBOX_COUNTS = {"success_rate": "n_eligible", "robust_acc": "n"}


def metrics(replayed: pd.DataFrame, attacked: pd.DataFrame, picks: dict[str, str], runners: dict[str, str],
            seconds: dict[str, float], example_eps: float, rule: dict[str, Any],
            robust: dict[str, Any] | None = None, rule_attacked: pd.DataFrame | None = None,
            recommended_tests: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """C2's metrics: C2.<Model>.<method>.<point>.<attack>.<goal>.* (fixed set at `example_eps`, and
    .eps<ε>.* at every ε), ….whitebox.<attack>.<goal>.eps<ε>.* (the dense model under
    C2.<Model>.dense.*), C2.<Model>.recommended / .runner_up, C2.rule.*, C2.robust.* (B3's model
    pruned, `robust_pruning.metrics_part`), the seconds of each part; `denominators` names the
    count behind every proportion; `rule_attacks`, the rule's attack runs on the selection split."""
    summary: dict[str, Any] = {}
    denominators: dict[str, int] = {}

    def node(r) -> tuple[dict, str]:
        top = summary.setdefault(r["model"], {}).setdefault(r["method"], {})
        path = f"{r['model']}.{r['method']}" + ("" if r["method"] == DENSE else f".{r['point']}")
        return (top if r["method"] == DENSE else top.setdefault(r["point"], {})), path

    def put(target: dict, path: str, r, counts: dict[str, str], keys) -> None:
        for k in keys:
            target[k] = _num(r.get(k))
            if k in counts and target[k] is not None:
                denominators[f"{path}.{k}"] = int(r[counts[k]])

    for r in replayed.to_dict("records"):
        n, path = node(r)
        path += f".{r['attack']}.{r['goal']}"
        n = n.setdefault(r["attack"], {}).setdefault(r["goal"], {})
        put(n.setdefault(eps_key(r["eps"]), {}), f"{path}.{eps_key(r['eps'])}", r, FIXED_SET_COUNTS,
            ("success_rate", "conditional_transfer_rate", "transfer_rate"))
        if r["eps"] == example_eps:
            put(n, path, r, FIXED_SET_COUNTS, ("success_rate", "conditional_transfer_rate", "transfer_rate",
                                               "l2_success", "confidence_wrong"))
    dense_robust = {(r["model"], r["attack"], r["goal"], r["eps"]): r.get("robust") for r in attacked.to_dict("records")
                    if r["method"] == DENSE}
    for r in attacked.to_dict("records"):
        n, path = node(r)
        n = n.setdefault("whitebox", {}).setdefault(r["attack"], {}).setdefault(r["goal"], {}).setdefault(eps_key(r["eps"]), {})
        put(n, f"{path}.whitebox.{r['attack']}.{r['goal']}.{eps_key(r['eps'])}", r, WHITEBOX_COUNTS,
            ("success_rate", "robust_acc", "iterations_mean"))
        base = dense_robust.get((r["model"], r["attack"], r["goal"], r["eps"]))
        if r["method"] != DENSE and base and r.get("robust"):  # robust accuracy against the dense model's, paired
            n["vs_dense"] = as_summary(compare(r["robust"], base, alpha=rule["alpha"]))
    for name, pick in picks.items():
        summary[name]["recommended"], summary[name]["runner_up"] = pick, runners[name]
        summary[name].update({f"recommended_{k}": v for k, v in (recommended_tests or {}).get(name, {}).items()})
    summary["rule"] = rule
    if robust:
        summary["robust"] = robust["summary"]
        denominators.update(robust["denominators"])
    summary.update({f"{k}_s": v for k, v in seconds.items()})
    return {"summary": summary, "denominators": denominators, "fixed_set": replayed.to_dict("records"),
            "whitebox": attacked.to_dict("records"), "example_eps": example_eps,
            "robust_pruning": (robust or {}).get("rows", []),
            "rule_attacks": [] if rule_attacked is None else rule_attacked.to_dict("records")}
