"""The PDF report: executed notebooks merged, code hidden, compiled with XeLaTeX via nbconvert,
and `summary.json`, the flat table of headline numbers taken from the metrics files."""
from __future__ import annotations

import argparse
import datetime as dt
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import nbformat

from . import params as params_mod
from .io import ROOT, atomic_path, load_json, project_path, save_json

TEMPLATE_DIR = ROOT / "report"
TEMPLATE = "study.tex.j2"
# Cells whose input is shown as text in the report: none. Outputs that are noise in print: these.
_DROP_TAGS = {"parameters", "injected-parameters", "remove-cell"}


class ReportError(RuntimeError):
    pass


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'a': {'b': 1}} -> {'a.b': 1}; lists and scalars are leaves."""
    out: dict[str, Any] = {}
    for k, v in tree.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict):
            out.update(flatten(v, key))
        else:
            out[key] = v
    return out


def summary(run_dir: Path) -> dict[str, Any]:
    """Flat headline numbers: '<tag>.<...>' from each metrics file's 'summary' (a file may name
    another prefix in 'summary_prefix', e.g. B3's defense figures as 'B1.defense'), plus run.*."""
    metrics_dir = run_dir / "metrics"
    if not metrics_dir.is_dir():
        raise ReportError(f"{metrics_dir} does not exist: run the notebooks first")
    out: dict[str, Any] = {}
    for f in sorted(metrics_dir.glob("*.json")):
        data = load_json(f)
        if f.stem == "run":
            out.update(flatten(data, "run"))
        elif "summary" in data:
            out.update(flatten(data["summary"], data.get("summary_prefix", f.stem)))
    return out


def merged_notebook(executed: list[Path], title: str) -> nbformat.NotebookNode:
    """One notebook of all executed ones, without parameter cells and stderr noise."""
    merged = nbformat.v4.new_notebook()
    for path in executed:
        nb = nbformat.read(path, as_version=4)
        for i, cell in enumerate(nb.cells):
            cell["id"] = f"{path.stem}-{i}"  # ids must stay unique in the merged notebook
            if _DROP_TAGS & set(cell.metadata.get("tags", [])):
                continue
            if cell.cell_type == "code":
                cell.outputs = [o for o in cell.outputs
                                if not (o.output_type == "stream" and o.get("name") == "stderr")]
                if not cell.outputs:
                    continue
            merged.cells.append(cell)
    merged.metadata.update(nbformat.read(executed[0], as_version=4).metadata)
    merged.metadata["title"] = title
    merged.metadata["date"] = dt.date.today().isoformat()
    return merged


def build(run_dir: Path, report_dir: Path, title: str, notebooks: list[str]) -> Path:
    """Compile `<report_dir>/report.pdf` from the executed notebooks in `<run_dir>/notebooks`."""
    from nbconvert import LatexExporter

    for tool in ("xelatex",):
        if shutil.which(tool) is None:
            raise ReportError(f"{tool} not found: run `make setup` (installs texlive-xetex, pandoc, fonts-dejavu)")
    executed = [run_dir / "notebooks" / f"{n}.ipynb" for n in notebooks]
    missing = [str(p) for p in executed if not p.exists()]
    if missing:
        raise ReportError(f"executed notebooks missing (run them first): {missing}")
    exporter = LatexExporter(template_file=str(TEMPLATE_DIR / TEMPLATE),
                             exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, resources = exporter.from_notebook_node(merged_notebook(executed, title))
    with tempfile.TemporaryDirectory(prefix="report-") as tmp:
        build_dir = Path(tmp)
        (build_dir / "report.tex").write_text(body)
        for name, data in resources.get("outputs", {}).items():
            (build_dir / name).write_bytes(data)
        for _ in range(2):  # the second pass fills in the table of contents
            proc = subprocess.run(["xelatex", "-interaction=nonstopmode", "-halt-on-error", "report.tex"],
                                  cwd=build_dir, capture_output=True, text=True)
            if proc.returncode != 0:
                log = (build_dir / "report.log").read_text(errors="replace") if (build_dir / "report.log").exists() else proc.stdout
                raise ReportError("xelatex failed:\n" + "\n".join(log.splitlines()[-40:]))
        report_dir.mkdir(parents=True, exist_ok=True)
        dest = report_dir / "report.pdf"
        with atomic_path(dest) as out:
            shutil.copyfile(build_dir / "report.pdf", out)
    return dest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m helpers.report",
                                 description="Build report.pdf and summary.json of a run.")
    ap.add_argument("param_file", help="the YAML parameter file the run used")
    args = ap.parse_args(argv)
    try:
        values = params_mod.load_yaml(args.param_file)
        known = params_mod.schema()
        get = lambda k: values.get(k, known[k].default)  # noqa: E731
        run_dir = project_path(get("run_dir"))
        report_dir = project_path(get("report_dir")) if get("report_dir") else run_dir / "report"
        notebooks = [p.stem for p in params_mod.notebook_paths()]
        pdf = build(run_dir, report_dir, get("report_title") or "Study of small image classifiers", notebooks)
        save_json(report_dir / "summary.json", summary(run_dir))
    except (params_mod.ParameterError, ReportError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {pdf} and {report_dir / 'summary.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
