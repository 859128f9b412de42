"""Run the study's notebooks in order, skipping stages that are up to date, echoing progress.

Executed notebooks go to `<run_dir>/notebooks/`. A stage is skipped when its notebook, its
parameters, the `helpers` package, the data files and every earlier stage are unchanged since it
last succeeded (its reuse key, `core.reuse.reuse_key`); `force` reruns everything. While a stage
runs, the progress lines its helpers write (`core.progress`) are echoed to the terminal.
"""
from __future__ import annotations

import json
import os
import threading
import time
import warnings
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, Callable

from ..config import notebook_cells
from ..config.resolution import resolve
from ..core import progress
from ..core.files import ROOT, atomic_path, load_json, load_json_if_intact, save_json
from ..core.layout import RunLayout
from ..core.plugins import plugin_sources
from ..core.reuse import reuse_key
from . import artifacts
from ..data import files_fingerprint


class RunError(RuntimeError):
    pass


def select_notebooks(names: list[str], available: list[Path] | None = None) -> list[Path]:
    """Notebook paths in study order; names are prefixes like 'A1' or full stems like 'A1_data', out
    of `available` (the study's notebooks; default every notebook)."""
    available = notebook_cells.notebook_paths() if available is None else available
    if not names:
        return available
    chosen = []
    for name in names:
        match = [p for p in available if p.stem == name or p.stem.split("_", 1)[0] == name]
        if not match:
            raise RunError(f"no notebook '{name}' in this study; its notebooks: {[p.stem for p in available]}")
        chosen.extend(match)
    return sorted(set(chosen), key=available.index)


class _Echo:
    """Echo the lines appended to the progress file while a stage runs (a background thread)."""

    def __init__(self, path: Path, log: Callable[[str], Any]):
        self.path, self.log, self._stop = path, log, threading.Event()
        path.write_text("")
        self._thread = threading.Thread(target=self._follow, daemon=True)

    def _follow(self) -> None:
        offset = 0
        while True:
            stopping = self._stop.wait(1.0)
            with open(self.path) as f:
                f.seek(offset)
                chunk = f.read()
                offset = f.tell()
            for line in chunk.splitlines():
                self.log(line)
            if stopping:
                return

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _execute(nb_path: Path, layout: RunLayout, nb_params: dict[str, Any], log) -> float:
    """Run one notebook with papermill into the run directory; returns its seconds."""
    import papermill as pm

    stem = nb_path.stem
    output, failed = layout.executed(stem), layout.executed(stem, failed=True)
    os.environ[progress.ENV_FILE], os.environ[progress.ENV_STAGE] = str(layout.progress_log), stem
    t0 = time.perf_counter()
    try:
        with _Echo(layout.progress_log, log), atomic_path(output) as tmp:
            try:
                pm.execute_notebook(str(nb_path), str(tmp), parameters=nb_params, kernel_name="python3",
                                    progress_bar=False, cwd=str(ROOT), language="python")
            except pm.PapermillExecutionError as e:
                os.replace(tmp, failed)
                raise RunError(f"{stem} failed at cell {e.exec_count}: {e.ename}: {e.evalue}\n"
                               f"the executed notebook is kept at {failed}") from None
    finally:
        os.environ.pop(progress.ENV_FILE, None)
        os.environ.pop(progress.ENV_STAGE, None)
    failed.unlink(missing_ok=True)
    return time.perf_counter() - t0


def _stage_key(nb_path: Path, nb_params: dict[str, Any], data_key: str, upstream: str,
               plugins: dict[str, str]) -> str:
    cells = [c["source"] for c in json.loads(nb_path.read_text())["cells"]]
    key = reuse_key(code=["helpers"], notebook=cells, params=nb_params, data=data_key, upstream=upstream)
    # plugin modules lie outside helpers/: their sources join the key only when there are any, so a
    # study without plugins keeps the keys its stages were recorded under
    return reuse_key(code=[], stage=key, plugins=plugins) if plugins else key


def _read_record(path: Path) -> dict[str, Any]:
    """A stage's last record; a damaged one counts as none (the stage runs again), with a warning."""
    return load_json_if_intact(path, lambda e: warnings.warn(f"{e}; the stage will run again", stacklevel=4)) or {}


@dataclass
class StageStatus:
    """One notebook of the study as this run sees it: its parameters, its reuse key, its last
    record, whether it runs now, and the stale earlier stages whose outputs it will read."""
    nb_path: Path
    params: dict[str, Any]
    key: str
    record: dict[str, Any]
    runs: bool
    selected: bool
    stale_before: list[str] = field(default_factory=list)


def stage_statuses(values: dict[str, Any], layout: RunLayout, selected: list[Path], force: bool) -> list[StageStatus]:
    """Every notebook in order, with its reuse key and whether it runs: a selected stage runs unless
    its key matches its last successful run (and `force` is off)."""
    data_key, upstream, stale, out = files_fingerprint(values), "", [], []
    plugins = plugin_sources(values.get("plugins", []))
    for nb_path in notebook_cells.study_notebooks(values):
        stem = nb_path.stem
        nb_params = notebook_cells.for_notebook(stem, values)
        key = _stage_key(nb_path, nb_params, data_key, upstream, plugins)
        record_path = layout.stage_record(stem)
        record = _read_record(record_path)
        if nb_path not in selected:
            # a stage that is not run keeps the outputs it made under its recorded key: later stages
            # are keyed on what they will read, so they rerun once it is brought up to date
            if record.get("key") != key:
                stale.append(stem)
            upstream = reuse_key(code=[], upstream=upstream, stage=record.get("key") or key)
            out.append(StageStatus(nb_path, nb_params, key, record, False, False))
            continue
        upstream = reuse_key(code=[], upstream=upstream, stage=key)
        done = not force and record.get("key") == key and layout.executed(stem).exists()
        out.append(StageStatus(nb_path, nb_params, key, record, not done, True, stale))
        stale = []
    return out


def _damaged(stem: str, recorded: dict[str, str], log) -> bool:
    """True (after saying which files) when an artifact the stage recorded is missing or changed."""
    problems = artifacts.damaged(recorded)
    for problem in problems:
        log(f"warning: {stem} is up to date by its key, but {problem}")
    if problems:
        log(f"{stem}: running it again to rebuild what it wrote")
    return bool(problems)


def _plan(param_file: str, values: dict[str, Any], statuses: list[StageStatus], log):
    """(machine, plan): the device, precision and CPU this run uses, and the plan of the selected
    stages, printed (None when `calibration_seconds` is 0)."""
    from ..core.device import machine_description, pick_device, resolve_precision, set_threads
    from .plan import plan_lines, planned

    set_threads(values["num_threads"])
    device = pick_device(values["device"])
    machine = {**machine_description(device, resolve_precision(values["amp"], device)), "amp": values["amp"]}
    plan = planned(values, param_file, {s.nb_path.stem: not s.runs for s in statuses if s.selected}, device, machine,
                   log)
    for line in plan_lines(plan) if plan is not None else []:
        log(line)
    return machine, plan


def run(param_file: str, names: list[str] | None = None, *, overrides: list[str] | None = None,
        force: bool = False, log: Callable[[str], Any] = print, plan_only: bool = False,
        with_plan: bool = True) -> dict[str, Any]:
    """Print the plan (unless `with_plan` is False), then execute the selected notebooks (with
    `plan_only`, only the plan); returns {stage: seconds or 'skipped'}."""
    values = resolve(param_file, overrides)
    layout = RunLayout.from_params(values)
    cold = not layout.root.exists() or not any(layout.root.iterdir())
    study = notebook_cells.study_notebooks(values)
    statuses = stage_statuses(values, layout, select_notebooks(names or [], study), force)
    machine, plan = _plan(param_file, values if with_plan else {**values, "calibration_seconds": 0}, statuses, log)
    if plan_only:
        return {}
    if plan is not None:
        save_json(layout.root / "stages" / "plan.json", plan.as_dict())
    os.environ.setdefault("TQDM_DISABLE", "1")  # progress bars freeze in executed notebooks
    folders = [layout.root, layout.figures]
    for path in artifacts.remove_partial(folders):
        log(f"removed {path}, left unfinished by an interrupted run")
    owned = artifacts.latest_writers({s.nb_path.stem: s.record for s in statuses})
    done: dict[str, Any] = {}
    for st in [s for s in statuses if s.selected]:
        stem = st.nb_path.stem
        if st.stale_before:
            log(f"warning: {', '.join(st.stale_before)} not up to date; {stem} reads their last outputs")
        if not st.runs and _damaged(stem, owned.get(stem, {}), log):
            st.runs = True
        if not st.runs:
            log(f"{stem}: up to date, skipped (ran {st.record.get('finished', '?')})")
            done[stem] = "skipped"
            continue
        last = f" (last run took {progress.format_seconds(st.record['seconds'])})" if "seconds" in st.record else ""
        estimate = (f", estimated {progress.format_seconds(plan.stages[stem].estimate_s)}" if plan is not None else "")
        log(f"{stem}: running{last}{estimate} ...")
        before = artifacts.snapshot(folders)
        seconds = _execute(st.nb_path, layout, st.params, log)
        # what it wrote now, and what no other stage recorded (kept from its own earlier or killed attempts)
        made = artifacts.written(before, folders, {n for s, files in owned.items() if s != stem for n in files})
        owned[stem] = made
        save_json(layout.stage_record(stem), {"key": st.key, "seconds": seconds, "param_file": str(param_file),
                                              "artifacts": made,
                                              "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
                                              **({"estimate_s": plan.stages[stem].estimate_s} if plan else {})})
        log(f"{stem}: done in {progress.format_seconds(seconds)} -> {layout.executed(stem)}")
        done[stem] = seconds
    _write_run_metrics(layout, param_file, [p.stem for p in study], done, cold and len(done) == len(study), machine,
                       plan)
    return done


def _write_run_metrics(layout: RunLayout, param_file: str, stems: list[str], done: dict[str, Any],
                       cold_and_complete: bool, machine: dict[str, Any], plan) -> None:
    """`metrics/run.json`: each stage's latest seconds and planned estimate, the machine and
    precision of this run, the calibrated rates of its plan, and the stage times and estimates of
    the last cold run (every stage executed, starting from an empty run directory), kept across
    partial reruns."""
    records = {s: load_json(layout.stage_record(s)) for s in stems if layout.stage_record(s).exists()}
    stages = {s: r["seconds"] for s, r in records.items()}
    cold_path = layout.root / "stages" / "cold_run.json"
    if cold_and_complete:
        planned = {s: plan.stages[s].estimate_s for s in stems} if plan is not None else {}
        save_json(cold_path, {"stage_s": {s: done[s] for s in stems}, "total_s": sum(done.values()),
                              "planned_s": planned, "planned_total_s": sum(planned.values()),
                              "finished": time.strftime("%Y-%m-%d %H:%M:%S"), "param_file": str(param_file),
                              "machine": machine})
    metrics = {"stage_s": stages, "total_s": sum(stages.values()), "param_file": str(param_file), **machine,
               "planned_s": {s: r["estimate_s"] for s, r in records.items() if "estimate_s" in r}}
    if plan is not None:
        metrics["calibration"] = {m: {"train_img_s": r["train"], "attack_img_s": r["attack"], "eval_img_s": r["eval"],
                                      "batch1_ms": r["batch1_ms"], "measured_at": r["measured_at"]}
                                  for m, r in plan.rates.items()}
    if cold_path.exists():
        cold = load_json(cold_path)
        metrics.update(cold_stage_s=cold["stage_s"], cold_total_s=cold["total_s"], cold_finished=cold["finished"],
                       cold_planned_s=cold.get("planned_s", {}), cold_planned_total_s=cold.get("planned_total_s"),
                       cold_precision=cold.get("machine", {}).get("precision"),
                       cold_device=cold.get("machine", {}).get("device"))
    save_json(layout.metrics("run"), metrics)
