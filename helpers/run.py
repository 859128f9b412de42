"""Run the study: its notebooks in order with a parameter file, then (optionally) the report.

    python -m helpers.run parameters/default.yaml                     # every notebook
    python -m helpers.run parameters/default.yaml A1 A2               # some of them
    python -m helpers.run parameters/default.yaml A2 --set epochs=5   # with overrides
    python -m helpers.run parameters/default.yaml --report            # and build the PDF
    python -m helpers.run parameters/default.yaml --plan              # the plan only: work and time

The parameters are validated (file and overrides) before anything runs; every run first prints
its plan (the work of each stage, what is up to date, an estimate of each stage's time on this
machine, see helpers.pipeline.plan); stages whose inputs are unchanged are skipped (see
helpers.pipeline.runner).
"""
from __future__ import annotations

import argparse
import sys

from .config.schema import ParameterError
from .core.plugins import PluginError
from .pipeline.runner import RunError, run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m helpers.run", description=__doc__.split("\n\n")[0])
    ap.add_argument("param_file")
    ap.add_argument("notebooks", nargs="*", help="prefixes such as A1 A2 (default: all, in order)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                    help="override a parameter, e.g. --set epochs=5 (repeatable; values are YAML)")
    ap.add_argument("--force", action="store_true", help="rerun stages even if up to date")
    ap.add_argument("--report", action="store_true", help="then build the PDF report and summary.json")
    ap.add_argument("--plan", action="store_true", help="print the plan (work, cache, time estimate per stage) and stop")
    args = ap.parse_args(argv)
    try:
        run(args.param_file, args.notebooks, overrides=args.overrides, force=args.force, plan_only=args.plan)
    except (ParameterError, PluginError, RunError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.report and not args.plan:
        from .report.__main__ import main as report_main
        return report_main([args.param_file, *[f"--set={o}" for o in args.overrides]])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
