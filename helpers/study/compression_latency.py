"""C1, speed: every dense and compressed model timed together, and what each method buys."""
from __future__ import annotations

from typing import Any

import pandas as pd

from ..core import progress
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


def latency_table(sweep, dense, latency: pd.DataFrame, batch: int) -> pd.DataFrame:
    t = with_latency(sweep, dense, latency)
    return pd.DataFrame({"model": t.model, "method": t.method, "point": t.point, "MACs ÷": t.mac_reduction,
                         "acc": t.acc, "b1 ms": t.latency_b1_ms, "speedup": t.speedup,
                         f"b{batch} ms": t[f"latency_b{batch}_ms"], f"b{batch} ×": t[f"speedup_b{batch}"]})


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
            text = (f"- {model_name}, {method.title}: batch-1 speedup {lo:.2f}–{hi:.2f}× over the dense model's "
                    f"{dense_ms:.2f} ms" + (f" (within ±{noise:.0%}, which this machine's run-to-run noise allows: no "
                                            "speedup)" if hi < 1 + noise else ""))
            kept = sub[sub.acc >= d["acc"] - max_acc_drop - 1e-9].sort_values("speedup")
            if len(kept):
                best = kept.iloc[-1]
                text += (f"; the fastest within {100 * max_acc_drop:g} points of the dense accuracy is {best.point}: "
                         f"{best.acc:.0%} against {d['acc']:.0%}, {best.latency_b1_ms:.2f} ms, {best.speedup:.2f}×")
                if method.family == "structured":
                    text += (f" (target: at least {target_speedup:g}×, "
                             f"{'met' if best.speedup >= target_speedup else 'missed'})")
            else:
                text += f"; no point stays within {100 * max_acc_drop:g} points of the dense accuracy"
            fewest = sub.nonzero.min()
            lines.append(text + f". Its sparsest model keeps {fewest / d['params']:.0%} of the parameters non-zero.")
    return lines


def speed_figure(sweep, dense, latency: pd.DataFrame):
    table = with_latency(sweep, dense, latency)
    return figures.curves(table.assign(kind=table.method), "acc", "model", "kind", None,
                          "validation accuracy (fine-tuned)", x="speedup", xlabel="batch-1 speedup over the dense model")
