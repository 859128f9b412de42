"""Run the study's notebooks in order with a parameter file, skipping stages that are up to date.

    python -m helpers.run parameters/default.yaml            # every notebook
    python -m helpers.run parameters/default.yaml A1 A2      # some of them
    python -m helpers.run parameters/default.yaml --report   # and build the PDF

The parameter file is validated against the notebooks' parameters cells before anything runs.
Executed notebooks go to `<run_dir>/notebooks/`. A stage is skipped when its notebook, its
parameters, the `helpers` package, the data files and every earlier stage are unchanged since it
last succeeded; `--force` reruns everything.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from . import params as params_mod
from .data import DataError, data_fingerprint, find_data_dir
from .io import ROOT, atomic_path, load_json, package_fingerprint, project_path, save_json, sha256_text


class RunError(RuntimeError):
    pass


def select_notebooks(names: list[str]) -> list[Path]:
    """Notebook paths in study order; names are prefixes like 'A1' or full stems like 'A1_data'."""
    available = params_mod.notebook_paths()
    if not names:
        return available
    chosen = []
    for name in names:
        match = [p for p in available if p.stem == name or p.stem.split("_", 1)[0] == name]
        if not match:
            raise RunError(f"no notebook '{name}'; available: {[p.stem for p in available]}")
        chosen.extend(match)
    return sorted(set(chosen), key=available.index)


def _data_key(data_dir: str | None) -> str:
    try:
        return data_fingerprint(find_data_dir(data_dir))
    except DataError:
        return "no-data"  # the notebook itself will raise the explanatory error


def _code_cells_key(nb_path: Path) -> str:
    nb = json.loads(nb_path.read_text())
    return sha256_text(json.dumps([c["source"] for c in nb["cells"]]))


def run(param_file: str, names: list[str] | None = None, *, force: bool = False,
        log: Any = print) -> dict[str, Any]:
    """Execute the selected notebooks; returns {stage: seconds or 'skipped'}."""
    import papermill as pm

    values = params_mod.load_yaml(param_file)
    known = params_mod.schema()
    run_dir = project_path(values.get("run_dir", known["run_dir"].default))
    out_dir = run_dir / "notebooks"
    out_dir.mkdir(parents=True, exist_ok=True)
    stage_dir = run_dir / "stages"
    base_key = sha256_text(package_fingerprint() + _data_key(values.get("data_dir")))
    upstream = ""
    done: dict[str, Any] = {}
    stale: list[str] = []
    os.environ.setdefault("TQDM_DISABLE", "1")  # progress bars freeze in executed notebooks
    selected = select_notebooks(names or [])
    for nb_path in params_mod.notebook_paths():
        stem = nb_path.stem
        nb_params = params_mod.for_notebook(stem, values)
        key = sha256_text(base_key + upstream + _code_cells_key(nb_path)
                          + json.dumps(nb_params, sort_keys=True))
        record_path = stage_dir / f"{stem}.json"
        record = load_json(record_path) if record_path.exists() else {}
        if nb_path not in selected:
            # a stage that is not run keeps the outputs it made under its recorded key: later stages
            # are keyed on what they will read, so they rerun once it is brought up to date
            made_under = record.get("key")
            if made_under != key:
                stale.append(stem)
            upstream = sha256_text(upstream + (made_under or key))
            continue
        upstream = sha256_text(upstream + key)
        if stale:
            log(f"warning: {', '.join(stale)} not up to date; {stem} reads their last outputs")
            stale = []
        output = out_dir / f"{stem}.ipynb"
        if not force and record.get("key") == key and output.exists():
            log(f"{stem}: up to date, skipped")
            done[stem] = "skipped"
            continue
        log(f"{stem}: running ...")
        t0 = time.perf_counter()
        failed = out_dir / f"{stem}.failed.ipynb"
        with atomic_path(output) as tmp:
            try:
                pm.execute_notebook(str(nb_path), str(tmp), parameters=nb_params, kernel_name="python3",
                                    progress_bar=False, cwd=str(ROOT), language="python")
            except pm.PapermillExecutionError as e:
                os.replace(tmp, failed)
                raise RunError(f"{stem} failed at cell {e.exec_count}: {e.ename}: {e.evalue}\n"
                               f"the executed notebook is kept at {failed}") from None
        failed.unlink(missing_ok=True)
        seconds = time.perf_counter() - t0
        save_json(record_path, {"key": key, "seconds": seconds, "param_file": str(param_file),
                                "finished": time.strftime("%Y-%m-%d %H:%M:%S")})
        log(f"{stem}: done in {seconds:.1f} s -> {output}")
        done[stem] = seconds
    stages = {p.stem: load_json(stage_dir / f"{p.stem}.json")["seconds"]
              for p in params_mod.notebook_paths() if (stage_dir / f"{p.stem}.json").exists()}
    # total_s sums the latest execution of each stage: the wall time of a full run when every
    # stage ran in this one (a stage that reused finished checkpoints ran shorter).
    save_json(run_dir / "metrics" / "run.json",
              {"stage_s": stages, "total_s": sum(stages.values()), "param_file": str(param_file)})
    return done


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m helpers.run", description=__doc__.split("\n\n")[0])
    ap.add_argument("param_file")
    ap.add_argument("notebooks", nargs="*", help="prefixes such as A1 A2 (default: all, in order)")
    ap.add_argument("--force", action="store_true", help="rerun stages even if up to date")
    ap.add_argument("--report", action="store_true", help="then build the PDF report and summary.json")
    args = ap.parse_args(argv)
    try:
        run(args.param_file, args.notebooks, force=args.force)
    except (params_mod.ParameterError, RunError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.report:
        from .report import main as report_main
        return report_main([args.param_file])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
