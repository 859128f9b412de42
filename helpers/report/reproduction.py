"""The report's closing section: how to reproduce it, and how long each stage took."""
from __future__ import annotations

from pathlib import Path

from ..core.files import load_json
from ..core.progress import format_seconds


def reproduction_markdown(run_metrics: Path) -> str:
    """Markdown of the reproduction section, from the run's `metrics/run.json`."""
    lines = ["# Reproducing this report", ""]
    if not run_metrics.exists():
        return "\n".join(lines + ["The run recorded no stage times."])
    run = load_json(run_metrics)
    lines += [f"`make report` (or `python -m helpers.run {run['param_file']} --report`) rebuilds this report "
              "from an empty run directory; a rerun skips every stage whose notebook, parameters, code and data "
              "are unchanged, and reuses every checkpoint whose inputs are unchanged.", ""]
    stems = list(run["stage_s"])
    if "cold_stage_s" in run:
        cold = run["cold_stage_s"]
        lines += [f"**Table**: seconds per stage of the last cold run (every stage executed, starting from an "
                  f"empty run directory; finished {run['cold_finished']}), and of the latest execution of each stage",
                  "", "| stage | cold run (s) | latest (s) |", "|---|---|---|"]
        lines += [f"| {s} | {cold.get(s, float('nan')):.0f} | {run['stage_s'][s]:.0f} |" for s in stems]
        lines += [f"| total | {run['cold_total_s']:.0f} | {run['total_s']:.0f} |", "",
                  f"The cold run took {format_seconds(run['cold_total_s'])} in all."]
    else:
        lines += ["**Table**: seconds of the latest execution of each stage (no cold run of this run directory was "
                  "recorded)", "", "| stage | latest (s) |", "|---|---|"]
        lines += [f"| {s} | {run['stage_s'][s]:.0f} |" for s in stems]
    return "\n".join(lines)
