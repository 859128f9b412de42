"""A2's seed variance: every model trained again with each extra seed, each seed one run of A2 in
`<run_dir>/sweep/seed=<s>/`, submitted through the sweep machinery (`pipeline.sweep`, a Dask
cluster); the models of the main seed stay the ones the rest of the study uses.

A seed's run is skipped when it is up to date (the runner's reuse keys) and its checkpoints are
reused when its recipe, data and training code are unchanged, so a rerun of A2 costs the extra
seeds once. The report reads the spread over seeds beside the 95 % Wilson interval of the 50-image
validation accuracy: two different uncertainties (retraining against sampling the images).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import yaml

from ..config.model_overrides import for_model
from ..config.schema import ParameterError
from ..core import progress
from ..core.files import atomic_path
from ..evaluation.intervals import format_rate, mean_and_std, wilson_of_rate
from ..pipeline.sweep import aggregate, run_sweep, save_sweep, sweep_root
from ..report.wording import counted, joined
from .model_setup import a2_models

STAGE = "A2_training"
# Wording of the seed spread against the interval's half-width: below HALF of it the split
# dominates, above the full half-width the seed does, in between they are comparable.
HALF = 0.5


@dataclass
class SeedRuns:
    """The extra seeds' runs: seeds in order, `pipeline.sweep.run_point` results (each with the
    flat summary of its A2 metrics) and the wall seconds they added to this stage."""
    seeds: list[int] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


def swept_models(params: dict[str, Any]) -> list[str]:
    """The A2 models trained again with the extra seeds: all but those whose `model_overrides` set
    `seed_sweep: []` (a per-model value other than [] or the study's is refused: one seed run trains
    every swept model)."""
    swept = []
    for m in a2_models(params):
        own = for_model(params, m)["seed_sweep"]
        if own and own != params["seed_sweep"]:
            raise ParameterError(f"model_overrides['{m}'] sets seed_sweep {own}: a model's own seed_sweep is [] "
                                 f"or the study's {params['seed_sweep']}")
        swept += [m] if own else []
    return swept


def run_seeds(params: dict[str, Any], layout, seeds: list[int]) -> SeedRuns:
    """Run A2 once per seed of `seeds` (not the main one) through Dask: a local cluster of
    `sweep_workers` processes, or the scheduler at `sweep_address`, for the `swept_models`. The
    points read this stage's parameters from `<run_dir>/sweep/A2_seeds.yaml`; RuntimeError when a
    point fails."""
    if params["seed"] in seeds:
        raise ValueError(f"seed_sweep {seeds} repeats the main seed {params['seed']}: list the extra seeds only")
    swept = swept_models(params) if seeds else []
    if not swept:
        return SeedRuns()
    root = sweep_root(layout)
    root.mkdir(parents=True, exist_ok=True)
    param_file = root / "A2_seeds.yaml"
    point = {**params, "models": [m for m in params["models"] if m in swept],
             "training_only_models": [m for m in params.get("training_only_models", []) if m in swept]}
    with atomic_path(param_file) as tmp:
        tmp.write_text(yaml.safe_dump(point, sort_keys=True))
    grid, t0 = {"seed": list(seeds)}, time.perf_counter()
    results = run_sweep(param_file, [STAGE], grid, root=root, address=params["sweep_address"],
                        workers=params["sweep_workers"], echo_file=os.environ.get(progress.ENV_FILE, ""),
                        log=progress.emit)
    save_sweep(root, "A2_seeds", grid, [STAGE], results, aggregate(results, ["A2.*.val_acc"]))
    failed = [f"{r['name']}: {r['error']}" for r in results if r["error"]]
    if failed:
        raise RuntimeError("seed runs failed (executed notebooks in their run directories): " + "; ".join(failed))
    return SeedRuns(list(seeds), results, time.perf_counter() - t0)


def seed_stats(headline: dict[str, dict[str, Any]], runs: SeedRuns, main_seed: int) -> dict[str, dict[str, Any]]:
    """Per model: seeds (main first), validation accuracy of each, their mean and sample std, and
    per extra seed whether its checkpoint was reused, when it was made and its training seconds."""
    out = {}
    for model, s in headline.items():
        extra = [r["summary"] for r in runs.results if f"A2.{model}.val_acc" in r["summary"]]
        if not extra:  # not swept (model_overrides): the main seed alone
            out[model] = {"seeds": [main_seed], "val_accs": [s["val_acc"]], "mean": s["val_acc"], "std": 0.0,
                          "reused": [], "created_at": [], "train_s": []}
            continue
        skipped = [r["stages"].get(STAGE) == "skipped" for r in runs.results]  # up to date: nothing ran now
        accs = [s["val_acc"], *(e[f"A2.{model}.val_acc"] for e in extra)]
        mean, std = mean_and_std(accs)
        out[model] = {"seeds": [main_seed, *runs.seeds], "val_accs": accs, "mean": mean, "std": std,
                      "reused": [bool(e.get(f"A2.{model}.reused")) or k for e, k in zip(extra, skipped)],
                      "created_at": [e.get(f"A2.{model}.created_at") for e in extra],
                      "train_s": [e.get(f"A2.{model}.total_train_s") for e in extra]}
    return out


def with_seed_keys(headline: dict[str, dict[str, Any]], stats: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """`headline` plus val_acc_seed_mean, val_acc_seed_std (None for one seed), val_acc_seeds and
    n_seeds per model (the A2.<model>.* keys of summary.json)."""
    return {m: {**s, "val_acc_seed_mean": stats[m]["mean"],
                "val_acc_seed_std": stats[m]["std"] if len(stats[m]["val_accs"]) > 1 else None,
                "val_acc_seeds": stats[m]["val_accs"], "n_seeds": len(stats[m]["val_accs"])}
            for m, s in headline.items()}


def seed_table(stats: dict[str, dict[str, Any]], n_valid: int) -> pd.DataFrame:
    """Per model the validation accuracy of each seed with its 95 % Wilson interval (the main
    seed's column says it is the study's model) and mean ± sample std over the seeds."""
    rows = []
    for model, st in stats.items():
        row = {"model": model}
        for k, (seed, acc) in enumerate(zip(st["seeds"], st["val_accs"])):
            row[f"seed {seed}{' (study)' if k == 0 else ''}"] = format_rate(acc, n_valid)
        row["mean ± std"] = f"{st['mean']:.2f} ± {st['std']:.2f}" if len(st["val_accs"]) > 1 else "–"
        rows.append(row)
    return pd.DataFrame(rows)


def _verdict(st: dict[str, Any], n_valid: int) -> tuple[str, str]:
    """How one model's spread over seeds compares with the half-width of its main seed's interval:
    (comparison, what it means), and the figures behind it."""
    low, high = wilson_of_rate(st["val_accs"][0], n_valid)
    half = (high - low) / 2
    figures = (f"{format_rate(st['val_accs'][0], n_valid)} with seed {st['seeds'][0]}, {st['mean']:.2f} ± "
               f"{st['std']:.2f} over the seeds: a spread of {100 * st['std']:.1f} points against ±{100 * half:.1f}")
    if st["std"] < HALF * half:
        return "well below", figures
    return ("comparable to" if st["std"] <= half else "above"), figures


MEANING = {"well below": "the validation sample, not the seed, limits what the accuracy says",
           "comparable to": "seed and validation sample weigh alike",
           "above": "retraining moves the accuracy more than the validation sample does"}


def _readings(stats: dict[str, dict[str, Any]], n_valid: int) -> list[str]:
    """One line per verdict, naming every model it holds for, rather than one sentence per model."""
    groups: dict[str, list[str]] = {}
    for m, st in stats.items():
        if len(st["seeds"]) > 1:
            size, figures = _verdict(st, n_valid)
            groups.setdefault(size, []).append(f"**{m}** ({figures})")
    alone = [m for m, st in stats.items() if len(st["seeds"]) == 1]
    return ([f"- {joined(models)}: the spread over seeds is {size} the half-width of the interval; {MEANING[size]}."
             for size, models in groups.items()]
            + ([f"- {joined(alone)}: trained with the main seed only (the parameter file gives it no extra seed); "
                "its accuracy carries the interval of the validation sample alone."] if alone else []))


def _cost(stats: dict[str, dict[str, Any]], runs: SeedRuns) -> str:
    """What the extra seeds cost this stage, and per seed which models trained now (with their
    training seconds) and which reused a checkpoint (with the time it was made)."""
    parts = []
    for k, seed in enumerate(runs.seeds):
        said = [f"{m} reused the checkpoint made at {st['created_at'][k]}" if st["reused"][k]
                else f"{m} trained in this run in {st['train_s'][k]:.0f} s" for m, st in stats.items()
                if len(st["seeds"]) > 1]
        parts.append(f"seed {seed}: {', '.join(said)}")
    return (f"The {counted(len(runs.seeds), 'extra seed run')} added {progress.format_seconds(runs.seconds)} of wall time to "
            f"this stage ({'; '.join(parts)}).")


def seed_text(stats: dict[str, dict[str, Any]], runs: SeedRuns, n_valid: int) -> str:
    """What [Table](#tab:A2_seeds) says: per model the spread over seeds against the 95 % Wilson
    interval of the main seed's accuracy, what each measures, and the cost of the extra seeds."""
    if not runs.seeds:
        return ("No extra training seeds in this run: the accuracies of [Table](#tab:A2_seeds) carry only the "
                "interval of the validation sample, not the variation from retraining.")
    lines = _readings(stats, n_valid)
    return (f"[Table](#tab:A2_seeds) gives each model's validation accuracy for {len(runs.seeds) + 1} training seeds. "
            f"The Wilson interval says how far the accuracy of one fixed model could move on another {n_valid} "
            "images; the standard deviation over seeds says how far retraining with another seed moves it on the "
            "same images. They are different uncertainties, and both apply when an architecture rather than one "
            "trained model is judged.\n\n" + "\n".join(lines) + "\n\n" + _cost(stats, runs))


def seed_metrics(runs: SeedRuns) -> dict[str, Any]:
    """The 'seed_sweep' entry of A2's metrics: seeds, wall seconds, and per seed its run directory
    and what the runner did ({stage: seconds or 'skipped'})."""
    return {"seeds": runs.seeds, "seconds": runs.seconds,
            "points": [{"name": r["name"], "run_dir": r["run_dir"], "stages": r["stages"], "seconds": r["seconds"]}
                       for r in runs.results]}
