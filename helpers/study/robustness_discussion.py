"""C2, conclusions: what compression did to robustness, a deployment recommendation by a stated
rule, and C2's metrics."""
from __future__ import annotations

from typing import Any

import pandas as pd

from ..robustness import eps_key
from .compressed_robustness import DENSE


def verdicts(attacked: pd.DataFrame, attack: str, margin: float) -> tuple[dict[str, pd.Series], dict[str, dict[str, str]]]:
    """Per model: the mean untargeted success of `attack` over the ε grid of every attacked variant,
    and each compressed variant's verdict: 'more robust' (lower by at least `margin`), 'less robust'
    (higher by at least `margin`) or 'about as robust' as its dense model."""
    means, verdict = {}, {}
    for name, sub in attacked[(attacked.attack == attack) & (attacked.goal == "untargeted")].groupby("model", sort=False):
        rate = sub.groupby("name", sort=False, dropna=False).success_rate.mean()
        base = rate[DENSE]
        means[name] = rate
        verdict[name] = {v: ("more robust" if r <= base - margin else "less robust" if r >= base + margin
                             else "about as robust") for v, r in rate.items() if v != DENSE}
    return means, verdict


def needed_eps(sub: pd.DataFrame, grid: list[float], level: float) -> dict[str, float | None]:
    """Per variant: the smallest ε of the grid at which untargeted success reaches `level`."""
    return {name: next((e for e in sorted(grid) if (g.set_index("eps").success_rate.get(e) or 0) >= level), None)
            for name, g in sub.groupby("name", sort=False, dropna=False)}


def _span(values: pd.Series, fmt: str) -> str:
    """'a–b' of a series, or 'a' when all values are equal."""
    lo, hi = format(values.min(), fmt), format(values.max(), fmt)
    return lo if lo == hi else f"{lo}–{hi}"


def _fixed_set_lines(replayed: pd.DataFrame, name: str, eps0: float) -> list[str]:
    lines, at = [], replayed[(replayed.model == name) & (replayed.eps == eps0)]
    for goal, g in at.groupby("goal", sort=False):
        dense = g[g.method == DENSE].groupby("attack", sort=False).success_rate.first()
        span = g[g.method != DENSE].groupby("attack", sort=False).success_rate.agg(["min", "max"])
        lines.append(f"- {name}, {goal}, fixed set at ε = {eps0:g}: on the dense model "
                     + ", ".join(f"{a.upper()} succeeds on {dense[a]:.0%}" for a in dense.index)
                     + "; on the compressed models " + ", ".join(
                         f"{a.upper()} {_span(span.loc[a], '.0%')}" for a in span.index) + ".")
    tr = at[at.method != DENSE].groupby("goal").transfer_rate.mean()
    lines.append(f"- {name}: the dense model's inputs transfer to its compressed versions at a mean rate of "
                 f"{tr.get('untargeted', float('nan')):.2f} (untargeted) and {tr.get('targeted', float('nan')):.2f} (targeted).")
    return lines


def _whitebox_lines(attacked: pd.DataFrame, name: str, params: dict[str, Any], means, verdict) -> list[str]:
    attack, eps0 = params["robustness_attack"], params["example_eps"]
    rate, v = means[name], verdict[name]
    counts = pd.Series(v).value_counts()
    lines = [f"- {name}, white-box: mean untargeted {attack.upper()} success over the ε grid is {rate[DENSE]:.0%} on the "
             f"dense model; of {len(v)} compressed model{'' if len(v) == 1 else 's'}, " + ", ".join(
                 f"{c} {'is' if c == 1 else 'are'} {k}" for k, c in counts.items()) + " ("
             + "; ".join(f"{k}: {rate[k]:.0%}" for k in v) + ")."]
    sub = attacked[(attacked.model == name) & (attacked.attack == attack) & (attacked.goal == "untargeted")]
    need, top = needed_eps(sub, params["attack_eps"], params["needed_eps_success"]), max(params["attack_eps"])
    lines.append(f"  Needed ε (untargeted success ≥ {params['needed_eps_success']:.0%}): dense "
                 f"{need[DENSE] if need[DENSE] is not None else 'beyond the grid'}; compressed "
                 + ", ".join(f"{k} {e if e is not None else '>' + format(top, 'g')}" for k, e in need.items() if k != DENSE) + ".")
    it = sub[sub.eps == eps0].set_index("name").iterations_mean
    if it.notna().any():
        others = it.drop(DENSE).dropna()
        lines.append(f"  {attack.upper()} needed {it[DENSE]:.1f} iterations on average at ε = {eps0:g} on the dense model"
                     + (f" and {_span(others, '.1f')} on the compressed ones." if len(others) else "."))
    return lines


def _transfer_comparison(replayed: pd.DataFrame, b2: dict[str, Any], names: list[str], attack: str, eps0: float) -> list[str]:
    lines = []
    for name in names:
        own = replayed[(replayed.model == name) & (replayed.method != DENSE) & (replayed.attack == attack)
                       & (replayed.goal == "untargeted") & (replayed.eps == eps0)].transfer_rate.dropna().astype(float)
        for other in names:
            cross = b2.get(f"{name}_to_{other}", {}).get(attack, {}).get("untargeted", {}).get(eps_key(eps0), {}).get("transfer_rate")
            if cross is not None and len(own):
                lines.append(f"- Transfer: {name}'s untargeted {attack.upper()} inputs at ε = {eps0:g} fool its compressed "
                             f"versions at a mean transfer rate of {own.mean():.2f}, against {cross:.2f} for the other "
                             f"architecture, {other} (B2): compression keeps {'more' if own.mean() > cross else 'less'} of "
                             "the vulnerability than a change of architecture.")
    return lines


def discussion(replayed, attacked, b2: dict[str, Any], params: dict[str, Any]):
    """The computed conclusions of C2 (markdown lines), the mean success rates and the verdicts."""
    means, verdict = verdicts(attacked, params["robustness_attack"], params["robustness_margin"])
    lines = []
    for name in dict.fromkeys(replayed.model):
        lines += _fixed_set_lines(replayed, name, params["example_eps"])
        if name in means:
            lines += _whitebox_lines(attacked, name, params, means, verdict)
    lines += _transfer_comparison(replayed, b2, list(dict.fromkeys(replayed.model)), params["robustness_attack"],
                                  params["example_eps"])
    return "\n".join(lines), means, verdict


def recommend(by_model, means, verdict, max_acc_drop: float, attack: str) -> tuple[dict[str, str], str]:
    """The deployment rule: among the compressed models that lose at most `max_acc_drop` of
    validation accuracy, were attacked white-box and are not less robust than the dense model,
    the one with the lowest batch-1 latency (the smaller file breaking ties); else the dense model."""
    picks, lines = {}, []
    for name, vs in by_model.items():
        dense = vs[0]
        ok = [v for v in vs[1:] if v.name in verdict.get(name, {}) and v.acc >= dense.acc - max_acc_drop - 1e-9
              and verdict[name][v.name] != "less robust"]
        pick = min(ok, key=lambda v: (v.latency_b1_ms, v.size_mb)) if ok else dense
        picks[name] = pick.name
        rate = means.get(name, {})
        lines.append(f"- **{name}: {pick.name}**" + (
            f" — accuracy {pick.acc:.0%} (dense {dense.acc:.0%}), batch-1 latency {pick.latency_b1_ms:.2f} ms "
            f"({dense.latency_b1_ms / pick.latency_b1_ms:.1f}× faster), smallest file {pick.size_mb:.2f} MB "
            f"(dense {dense.size_mb:.2f} MB), mean untargeted {attack.upper()} success {rate[pick.name]:.0%} (dense "
            f"{rate[DENSE]:.0%}); {len(ok)} compressed model{' qualified' if len(ok) == 1 else 's qualified'}." if ok else
            " — no compressed model qualified, so the dense model stays."))
    return picks, "\n".join(lines)


def metrics(replayed: pd.DataFrame, attacked: pd.DataFrame, picks: dict[str, str], seconds: dict[str, float],
            example_eps: float) -> dict[str, Any]:
    """C2's metrics: C2.<Model>.<method>.<point>.<attack>.<goal>.* (fixed set), ….whitebox.<attack>.<goal>.eps<ε>.*
    (the dense model under C2.<Model>.dense.*), C2.<Model>.recommended, and the seconds of each part."""
    summary: dict[str, Any] = {}

    def node(r) -> dict:
        top = summary.setdefault(r["model"], {}).setdefault(r["method"], {})
        return top if r["method"] == DENSE else top.setdefault(r["point"], {})

    for r in replayed.to_dict("records"):
        n = node(r).setdefault(r["attack"], {}).setdefault(r["goal"], {"success_rate_by_eps": {}, "transfer_rate_by_eps": {}})
        n["success_rate_by_eps"][eps_key(r["eps"])] = r["success_rate"]
        n["transfer_rate_by_eps"][eps_key(r["eps"])] = r["transfer_rate"]
        if r["eps"] == example_eps:
            n.update({k: r[k] for k in ("success_rate", "transfer_rate", "l2_success", "confidence_wrong")})
    for r in attacked.to_dict("records"):
        n = node(r).setdefault("whitebox", {}).setdefault(r["attack"], {}).setdefault(r["goal"], {})
        n[eps_key(r["eps"])] = {k: r[k] for k in ("success_rate", "robust_acc", "iterations_mean")}
    for name, pick in picks.items():
        summary[name]["recommended"] = pick
    summary.update({f"{k}_s": v for k, v in seconds.items()})
    return {"summary": summary, "fixed_set": replayed.to_dict("records"), "whitebox": attacked.to_dict("records"),
            "example_eps": example_eps}
