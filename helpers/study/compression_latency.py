"""C1, speed: every dense and compressed model timed together, and what each method buys."""
from __future__ import annotations

import tempfile
from typing import Any

import pandas as pd
import torch

from ..core import progress
from ..evaluation.intervals import format_rate
from ..evaluation.latency import noise_figure, pooled_ms, round_robin_ms, same_model_ratios
from ..report import figures
from ..report.wording import joined, span

DENSE = "dense"


COPY = "dense copy"  # an identical copy of each dense model, timed beside it: the noise control
NOISE_QUANTILE = 0.95


def time_all(dense, sweep, image_shape: tuple[int, int, int], device, *, runs: int, warmup: int, rounds: int,
             batch: int, batch_runs: int) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Latency of every model at batch 1 (`runs` timed passes) and `batch` (`batch_runs` passes) in
    two paths, each measured round-robin in one measurement per batch size
    (`evaluation.latency.round_robin_ms`), so every speedup is a ratio of two numbers measured side
    by side in the same path: the **deployment path** (every model exported as an ONNX graph with
    BatchNorm folded and run by ONNX Runtime on the CPU, `deploy.onnx_graph`; the int8 models exist
    only there) and **eager** PyTorch on `device`. The latency noise is measured in both (`noise_of`).

    Returns (table, noise). The table has one row per (model, method, point), method 'dense' for the
    dense models; columns latency_b1_ms, latency_b1_std_ms, latency_b<batch>_ms,
    latency_b<batch>_std_ms, speedup, speedup_b<batch> (deployment path, over the model's dense
    version in it) and the same prefixed eager_ (eager_b1_ms, eager_speedup ...; NaN for a model
    that is only a graph)."""
    from ..deploy.onnx_graph import OnnxModel, deployed

    models = {(name, DENSE, "–"): base.model for name, (base, _) in dense.items()}
    models.update({(name, COPY, "–"): base.model for name, (base, _) in dense.items()})
    models.update(sweep.models)
    eager = {k: m for k, m in models.items() if not isinstance(m, OnnxModel)}
    pairs = [((name, DENSE, "–"), (name, COPY, "–")) for name in dense]
    with tempfile.TemporaryDirectory() as tmp:
        exported: dict[int, Any] = {}  # the dense model and its timed copy share one export
        graphs = {k: exported.get(id(m)) or exported.setdefault(id(m), deployed(m, tmp, f"model{i}", image_shape))
                  for i, (k, m) in enumerate(models.items())}
        timed, ratios = _timed_path(graphs, pairs, image_shape, torch.device("cpu"), runs, warmup, rounds, batch,
                                    batch_runs, "deployment path")
    timed_eager, eager_ratios = _timed_path(eager, pairs, image_shape, device, runs, warmup, rounds, batch, batch_runs,
                                            "eager")
    rows = []
    for (model, method, point) in models:
        if method == COPY:
            continue
        row = {"model": model, "method": method, "point": point}
        for prefix, times in (("", timed), ("eager_", timed_eager)):
            for b in (1, batch):
                key, dense_key = (model, method, point), (model, DENSE, "–")
                mean, std = times[b].get(key, (float("nan"), float("nan")))
                row[f"{prefix or 'latency_'}b{b}_ms"], row[f"{prefix or 'latency_'}b{b}_std_ms"] = mean, std
                row[f"{prefix}speedup{'' if b == 1 else f'_b{b}'}"] = times[b][dense_key][0] / mean
        rows.append(row)
    return pd.DataFrame(rows), noise_of(ratios + eager_ratios)


def _timed_path(models: dict, pairs: list, image_shape, device, runs: int, warmup: int, rounds: int, batch: int,
                batch_runs: int, path: str) -> tuple[dict[int, dict], list[float]]:
    """{batch size: {key: (mean ms, std ms)}} of `models` in one path, and the identical-copy ratios."""
    ticker = progress.task(f"latency, {path}", 2, min_interval=0)
    timed, ratios = {}, []
    for b, n in ((1, runs), (batch, batch_runs)):
        per_round = round_robin_ms(models, (b, *image_shape), device, runs=n, warmup=warmup, rounds=min(rounds, n))
        timed[b] = {k: pooled_ms(v) for k, v in per_round.items()}
        ratios += same_model_ratios(per_round, pairs)
        ticker.step(f"batch {b}, {len(models)} models")
    return timed, ratios


def noise_of(ratios: list[float]) -> dict[str, Any]:
    """The study's one latency-noise figure: of the per-round latency ratios of each dense model to
    an identical copy timed beside it (both batch sizes), the 95th percentile of |ratio − 1|
    (`evaluation.latency.noise_figure`). Every speedup and every 'faster' of C1 and C2 is read
    against it."""
    return {"noise": noise_figure(ratios, NOISE_QUANTILE), "quantile": NOISE_QUANTILE, "n_ratios": len(ratios),
            "ratio_min": min(ratios), "ratio_max": max(ratios)}


def resolved_speedup(speedup: float, noise: float) -> bool:
    """Is a speedup (or a latency ratio) real: beyond the measured noise on either side of 1?"""
    return abs(speedup - 1) > noise


def noise_sentence(noise: dict[str, Any]) -> str:
    """How the latency noise was measured, with its value (C1's latency section)."""
    return (f"The latency noise is measured in the same runs: an identical copy of each dense model is timed beside "
            f"it, so the ratio of their latencies in each round shows what timing alone does to a speedup. Over "
            f"{noise['n_ratios']} such ratios (both batch sizes) they run from {noise['ratio_min']:.2f} to "
            f"{noise['ratio_max']:.2f}; {100 * noise['quantile']:g} % of them lie within ±{100 * noise['noise']:.0f} % of 1. "
            f"This ±{100 * noise['noise']:.0f} % is the study's one latency-noise figure: a speedup, or a latency difference "
            "between two models, is called real only beyond it, in C1 and in C2's deployment rule. A round pools fewer "
            "passes than the whole measurement, so the figure is conservative.")


def dense_latency_table(latency: pd.DataFrame, batch: int) -> pd.DataFrame:
    """The dense models' latency (mean ± std, ms) in the deployment path and eagerly."""
    d = latency[latency.method == DENSE]

    def cells(prefix: str, b: int) -> list[str]:
        return [f"{m:.2f} ± {s:.2f}" for m, s in zip(d[f"{prefix}b{b}_ms"], d[f"{prefix}b{b}_std_ms"])]
    return pd.DataFrame({"model": d.model, "b1 ms": cells("latency_", 1), f"b{batch} ms": cells("latency_", batch),
                         "eager b1 ms": cells("eager_", 1), f"eager b{batch} ms": cells("eager_", batch)})


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
        out.append((figures.curves(long, "ms", "model", "method", "batch", "latency (ms, log scale)", None,
                                   x="achieved", xlabel=kind, yscale="log"), f"latency_vs_{_slug(kind)}",
                    f"latency of the compressed models against {kind} (the dense model is the first point of every line; "
                    "log scale)."))
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
    import onnxruntime
    return (f"Every latency of C1 and C2 comes from this one measurement in the deployment path (ONNX Runtime "
            f"{onnxruntime.__version__} on the CPU), eager PyTorch on {device} timed beside it, with {threads} threads: after "
            f"{warmup} untimed pass{'' if warmup == 1 else 'es'} per model, {runs} timed passes at batch 1 and {batch_runs} at batch {batch} per "
            f"model, spread over {min(rounds, runs)} round-robin rounds. The dense models' batch-1 latencies quoted "
            f"everywhere in C1 and C2 are these: {dense} ([Table](#tab:C1_dense_latency)).")


def speed_lines(sweep, dense, latency: pd.DataFrame, *, alpha: float, target_speedup: float,
                noise: float) -> list[str]:
    """The batch-1 speedups read against the measured latency `noise`: the methods with no speedup
    beyond it summarised in one line (what they buy is size), then one line per model and method
    with a real speedup, naming the fastest model whose accuracy loss the paired test does not
    resolve and, for structured methods, whether it reaches the study's target speedup."""
    table, still, lines = with_latency(sweep, dense, latency), [], []
    for model_name, (_, d) in dense.items():
        dense_ms = float(latency[(latency.model == model_name) & (latency.method == DENSE)].latency_b1_ms.iloc[0])
        for name, method in sweep.methods.items():
            sub = table[(table.model == model_name) & (table.method == name)]
            if sub.empty:
                continue
            kept = _kept(sub, d, alpha)
            if not any(resolved_speedup(s, noise) for s in sub.speedup):
                still.append((f"{model_name} {method.title}", sub, kept, d))
                continue
            lines.append(_speed_line(model_name, method, sub, kept, d, dense_ms, noise, target_speedup))
    if still:
        lines.insert(0, _no_speedup_line(still, noise))
    return lines


def _kept(sub: pd.DataFrame, d: dict, alpha: float) -> pd.DataFrame:
    """The points of `sub` whose accuracy loss against the dense model `d` is not resolved, slowest first."""
    from .compression_analysis import against_dense
    return sub[[against_dense(r, d, alpha)["better"] != "b" for r in sub.itertuples()]].sort_values("speedup")


def _no_speedup_line(still: list, noise: float) -> str:
    """One line for every (model, method) whose speedups all lie within the latency noise."""
    speedups = pd.concat([sub.speedup for _, sub, _, _ in still])
    size = [f"{label} {kept.nonzero.min() / d['params']:.0%}" for label, _, kept, d in still if len(kept)]
    return (f"- {joined([label for label, *_ in still])}: batch-1 speedups {span(speedups)}×, none beyond the "
            f"±{100 * noise:.0f} % latency noise, so no change in speed is resolved; what these models buy is size"
            + (". The sparsest point without a resolved accuracy loss keeps, of the parameters non-zero: "
               + ", ".join(size) + "." if size else ", and every point loses accuracy resolvably."))


def _speed_line(model_name: str, method, sub: pd.DataFrame, kept: pd.DataFrame, d: dict, dense_ms: float,
                noise: float, target_speedup: float) -> str:
    """One (model, method) with at least one speedup beyond the noise."""
    real = sum(resolved_speedup(s, noise) for s in sub.speedup)
    text = (f"- {model_name}, {method.title}: batch-1 speedups {span(sub.speedup)}× over the dense {dense_ms:.2f} ms, "
            f"{real} of {len(sub)} beyond the noise")
    if not len(kept):
        return text + "; every point loses accuracy resolvably."
    best = kept.iloc[-1]
    fastest = "fastest" if best.speedup >= 1 else "least slow (all of them slower than the dense model)"
    text += (f". Of the points without a resolved accuracy loss, the {fastest} is {best.point}, {format_rate(best.acc, d['n'])} against "
             f"{d['acc']:.2f}, at {best.latency_b1_ms:.2f} ms ({best.speedup:.2f}×"
             + ("" if resolved_speedup(best.speedup, noise) else ", within the noise")
             + f"; {best.nonzero / d['params']:.0%} of the parameters)")
    if method.family == "structured":
        reached = best.speedup >= target_speedup and resolved_speedup(best.speedup, noise)
        text += f", {'reaching' if reached else 'short of'} the {target_speedup:g}× target speedup"
    return text + "."


def speed_figure(sweep, dense, latency: pd.DataFrame):
    """Fine-tuned accuracy, with its 95 % Wilson interval, against the batch-1 speedup."""
    from ..evaluation.intervals import wilson_of_rate
    table = with_latency(sweep, dense, latency)
    bounds = [wilson_of_rate(a, dense[m][1]["n"]) if a is not None and a == a else (float("nan"),) * 2
              for a, m in zip(table.acc, table.model)]
    table = table.assign(kind=table.method, low=[b[0] for b in bounds], high=[b[1] for b in bounds])
    return figures.curves(table, "acc", "model", "kind", None, "validation accuracy (fine-tuned)", x="speedup",
                          xlabel="batch-1 speedup over the dense model", low="low", high="high")
