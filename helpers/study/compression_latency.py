"""C1, speed: every dense and compressed model timed together, and what each method buys."""
from __future__ import annotations

from typing import Any

import pandas as pd

from ..core import progress
from ..evaluation.intervals import format_rate
from ..evaluation.latency import latencies_ms
from ..report import figures

DENSE = "dense"


def time_all(dense, sweep, image_shape: tuple[int, int, int], device, *, runs: int, warmup: int, rounds: int,
             batch: int, batch_runs: int) -> pd.DataFrame:
    """Latency of every model at batch 1 (`runs` timed passes) and `batch` (`batch_runs` passes),
    measured round-robin in one measurement per batch size (`evaluation.latency.latencies_ms`), so
    every speedup is a ratio of two numbers
    measured side by side. One row per (model, method, point); method 'dense' for the dense models.
    Columns: latency_b1_ms, latency_b1_std_ms, latency_b<batch>_ms, latency_b<batch>_std_ms,
    speedup, speedup_b<batch> (over the model's dense version)."""
    to_time = {(name, DENSE, "–"): base.model for name, (base, _) in dense.items()}
    to_time.update(sweep.models)
    ticker = progress.task("latency", 2, min_interval=0)
    timed = {}
    for b, n in ((1, runs), (batch, batch_runs)):
        timed[b] = latencies_ms(to_time, (b, *image_shape), device, runs=n, warmup=warmup, rounds=min(rounds, n))
        ticker.step(f"batch {b}, {len(to_time)} models")
    rows = []
    for (model, method, point) in to_time:
        row = {"model": model, "method": method, "point": point}
        for b in (1, batch):
            row[f"latency_b{b}_ms"], row[f"latency_b{b}_std_ms"] = timed[b][model, method, point]
            row[f"speedup{'' if b == 1 else f'_b{b}'}"] = timed[b][model, DENSE, "–"][0] / timed[b][model, method, point][0]
        rows.append(row)
    return pd.DataFrame(rows)


def dense_latency_table(latency: pd.DataFrame, batch: int) -> pd.DataFrame:
    d = latency[latency.method == DENSE]
    return pd.DataFrame({"model": d.model,
                         "b1 ms": [f"{m:.2f} ± {s:.2f}" for m, s in zip(d.latency_b1_ms, d.latency_b1_std_ms)],
                         f"b{batch} ms": [f"{m:.2f} ± {s:.2f}" for m, s in
                                          zip(d[f"latency_b{batch}_ms"], d[f"latency_b{batch}_std_ms"])]})


def with_latency(sweep, dense, latency: pd.DataFrame) -> pd.DataFrame:
    """Every compressed model's record joined with its latency, plus the x of its target scale."""
    table = sweep.table()
    if table.empty:
        return table
    table["achieved"] = [sweep.methods[r.method].achieved(r, dense[r.model][1]["macs"]) for r in table.itertuples()]
    table["mac_reduction"] = [dense[r.model][1]["macs"] / r.macs for r in table.itertuples()]
    return table.merge(latency, on=["model", "method", "point"])


def latency_figures(sweep, dense, latency: pd.DataFrame, batch: int) -> list[tuple[Any, str, str]]:
    """Latency against each target scale, batch 1 and `batch` (the dense model first on each line)."""
    out, table = [], with_latency(sweep, dense, latency)
    for kind in dict.fromkeys(m.target_name for m in sweep.methods.values()):
        names = [n for n, m in sweep.methods.items() if m.target_name == kind]
        sub = table[table.method.isin(names)]
        if sub.empty:
            continue
        d = latency[latency.method == DENSE]
        start = pd.concat([d.assign(method=n, achieved=sweep.methods[n].dense_value) for n in names])
        both = pd.concat([start, sub])
        long = pd.concat([both.assign(batch="batch 1", ms=both.latency_b1_ms),
                          both.assign(batch=f"batch {batch}", ms=both[f"latency_b{batch}_ms"])])
        from .compression_analysis import _slug
        out.append((figures.curves(long, "ms", "model", "method", "batch", "latency (ms)", None, x="achieved",
                                   xlabel=kind), f"latency_vs_{_slug(kind)}",
                    f"latency of the compressed models against {kind} (the dense model is the first point of every line)."))
    return out


def latency_tables(sweep, dense, latency: pd.DataFrame, batch: int) -> list[tuple[str, pd.DataFrame, str]]:
    """Per target scale (sparsity, MAC reduction ...), (caption, table, label): every compressed
    model's MAC reduction, fine-tuned accuracy (95 % Wilson interval), latency (mean ± std) and
    speedup over its dense model at batch 1 and `batch`."""
    from .compression_analysis import _slug
    t, out = with_latency(sweep, dense, latency), []
    if t.empty:
        return out
    kinds = {n: m.target_name for n, m in sweep.methods.items()}
    for kind in dict.fromkeys(kinds.values()):
        sub = t[t.method.map(kinds) == kind]
        if sub.empty:
            continue
        table = pd.DataFrame({"model": sub.model, "method": sub.method, "point": sub.point,
                              "MACs ÷": sub.mac_reduction.map("{:.2f}".format),
                              "acc [95 % CI]": [format_rate(a, dense[m][1]["n"]) for a, m in zip(sub.acc, sub.model)],
                              "b1 ms": [f"{m:.2f} ± {s:.2f}" for m, s in zip(sub.latency_b1_ms, sub.latency_b1_std_ms)],
                              "b1 ×": sub.speedup.map("{:.2f}".format),
                              f"b{batch} ms": [f"{m:.2f} ± {s:.2f}" for m, s in
                                               zip(sub[f"latency_b{batch}_ms"], sub[f"latency_b{batch}_std_ms"])],
                              f"b{batch} ×": sub[f"speedup_b{batch}"].map("{:.2f}".format)})
        out.append((f"latency of every model compressed to a {kind}: MAC reduction, validation accuracy after "
                    f"fine-tuning, latency (mean ± std, ms) and speedup over its dense model at batch 1 and {batch}",
                    table, f"latency_{_slug(kind)}"))
    return out


def measurement_sentence(latency: pd.DataFrame, device, threads: int, *, runs: int, batch: int, batch_runs: int,
                         rounds: int, warmup: int) -> str:
    """How the latencies were measured, and the dense models' batch-1 figures that C1 and C2 quote."""
    d = latency[latency.method == DENSE]
    dense = "; ".join(f"{m} {ms:.2f} ± {sd:.2f} ms" for m, ms, sd in zip(d.model, d.latency_b1_ms, d.latency_b1_std_ms))
    return (f"Every latency of C1 and C2 comes from this one measurement on {device} with {threads} threads: after "
            f"{warmup} untimed pass{'' if warmup == 1 else 'es'} per model, {runs} timed passes at batch 1 and {batch_runs} at batch {batch} per "
            f"model, spread over {min(rounds, runs)} round-robin rounds. The dense models' batch-1 latencies quoted "
            f"everywhere in C1 and C2 are these: {dense} ([Table](#tab:C1_dense_latency)).")


def speed_lines(sweep, dense, latency: pd.DataFrame, *, max_acc_drop: float, target_speedup: float,
                noise: float) -> list[str]:
    """Per model and method: the speedup range, and the fastest model that keeps its accuracy; the
    study's target speedup checked for structured methods."""
    table, lines = with_latency(sweep, dense, latency), []
    for model_name, (_, d) in dense.items():
        dense_ms = float(latency[(latency.model == model_name) & (latency.method == DENSE)].latency_b1_ms.iloc[0])
        for name, method in sweep.methods.items():
            sub = table[(table.model == model_name) & (table.method == name)]
            if sub.empty:
                continue
            lo, hi = sub.speedup.min(), sub.speedup.max()
            span = f"{lo:.2f}×" if f"{lo:.2f}" == f"{hi:.2f}" else f"{lo:.2f}–{hi:.2f}×"
            text = (f"- {model_name}, {method.title}: batch-1 speedup {span} over the dense {dense_ms:.2f} ms"
                    + ("" if len(sub) == 1 else f" across its {len(sub)} models"))
            if hi < 1 + noise:
                text += f" (all within ±{noise:.0%}, the run-to-run noise of this machine: no speedup)"
            kept = sub[sub.acc >= d["acc"] - max_acc_drop - 1e-9].sort_values("speedup")
            if len(kept):
                best = kept.iloc[-1]
                text += (f"; the fastest within {100 * max_acc_drop:g} points of the dense accuracy is {best.point}, "
                         f"{format_rate(best.acc, d['n'])} against {format_rate(d['acc'], d['n'])}, at "
                         f"{best.latency_b1_ms:.2f} ms ({best.speedup:.2f}×)")
                if method.family == "structured":
                    text += (f", {'reaching' if best.speedup >= target_speedup else 'short of'} the "
                             f"{target_speedup:g}× target speedup")
            else:
                text += f"; none stays within {100 * max_acc_drop:g} points of the dense accuracy"
            fewest = sub.nonzero.min()
            lines.append(text + f". Its sparsest model keeps {fewest / d['params']:.0%} of the parameters non-zero.")
    return lines


def speed_figure(sweep, dense, latency: pd.DataFrame):
    table = with_latency(sweep, dense, latency)
    return figures.curves(table.assign(kind=table.method), "acc", "model", "kind", None,
                          "validation accuracy (fine-tuned)", x="speedup", xlabel="batch-1 speedup over the dense model")
