"""The report's closing section: how to reproduce it, and how long each stage took."""
from __future__ import annotations

from pathlib import Path

from ..core.files import load_json
from ..core.progress import format_seconds

TIMES_LABEL = "tab:reproduction_times"


def stage_times(run: dict):
    """One row per stage: seconds of the cold run (when one was recorded) and of the latest execution."""
    import pandas as pd

    stems = list(run["stage_s"])
    table = pd.DataFrame({"stage": stems + ["total"]})
    if "cold_stage_s" in run:
        table["cold run (s)"] = [round(run["cold_stage_s"].get(s, float("nan"))) for s in stems] + [round(run["cold_total_s"])]
    table["latest (s)"] = [round(run["stage_s"][s]) for s in stems] + [round(run["total_s"])]
    return table


def reproduction_cells(run_metrics: Path) -> list:
    """Notebook cells of the reproduction section, from the run's `metrics/run.json`: how to rebuild
    the report, and the seconds per stage as a numbered table."""
    import nbformat

    from .display import table_output
    lines = ["# Reproducing this report", ""]
    if not run_metrics.exists():
        return [nbformat.v4.new_markdown_cell("\n".join(lines + ["The run recorded no stage times."]), id="reproduction")]
    run = load_json(run_metrics)
    lines += [f"`make report` (or `python -m helpers.run {run['param_file']} --report`) rebuilds this report "
              "from an empty run directory; a rerun skips every stage whose notebook, parameters, code and data "
              "are unchanged, and reuses every checkpoint whose inputs are unchanged. "
              f"[Table](#{TIMES_LABEL}) gives the seconds each stage took."]
    if "cold_stage_s" in run:
        caption = (f"Seconds per stage of the last cold run (every stage executed, starting from an empty run "
                   f"directory; finished {run['cold_finished']}), and of the latest execution of each stage.")
        lines += ["", f"The cold run took {format_seconds(run['cold_total_s'])} in all."]
    else:
        caption = "Seconds of the latest execution of each stage (no cold run of this run directory was recorded)."
    cell = nbformat.v4.new_code_cell("", id="reproduction-times")
    cell.outputs = [nbformat.v4.new_output("display_data", data=table_output(stage_times(run), caption, TIMES_LABEL))]
    return [nbformat.v4.new_markdown_cell("\n".join(lines), id="reproduction"), cell]
