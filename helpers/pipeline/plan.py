"""The plan of a run, printed before anything runs: the work of each stage, what is up to date
already, and an estimate of each stage's time on this machine in the chosen precision.

`python -m helpers.run PARAMS --plan` prints it and stops; every run prints it first and saves it
as `<run_dir>/stages/plan.json`, which the report's reproduction section sets beside the measured
time of each stage. The work is counted by `stage_work` (trainings × epochs × images, attack
steps, evaluations), turned into seconds by the calibrated rates of `calibration`, plus each
stage's overhead below (kernel start, figures, tables, data loading), which the rates do not
cover.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from ..core.progress import format_seconds
from . import stage_work
from .stage_work import Sizes, Work

# Seconds each stage spends beside the counted work (kernel start, imports, data, figures, tables),
# measured as the stage times of the smoke run (whose counted work is negligible) on a 2-core CPU;
# A1 and B2, whose counted work is small, from the cold default runs on the same machine (A1 decoded
# all 1,643 Sports-10 images and ran in 7 s).
OVERHEAD_S = {"A1_data": 6.0, "A2_training": 14.0, "A3_interpretability": 10.0, "B1_attacks": 30.0,
              "B2_transfer": 8.0, "B3_defense": 15.0, "C1_compression": 35.0, "C2_robustness": 35.0}
SEED_RUN_OVERHEAD_S = 12.0  # one extra seed is one more run of A2 (kernel, data, figures)
DECODE_S_PER_IMAGE = 0.0005  # A1 decodes each image not yet in the decoded-image cache
WORK = {"A2_training": stage_work.a2, "A3_interpretability": stage_work.a3, "B1_attacks": stage_work.b1,
        "B2_transfer": stage_work.b2, "B3_defense": stage_work.b3, "C1_compression": stage_work.c1,
        "C2_robustness": stage_work.c2}


@dataclass
class StagePlan:
    stem: str
    items: list[Work] = field(default_factory=list)
    up_to_date: bool = False
    overhead_s: float = 0.0
    estimate_s: float = 0.0


@dataclass
class Plan:
    param_file: str
    machine: dict[str, Any]
    sizes: dict[str, int]
    rates: dict[str, dict[str, Any]]
    stages: dict[str, StagePlan]
    made_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M:%S"))

    @property
    def total_s(self) -> float:
        return sum(s.estimate_s for s in self.stages.values() if not s.up_to_date)

    def as_dict(self) -> dict[str, Any]:
        return {"param_file": self.param_file, "machine": self.machine, "sizes": self.sizes, "rates": self.rates,
                "made_at": self.made_at, "total_s": self.total_s,
                "stages": {k: {**asdict(v), "items": [asdict(w) for w in v.items]} for k, v in self.stages.items()},
                "estimate_s": {k: v.estimate_s for k, v in self.stages.items()}}


def _overhead(stem: str, values: dict[str, Any], sizes: Sizes) -> float:
    base = OVERHEAD_S.get(stem, 15.0)
    if stem == "A1_data":
        base += DECODE_S_PER_IMAGE * sizes.to_decode
    if stem == "A2_training":
        base += SEED_RUN_OVERHEAD_S * len(values["seed_sweep"])
    return base


def make_plan(param_file: str, values: dict[str, Any], statuses: dict[str, bool], machine: dict[str, Any],
              rates: dict[str, dict[str, Any]]) -> Plan:
    """The plan of the stages of `statuses` ({stem: up to date}) with these parameters and rates."""
    from ..data import split_sizes

    sizes = split_sizes(values)
    per_class = values["attack_subset_per_class"]
    # attacks read a stratified subset: at most per_class images of each class
    attacked = min(sizes["valid"], per_class * sizes["classes"]) if per_class > 0 else sizes["valid"]
    s = Sizes(**{**sizes, "attacked": attacked})
    stages = {}
    for stem, up_to_date in statuses.items():
        work = WORK.get(stem)
        items = work(values, s, rates) if work is not None else []
        overhead = _overhead(stem, values, s)
        stages[stem] = StagePlan(stem, items, up_to_date, overhead, overhead + sum(w.seconds(rates) for w in items))
    return Plan(param_file, machine, sizes, rates, stages)


def _summary_of(items: list[Work]) -> str:
    """The items of a stage, shortened to their models' totals by kind."""
    per_model: dict[str, dict[str, float]] = {}
    for w in items:
        per_model.setdefault(w.model, {}).setdefault(w.kind, 0.0)
        per_model[w.model][w.kind] += w.units * w.factor
    names = {"train": "training images", "attack": "attack steps", "eval": "evaluations", "batch1": "timed passes"}
    return "; ".join(f"{m}: " + ", ".join(f"{v:,.0f} {names[k]}" for k, v in kinds.items())
                     for m, kinds in per_model.items())


def plan_lines(plan: Plan, detail: bool = False) -> list[str]:
    """The plan as terminal lines: machine and precision, rates, then one line per stage."""
    m = plan.machine
    lines = [f"plan of {plan.param_file}: {m['device']} ({m['cpu']}, {m['cpu_capability']}, {m['threads']} threads), "
             f"training precision {m['precision']} (amp: {m['amp']}); {plan.sizes['train']:,} training, "
             f"{plan.sizes['selection']:,} selection, {plan.sizes['valid']:,} validation images"]
    for name, r in plan.rates.items():
        when = f"cached, measured {r['measured_at']}" if r.get("cached") else "measured now"
        lines.append(f"  rates of {name} ({when}): {r['train']:,.0f} img/s training, {r['attack']:,.0f} img/s per "
                     f"attack step, {r['eval']:,.0f} img/s evaluation, {r['batch1_ms']:.2f} ms at batch 1")
    for stem, st in plan.stages.items():
        if st.up_to_date:
            lines.append(f"  {stem:<22} up to date: skipped")
            continue
        lines.append(f"  {stem:<22} ~{format_seconds(st.estimate_s):>7}  {_summary_of(st.items) or 'no counted work'}")
        if detail:
            lines += [f"      {w.what}: ~{format_seconds(w.seconds(plan.rates))}" for w in st.items]
    lines.append(f"  estimated total ~{format_seconds(plan.total_s)} for the stages to run")
    return lines


def planned(values: dict[str, Any], param_file: str, statuses: dict[str, bool], device, machine: dict[str, Any],
            log: Callable[[str], Any]) -> Plan | None:
    """Calibrate (or read the cached rates of) the models on this machine, in the precision of
    `machine`, and make the plan; None when `calibration_seconds` is 0 (no estimate wanted)."""
    from ..study.model_setup import a2_models
    from ..training.config import TrainConfig
    from .calibration import cache_path, calibrate

    if values["calibration_seconds"] <= 0:
        return None
    shape = (_channels(values), values["image_size"], values["image_size"])
    rates = calibrate(a2_models(values), shape, device, machine["precision"], batch_size=values["batch_size"],
                      augmentation=TrainConfig.from_params(values).augmentation(), cache=cache_path(values),
                      seconds=values["calibration_seconds"], log=log)
    return make_plan(param_file, values, statuses, machine, rates)


def _channels(values: dict[str, Any]) -> int:
    """Colour channels of the data: image folders are RGB; another format is asked."""
    if values["dataset"] == "image_folder":
        return 3
    from ..data import load_dataset
    return load_dataset(values).channels
