"""Run the study's stages once per point of a parameter grid, on a Dask cluster, and tabulate them.

    python -m helpers.sweep parameters/default.yaml --grid seed=0,1,2 A2
    python -m helpers.sweep parameters/default.yaml --grid seed=0,1 --grid lr=0.001,0.002 A2 --set epochs=5
    python -m helpers.sweep parameters/default.yaml --grid seed=0,1,2 A2 --address tcp://host:8786
    python -m helpers.sweep parameters/default.yaml --grid seed=0,1,2 A2 --workers 2 --set device=cuda

Several `--grid` options multiply. Each point is an independent run in `<run_dir>/sweep/<point>/`
(e.g. `sweep/seed=1/`), submitted through Dask: to a local cluster of `--workers` processes by
default, or to the scheduler at `--address` (its workers must see this project and its run
directory at the same paths). The table of the points' metrics (every accuracy and rate by
default, or the summary keys matching `--metric` patterns) is printed and saved as
`<run_dir>/sweep/sweep.csv` and `sweep.json`.
"""
from __future__ import annotations

import argparse
import json
import sys

from .config.resolution import resolve
from .config.schema import ParameterError
from .core.layout import RunLayout
from .core.plugins import PluginError
from .pipeline.runner import RunError, select_notebooks
from .pipeline.sweep import aggregate, grid_points, parse_grid, run_sweep, save_sweep, sweep_root


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m helpers.sweep", description=__doc__.split("\n\n")[0])
    ap.add_argument("param_file")
    ap.add_argument("notebooks", nargs="*", help="prefixes such as A2 B1 (default: all, in order)")
    ap.add_argument("--grid", action="append", default=[], metavar="NAME=V1,V2",
                    help="a parameter and its values (YAML, comma-separated); repeat to multiply grids")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                    help="override a parameter of every point, as in helpers.run")
    ap.add_argument("--address", default=None,
                    help="scheduler of an existing Dask cluster, e.g. tcp://host:8786 (default: the "
                         "parameter sweep_address; empty starts a local cluster)")
    ap.add_argument("--workers", type=int, default=None,
                    help="worker processes of the local cluster (default: the parameter sweep_workers)")
    ap.add_argument("--metric", dest="metrics", action="append", default=[], metavar="PATTERN",
                    help="summary keys to tabulate (fnmatch, e.g. 'A2.*.val_acc'); default every accuracy and rate")
    ap.add_argument("--name", default="sweep", help="file name of the saved table (default: sweep)")
    ap.add_argument("--force", action="store_true", help="rerun every point's stages even if up to date")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_intermixed_args(argv)
    try:
        grid = parse_grid(args.grid)
        for point in grid_points(grid):  # every point's values pass the registries' checks before anything runs
            values = resolve(args.param_file, [*args.overrides, *(f"{k}={json.dumps(v)}" for k, v in point.items())])
        stages = [p.stem for p in select_notebooks(args.notebooks)]
    except (ParameterError, PluginError, RunError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    root = sweep_root(RunLayout.from_params(values))
    address = values["sweep_address"] if args.address is None else args.address
    workers = values["sweep_workers"] if args.workers is None else args.workers
    try:
        results = run_sweep(args.param_file, args.notebooks, grid, root=root, overrides=args.overrides,
                            address=address, workers=workers, force=args.force)
    except ParameterError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    table = aggregate(results, args.metrics or None)
    csv_path, json_path = save_sweep(root, args.name, grid, stages, results, table)
    shown = table.drop(columns="error") if not table["error"].fillna("").any() else table
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}", na_rep=""))
    print(f"\nsaved {csv_path} and {json_path}")
    failed = [r["name"] for r in results if r["error"]]
    if failed:
        print(f"error: {len(failed)} point(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
