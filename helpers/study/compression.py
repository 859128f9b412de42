"""C1, compression: every method the parameters name, applied to every trained model at each of
its targets, with what each compressed model costs and keeps."""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import torch
from torch import nn

from ..compression import (BaseModel, CompressionContext, CompressionMethod, CompressionRecord, build_method,
                           targets)
from ..compression.measure import file_size_mb, macs_and_params
from ..core import progress
from ..evaluation.predict import accuracy
from ..report import figures
from ..training.config import TrainConfig


def dense_models(stage, data, names: list[str]) -> dict[str, tuple[BaseModel, dict[str, Any]]]:
    """Each trained model of A2 with its dense figures: validation accuracy, parameters, MACs,
    checkpoint size."""
    out = {}
    image_shape = (data.channels, data.image_size, data.image_size)
    for name in names:
        model, ckpt = stage.trained_model(name)
        path = stage.layout.trained(name)
        macs, params = macs_and_params(model, image_shape)
        out[name] = (BaseModel(name, model, ckpt, path),
                     {"acc": accuracy(model, data.valid.images, data.valid.labels, stage.device),
                      "size_mb": file_size_mb(path), "params": params, "macs": macs})
    return out


def dense_table(dense: dict[str, tuple[BaseModel, dict]]) -> pd.DataFrame:
    return pd.DataFrame([{"model": n, "val acc": d["acc"], "params": d["params"], "MMACs": d["macs"] / 1e6,
                          "ckpt MB": d["size_mb"]} for n, (_, d) in dense.items()])


@dataclass
class Sweep:
    """Every compressed model of C1: records (skipped targets included), the models by
    (model, method, point), the methods, and the seconds each method took."""
    methods: dict[str, CompressionMethod]
    records: list[CompressionRecord] = field(default_factory=list)
    models: dict[tuple[str, str, str], nn.Module] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """One row per compressed model (skipped targets left out)."""
        return pd.DataFrame([r.as_dict() for r in self.records if not r.skipped])

    def made(self, method: str) -> list[CompressionRecord]:
        return [r for r in self.records if r.method == method and not r.skipped]


def _check_round_trip(method: CompressionMethod, record: CompressionRecord, model: nn.Module, stage, data) -> None:
    """The saved checkpoint must load back (weights_only) to a model with identical outputs. Both are
    compared in channels-last memory format: a freshly trained model is channels-last (`fit`), a
    loaded one is not, and the kernels of the two formats round differently."""
    channels_last = torch.channels_last
    back = method.load(stage.layout.resolve(record.path)).to(stage.device).to(memory_format=channels_last).eval()
    same = copy.deepcopy(model).to(memory_format=channels_last).eval()
    x = torch.rand(4, data.channels, data.image_size, data.image_size, device=stage.device)
    with torch.no_grad():
        if not torch.equal(back(x), same(x)):
            raise AssertionError(f"{record.path} does not load back to the model it saved")


def run_sweep(stage, data, dense: dict[str, tuple[BaseModel, dict]], params: dict[str, Any]) -> Sweep:
    """Apply every method of `compression_methods` to every dense model at each of its targets."""
    methods = {name: build_method(name, params) for name in params["compression_methods"]}
    ctx = CompressionContext(data, TrainConfig.from_params(params), stage.layout, stage.device)
    sweep = Sweep(methods)
    for name, method in methods.items():
        points = [(m, t) for m in dense for t in targets(name, params)]
        ticker = progress.task(f"compression {name}", len(points), min_interval=0)
        t0 = time.perf_counter()
        for model_name, target in points:
            result = method.apply(dense[model_name][0], target, ctx)
            sweep.records.append(result.record)
            if result.model is not None:
                _check_round_trip(method, result.record, result.model, stage, data)
                sweep.models[model_name, name, result.record.point] = result.model
            ticker.step(f"{model_name} {method.label(target)}"
                        + (", reused" if result.record.reused else "") + (", skipped" if result.record.skipped else ""))
        sweep.seconds[name] = time.perf_counter() - t0
    return sweep


def methods_narrative(sweep: Sweep) -> str:
    """What each method does (its family's text once), and the budget it gets."""
    parts, families = [], []
    for method in sweep.methods.values():
        if method.family not in families and method.family_narrative:
            families.append(method.family)
            parts.append(method.family_narrative)
        parts.append(f"{method.narrative} Targets ({method.target_name}): "
                     + ", ".join(method.label(t) for t in sorted({r.target for r in sweep.records if r.method == method.name}))
                     + f". Fine-tuning budget: {method.budget.describe()}.")
    budgets = {m.name: (m.budget.epochs, m.budget.distill_alpha > 0) for m in sweep.methods.values()}
    if len(set(budgets.values())) > 1:
        parts.append("The methods do **not** get equal fine-tuning budgets: "
                     + "; ".join(f"{n}: {e} epoch{'' if e == 1 else 's'}{' with distillation' if d else ''}"
                                 for n, (e, d) in budgets.items())
                     + ". Compare their accuracies with that in mind.")
    return "\n\n".join(parts)


def method_tables(sweep: Sweep, dense: dict[str, tuple[BaseModel, dict]]) -> list[tuple[str, pd.DataFrame]]:
    """Per method and model: the points with their sizes and accuracies before and after fine-tuning."""
    tables = []
    for name, method in sweep.methods.items():
        for model_name, (_, d) in dense.items():
            rows = [r for r in sweep.made(name) if r.model == model_name]
            if not rows:
                continue
            table = pd.DataFrame({"point": [r.point for r in rows], method.target_name: [r.target for r in rows],
                                  "sparsity": [r.sparsity for r in rows], "params": [r.params for r in rows],
                                  "non-zero": [r.nonzero for r in rows],
                                  "MACs ÷": [d["macs"] / r.macs for r in rows], "acc": [r.acc_pre_ft for r in rows],
                                  "acc FT": [r.acc for r in rows], "MB": [r.size_mb for r in rows],
                                  "compact MB": [r.size_compressed_mb for r in rows]})
            tables.append((f"{model_name}, {method.title} (dense model: accuracy {d['acc']:.2f}, {d['size_mb']:.2f} MB, "
                           f"{d['params']:,} parameters)", table))
    return tables


def work_summary(sweep: Sweep) -> str:
    """How long each method took, how many models it trained and how many it reused (and when
    those were made), and which targets it skipped."""
    lines = []
    for name, method in sweep.methods.items():
        made, skipped = sweep.made(name), [r for r in sweep.records if r.method == name and r.skipped]
        reused = [r for r in made if r.reused]
        text = f"- {method.title}: {len(made)} models in {sweep.seconds[name]:.0f} s"
        if reused:
            text += (f", of which {len(reused)} reused from checkpoints made {min(r.created_at for r in reused)}"
                     + (f" to {max(r.created_at for r in reused)}" if len({r.created_at for r in reused}) > 1 else "")
                     + f" (their fine-tuning took {sum(r.finetune_s for r in reused):.0f} s when they were made)")
        text += "."
        if skipped:
            text += " Not trained again, since they reach no new model: " + "; ".join(
                f"{r.model} {r.point} ({r.skipped})" for r in skipped) + "."
        lines.append(text)
    return "\n".join(lines)


def metrics(sweep: Sweep, dense, latency: pd.DataFrame, sensitivity: pd.DataFrame, params: dict[str, Any],
            device, threads: int) -> dict[str, Any]:
    """C1's metrics: summary keys C1.<Model>.dense.*, C1.<Model>.<method>.<point>.* and
    C1.seconds.<method>; every record with its latency (C2 reads them), sensitivity, settings."""
    from .compression_latency import DENSE, with_latency

    batch = params["latency_batch"]
    lat_cols = ["latency_b1_ms", "latency_b1_std_ms", f"latency_b{batch}_ms", f"latency_b{batch}_std_ms"]
    summary: dict[str, Any] = {}
    for name, (_, d) in dense.items():
        row = latency[(latency.model == name) & (latency.method == DENSE)].iloc[0]
        summary[name] = {DENSE: {**d, **{c: float(row[c]) for c in lat_cols}}}
    records = with_latency(sweep, dense, latency).to_dict("records")
    scalar = ("target", "params", "nonzero", "sparsity", "macs", "mac_reduction", "acc_pre_ft", "acc", "size_mb",
              "size_compressed_mb", "finetune_s", "reused", "speedup", f"speedup_b{batch}", *lat_cols)
    for r in records:
        point = {k: r[k] for k in scalar}
        point.update({k: v for k, v in r["details"].items() if isinstance(v, (int, float))})
        summary[r["model"]].setdefault(r["method"], {})[r["point"]] = point
    summary["seconds"] = dict(sweep.seconds)
    return {"summary": summary, "records": records, "dense": {n: d for n, (_, d) in dense.items()},
            "skipped": [r.as_dict() for r in sweep.records if r.skipped],
            "methods": {n: {"title": m.title, "family": m.family, "target_name": m.target_name,
                            "budget": m.budget.__dict__, "settings": m.settings.__dict__} for n, m in sweep.methods.items()},
            "sensitivity": sensitivity.to_dict("records"),
            "latency": {"runs": params["latency_runs"], "warmup": params["latency_warmup"],
                        "rounds": params["latency_rounds"], "batch": batch, "batch_runs": params["latency_batch_runs"],
                        "threads": threads, "device": str(device)}}
