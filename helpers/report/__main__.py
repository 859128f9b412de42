"""`python -m helpers.report <param_file> [--set name=value ...]`: build report.pdf and summary.json
of the run the parameters describe."""
from __future__ import annotations

import argparse
import sys

from ..config import notebook_cells
from ..config.resolution import resolve
from ..config.schema import ParameterError
from ..core.files import project_path, save_json
from ..core.layout import RunLayout
from .pdf import ReportError, build
from .summary import summary


def summary_name(report_name: str) -> str:
    """The summary's file name beside <report_name>.pdf: summary.json for the default name 'report'
    (where the Sports-10 study has always put it), <report_name>.summary.json otherwise."""
    return "summary.json" if report_name == "report" else f"{report_name}.summary.json"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m helpers.report", description="Build report.pdf and summary.json of a run.")
    ap.add_argument("param_file", help="the YAML parameter file the run used")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE")
    args = ap.parse_args(argv)
    try:
        values = resolve(args.param_file, args.overrides)
        layout = RunLayout.from_params(values)
        report_dir = project_path(values["report_dir"]) if values["report_dir"] else layout.root / "report"
        executed = [layout.executed(p.stem) for p in notebook_cells.study_notebooks(values)]
        headline = summary(layout.root)
        name = values["report_name"]
        pdf = build(executed, report_dir, values["report_title"] or "Study of small image classifiers",
                    layout.metrics("run"), summary_=headline, params=values, figures_dir=layout.figures, name=name)
        summary_file = report_dir / summary_name(name)
        save_json(summary_file, headline)
    except (ParameterError, ReportError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {pdf} and {summary_file}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
