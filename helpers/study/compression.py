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
                           method_class, targets)
from ..compression.control import CONTROL, DenseControl
from ..compression.measure import file_size_mb, macs_and_params
from ..config.model_overrides import differences_sentence, for_model
from ..core import progress
from ..evaluation.intervals import format_rate
from ..evaluation.paired import as_summary, compare, encode, evidence
from ..evaluation.predict import correct
from ..report.wording import counted
from ..training.config import TrainConfig


PER_IMAGE = ("correct", "select_correct")  # per-image outcomes: in the metrics, not in summary.json


def dense_models(stage, data, names: list[str]) -> dict[str, tuple[BaseModel, dict[str, Any]]]:
    """Each trained model of A2 with its dense figures: validation accuracy (acc over n images),
    selection accuracy (select_acc over n_select), which images of each split it gets right
    (correct, select_correct: `paired.encode` strings), parameters, MACs, checkpoint size."""
    out = {}
    image_shape = (data.channels, data.image_size, data.image_size)
    for name in names:
        model, ckpt = stage.trained_model(name)
        path = stage.layout.trained(name)
        macs, params = macs_and_params(model, image_shape)
        valid = correct(model, data.valid.images, data.valid.labels, stage.device)
        selection = correct(model, data.selection.images, data.selection.labels, stage.device)
        out[name] = (BaseModel(name, model, ckpt, path),
                     {"acc": float(valid.float().mean()), "n": len(valid), "select_acc": float(selection.float().mean()),
                      "n_select": len(selection), "size_mb": file_size_mb(path), "params": params, "macs": macs,
                      "correct": encode(valid), "select_correct": encode(selection)})
    return out


def dense_table(dense: dict[str, tuple[BaseModel, dict]]) -> pd.DataFrame:
    """The dense models; accuracy with its 95 % Wilson interval over the validation split."""
    return pd.DataFrame([{"model": n, "val acc [95 % CI]": format_rate(d["acc"], d["n"]), "params": f"{d['params']:,}",
                          "MMACs": f"{d['macs'] / 1e6:.1f}", "ckpt MB": f"{d['size_mb']:.2f}"}
                         for n, (_, d) in dense.items()])


@dataclass
class Sweep:
    """Every compressed model of C1: records (skipped targets included), the models by
    (model, method, point), the methods, and the seconds each method took."""
    methods: dict[str, CompressionMethod]
    records: list[CompressionRecord] = field(default_factory=list)
    models: dict[tuple[str, str, str], nn.Module] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    controls: dict[str, CompressionRecord] = field(default_factory=dict)  # per model: the dense control
    control_of: str = ""  # the method whose budget the dense control got ('' for none)

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
    """Apply every method of `compression_methods` to every dense model at each of its targets; a
    model with its own methods, targets, budgets or settings (`model_overrides`) gets those."""
    own = {m: for_model(params, m) for m in dense}
    names = sorted(dict.fromkeys([*params["compression_methods"], *(n for m in dense for n in own[m]["compression_methods"])]),
                   key=lambda n: method_class(n).reads_points)  # methods compressing other methods' points run last
    methods = {name: build_method(name, params) for name in names}
    ctx = CompressionContext(data, TrainConfig.from_params(params), stage.layout, stage.device)
    # one method object per model and method: a method remembers what it made (a chain, equal widths)
    per_model = {m: methods if own[m] is params else {n: build_method(n, own[m]) for n in own[m]["compression_methods"]}
                 for m in dense}
    sweep = Sweep(methods)
    for name in names:
        models = [m for m in dense if name in own[m]["compression_methods"]]
        ticker = progress.task(f"compression {name}", sum(per_model[m][name].point_count(
            targets(name, own[m]), tuple(k for k in ctx.made if k[0] == m)) for m in models), min_interval=0)
        t0 = time.perf_counter()
        for model_name in models:
            method = per_model[model_name][name]
            for result in method.sweep(dense[model_name][0], targets(name, own[model_name]), ctx):
                sweep.records.append(r := result.record)
                if result.model is not None:
                    _check_round_trip(method, r, result.model, stage, data)
                    sweep.models[model_name, name, r.point] = result.model
                    ctx.made[model_name, name, r.point] = (result.model, r)
                ticker.step(f"{model_name} {r.point}{', reused' * r.reused}{', skipped' * bool(r.skipped)}")
        sweep.seconds[name] = time.perf_counter() - t0
    if params.get("dense_control_budget") in methods:
        run_controls(sweep, stage, data, dense, params, ctx)
    return sweep


def run_controls(sweep: Sweep, stage, data, dense, params: dict[str, Any], ctx: CompressionContext) -> None:
    """The dense control of every model: fine-tuned again, unpruned, with the budget of the method
    `dense_control_budget` as that model gets it (same context, so a distilling budget reuses the
    teacher outputs the pruned models computed)."""
    like, t0 = params["dense_control_budget"], time.perf_counter()
    ticker = progress.task(f"dense control with the {like} budget", len(dense), min_interval=0)
    for model_name, (base, _) in dense.items():
        control = DenseControl(build_method(like, for_model(params, model_name)))
        result = control.apply(base, 0.0, ctx)
        _check_round_trip(control, result.record, result.model, stage, data)
        sweep.controls[model_name] = result.record
        ticker.step(model_name + (", reused" if result.record.reused else ""))
    sweep.control_of, sweep.seconds[CONTROL] = like, time.perf_counter() - t0


COMPRESSION_KEYS = ("compression_methods", "compression_targets", "compression_budgets", "compression_settings",
                    "sensitivity_amounts")


def methods_narrative(sweep: Sweep, params: dict[str, Any] | None = None) -> str:
    """What each method does (its family's text once), the budget it gets, and (with `params`) the
    models whose own methods, targets or budgets differ (`model_overrides`)."""
    parts, families, described = [], [], []
    for method in sweep.methods.values():
        if method.family not in families and method.family_narrative:
            families.append(method.family)
            parts.append(method.family_narrative)
        parts.append(f"{method.narrative_after(described)} "
                     + method.targets_text(sorted({r.target for r in sweep.records if r.method == method.name}))
                     + f". Fine-tuning budget: {method.budget_text()}.")
        described.append(method)
    budgets = {m.name: m.budget_words() for m in sweep.methods.values()}
    if len(set(budgets.values())) > 1:
        parts.append("The methods do **not** get equal fine-tuning budgets: "
                     + "; ".join(f"{n}: {words}" for n, words in budgets.items())
                     + ". Compare their accuracies with that in mind.")
    unequal = differences_sentence(params, COMPRESSION_KEYS) if params else ""
    return "\n\n".join(parts + ([unequal] if unequal else []))


def table_label(*parts: str) -> str:
    """A label for a figure or table from names such as ('global', 'ResNetSmall')."""
    return "_".join(p.replace(" ", "_").replace(".", "p") for p in parts)


def method_tables(sweep: Sweep, dense: dict[str, tuple[BaseModel, dict]]) -> list[tuple[str, pd.DataFrame, str]]:
    """Per method and model (caption, table, label): the points with their sizes and accuracies
    before and after fine-tuning (the fine-tuned one with its 95 % Wilson interval over the
    validation split; the others as values, so the table fits the page)."""
    tables = []
    for name, method in sweep.methods.items():
        for model_name, (_, d) in dense.items():
            rows = [r for r in sweep.made(name) if r.model == model_name]
            if not rows:
                continue
            table = pd.DataFrame({"point": [r.point for r in rows], "sparsity": [f"{r.sparsity:.2f}" for r in rows],
                                  "params": [f"{r.params:,}" for r in rows], "non-zero": [f"{r.nonzero:,}" for r in rows],
                                  "MACs ÷": [f"{d['macs'] / r.macs:.2f}" for r in rows],
                                  "acc": ["–" if r.acc_pre_ft is None else f"{r.acc_pre_ft:.2f}" for r in rows],
                                  "acc FT": [format_rate(r.acc, d["n"]) for r in rows],
                                  "sel acc": [f"{r.select_acc:.2f}" for r in rows],
                                  "MB": [f"{r.size_mb:.2f}" for r in rows],
                                  "compact MB": [f"{r.size_compressed_mb:.2f}" for r in rows]})
            tables.append((f"{model_name}, {method.title}: every point, its size, and its validation accuracy before "
                           f"(acc) and after fine-tuning (acc FT, with its 95 % Wilson interval over {d['n']} images), and "
                           f"after fine-tuning on the {d['n_select']} images of the selection split (sel acc); "
                           f"the dense model scores {format_rate(d['acc'], d['n'])} in {d['size_mb']:.2f} MB with "
                           f"{d['params']:,} parameters", table, table_label(name, model_name)))
    return tables


def method_tables_sentence(sweep: Sweep, dense) -> str:
    """Which table holds which method and model (so every table is referenced from the text)."""
    refs = [f"{method.title} of {m} in [Table](#tab:C1_{table_label(name, m)})" for name, method in sweep.methods.items()
            for m in dense if any(r.model == m for r in sweep.made(name))]
    return "The points of each method: " + "; ".join(refs) + "."


def _made_when(records: list[CompressionRecord]) -> str:
    times = sorted({r.created_at for r in records})
    return f"at {times[0]}" if len(times) == 1 else f"between {times[0]} and {times[-1]}"


def work_summary(sweep: Sweep) -> str:
    """How long each method took now, how many models it trained and how many it reused (and
    when, and how long their fine-tuning took then), and which targets it skipped."""
    lines = []
    for name, method in sweep.methods.items():
        made, skipped = sweep.made(name), [r for r in sweep.records if r.method == name and r.skipped]
        reused = [r for r in made if r.reused]
        fresh = len(made) - len(reused)
        if not reused:
            text = f"- {method.title}: {fresh} models {method.made_verb} in this run, in {sweep.seconds[name]:.0f} s"
        else:
            which = (("its only model" if len(made) == 1 else f"all {len(made)} models") if not fresh else
                     f"{len(reused)} of {len(made)} models")
            text = (f"- {method.title}: {which} reused from checkpoint{'' if len(reused) == 1 else 's'} written "
                    f"{_made_when(reused)} by an earlier run, whose fine-tuning took "
                    f"{sum(r.finetune_s for r in reused):.0f} s then"
                    + (f"; {fresh} fine-tuned now" if fresh else "")
                    + f"; this run spent {sweep.seconds[name]:.0f} s on them (loading, checking, measuring"
                    + (", fine-tuning" if fresh else "") + ")")
        text += "."
        if skipped:
            text += " Not trained again, since they reach no new model: " + "; ".join(
                f"{r.model} {r.point} ({r.skipped})" for r in skipped) + "."
        lines.append(text)
    return "\n".join(lines)


def control_table(sweep: Sweep, dense) -> pd.DataFrame:
    """Per model: the dense model of A2, its dense control and every model of the method whose
    budget the control got, with validation accuracy and its 95 % Wilson interval."""
    rows, col = [], "val acc [95 % CI]"
    for m, (_, d) in dense.items():
        control = sweep.controls.get(m)
        if control is None:
            continue
        rows.append({"model": m, "variant": "dense (A2)", "extra fine-tuning": "none", col: format_rate(d["acc"], d["n"])})
        rows.append({"model": m, "variant": "dense control", "extra fine-tuning": counted(control.finetune_epochs, "epoch"),
                     col: format_rate(control.acc, d["n"])})
        rows += [{"model": m, "variant": f"{sweep.control_of} {r.point}", "extra fine-tuning": counted(r.finetune_epochs, "epoch"),
                  col: format_rate(r.acc, d["n"])} for r in sweep.made(sweep.control_of) if r.model == m]
    return pd.DataFrame(rows)


def _compare(a: str, b: str, alpha: float) -> str:
    """How the model with per-image outcome `a` compares with `b` on the same images, in words with
    the paired test: 'resolvably higher', 'resolvably lower' or 'a difference not resolved'."""
    test = compare(a, b, alpha=alpha)
    word = {"a": "resolvably higher", "b": "resolvably lower"}.get(test["better"], "a difference not resolved")
    return f"{word} ({evidence(test)})"


def control_text(sweep: Sweep, dense, alpha: float) -> str:
    """What the dense control says of "the pruned model beats (or matches) the dense one"."""
    if not sweep.controls:
        return ""
    like = sweep.methods[sweep.control_of]
    lines = [f"Since the budgets differ, a model compressed by {like.title} that matches its dense model may owe it to its "
             f"longer fine-tuning ({like.budget.describe()}). So each dense model was fine-tuned again, unpruned, with "
             "exactly that budget, distilling a frozen copy of itself where the pruned models distil it: the **dense "
             "control** ([Table](#tab:C1_control)). It has the dense model's architecture, so its latency is the dense "
             "model's."]
    for m, control in sweep.controls.items():
        d = dense[m][1]
        pruned = sorted((r for r in sweep.made(like.name) if r.model == m), key=lambda r: -r.acc)
        made = (f"reused from a checkpoint written at {control.created_at}, whose fine-tuning took {control.finetune_s:.0f} s"
                if control.reused else f"fine-tuned in this run in {control.finetune_s:.0f} s")
        text = (f"- {m}: the dense control scores {format_rate(control.acc, d['n'])} ({made}) against the dense "
                f"model's {format_rate(d['acc'], d['n'])}, {_compare(control.correct, d['correct'], alpha)}")
        if pruned:
            best = pruned[0]
            text += (f"; the best {like.name}-pruned model, {best.point}, scores {format_rate(best.acc, d['n'])} against "
                     f"the control, {_compare(best.correct, control.correct, alpha)}")
        lines.append(text + ".")
    return lines[0] + "\n\n" + "\n".join(lines[1:])


def metrics(sweep: Sweep, dense, latency: pd.DataFrame, sensitivity: pd.DataFrame, params: dict[str, Any],
            device, threads: int, noise: dict[str, Any]) -> dict[str, Any]:
    """C1's metrics: summary keys C1.<Model>.dense.*, C1.<Model>.<method>.<point>.*,
    C1.seconds.<method> and C1.latency_noise (the measured figure every 'faster' reads); every record
    with its latency and per-image outcomes (C2 reads them), sensitivity, settings."""
    from .compression_latency import DENSE, with_latency

    batch = params["latency_batch"]
    lat_cols = ["latency_b1_ms", "latency_b1_std_ms", f"latency_b{batch}_ms", f"latency_b{batch}_std_ms",
                "eager_b1_ms", f"eager_b{batch}_ms"]  # the deployment path's, then eager PyTorch's
    summary: dict[str, Any] = {}
    for name, (_, d) in dense.items():
        row = latency[(latency.model == name) & (latency.method == DENSE)].iloc[0]
        scalars = {k: v for k, v in d.items() if k not in PER_IMAGE}
        summary[name] = {DENSE: {**scalars, **{c: float(row[c]) for c in lat_cols}}}
    records = with_latency(sweep, dense, latency).to_dict("records")
    scalar = ("target", "params", "nonzero", "sparsity", "macs", "mac_reduction", "acc_pre_ft", "acc", "select_acc", "size_mb",
              "size_compressed_mb", "finetune_s", "reused", "speedup", f"speedup_b{batch}", "eager_speedup", *lat_cols)
    for r in records:
        point = {k: None if r[k] != r[k] else r[k] for k in scalar}  # NaN: no eager latency (an int8 graph)
        point["vs_dense"] = as_summary(compare(r["correct"], dense[r["model"]][1]["correct"], alpha=params["alpha"]))
        point.update({k: v for k, v in r["details"].items() if isinstance(v, (int, float))})
        summary[r["model"]].setdefault(r["method"], {})[r["point"]] = point
    for name, control in sweep.controls.items():
        summary[name][CONTROL] = {"acc": control.acc, "finetune_s": control.finetune_s, "reused": control.reused,
                                  "epochs": control.finetune_epochs, "budget_of": sweep.control_of,
                                  "vs_dense": as_summary(compare(control.correct, dense[name][1]["correct"],
                                                                 alpha=params["alpha"]))}
    summary["seconds"] = dict(sweep.seconds)
    summary["latency_noise"] = noise["noise"]
    n_valid = next(iter(dense.values()))[1]["n"]  # every accuracy of C1 is over the same validation split
    n_select = next(iter(dense.values()))[1]["n_select"]
    return {"summary": summary, "denominators": {"*.acc": n_valid, "*.acc_pre_ft": n_valid, "*.select_acc": n_select},
            "records": records, "controls": {n: r.as_dict() for n, r in sweep.controls.items()},
            "dense": {n: d for n, (_, d) in dense.items()},
            "skipped": [r.as_dict() for r in sweep.records if r.skipped],
            "methods": {n: {"title": m.title, "family": m.family, "target_name": m.target_name,
                            "budget": m.budget.__dict__, "settings": m.settings.__dict__} for n, m in sweep.methods.items()},
            "sensitivity": sensitivity.to_dict("records"),
            "latency": {"runs": params["latency_runs"], "warmup": params["latency_warmup"],
                        "rounds": params["latency_rounds"], "batch": batch, "batch_runs": params["latency_batch_runs"],
                        "threads": threads, "device": str(device), "noise": noise}}
