"""C2, the deployment rule: which model of each architecture to deploy, by a stated rule.

Every quantity the rule reads is measured on the selection split, never on the validation split
the report evaluates. A compressed model qualifies when (1) its selection accuracy is at most
`max_acc_drop` below the dense model's, (2) its method is attacked white-box, and (3) it is not
'less robust' than the dense model under the robustness attack at the robustness ε on the
selection split (`rule_attacks`, `robustness_discussion.verdicts`). Among those that qualify the
lowest batch-1 latency (C1's side-by-side measurement) wins, the smaller file breaking ties; the
next in that order is the runner-up. If none qualifies, the dense model stays. Since only the
first two that qualify matter, the attacks run in that order and stop there.
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from ..evaluation.intervals import format_rate
from .compressed_robustness import DENSE, attack_variants, examined, keeps_accuracy
from .robustness_discussion import verdict_of

NOT_NEEDED = "not needed: two faster models qualified"


def preference(v) -> tuple[float, float]:
    """The rule's order among qualifying models: lowest batch-1 latency, then smaller file."""
    return v.latency_b1_ms, v.size_mb


def rule_attacks(by_model, selection, params: dict[str, Any], eps: float, device) -> pd.DataFrame:
    """The robustness attack (`robustness_attack`, untargeted, at `eps`) over the selection split
    (`data.ImageSet`), run as far as the rule needs it: on each dense model (the reference), then on
    its examined compressed models in the rule's order of preference until two of them are not less
    robust (the winner and the runner-up are then known; the rest would not change the choice)."""
    inputs = {name: (selection.images, selection.labels, selection.classes) for name in by_model}

    def attack(v) -> pd.DataFrame:
        return attack_variants([v], inputs, [params["robustness_attack"]], ["untargeted"], [eps], params, device,
                               f"deployment rule attack on the selection split, {v.model} {v.name}")

    frames = []
    for name, vs in by_model.items():
        frames.append(attack(vs[0]))
        base, qualified = float(frames[-1].success_rate.iloc[0]), 0
        for v in sorted((v for v in examined({name: vs}, params) if v.method != DENSE), key=preference):
            frames.append(attack(v))
            rate = float(frames[-1].success_rate.iloc[0])
            qualified += verdict_of(rate, base, params["robustness_margin"]) != "less robust"
            if qualified == 2:
                break
    return pd.concat(frames, ignore_index=True)


def _why_not(v, dense, verdict: dict[str, str], max_acc_drop: float, whitebox_methods) -> str:
    """'' when variant `v` qualifies, else the first condition it fails."""
    if not keeps_accuracy(v, dense, max_acc_drop):
        return f"loses {100 * (dense.select_acc - v.select_acc):.0f} points"
    if v.name not in verdict:
        return NOT_NEEDED if v.method in whitebox_methods else "not attacked white-box"
    if verdict[v.name] == "less robust":
        return "less robust"
    return ""


def rank(by_model, verdict, max_acc_drop: float) -> dict[str, list]:
    """Per model: the qualifying compressed variants, fastest first (smaller file breaking ties)."""
    out = {}
    for name, vs in by_model.items():
        # which reason a variant fails for does not matter here, so no white-box methods are needed
        ok = [v for v in vs[1:] if not _why_not(v, vs[0], verdict.get(name, {}), max_acc_drop, ())]
        out[name] = sorted(ok, key=preference)
    return out


def recommend(by_model, at_eps: dict[str, pd.DataFrame], verdict, max_acc_drop: float, attack: str,
              eps: float) -> tuple[dict[str, str], dict[str, str], str]:
    """(picks, runners-up, markdown): per model the recommended variant's name ('dense' when none
    qualifies), the runner-up's ('dense' when one qualifies, '–' when none does) and a sentence
    with the values that decided."""
    picks, runners, lines = {}, {}, []
    for name, ok in rank(by_model, verdict, max_acc_drop).items():
        dense, rates = by_model[name][0], at_eps.get(name)
        pick = ok[0] if ok else dense
        runner = ok[1] if len(ok) > 1 else (dense if ok else None)
        picks[name], runners[name] = pick.name, runner.name if runner else "–"

        def success(v) -> str:
            row = rates.loc[v.name]
            return format_rate(row.success_rate, int(row.n_eligible))

        if not ok:
            lines.append(f"- **{name}: the dense model stays** — none of its {len(by_model[name]) - 1} compressed models "
                         f"qualified ([Table](#tab:C2_deployment)).")
            continue
        ratio = dense.latency_b1_ms / pick.latency_b1_ms
        speed = f"{ratio:.1f}× faster than" if ratio >= 1 else f"{1 / ratio:.1f}× slower than"
        text = (f"- **{name}: {pick.name}**, " + ("the only qualifying model" if len(ok) == 1 else
                                                  f"the fastest of {len(ok)} qualifying models") + ": "
                f"selection accuracy {format_rate(pick.select_acc, pick.n_select)} (dense "
                f"{format_rate(dense.select_acc, dense.n_select)}), batch-1 latency "
                f"{pick.latency_b1_ms:.2f} ms ({speed} the dense "
                f"{dense.latency_b1_ms:.2f} ms), smallest file {pick.size_mb:.2f} MB (dense {dense.size_mb:.2f} MB), "
                f"untargeted {attack.upper()} success at ε = {eps:g} on the selection split {success(pick)} (dense "
                f"{success(dense)}); on the validation split it scores {format_rate(pick.acc, pick.n)} (dense "
                f"{format_rate(dense.acc, dense.n)}).")
        text += (f" Runner-up: {runner.name}, {runner.latency_b1_ms:.2f} ms, selection accuracy "
                 f"{format_rate(runner.select_acc, runner.n_select)}, success {success(runner)}." if runner is not dense
                 else " No other compressed model qualified: the runner-up is the dense model.")
        lines.append(text)
    return picks, runners, "\n".join(lines)


def rule_sentence(max_acc_drop: float, n: int, attack: str, eps: float, margin: float) -> str:
    """The rule in words, with this run's values (`n`: the selection images)."""
    return (f"The rule, with this run's values, reads only the selection split ({n} images carved from the training "
            "images; the validation split plays no part in it): a compressed model qualifies when its selection "
            f"accuracy is at most {100 * max_acc_drop:g} points below the dense model's ({max_acc_drop * n:.0f} of {n} "
            f"images), when it was attacked white-box, and when untargeted {attack.upper()} at ε = {eps:g} does not fool "
            f"at least {100 * margin:g} points more of its selection inputs than of the dense model's. Among those that "
            "qualify, the one "
            "with the lowest batch-1 latency is deployed (the smaller file breaks ties) and the next one is the "
            "runner-up; if none qualifies, the dense model stays. Every candidate with the condition it fails is in "
            "[Table](#tab:C2_deployment).")


def deployment_table(by_model, at_eps, verdict, max_acc_drop: float, picks, runners,
                     whitebox_methods=()) -> pd.DataFrame:
    """Every variant with what the rule reads: selection accuracy and success at the robustness ε on
    the selection split (95 % Wilson intervals), verdict, latency, file size, and whether it
    qualified (or why not); and, for the reader, its validation accuracy."""
    rows = []
    for name, vs in by_model.items():
        rates, dense = at_eps.get(name), vs[0]
        for v in vs:
            row = rates.loc[v.name] if rates is not None and v.name in rates.index else None
            why = "" if v.method == DENSE else _why_not(v, dense, verdict.get(name, {}), max_acc_drop, whitebox_methods)
            role = ("deployed" if picks[name] == v.name else "runner-up" if runners[name] == v.name else "")
            rows.append({"model": name, "variant": v.name, "select acc": format_rate(v.select_acc, v.n_select),
                         "select success at ε": (format_rate(row.success_rate, int(row.n_eligible)) if row is not None
                                                 else "–"),
                         "verdict": "reference" if v.method == DENSE else verdict.get(name, {}).get(v.name, "–"),
                         "b1 ms": f"{v.latency_b1_ms:.2f}", "MB": f"{v.size_mb:.2f}",
                         "qualifies": "–" if v.method == DENSE else ("yes" if not why else f"no: {why}"), "role": role,
                         "val acc": format_rate(v.acc, v.n)})
    return pd.DataFrame(rows)
