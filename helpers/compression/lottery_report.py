"""What the lottery-ticket rounds show beyond their points: Frankle & Carbin's two figures per model
(accuracy against the fraction of weights remaining, log axis, for the ticket and both controls;
the early-stopping iteration against it) and the paragraph that tests their claims with paired
tests: the sparsest ticket at ≤ 20 % of the weights that McNemar's test does not resolve below the
dense model, and the ticket against its re-initialised control at ≤ 10 %."""
from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker

from ..evaluation.intervals import format_rate, wilson_of_rate
from ..evaluation.paired import compare, evidence
from ..report.figure_style import LABEL, PRINT_WIDTH, SMALL, TITLE, distinct_series, legend_below

TICKS = [100, 50, 20, 10, 5, 2, 1, 0.5, 0.2, 0.1]
NAMES = {"ticket": "ticket", "reinit": "re-initialised", "random": "random mask"}


def _figure(records, dense_acc: float, n: int):
    fig, (ax_acc, ax_stop) = plt.subplots(1, 2, figsize=(PRINT_WIDTH, 2.6), layout="constrained")
    arms = {NAMES[arm]: sorted(points, key=lambda r: -r.details["remaining"]) for arm in NAMES
            if (points := [r for r in records if r.details["arm"] == arm])}
    colors = {name: f"C{i}" for i, name in enumerate(arms)}
    x = {name: [100 * r.details["remaining"] for r in points] for name, points in arms.items()}
    accuracy = distinct_series({name: (x[name], [r.acc for r in points]) for name, points in arms.items()})
    for label, (xs, acc) in accuracy.items():
        low, high = zip(*(wilson_of_rate(a, n) for a in acc))
        ax_acc.errorbar(xs, acc, yerr=[[a - lo for a, lo in zip(acc, low)], [hi - a for a, hi in zip(acc, high)]],
                        marker="o", ms=3, lw=1.2, capsize=2, color=colors[label.split(" = ")[0]], label=label)
    stops = distinct_series({name: (x[name], [r.details["early_stop_iteration"] for r in points])
                             for name, points in arms.items()})
    for label, (xs, its) in stops.items():
        ax_stop.plot(xs, its, marker="o", ms=3, lw=1.2, color=colors[label.split(" = ")[0]], label=label)
    ax_acc.axhline(dense_acc, color="grey", ls=":", lw=1, label="dense")
    for ax, ylabel, title in ((ax_acc, "validation accuracy", "accuracy"),
                              (ax_stop, "iteration of the kept epoch", "early stopping")):
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(mticker.FixedLocator(TICKS))  # plain labels: log minor labels collide
        ax.xaxis.set_major_formatter(mticker.FormatStrFormatter("%g"))
        ax.xaxis.set_minor_formatter(mticker.NullFormatter())
        ax.invert_xaxis()
        ax.set_xlabel("weights remaining (%)", fontsize=LABEL)
        ax.set_ylabel(ylabel, fontsize=LABEL)
        ax.set_title(title, fontsize=TITLE)
        ax.tick_params(labelsize=SMALL)
        ax.grid(alpha=0.3, which="both")
    legend_below(fig, [ax_acc, ax_stop])
    return fig


def _claims(records, d: dict, alpha: float) -> list[str]:
    tickets = [r for r in records if r.details["arm"] == "ticket"]
    matching = [r for r in tickets if r.details["remaining"] <= 0.2
                and compare(r.correct, d["correct"], alpha=alpha)["better"] != "b"]
    lines = []
    if matching:
        best = min(matching, key=lambda r: r.details["remaining"])
        lines.append(f"The sparsest ticket with at most 20 % of the weights that McNemar's test does not resolve below "
                     f"the dense model has {best.details['remaining']:.1%} of them left ({format_rate(best.acc, d['n'])}; "
                     f"{evidence(compare(best.correct, d['correct'], alpha=alpha))}).")
    elif any(r.details["remaining"] <= 0.2 for r in tickets):
        lines.append("Every ticket with at most 20 % of the weights is resolved below the dense model.")
    for r in (r for r in tickets if r.details["remaining"] <= 0.1):
        control = next((c for c in records if c.details["arm"] == "reinit" and c.details["round"] == r.details["round"]),
                       None)
        if control is not None:
            result = compare(r.correct, control.correct, alpha=alpha)
            word = {"a": "beats", "b": "loses to"}.get(result["better"], "is not resolved from")
            lines.append(f"At {r.details['remaining']:.1%} of the weights the ticket ({r.acc:.3f}) {word} its "
                         f"re-initialised control ({control.acc:.3f}; {evidence(result)}).")
    return lines


def findings(records, dense, alpha: float = 0.05) -> tuple[str, list]:
    """(markdown, figures) for C1; `dense`: model -> (BaseModel, its figures incl. acc, n, correct)."""
    text, out = [], []
    for model in dict.fromkeys(r.model for r in records):
        own, d = [r for r in records if r.model == model], dense[model][1]
        rounds = max(r.details["round"] for r in own)
        text.append(" ".join([f"**Lottery tickets, {model}** ([Figure](#fig:C1_lottery_{model})): {rounds} "
                              f"round{'s' * (rounds > 1)} (dense {format_rate(d['acc'], d['n'])})."]
                             + _claims(own, d, alpha)))
        out.append((_figure(own, d["acc"], d["n"]), f"lottery_{model}",
                    f"{model}: lottery tickets and their controls against the weights remaining (log axis), each "
                    "trained with the dense model's recipe; left, validation accuracy with 95 % Wilson intervals; "
                    "right, the training iteration of the epoch kept on the selection split."))
    return "\n\n".join(text), out
