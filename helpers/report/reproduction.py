"""The report's closing section: how to reproduce it, on what machine and in what precision it
ran, and how long each stage took beside the plan's estimate."""
from __future__ import annotations

from pathlib import Path

from ..core.files import load_json
from ..core.progress import format_seconds

TIMES_LABEL = "tab:reproduction_times"
RATES_LABEL = "tab:reproduction_rates"


def _seconds(values: dict, stem: str) -> float:
    return values.get(stem, float("nan"))


def stage_times(run: dict):
    """One row per stage: seconds of the cold run and the plan's estimate for it (when recorded),
    and the seconds and estimate of the latest execution."""
    import pandas as pd

    stems = list(run["stage_s"])
    table = pd.DataFrame({"stage": stems + ["total"]})
    if "cold_stage_s" in run:
        table["cold run (s)"] = [round(_seconds(run["cold_stage_s"], s)) for s in stems] + [round(run["cold_total_s"])]
        if run.get("cold_planned_s"):
            planned = [_seconds(run["cold_planned_s"], s) for s in stems]
            table["planned (s)"] = [round(p) for p in planned] + [round(run["cold_planned_total_s"])]
            table["cold / planned"] = [f"{_seconds(run['cold_stage_s'], s) / p:.2f}" for s, p in zip(stems, planned)] + [
                f"{run['cold_total_s'] / run['cold_planned_total_s']:.2f}"]
    table["latest (s)"] = [round(run["stage_s"][s]) for s in stems] + [round(run["total_s"])]
    return table


def rates_table(run: dict):
    """The calibration of the run's plan: per model, images per second of a training step, of a
    PGD step and of an evaluation, and batch-1 milliseconds."""
    import pandas as pd

    return pd.DataFrame([{"model": m, "training img/s": f"{r['train_img_s']:,.0f}",
                          "attack step img/s": f"{r['attack_img_s']:,.0f}", "evaluation img/s": f"{r['eval_img_s']:,.0f}",
                          "batch-1 ms": f"{r['batch1_ms']:.2f}"} for m, r in run["calibration"].items()])


def machine_sentence(run: dict) -> str:
    """Device, CPU, threads and the precision the run trained in (and how it was chosen)."""
    if "precision" not in run:
        return ""
    precision = run["precision"]
    how = ("chosen by `amp: auto`: bf16 autocast only where the hardware runs it natively, fp32 otherwise"
           if run.get("amp") == "auto" else f"set by `amp: {run.get('amp')}`")
    cold = ""
    if run.get("cold_precision") and run["cold_precision"] != precision:
        cold = f" The cold run below trained in {run['cold_precision']} on {run.get('cold_device')}."
    return (f"This run used {run['device']} ({run['cpu']}, vector extension {run['cpu_capability']}, {run['threads']} "
            f"threads, native bf16: {'yes' if run['native_bf16'] else 'no'}, torch {run['torch']}); training ran in "
            f"**{precision}** ({how}); evaluation, attacks and maps always run in fp32.{cold}")


def reproduction_cells(run_metrics: Path) -> list:
    """Notebook cells of the reproduction section, from the run's `metrics/run.json`: how to rebuild
    the report, the machine and precision, the calibrated rates, and the seconds per stage beside
    the plan's estimate, as numbered tables."""
    import nbformat

    from .display import table_output
    lines = ["# Reproducing this report", ""]
    if not run_metrics.exists():
        return [nbformat.v4.new_markdown_cell("\n".join(lines + ["The run recorded no stage times."]), id="reproduction")]
    run = load_json(run_metrics)
    lines += [f"`make report` (or `python -m helpers.run {run['param_file']} --report`) rebuilds this report "
              "from an empty run directory; a rerun skips every stage whose notebook, parameters, code and data "
              "are unchanged, and reuses every checkpoint whose inputs are unchanged. Before it runs anything, the "
              "runner prints a plan: the work of every stage and an estimate of its time on the machine at hand, from "
              "a short calibration of each model (`python -m helpers.run PARAMS --plan` prints only the plan). "
              f"[Table](#{TIMES_LABEL}) gives the seconds each stage took beside that estimate.", "",
              machine_sentence(run)]
    if "cold_stage_s" in run:
        caption = (f"Seconds per stage of the last cold run (every stage executed, starting from an empty run "
                   f"directory; finished {run['cold_finished']}), the plan's estimate for it, and the latest execution "
                   "of each stage.")
        lines += ["", f"The cold run took {format_seconds(run['cold_total_s'])} in all"
                  + (f"; the plan had estimated {format_seconds(run['cold_planned_total_s'])}." if run.get("cold_planned_total_s")
                     else ".")]
    else:
        caption = "Seconds of the latest execution of each stage (no cold run of this run directory was recorded)."
    cells = [nbformat.v4.new_markdown_cell("\n".join(lines), id="reproduction")]
    cell = nbformat.v4.new_code_cell("", id="reproduction-times")
    cell.outputs = [nbformat.v4.new_output("display_data", data=table_output(stage_times(run), caption, TIMES_LABEL))]
    cells.append(cell)
    if run.get("calibration"):
        rates = nbformat.v4.new_code_cell("", id="reproduction-rates")
        rates.outputs = [nbformat.v4.new_output("display_data", data=table_output(
            rates_table(run), "The plan's calibration on this machine: images per second of a training step (in the "
            "training precision), of a PGD step and of an evaluation (fp32), and batch-1 milliseconds per model.",
            RATES_LABEL))]
        cells += [nbformat.v4.new_markdown_cell(f"[Table](#{RATES_LABEL}) gives the calibrated rates the plan used.",
                                                id="reproduction-rates-text"), rates]
    return cells
