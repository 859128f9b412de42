"""C2, the deployment rule: which model of each architecture to deploy, on resolved differences only.

Every quantity the rule reads is measured on the selection split, never on the validation split
the report evaluates, and every difference it acts on is resolved: by McNemar's exact test on the
same selection images (`evaluation.paired`) for accuracy and robustness, by the measured latency
noise of C1 (`compression_latency.noise_of`) for speed.

A compressed model qualifies when (1) no loss of selection accuracy against the dense model is
resolved, (2) its method is attacked white-box, and (3) it is not resolved *less robust* than the
dense model: robust accuracy (classified correctly and not fooled) under the robustness attack at the
robustness ε, image by image on the selection split. Among the qualifying models, the fastest and
every one whose latency is within the noise of it are tied on speed; the tie goes to the smaller
file, then to the lower latency. The runner-up is the same rule applied to the rest. If none
qualifies, the dense model stays. The attacks run in order of latency and stop once no
unattacked model can change the winner or the runner-up.
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from ..compression import method_class
from ..evaluation.intervals import format_rate
from ..evaluation.paired import as_summary, compare
from ..report.table_fit import split_by
from .compressed_robustness import DENSE, attack_variants, examined, keeps_accuracy, selection_test
from .compression_latency import resolved_speedup
from .deployment_replay import replay_candidates, replay_attack, replayable, source_of
from .robustness_discussion import NOT_RESOLVED, robustness_test

NOT_NEEDED = "not needed"  # not attacked: qualifying faster models were found first, so it could not change the choice


def choose(candidates: list, noise: float):
    """The rule's choice among qualifying variants (each with latency_b1_ms and size_mb): the fastest
    and those not resolved slower than it (latency ratio within 1 + `noise`) tie on speed; the
    smallest file of them wins, then the lower latency. None when there is no candidate."""
    if not candidates:
        return None
    fastest = min(candidates, key=lambda v: v.latency_b1_ms)
    tied = [v for v in candidates if not resolved_speedup(v.latency_b1_ms / fastest.latency_b1_ms, noise)]
    return min(tied, key=lambda v: (v.size_mb, v.latency_b1_ms))


def rule_attacks(by_model, selection, params: dict[str, Any], eps: float, noise: float, device) -> pd.DataFrame:
    """The robustness attack (`robustness_attack`, untargeted, at `eps`) over the selection split
    (`data.ImageSet`), run as far as the rule needs it: on each dense model (the reference), then on
    its examined compressed models fastest first, until two of them qualify and the next one is
    resolved slower than the second (it can then tie with neither the winner nor the runner-up). A
    model without gradients (int8) is attacked through the fp32 model it was made from
    (`deployment_replay`)."""
    inputs = {name: (selection.images, selection.labels, selection.classes) for name in by_model}

    def attack(v) -> pd.DataFrame:
        return attack_variants([v], inputs, [params["robustness_attack"]], ["untargeted"], [eps], params, device,
                               f"deployment rule attack on the selection split, {v.model} {v.name}")

    frames = []
    for name, vs in by_model.items():
        frames.append(attack(vs[0]))
        base, qualified = frames[-1].robust.iloc[0], []
        candidates = [v for v in examined({name: vs}, params) if v.method != DENSE] + replay_candidates({name: vs}, params)
        for v in sorted(candidates, key=lambda v: v.latency_b1_ms):
            if len(qualified) >= 2 and resolved_speedup(v.latency_b1_ms / qualified[1].latency_b1_ms, noise):
                break
            source = source_of(v, vs)  # a model without gradients: crafted on its fp32 source, replayed on it
            frames.append(attack(v) if source is None else
                          replay_attack(v, source, selection.images, selection.labels, params, eps, device))
            if robustness_test(frames[-1].robust.iloc[0], base, params["alpha"])["verdict"] != "less robust":
                qualified.append(v)
    return pd.concat(frames, ignore_index=True)


def _why_not(v, dense, verdict: dict[str, str], alpha: float, whitebox_methods) -> str:
    """'' when variant `v` qualifies, else the first condition it fails."""
    if not keeps_accuracy(v, dense, alpha):
        return "accuracy lost"
    if v.name not in verdict:
        return NOT_NEEDED if v.method in whitebox_methods or replayable(v) else "not attacked"
    if verdict[v.name] == "less robust":
        return "less robust"
    return ""


def qualifying(by_model, verdict, alpha: float) -> dict[str, list]:
    """Per model: the compressed variants that qualify."""
    return {name: [v for v in vs[1:] if not _why_not(v, vs[0], verdict.get(name, {}), alpha, ())]
            for name, vs in by_model.items()}


def recommend(by_model, at_eps: dict[str, pd.DataFrame], verdict, alpha: float, noise: float
              ) -> tuple[dict[str, str], dict[str, str], str]:
    """(picks, runners-up, markdown): per model the deployed variant's name ('dense' when none
    qualifies), the runner-up's ('dense' when only one qualifies, '–' when none does), and the
    decision in words with the values it read."""
    picks, runners, lines = {}, {}, []
    for name, ok in qualifying(by_model, verdict, alpha).items():
        dense = by_model[name][0]
        pick = choose(ok, noise)
        runner = choose([v for v in ok if v is not pick], noise) or (dense if pick else None)
        picks[name], runners[name] = (pick or dense).name, runner.name if runner else "–"
        if pick is None:
            lines.append(f"- **{name}: the dense model stays**: none of its {len(by_model[name]) - 1} compressed models "
                         f"qualifies ([Table](#tab:C2_deployment_{name})).")
            continue
        lines.append(_decision(name, dense, pick, runner, ok, at_eps.get(name), noise))
    return picks, runners, "\n".join(lines)


def _decision(name, dense, pick, runner, ok, rates, noise: float) -> str:
    """Why `pick` won over the runner-up, in words, with the numbers the rule read."""
    fastest = min(ok, key=lambda v: v.latency_b1_ms)
    tied = [v for v in ok if not resolved_speedup(v.latency_b1_ms / fastest.latency_b1_ms, noise)]
    speed = dense.latency_b1_ms / pick.latency_b1_ms
    why = ("the only qualifying model" if len(ok) == 1 else
           f"the fastest of {len(ok)} qualifying models" if len(tied) == 1 else
           f"the smallest file of the {len(tied)} qualifying models whose latencies are within the ±{100 * noise:.0f} % "
           f"noise of the fastest ({', '.join(v.name for v in tied)})")
    text = (f"- **{name}: {pick.name}**, {why}. Selection accuracy {format_rate(pick.select_acc, pick.n_select)} "
            f"(dense {pick_dense(dense)}), selection robust accuracy {_robust(rates, pick)} (dense {_robust(rates, dense)}), "
            f"batch-1 latency {pick.latency_b1_ms:.2f} ms against the dense {dense.latency_b1_ms:.2f} ms ({speed:.2f}×, "
            + ("beyond" if resolved_speedup(speed, noise) else "within") + f" the ±{100 * noise:.0f} % noise), file "
            f"{pick.size_mb:.2f} MB (dense {dense.size_mb:.2f} MB). On the validation split it scores "
            f"{format_rate(pick.acc, pick.n)} (dense {format_rate(dense.acc, dense.n)}).")
    if not method_class(pick.method).whitebox:
        text += (" It takes no gradients, so its robustness is that of a replay: the attack was crafted white-box on "
                 "the fp32 model it was quantized from and fed to it, an upper bound on its robust accuracy looser "
                 "than a white-box attack's.")
    if runner is dense:
        return text + " No other compressed model qualifies: the runner-up is the dense model."
    return text + (f" Runner-up: {runner.name} ({runner.latency_b1_ms:.2f} ms, {runner.size_mb:.2f} MB, selection "
                   f"accuracy {runner.select_acc:.2f}, robust {_robust(rates, runner)}).")


def recommendation_tests(by_model, picks: dict[str, str], controls: dict[str, dict[str, Any]],
                         alpha: float) -> dict[str, dict[str, Any]]:
    """Per model, the deployed compressed model against the dense model and against the dense control
    (C1's `controls`, the dense model fine-tuned with the same extra budget), image by image on the
    validation split: {'vs_dense': `paired.as_summary`, 'vs_control': ...}; the report quotes them."""
    out = {}
    for name, vs in by_model.items():
        pick = next((v for v in vs[1:] if v.name == picks[name]), None)
        if pick is None:
            continue
        out[name] = {"vs_dense": as_summary(compare(pick.correct, vs[0].correct, alpha=alpha))}
        if controls.get(name, {}).get("correct"):
            out[name]["vs_control"] = as_summary(compare(pick.correct, controls[name]["correct"], alpha=alpha))
    return out


def pick_dense(dense) -> str:
    return format_rate(dense.select_acc, dense.n_select)


def _robust(rates, v, interval: bool = True) -> str:
    """Variant `v`'s robust accuracy on the selection split ('–' when not attacked), with its Wilson interval."""
    if rates is None or v.name not in rates.index:
        return "–"
    value = rates.robust_acc[v.name]
    return format_rate(value, int(rates.n[v.name])) if interval else f"{value:.2f}"


def rule_sentence(alpha: float, n: int, attack: str, eps: float, noise: float) -> str:
    """The rule in words, with this run's values (`n`: the selection images)."""
    return (f"The rule reads only the selection split ({n} images carved from the training images; the validation "
            "split plays no part in it) and acts only on resolved differences; C1 read its points on the validation "
            "split, so a point without a resolved loss there can lose resolvably here, and the other way round. "
            "A compressed model qualifies when "
            f"McNemar's exact test on the selection images resolves no loss of accuracy against the dense model (p < "
            f"{alpha:g} would), when its method is attacked white-box (a model without gradients, int8, through a "
            "replay: the attack crafted white-box on the fp32 model it was quantized from), and when untargeted "
            f"{attack.upper()} at ε = {eps:g} does not leave it resolved less robust (robust accuracy, image by image, "
            "same test). Among the "
            f"qualifying models, the fastest and those within the ±{100 * noise:.0f} % latency noise of it (C1's measured "
            "figure) count as equally fast; of these the smallest file is deployed, the lower latency breaking a tie "
            "in size. The runner-up is the same choice among the rest; if none qualifies, the dense model stays.")


def deployment_table(by_model, at_eps, verdict, alpha: float, picks, runners,
                     whitebox_methods: list[str] | dict[str, list[str]] = ()) -> pd.DataFrame:
    """Every variant (`whitebox_methods`: the methods attacked white-box, for all or per model) with what the rule reads on the selection split: accuracy and the p-value of
    its paired test against the dense model, robust accuracy under the robustness attack and the
    verdict, latency and file size, whether it qualified (or the first condition it fails), its
    role; and, for the reader, its validation accuracy. Values without intervals: the rule reads
    the paired tests, and the intervals are in C1's and this stage's other tables."""
    rows = []
    for name, vs in by_model.items():
        rates, dense = at_eps.get(name), vs[0]
        methods = whitebox_methods.get(name, ()) if isinstance(whitebox_methods, dict) else whitebox_methods
        for v in vs:
            why = "" if v.method == DENSE else _why_not(v, dense, verdict.get(name, {}), alpha, methods)
            role = "deployed" if picks[name] == v.name else "runner-up" if runners[name] == v.name else ""
            rows.append({"model": name, "variant": v.name, "sel acc": f"{v.select_acc:.2f}",
                         "p acc": "–" if v.method == DENSE else f"{selection_test(v, dense, alpha)['p_value']:.2g}",
                         "sel robust": _robust(rates, v, interval=False),
                         "robustness": "reference" if v.method == DENSE else verdict.get(name, {}).get(v.name, "–"),
                         "b1 ms": f"{v.latency_b1_ms:.2f}", "MB": f"{v.size_mb:.2f}",
                         "qualifies": "–" if v.method == DENSE else ("yes" if not why else f"no: {why}"), "role": role,
                         "val acc": f"{v.acc:.2f}"})
    return pd.DataFrame(rows)


def deployment_tables(table: pd.DataFrame, caption: str) -> list[tuple[str, pd.DataFrame, str]]:
    """`deployment_table` split per model (labels 'deployment_<model>'), each narrow enough for the page."""
    return split_by(table, "model", caption, "deployment")


__all__ = ["NOT_RESOLVED", "choose", "deployment_table", "deployment_tables", "qualifying", "recommend", "rule_attacks", "rule_sentence"]
