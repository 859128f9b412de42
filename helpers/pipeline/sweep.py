"""Sweeps: the study's stages run once per point of a parameter grid, each point an independent run
submitted to a Dask cluster (a local one by default, an existing one by address), then their
metrics gathered into one table.

    grid = parse_grid(["seed=0,1,2", "lr=0.001,0.002"])      # {'seed': [0, 1, 2], 'lr': [0.001, 0.002]}
    results = run_sweep("parameters/default.yaml", ["A2"], grid)
    table = aggregate(results)                                # one row per point, its metrics as columns

Each point runs `pipeline.runner.run` with the grid values as `--set` overrides in its own run
directory, `<run_dir>/sweep/<name=value,...>/` (figures and report inside it, so the main run is
never overwritten, and `seed_sweep: []` so a point never starts a sweep of its own). The runner's
reuse keys make a rerun skip the points whose stages are up to date. A Dask worker runs one point
at a time (one thread per worker process): the stages themselves use the cores of the machine.
"""
from __future__ import annotations

import itertools
import json
import logging
import os
import re
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import pandas as pd
import yaml

from ..config.schema import ParameterError, validate
from ..core.files import ROOT, atomic_path, save_json
from ..core.layout import RunLayout
from ..core.threads import THREAD_VARIABLES
from ..evaluation.intervals import mean_and_std
from ..report.summary import is_proportion_key, summary

SWEEP_DIR = "sweep"  # the sweep's points live in <run_dir>/sweep/, beside the main run's artifacts
NO_RECURSION = {"seed_sweep": []}  # a point must not start A2's seed sweep of its own
_SAFE = re.compile(r"[^A-Za-z0-9._=+-]")  # characters kept in a point's directory name


def split_values(text: str) -> list[str]:
    """'0,1,2' -> ['0', '1', '2']; commas inside brackets or quotes do not split ('[a,b],[c]')."""
    parts, depth, quote, current = [], 0, "", ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        current += ch
    return parts + [current]


def parse_grid(items: list[str]) -> dict[str, list[Any]]:
    """`--grid name=v1,v2` items -> {name: [values]} in order; each value is read as YAML and
    validated like a `--set` value. ParameterError names a malformed item, an empty value, a
    repeated name, an unknown parameter or a mistyped value."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name or not text.strip():
            raise ParameterError(f"--grid {item!r}: expected name=value1,value2,..., such as --grid seed=0,1,2")
        if name in grid:
            raise ParameterError(f"--grid {item!r}: parameter '{name}' is already on the grid")
        values = []
        for piece in split_values(text):
            if not piece.strip():
                raise ParameterError(f"--grid {item!r}: an empty value between commas")
            try:
                values.append(yaml.safe_load(piece))
            except yaml.YAMLError as e:
                raise ParameterError(f"--grid {item!r}: {piece!r} is not valid YAML: {e}") from None
        for value in values:
            validate({name: value}, "--grid", deep=False)
        grid[name] = values
    if not grid:
        raise ParameterError("a sweep needs at least one --grid name=value1,value2,...")
    return grid


def grid_points(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, the last name varying fastest."""
    return [dict(zip(grid, combo)) for combo in itertools.product(*grid.values())]


def _value_text(value: Any) -> str:
    """A grid value as a directory name part: strings as they are, lists joined by '+'."""
    if isinstance(value, list):
        return "+".join(_value_text(v) for v in value)
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def point_name(point: dict[str, Any]) -> str:
    """The directory name of a point: 'seed=1', 'lr=0.001,seed=0', 'models=A+B' (characters other
    than letters, digits and ._=+- become _)."""
    return ",".join(_SAFE.sub("_", f"{k}={_value_text(v)}") for k, v in point.items())


def sweep_root(layout: RunLayout) -> Path:
    """`<run_dir>/sweep/`: the points' run directories and the aggregated table."""
    return layout.root / SWEEP_DIR


def point_overrides(point: dict[str, Any], run_dir: Path) -> list[str]:
    """`--set` items of one point: its grid values, then its own run, figure and report
    directories, and no nested sweep. Values are JSON, which YAML reads back unchanged."""
    where = {"run_dir": str(run_dir), "figures_dir": str(run_dir / "figures"), "report_dir": str(run_dir / "report")}
    return [f"{k}={json.dumps(v)}" for k, v in {**point, **where, **NO_RECURSION}.items()]


# Dask also sets glibc's trim threshold to 64 kB so workers hand memory back quickly; a training
# kernel that inherits it spends a third of its time in page faults (1.5x slower epochs here).
DASK_ALLOCATOR_VARIABLES = ("MALLOC_TRIM_THRESHOLD_",)


def give_point_its_cores(threads: int) -> None:
    """Dask starts workers with OMP/MKL/OpenBLAS limited to one thread (right for many small
    tasks, 2.5x slower training here: a point is a whole run whose kernels inherit this
    environment). Give the point `threads` threads, or the library defaults when 0, and the
    default allocator settings."""
    for var in DASK_ALLOCATOR_VARIABLES:
        os.environ.pop(var, None)
    for var in THREAD_VARIABLES:
        if threads > 0:
            os.environ[var] = str(threads)
        else:
            os.environ.pop(var, None)


def run_point(param_file: str, stages: list[str], overrides: list[str], name: str, run_dir: str,
              force: bool = False, echo_file: str = "", threads: int = 0) -> dict[str, Any]:
    """Run `stages` of one point (on a Dask worker) with `threads` threads per kernel (0: all
    the worker machine's cores); returns its name, run_dir, the runner's {stage: seconds or
    'skipped'}, wall seconds, the flat summary of its metrics files (`report.summary.summary`)
    and `error` (None, or the message of a failed run)."""
    from .runner import run  # imported on the worker

    give_point_its_cores(threads)
    if str(ROOT) not in sys.path:  # a `dask worker` started elsewhere: plugins are modules of the project
        sys.path.insert(0, str(ROOT))

    def log(line: str) -> None:
        text = f"[{name}] {line}"
        if echo_file:  # the caller's progress file: the main runner echoes it to the terminal
            with open(echo_file, "a") as f:
                f.write(text + "\n")
        else:
            print(text, flush=True)

    t0, stages_done, error = time.perf_counter(), {}, None
    try:
        # no plan per point: the command that submitted the sweep planned it, and a worker's own
        # calibration (one thread under Dask) would only cost time
        stages_done = run(param_file, stages, overrides=overrides, force=force, log=log, with_plan=False)
    except Exception as e:  # noqa: BLE001 -- one failed point must not lose the others' results
        error = f"{type(e).__name__}: {e}"
        log(f"failed: {error}")
    flat = summary(Path(run_dir)) if (Path(run_dir) / "metrics").exists() else {}
    return {"name": name, "run_dir": run_dir, "stages": stages_done, "seconds": time.perf_counter() - t0,
            "summary": flat, "error": error,
            "threads": os.environ.get("OMP_NUM_THREADS", "default")}


@contextmanager
def dask_client(address: str = "", workers: int = 1) -> Iterator[Any]:
    """A Dask client: of the scheduler at `address`, or of a local cluster of `workers` worker
    processes with one thread each (a point is a whole run; its stages use the cores)."""
    from dask.distributed import Client, LocalCluster

    if address:
        with Client(address, timeout="30s") as client:
            yield client
        return
    if workers < 1:
        raise ParameterError(f"a local sweep cluster needs at least one worker, got {workers}")
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                      memory_limit=0, silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        yield client


def run_sweep(param_file: str | Path, stages: list[str], grid: dict[str, list[Any]], *, root: Path,
              overrides: list[str] | None = None, address: str = "", workers: int = 1, force: bool = False,
              echo_file: str = "", log: Callable[[str], Any] = print) -> list[dict[str, Any]]:
    """Submit one run of `stages` per grid point to Dask (see `dask_client`), each in
    `root/<point name>/`; returns `run_point`'s results in grid order. `overrides` (`--set`
    items) apply to every point before its grid values."""
    points = grid_points(grid)
    jobs = []
    for point in points:
        name = point_name(point)
        run_dir = root / name
        jobs.append((name, str(run_dir), [*(overrides or []), *point_overrides(point, run_dir)]))
    log(f"sweep: {len(jobs)} point(s) of {', '.join(stages) or 'every stage'} "
        f"on {address or f'a local Dask cluster of {workers} worker(s)'}")
    # local workers share this machine's cores; a remote worker's points use all of its machine
    threads = 0 if address else max(1, (os.cpu_count() or 1) // workers)
    with dask_client(address, workers) as client:
        futures = {client.submit(run_point, str(param_file), list(stages), ov, name, run_dir, force, echo_file,
                                 threads, key=f"sweep-{name}-{time.time_ns()}", pure=False): name
                   for name, run_dir, ov in jobs}
        from dask.distributed import as_completed
        for k, future in enumerate(as_completed(futures), 1):
            result = future.result()
            state = f"failed: {result['error']}" if result["error"] else f"done in {result['seconds']:.0f} s"
            log(f"sweep: point {k}/{len(jobs)} {result['name']} {state}")
        results = {futures[f]: f.result() for f in futures}
    for point, (name, _, _) in zip(points, jobs):
        results[name]["point"] = point
    return [results[name] for name, _, _ in jobs]


def metric_columns(results: list[dict[str, Any]], patterns: list[str] | None = None) -> list[str]:
    """Summary keys to tabulate: those matching any fnmatch pattern, or by default every
    proportion key (accuracies and rates) found in the points' summaries, in first-seen order."""
    import fnmatch
    keys = list(dict.fromkeys(k for r in results for k in r["summary"]))
    if patterns:
        return [k for k in keys if any(fnmatch.fnmatchcase(k, p) for p in patterns)]
    return [k for k in keys if is_proportion_key(k)]


def aggregate(results: list[dict[str, Any]], patterns: list[str] | None = None) -> pd.DataFrame:
    """One row per point: its grid values, its wall seconds, its error (if any) and the metric
    columns (`metric_columns`); then, with more than one point, rows 'mean' and 'std' (sample
    standard deviation) of every numeric metric over the points that have it."""
    columns = metric_columns(results, patterns)
    rows = [{"point": r["name"], **r["point"], "seconds": r["seconds"], "error": r["error"] or "",
             **{c: r["summary"].get(c) for c in columns}} for r in results]
    table = pd.DataFrame(rows)
    if len(results) > 1:
        spread = {"mean": {"point": "mean"}, "std": {"point": "std"}}
        for c in columns:
            values = [v for v in table[c] if isinstance(v, (int, float)) and v == v]
            if values:
                spread["mean"][c], spread["std"][c] = mean_and_std(values)
        table = pd.concat([table, pd.DataFrame(list(spread.values()))], ignore_index=True)
    return table


def save_sweep(root: Path, name: str, grid: dict[str, list[Any]], stages: list[str],
               results: list[dict[str, Any]], table: pd.DataFrame) -> tuple[Path, Path]:
    """Write `root/<name>.csv` (the table) and `root/<name>.json` (grid, stages, every point's
    result with its full summary, and the table); returns both paths."""
    root.mkdir(parents=True, exist_ok=True)
    csv_path, json_path = root / f"{name}.csv", root / f"{name}.json"
    with atomic_path(csv_path) as tmp:
        table.to_csv(tmp, index=False)
    records = json.loads(table.to_json(orient="records"))
    save_json(json_path, {"grid": grid, "stages": stages, "points": results, "table": records})
    return csv_path, json_path
