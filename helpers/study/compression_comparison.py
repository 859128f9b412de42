"""C1, every method on equal footing: per model one table and one figure with every point of every
method, timed in the deployment path, the Pareto front over (selection accuracy, batch-1 latency,
file size), the deployment targets, and what the deployment path changes against eager PyTorch."""
from __future__ import annotations

from typing import Any

import pandas as pd

from ..evaluation.intervals import format_rate, wilson_of_rate
from ..evaluation.paired import compare, evidence
from ..report import figures
from ..report.wording import joined, span
from .compression_analysis import _slug
from .compression_latency import DENSE, resolved_speedup, with_latency

FRONT = "Pareto front (selection split)"


def points(sweep, dense, latency: pd.DataFrame) -> pd.DataFrame:
    """One row per model and point, its dense model first: method, series, point, nonzero, macs,
    size_mb (the smallest file that restores it; the dense model's checkpoint), latency_b1_ms,
    speedup, eager_speedup, acc_pre_ft, acc, select_acc, n, n_select, correct, select_correct, and
    `front`: on its model's Pareto front (`pareto`)."""
    table = with_latency(sweep, dense, latency)
    rows = []
    for name, (_, d) in dense.items():
        lat = latency[(latency.model == name) & (latency.method == DENSE)].iloc[0]
        rows.append({"model": name, "method": DENSE, "series": DENSE, "point": "–", "nonzero": d["params"],
                     "macs": d["macs"], "size_mb": d["size_mb"], "acc_pre_ft": None, "acc": d["acc"],
                     "select_acc": d["select_acc"], "correct": d["correct"], "select_correct": d["select_correct"],
                     **{k: lat[k] for k in latency.columns if k not in ("model", "method", "point")}})
        for r in table[table.model == name].itertuples():
            rows.append({"model": name, "method": r.method, "series": sweep.methods[r.method].series(r), "point": r.point,
                         "nonzero": r.nonzero, "macs": r.macs, "size_mb": r.size_compressed_mb,
                         "acc_pre_ft": r.acc_pre_ft, "acc": r.acc, "select_acc": r.select_acc, "correct": r.correct,
                         "select_correct": r.select_correct,
                         **{k: getattr(r, k) for k in latency.columns if k not in ("model", "method", "point")}})
    out = pd.DataFrame(rows)
    out["n"] = [dense[m][1]["n"] for m in out.model]
    out["n_select"] = [dense[m][1]["n_select"] for m in out.model]
    out["front"] = pareto(out)
    return out


def pareto(table: pd.DataFrame) -> list[bool]:
    """Per row: no other point of the same model is at least as good on selection accuracy, batch-1
    latency (deployment path) and file size, and better on one of them. Read on the selection
    split, so the front is a choice the validation split then evaluates."""
    keys = ("select_acc", "latency_b1_ms", "size_mb")
    signs = (-1, 1, 1)  # higher accuracy, lower latency, smaller file

    def score(r):
        return [s * float(getattr(r, k)) for k, s in zip(keys, signs)]
    rows = list(table.itertuples())
    front = []
    for r in rows:
        mine = score(r)
        front.append(not any(o.model == r.model and o.Index != r.Index and
                             all(a <= b for a, b in zip(score(o), mine)) and score(o) != mine for o in rows))
    return front


def tables(table: pd.DataFrame, batch: int) -> list[tuple[str, pd.DataFrame, str]]:
    """Per model (caption, table, label): every point with its non-zeros, MACs, file size, latency at
    batch 1 and `batch` (deployment path), accuracy before and after fine-tuning (95 % Wilson
    intervals), the Pareto front marked ★."""
    out = []
    for name in dict.fromkeys(table.model):
        sub = table[table.model == name]
        show = pd.DataFrame({
            "method": sub.method, "point": sub.point, "front": sub.front.map({True: "★", False: ""}),
            "non-zeros": sub.nonzero.map("{:,}".format), "MMACs": (sub.macs / 1e6).map("{:.1f}".format),
            "file MB": sub.size_mb.map("{:.2f}".format), "b1 ms": sub.latency_b1_ms.map("{:.2f}".format),
            f"b{batch} ms": sub[f"latency_b{batch}_ms"].map("{:.2f}".format),
            "acc before FT": [format_rate(a, n) if a is not None and a == a else "–" for a, n in zip(sub.acc_pre_ft, sub.n)],
            "acc [95 % CI]": [format_rate(a, n) for a, n in zip(sub.acc, sub.n)]})
        out.append((f"{name}: every method's points side by side (latency in the deployment path, ms; file: the smallest "
                    "file that restores the model, the dense model's checkpoint; accuracy on the validation split before "
                    "and after fine-tuning; ★ on the Pareto front over selection accuracy, batch-1 latency and file size)",
                    show, f"comparison_{_slug(name)}"))
    return out


def comparison_figures(table: pd.DataFrame) -> list[tuple[Any, str, str]]:
    """Per model: validation accuracy (95 % Wilson interval) against batch-1 latency in the deployment
    path, one line per method's series, the Pareto front as a line of its own."""
    out = []
    for name in dict.fromkeys(table.model):
        sub = table[table.model == name]
        both = pd.concat([sub, sub[sub.front].assign(series=FRONT)])
        bounds = [wilson_of_rate(a, n) for a, n in zip(both.acc, both.n)]
        both = both.assign(low=[b[0] for b in bounds], high=[b[1] for b in bounds])
        fig = figures.curves(both, "acc", "model", "series", None, "validation accuracy", x="latency_b1_ms",
                             xlabel="batch-1 latency, deployment path (ms)", low="low", high="high")
        out.append((fig, f"comparison_{_slug(name)}",
                    f"{name}: validation accuracy against batch-1 latency in the deployment path for every method's "
                    "points and the dense model; error bars: 95 % Wilson intervals; the Pareto front (over selection "
                    "accuracy, latency and file size) drawn as its own line."))
    return out


def front_sentence(table: pd.DataFrame) -> str:
    """Which points form each model's Pareto front."""
    parts = [f"{name}: {joined([_name(r) for r in sub[sub.front].itertuples()])}"
             for name, sub in table.groupby("model", sort=False)]
    refs = ", ".join(f"[Table](#tab:C1_comparison_{_slug(n)}), [Figure](#fig:C1_comparison_{_slug(n)})"
                     for n in dict.fromkeys(table.model))
    return (f"Every method's points are set side by side per model, all timed in the deployment path ({refs}). A point is on "
            "the **Pareto front** when no other point of its model is at least as accurate on the selection split, "
            "as fast at batch 1 and as small, and better in one of the three; the front is read on the selection "
            "split, so the validation accuracies shown evaluate it. The front: " + "; ".join(parts) + ".")


def _name(r) -> str:
    return "the dense model" if r.method == DENSE else f"{r.method} {r.point}"


def deployment_target_lines(table: pd.DataFrame, *, speedup: float, smaller: float, noise: float,
                            alpha: float) -> list[str]:
    """Per model, the deployment target: a point at least `speedup`× faster at batch 1 than its dense
    model in the deployment path (beyond the latency noise), with a file at least `smaller`× smaller
    and no resolved loss. The points without a resolved loss are chosen on the selection split; the
    validation split then evaluates the one named."""
    lines = []
    for name, sub in table.groupby("model", sort=False):
        d = sub[sub.method == DENSE].iloc[0]
        rest = sub[sub.method != DENSE]
        keeps = _where(rest, [compare(r.select_correct, d.select_correct, alpha=alpha)["better"] != "b"
                              for r in rest.itertuples()])
        fast = _where(keeps, [s >= speedup and resolved_speedup(s, noise) for s in keeps.speedup])
        both = _where(fast, [d.size_mb / mb >= smaller for mb in fast.size_mb])
        head = f"- {name} (dense {d.latency_b1_ms:.2f} ms, {d.size_mb:.2f} MB): "
        if len(both):
            best = both.sort_values(["select_acc", "speedup"], ascending=False).iloc[0]
            lines.append(head + f"**met** by {_name(best)}, {_facts(best, d, alpha)}.")
            continue
        why = [f"of the {len(keeps)} point{'' if len(keeps) == 1 else 's'} without a resolved loss on the selection split"
               if len(keeps) else "every point loses accuracy resolvably on the selection split"]
        if len(keeps):
            quick, small = keeps.loc[keeps.speedup.idxmax()], keeps.loc[keeps.size_mb.idxmin()]
            why.append(f"the fastest is {_name(quick)} ({quick.speedup:.2f}×, {d.size_mb / quick.size_mb:.1f}× smaller)")
            why.append(f"the smallest {_name(small)} ({small.speedup:.2f}×, {d.size_mb / small.size_mb:.1f}× smaller)")
        lines.append(head + f"**missed**: {', '.join(why)}.")
    return lines


def _where(table: pd.DataFrame, flags: list[bool]) -> pd.DataFrame:
    """The rows of `table` whose flag is true (an empty list selects no row, where `table[[]]` would
    select no column)."""
    return table.loc[pd.Series(flags, index=table.index, dtype=bool)]


def _facts(r, d, alpha: float) -> str:
    test = compare(r.correct, d.correct, alpha=alpha)
    return (f"{r.speedup:.2f}× faster at batch 1 ({r.latency_b1_ms:.2f} ms), {d.size_mb / r.size_mb:.1f}× smaller "
            f"({r.size_mb:.2f} MB), validation accuracy {format_rate(r.acc, r.n)} against {format_rate(d.acc, d.n)} "
            f"({evidence(test)})")


def path_lines(table: pd.DataFrame) -> list[str]:
    """Per model: the dense model eager and in the deployment path, and each method's speedups over its
    dense model in both paths (a speedup that exists only eagerly is a baseline artefact)."""
    lines = []
    for name, sub in table.groupby("model", sort=False):
        d = sub[sub.method == DENSE].iloc[0]
        text = (f"- {name}: the dense model takes {d.eager_b1_ms:.2f} ms eagerly and {d.latency_b1_ms:.2f} ms in the "
                f"deployment path ({d.eager_b1_ms / d.latency_b1_ms:.1f}× less)")
        per = [f"{m} {span(g.eager_speedup)}× eagerly against {span(g.speedup)}×"
               for m, g in sub[(sub.method != DENSE) & sub.eager_speedup.notna()].groupby("method", sort=False)]
        lines.append(text + ("; speedups over it: " + "; ".join(per) if per else "") + ".")
    return lines
